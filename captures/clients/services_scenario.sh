#!/usr/bin/env bash
# services_scenario.sh PREFIX WORKDIR: the issue 17 client scenario, inside the test topology
# PREFIX (captures/netns.sh up PREFIX). Starts captures/mock_services.py in ${PREFIX}imds (its
# counts in WORKDIR/services-count-N.json, N the phase), runs every client in ${PREFIX}host,
# restarts the mock in its enforced modes half-way (phase 2), and
# stops it. Used by make-captures.sh (services.pcap) and tests/services_e2e.rs (live), so
# both see the same requests, in the order of captures/services.expected.
#
# Real SDK clients (clients/services_sdk.py, $VENV, default captures/.venv): botocore's
# container provider (ECS relative URI; Pod Identity full URI + authorization token, IPv4 and
# IPv6), alibabacloud-credentials (normal, then hardened), google-auth, azure-identity.
# curl for the legacy and refused forms. One ECS fetch comes from ${PREFIX}ctr, one routed hop
# away. Every client goes through imw_exec.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/../netns.sh
source "$HERE/netns.sh"

P=${1:?usage: services_scenario.sh PREFIX WORKDIR}
WORK=${2:?usage: services_scenario.sh PREFIX WORKDIR}
VENV=${VENV:-$HERE/.venv}
H="${P}host"
M="${P}imds"
MOCK_PID=""
PHASE=0

SVC_ECS_ID=SVCSECRET-ecs-credential-id-5f2c9a
SVC_POD_TOKEN=eyJhbGciOiJSUzI1NiJ9.SVCSECRET-pod-identity-token.sig
IMDS=http://169.254.169.254
ALI=http://100.100.100.200
ALI_TTL="X-aliyun-ecs-metadata-token-ttl-seconds"
ALI_TOK="X-aliyun-ecs-metadata-token"

die() {
    echo "services_scenario: $*" >&2
    exit 1
}

start_mock() {
    imw_check "$P" || die "topology $P is not up"
    imw_exec "$M" true || die "no namespace $M"
    # Directly (not through the imw_exec function) so that $! is the mock itself.
    PHASE=$((PHASE + 1))
    ip netns exec "$M" python3 "$HERE/mock_services.py" --count-file "$WORK/services-count-$PHASE.json" \
        --ecs-id "$SVC_ECS_ID" --pod-token "$SVC_POD_TOKEN" "$@" &
    MOCK_PID=$!
    imw_wait_listen "$M" 80 || die "services mock did not start"
    kill -0 "$MOCK_PID" 2>/dev/null || die "services mock exited"
}

stop_mock() {
    [[ -n $MOCK_PID ]] || return 0
    kill -TERM "$MOCK_PID" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
    MOCK_PID=""
}
trap stop_mock EXIT

# A client inside the host namespace, with a clean environment (no AWS_*, no proxies).
run() {
    imw_exec "$H" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 "$@"
}

# sdk ARGS...: services_sdk.py; SVC_ECS_ID / SVC_POD_TOKEN pass through the environment only.
sdk() {
    run SVC_ECS_ID="${SVC_ECS_ID_FOR_SDK:-}" SVC_POD_TOKEN="${SVC_POD_TOKEN_FOR_SDK:-}" \
        "$VENV/bin/python" "$HERE/clients/services_sdk.py" "$@" >&2
}

# ctr_sdk ARGS...: services_sdk.py in the container namespace, one routed hop away (an ECS
# task or a pod in its own network namespace).
ctr_sdk() {
    imw_exec "${P}ctr" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
        SVC_ECS_ID="${SVC_ECS_ID_FOR_SDK:-}" SVC_POD_TOKEN="${SVC_POD_TOKEN_FOR_SDK:-}" \
        "$VENV/bin/python" "$HERE/clients/services_sdk.py" "$@" >&2
}

# svc_curl UA ARGS...: one curl, answer discarded.
svc_curl() {
    local ua=$1
    shift
    run curl -s -o /dev/null -m 5 -A "$ua" "$@"
}

start_mock
# Alibaba, normal mode: the SDK (token, then v2), curl v1 (served), refused token forms.
sdk alibaba normal
svc_curl aliyun-v1/1 "$ALI/latest/meta-data/instance-id"
svc_curl aliyun-v1/1 "$ALI/latest/meta-data/ram/security-credentials/imdswatch-ram-role"
svc_curl aliyun-bad/1 -X PUT "$ALI/latest/api/token" -H "$ALI_TTL: 0"
svc_curl aliyun-bad/1 -X PUT "$ALI/latest/api/token" -H "$ALI_TTL: 60" -H "X-Forwarded-For: 203.0.113.7"
svc_curl aliyun-bad/1 -H "$ALI_TOK: not-a-valid-token" "$ALI/latest/meta-data/instance-id"
# Oracle: legacy v1 and openstack (served), v2 with and without its header.
svc_curl oci-legacy/1 "$IMDS/opc/v1/instance/"
svc_curl oci-legacy/1 "$IMDS/opc/v1/identity/cert.pem"
svc_curl oci-legacy/1 "$IMDS/openstack/latest/meta_data.json"
svc_curl oci-v2/1 -H "Authorization: Bearer Oracle" "$IMDS/opc/v2/instance/"
svc_curl oci-v2/1 -H "Authorization: Bearer Oracle" "$IMDS/opc/v2/identity/cert.pem"
svc_curl oci-noauth/1 "$IMDS/opc/v2/instance/"
# Google: google-auth (v1 with Metadata-Flavor), header-less v1 (403), legacy forms.
sdk gcp
svc_curl gcp-noheader/1 "$IMDS/computeMetadata/v1/instance/id"
svc_curl gcp-legacy/1 "$IMDS/0.1/meta-data/service-accounts/default/acquire"
svc_curl gcp-legacy/1 "$IMDS/computeMetadata/v1beta1/instance/id"
# Azure: azure-identity (managed identity token), header-less and forwarded (400), served.
sdk azure
svc_curl azure-probe/1 "$IMDS/metadata/instance?api-version=2021-02-01"
svc_curl azure-xff/1 -H "Metadata: true" -H "X-Forwarded-For: 203.0.113.7" \
    "$IMDS/metadata/instance?api-version=2021-02-01"
svc_curl azure-ok/1 -H "Metadata: true" "$IMDS/metadata/instance?api-version=2021-02-01"
# ECS task credentials: botocore with the relative URI, the same from the container namespace
# (a task in its own network namespace), then a wrong id (404).
SVC_ECS_ID_FOR_SDK=$SVC_ECS_ID sdk ecs
SVC_ECS_ID_FOR_SDK=$SVC_ECS_ID ctr_sdk ecs
svc_curl ecs-wrong/1 "http://169.254.170.2/v2/credentials/not-the-task-id"
# Pod Identity: botocore over IPv4 and IPv6, a missing (400) and a wrong (403) token, then a
# burst of 7 on one connection, a second after the rest: the last 2 are throttled (429). The
# token goes to curl in a config file, not on its command line.
SVC_POD_TOKEN_FOR_SDK=$SVC_POD_TOKEN sdk pod
SVC_POD_TOKEN_FOR_SDK=$SVC_POD_TOKEN sdk pod "[fd00:ec2::23]"
svc_curl pod-notoken/1 "http://169.254.170.23/v1/credentials"
svc_curl pod-wrong/1 -H "Authorization: wrong-service-account-token" "http://169.254.170.23/v1/credentials"
sleep 1.2
cfg="$WORK/pod-burst.curlrc"
{
    printf 'header = "Authorization: %s"\n' "$SVC_POD_TOKEN"
    for _ in 1 2 3 4 5 6 7; do printf 'url = "http://169.254.170.23/v1/credentials"\noutput = "/dev/null"\n'; done
} >"$cfg"
run curl -s -m 5 -A pod-burst/1 -K "$cfg"
stop_mock
# Enforced: Alibaba hardened, OCI and GCP legacy endpoints off.
start_mock --alibaba hardened --oci-legacy disabled --gcp-legacy disabled
sdk alibaba hardened
svc_curl aliyun-v1/1 "$ALI/latest/meta-data/instance-id"
svc_curl oci-legacy/1 "$IMDS/opc/v1/instance/"
svc_curl gcp-legacy/1 "$IMDS/computeMetadata/v1beta1/instance/id"
stop_mock
