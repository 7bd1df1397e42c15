#!/usr/bin/env bash
# Installs what building and testing imdswatch need on a Debian machine (idempotent; run as
# root or with sudo available). Rust itself is expected to be installed (rustup).
#
#   scripts/setup.sh           everything the test suite uses (scripts/test.sh)
#   scripts/setup.sh --build   what the build needs only: libpcap headers, pkg-config, a C
#                              toolchain (scripts/demo.sh)
#   scripts/setup.sh --try     the build, plus curl, iproute2 and botocore in captures/.venv
#                              (scripts/try.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

profile=full
case ${1:-} in
"") ;;
--build) profile=build ;;
--try) profile=try ;;
*)
    echo "setup.sh: unknown argument '$1' (--build, --try, or nothing for the full test setup)" >&2
    exit 2
    ;;
esac

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

pkg_installed libpcap-dev || need_apt+=(libpcap-dev)
have pkg-config || need_apt+=(pkg-config)
# Linking (the cc crate, libc's crt files) on a bare Debian: a C toolchain.
have cc || need_apt+=(gcc libc6-dev)
if [[ $profile != build ]]; then
    have ip || need_apt+=(iproute2)
    have curl || need_apt+=(curl)
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
fi
if [[ $profile == full ]]; then
    have tcpdump || need_apt+=(tcpdump)
    have tmux || need_apt+=(tmux)
    have setpriv || need_apt+=(util-linux)
    [ -x /usr/bin/time ] || need_apt+=(time)
    # The metrics end-to-end test scrapes `live --metrics` with a real Prometheus (tests/metrics_e2e.rs).
    { have prometheus && have promtool; } || need_apt+=(prometheus)
    # A DNAT rule that sends a pod's metadata traffic to a proxy (tests/live_verdicts_e2e.rs, proxy_refused).
    have nft || need_apt+=(nftables)
    # systemd-analyze checks the unit's boot ordering (tests/boot_order.rs).
    have systemd-analyze || need_apt+=(systemd)
fi

if ((${#need_apt[@]})); then
    echo "setup: installing ${need_apt[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

[[ $profile != build ]] || exit 0

# A real AWS SDK for the end-to-end tests: botocore in a private virtualenv.
BOTOCORE_VERSION=1.44.5
venv=captures/.venv
if ! "$venv/bin/python" -c "import botocore, sys; sys.exit(botocore.__version__ != '$BOTOCORE_VERSION')" 2>/dev/null; then
    echo "setup: installing botocore $BOTOCORE_VERSION into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "botocore==$BOTOCORE_VERSION"
fi

[[ $profile == full ]] || exit 0

# Issue 17: real SDK clients of the other metadata services (Alibaba, GCP, Azure), pinned,
# into the same virtualenv (about 10 s; captures/clients/requirements-services.txt).
reqs=captures/clients/requirements-services.txt
if ! "$venv/bin/python" captures/clients/have_requirements.py "$reqs" 2>/dev/null; then
    echo "setup: installing the services' SDK clients into $venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$reqs"
fi

# Issue 28: the OCSF validator of tests/findings.rs (py-ocsf-models), pinned, into the same
# virtualenv (botocore's own securityhub model validates the ASFF output).
reqs=captures/clients/requirements-findings.txt
if ! "$venv/bin/python" captures/clients/have_requirements.py "$reqs" 2>/dev/null; then
    echo "setup: installing the findings validators into $venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$reqs"
fi

# Debian's cloud-init unit files, to check that dist/imdswatch.service starts before them
# without an ordering cycle (tests/boot_order.rs). Downloaded and unpacked, never installed.
units=target/debs/cloud-init
if [ ! -f "$units/lib/systemd/system/cloud-init-local.service" ]; then
    echo "setup: unpacking Debian's cloud-init unit files into $units" >&2
    mkdir -p target/debs
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    fetch() { (cd target/debs && rm -f cloud-init_*.deb && apt-get download -qq cloud-init 2>/dev/null); }
    # A fresh machine may have no package lists yet.
    { fetch || { $SUDO apt-get update -qq && fetch; }; } &&
        dpkg-deb -x target/debs/cloud-init_*.deb "$units" ||
        echo "setup: could not download cloud-init (tests/boot_order.rs will skip)" >&2
fi

# Issue 24: the real IMDS clients, old and new (PyPI, npm, Debian), into captures/.clients for
# tests/clients_real.rs (about 1.5 minutes the first time; idempotent). A part that cannot be
# installed leaves captures/.clients/PART.skip and its tests say SKIPPED.
scripts/clients-lab.sh
