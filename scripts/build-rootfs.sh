#!/usr/bin/env bash
# Builds the runtime filesystem of ./Containerfile without a container builder, with the same
# steps: a minimal Debian bookworm (debootstrap, minbase) plus libpcap0.8, and the release
# binary at /usr/local/bin/imdswatch. Then checks, inside the rootfs (chroot), that the binary
# finds every library it needs there and runs: --version, and an analysis of a capture.
#
#   scripts/build-rootfs.sh [DIR]     (default target/rootfs; needs root and debootstrap)
#
# With podman or docker and a reachable registry, `podman build -f Containerfile .` builds the
# image itself; this script is what CI machines without a builder run.
set -euo pipefail
cd "$(dirname "$0")/.."
rootfs=${1:-target/rootfs}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
step() { printf '[build-rootfs %s] %s\n' "$(date +%T)" "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { echo "build-rootfs: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "build-rootfs: install debootstrap" >&2; exit 1; }

step "release build"
cargo build --release --locked --quiet --bin imdswatch

if [ ! -x "$rootfs/usr/bin/dpkg" ] || ! chroot "$rootfs" dpkg-query -W libpcap0.8 >/dev/null 2>&1; then
    step "debootstrap bookworm (minbase + libpcap0.8) into $rootfs"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=libpcap0.8 bookworm "$rootfs" "$mirror" >/dev/null
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
fi
install -D -m 0755 target/release/imdswatch "$rootfs/usr/local/bin/imdswatch"

step "checks inside the rootfs"
missing=$(chroot "$rootfs" /usr/bin/ldd /usr/local/bin/imdswatch | grep -c "not found" || true)
chroot "$rootfs" /usr/bin/ldd /usr/local/bin/imdswatch | sed 's/^/  ldd: /' >&2
[ "$missing" -eq 0 ] || { echo "build-rootfs: $missing libraries missing in the rootfs" >&2; exit 1; }
version=$(chroot "$rootfs" /usr/local/bin/imdswatch --version)
echo "  in rootfs: $version" >&2
mkdir -p "$rootfs/tmp"
cp captures/curl-v1.pcap "$rootfs/tmp/check.pcap"
out=$(chroot "$rootfs" /usr/local/bin/imdswatch analyze --format json -q /tmp/check.pcap)
rm -f "$rootfs/tmp/check.pcap"
n=$(grep -c '"version":"v1"' <<<"$out" || true)
[ "$n" -ge 1 ] || { echo "build-rootfs: analyze inside the rootfs found no v1 request" >&2; exit 1; }
echo "  in rootfs: analyze of captures/curl-v1.pcap: $n v1 request(s)" >&2
echo "  rootfs size: $(du -sh "$rootfs" | cut -f1) ($rootfs)" >&2
step "ok"
