#!/usr/bin/env bash
# Builds the Debian package with cargo-deb and checks it:
#   - `dpkg-deb -c` lists the binary, the systemd unit and the logrotate file (and man pages,
#     completions);
#   - with --install (root): `dpkg -i`, `imdswatch --version` from /usr/bin, then `dpkg -r`.
#
#   scripts/build-deb.sh [--install]      prints the path of the .deb on stdout
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '[build-deb %s] %s\n' "$(date +%T)" "$*" >&2; }

command -v cargo-deb >/dev/null 2>&1 || { step "installing cargo-deb"; cargo install cargo-deb --locked --quiet; }

step "release build"
cargo build --release --locked --quiet --bin imdswatch
bin=target/release/imdswatch
# The release profile strips the binary (Cargo.toml); 40 MB with debug info before issue 27.
size=$(stat -c %s "$bin")
step "binary: $((size / 1024)) KiB"
[ "$size" -le $((15 * 1024 * 1024)) ] || { echo "build-deb: $bin is $size bytes, over 15 MiB" >&2; exit 1; }

step "generated assets (unit for /usr/bin, man pages, completions)"
assets=target/deb-assets
mkdir -p "$assets"
sed 's#/usr/local/bin/imdswatch#/usr/bin/imdswatch#g' dist/imdswatch.service >"$assets/imdswatch.service"
"$bin" man >"$assets/imdswatch.1"
for sub in analyze live iac; do "$bin" man "$sub" >"$assets/imdswatch-$sub.1"; done
"$bin" completions bash >"$assets/imdswatch.bash"
"$bin" completions zsh >"$assets/_imdswatch"
"$bin" completions fish >"$assets/imdswatch.fish"

step "cargo deb"
deb=$(cargo deb --no-build --strip --quiet 2>/dev/null | tail -n 1)
[ -f "$deb" ] || { echo "build-deb: cargo deb produced no package" >&2; exit 1; }

step "contents of $deb"
listing=$(dpkg-deb -c "$deb")
for want in ./usr/bin/imdswatch ./lib/systemd/system/imdswatch.service ./etc/logrotate.d/imdswatch \
    ./usr/share/man/man1/imdswatch.1.gz ./usr/share/bash-completion/completions/imdswatch; do
    grep -q " $want\$" <<<"$listing" || { echo "build-deb: $want missing from the package" >&2; exit 1; }
    echo "  has $want" >&2
done
dpkg-deb -I "$deb" | sed -n 's/^ \(Package\|Version\|Depends\|Installed-Size\):/  \1:/p' >&2

if [ "${1:-}" = "--install" ]; then
    [ "$(id -u)" -eq 0 ] || { echo "build-deb: --install needs root" >&2; exit 1; }
    step "dpkg -i"
    dpkg -i "$deb" >/dev/null
    echo "  installed: $(/usr/bin/imdswatch --version)" >&2
    grep -q '^ExecStart=/usr/bin/imdswatch ' /lib/systemd/system/imdswatch.service
    echo "  unit runs /usr/bin/imdswatch" >&2
    dpkg --purge imdswatch >/dev/null
    step "removed again"
fi
echo "$deb"
