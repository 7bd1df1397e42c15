#!/usr/bin/env bash
# Installs the real IMDS clients of issue 24 (old and new versions) into captures/.clients,
# for tests/clients_real.rs. Idempotent; not in git. Each part is independent: one that
# cannot be installed leaves a file captures/.clients/NAME.skip with the reason, and its
# tests say SKIPPED. Registries: PyPI (pip), npm, Debian (apt-get). About 2-4 minutes.
#
#   scripts/clients-lab.sh            # everything
#   scripts/clients-lab.sh py-old     # one part: py-old py-new boto2 node-old node-fixed
#                                     # node-v3 debian go
set -uo pipefail
cd "$(dirname "$0")/.."
LAB=captures/.clients
mkdir -p "$LAB"
log() { echo "clients-lab: $*" >&2; }

# Versions: the last before AWS's published IMDSv2 minimum, and the minimum (or newer).
BOTOCORE_OLD=1.12.253 # AWS: IMDSv2 from 1.13.25 (measured here: 1.13.24 already asks for a token)
BOTO3_OLD=1.9.253     # pairs with botocore 1.12.253
AWSCLI_OLD=1.16.263   # AWS: IMDSv2 from 1.16.289 (pins botocore 1.12.253)
BOTO3_NEW=1.35.99
AWSCLI_NEW=1.36.40
BOTO2=2.49.0
NODE_OLD=2.500.0      # aws-sdk v2: IMDSv2 from 2.722.0
NODE_FIXED=2.722.0
NODE_V3=3.374.0       # @aws-sdk/credential-provider-imds

done_mark() { echo "$2" >"$LAB/$1.ok"; rm -f "$LAB/$1.skip"; }
skip_mark() { echo "$2" >"$LAB/$1.skip"; rm -f "$LAB/$1.ok"; log "$1 SKIPPED: $2"; }
is_done() { [[ -f $LAB/$1.ok && $(cat "$LAB/$1.ok") == "$2" ]]; }

venv() { # NAME STAMP PACKAGES... (PYTHON: the interpreter, python3 by default)
    local name=$1 stamp=$2 py=${PYTHON:-python3}
    shift 2
    is_done "$name" "$stamp" && return 0
    log "$name: pip install $*"
    rm -rf "${LAB:?}/$name"
    if "$py" -m venv "$LAB/$name" &&
        "$LAB/$name/bin/pip" install -q --disable-pip-version-check "$@" >"$LAB/$name.log" 2>&1; then
        done_mark "$name" "$stamp"
    else
        skip_mark "$name" "pip install $* failed (see $LAB/$name.log)"
    fi
}

npm_dir() { # NAME SPEC
    local name=$1 spec=$2
    is_done "$name" "$spec" && return 0
    command -v npm >/dev/null || { skip_mark "$name" "npm not installed"; return 0; }
    log "$name: npm install $spec"
    rm -rf "${LAB:?}/$name"
    mkdir -p "$LAB/$name"
    if (cd "$LAB/$name" && echo '{"private":true}' >package.json &&
        npm install --no-audit --no-fund --silent "$spec") >"$LAB/$name.log" 2>&1; then
        done_mark "$name" "$spec"
    else
        skip_mark "$name" "npm install $spec failed (see $LAB/$name.log)"
    fi
}

debian() {
    # Debian's packages: Ruby SDK v1 and v3, the EC2 metadata scripts, AWS CLI v2.
    local pkgs=(ruby ruby-aws-sdk ruby-aws-sdk-core amazon-ec2-utils cloud-guest-utils awscli
        golang-go golang-github-aws-aws-sdk-go-dev golang-github-aws-aws-sdk-go-v2-dev) need=() p
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
    done
    if ((${#need[@]})); then
        log "debian: apt-get install ${need[*]}"
        local SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update -qq >/dev/null 2>&1
        $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >"$LAB/debian.log" 2>&1 ||
            log "debian: apt-get install failed (see $LAB/debian.log)"
    fi
    for p in "${pkgs[@]}"; do
        if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            dpkg-query -W -f='${Version}\n' "$p" >"$LAB/deb-$p.ok"
            rm -f "$LAB/deb-$p.skip"
        else
            skip_mark "deb-$p" "Debian package $p could not be installed"
        fi
    done
}

go_clients() {
    # The Go SDKs v1 and v2 from Debian's source packages, built with Debian's Go (GOPATH
    # mode, no module download): captures/clients/real/go/imds-go-v*/main.go.
    local stamp
    stamp=$(dpkg-query -W -f='${Version} ' golang-go golang-github-aws-aws-sdk-go-dev golang-github-aws-aws-sdk-go-v2-dev 2>/dev/null)
    is_done go "$stamp" && return 0
    command -v go >/dev/null || { skip_mark go "Debian's golang-go is not installed"; return 0; }
    local gp="$LAB/go/gopath" v
    rm -rf "${LAB:?}/go"
    mkdir -p "$gp/src"
    for v in imds-go-v1 imds-go-v2; do
        cp -r "captures/clients/real/go/$v" "$gp/src/$v"
        if ! GO111MODULE=off GOPATH="$PWD/$gp:/usr/share/gocode" GOCACHE="$PWD/$LAB/go/cache" \
            go build -o "$LAB/go/$v" "$v" >"$LAB/go.log" 2>&1; then
            skip_mark go "go build $v failed (see $LAB/go.log)"
            return 0
        fi
    done
    done_mark go "$stamp"
}

part() {
    case $1 in
    py-old)
        # botocore 1.13's vendored requests needs collections.MutableMapping (gone in 3.10).
        local old_py
        local c
        old_py=""
        for c in /root/.pyenv/versions/3.[89].*/bin/python3 /usr/bin/python3.9 /usr/bin/python3.8; do
            [[ -x $c ]] && "$c" -c 'import venv' 2>/dev/null && old_py=$c && break
        done
        if [[ -z $old_py ]]; then
            skip_mark py-old "botocore $BOTOCORE_OLD needs Python <= 3.9, none installed"
            return 0
        fi
        PYTHON=$old_py venv py-old "$AWSCLI_OLD $BOTO3_OLD $BOTOCORE_OLD" "awscli==$AWSCLI_OLD" "boto3==$BOTO3_OLD" "botocore==$BOTOCORE_OLD" ;;
    py-new) venv py-new "$AWSCLI_NEW $BOTO3_NEW" "awscli==$AWSCLI_NEW" "boto3==$BOTO3_NEW" ;;
    boto2) venv boto2 "$BOTO2" "boto==$BOTO2" ;;
    node-old) npm_dir node-old "aws-sdk@$NODE_OLD" ;;
    node-fixed) npm_dir node-fixed "aws-sdk@$NODE_FIXED" ;;
    node-v3) npm_dir node-v3 "@aws-sdk/credential-provider-imds@$NODE_V3" ;;
    debian) debian ;;
    go) go_clients ;;
    *) log "unknown part $1" && return 1 ;;
    esac
}

if (($#)); then
    for p in "$@"; do part "$p"; done
else
    # The parts download in parallel (network-bound); the machine has 2 cores.
    for p in py-old py-new boto2; do part "$p" & done
    for p in node-old node-fixed node-v3; do part "$p" & done
    wait
    part debian
    part go
fi
exit 0
