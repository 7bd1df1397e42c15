#!/usr/bin/env python3
"""Derive the expected IMDS request list of a capture with tshark (independent of imdswatch).

    expected_from_pcap.py [--with-header] FILE

Prints one line per IMDS HTTP request, in time order: `version method path status`, where
version is `other` for another cloud's metadata protocol (GCP, Azure, Oracle, IBM headers or
path prefixes), v2 (the request carries X-aws-ec2-metadata-token), token_request (a PUT to
/<anything>/api/token), else v1; status is the HTTP status of the answer on the same TCP
connection (answers are matched to requests in order, as HTTP/1.1 requires), or `none`.

Issue 17 (captures/mock_services.py, services.pcap): the server address names the service first
(100.100.100.200 Alibaba: its own token headers give token_request / v2, else v1;
169.254.170.2 ECS and 169.254.170.23 / fd00:ec2::23 Pod Identity: `other`), then the path:
Oracle /opc/v1/ and /openstack/ v1, /opc/v2/ v2; Google /0.1/ and /computeMetadata/v1beta1/
v1, /computeMetadata/v1/ v2 with `Metadata-Flavor: Google`, else `other`. Paths are shown as
imdswatch shows them: query values and the ECS credential id as [REDACTED].

An answer captured with IP TTL / hop limit <= 1 that the client never acknowledged (no later
client segment's ACK reaches past it) died at a router: its request's status is `none`, as
imdswatch counts it (the hop-limit symptom).

A segment seen twice (-i any on a router sees it on both interfaces) or retransmitted is
counted once: tshark flags the later copies as retransmissions and they are skipped. HTTP
quoted inside ICMP errors (time exceeded) is not a request or an answer and is skipped.
"""

import json
import re
import subprocess
import sys

TOKEN_HEADER = "x-aws-ec2-metadata-token:"
# Other clouds' marks (issue 13): header lines (lower case) and first path segments.
OTHER_HEADERS = ("metadata-flavor: google", "metadata-flavor: ibm", "metadata: true",
                 "authorization: bearer oracle")
OTHER_PATHS = ("computeMetadata", "0.1", "v1beta1", "metadata", "opc", "openstack", "instance_identity")
ALIBABA = "100.100.100.200"
CREDENTIAL_AGENTS = ("169.254.170.2", "169.254.170.23", "fd00:ec2::23")
ALIYUN_TOKEN = "x-aliyun-ecs-metadata-token:"
ALIYUN_TTL = "x-aliyun-ecs-metadata-token-ttl-seconds:"

# Extra comment lines written into a capture's .expected file (see captures/README.md).
NOTES = {
    "verdicts.pcap": [
        "One client (user agent) per verdict: cloud-probe/1 (GCP/Azure/Oracle/IBM probes,",
        "probe_only), fallback-client/1 (v1 then v2, falls_back), boto 2.49 from PyPI",
        "(Python-urllib, breaks), late-client/1 (second request after the server's FIN:",
        "server_closed, none), pod-client/1 through a proxy adding X-Forwarded-For (token 403,",
        "then v1: proxy_refused), then the mock with tokens required: already-refused/1 (401).",
    ],
    "container-hop-limit.pcap": [
        "Captured with -i any on the router (host ns): every ctr packet appears twice (h-ctr",
        "then h-imds, TTL 64 then 63); count each request once. The token PUT's 200 answer",
        "IS in the file, seen once on h-imds with IP TTL 1 (then TCP retransmissions, each",
        "followed by an ICMP time-exceeded from the host quoting it), but it never reached",
        "the client: botocore timed out after 1 s and fell back to IMDSv1. Quoted HTTP",
        "inside ICMP errors is neither a request nor an answer. imdswatch reports the PUT as",
        "unanswered (none): an answer captured with TTL 1 counts only once the client ACKs it.",
    ],
    "container-hop-limit-ctr.pcap": [
        "Same run as container-hop-limit.pcap, captured on h-ctr only (the client's side",
        "of the router): the token answer never appears, so the PUT has status none.",
    ],
    "vlan-qinq.pcap": [
        "Real traffic, tags inserted afterwards (clients/vlan_tag.py; the kernel had no",
        "802.1Q): connection 1 in 802.1Q VID 100, the others in 802.1ad 200 + 802.1Q 300.",
    ],
    "keepalive-pipelined.pcap": [
        "Requests 2-4: one curl, three URLs, one connection. 5-6: curl --next, one",
        "connection, v1 then v2. 7-10: one connection; the GET/GET/HEAD heads were",
        "sent in ONE segment (pipelined). 11: a head split over two segments.",
    ],
    "services.pcap": [
        "Issue 17: mock_services.py. Alibaba (SDK normal mode, curl v1, refused token forms),",
        "Oracle (legacy v1/openstack, v2 with and without its header), Google (google-auth,",
        "header-less 403, legacy), Azure (azure-identity, header-less and forwarded 400), ECS",
        "(botocore relative URI, wrong id 404), Pod Identity (botocore v4 and v6, 400, 403, a",
        "burst ending in 429s); then enforced: Alibaba hardened (SDK, curl v1 401), OCI and",
        "GCP legacy endpoints disabled (404). `other`: no legacy form (version null).",
    ],
    "rejections.pcap": [
        "Mock run with --tokens required.",
    ],
    "loopback-mock.pcap": [
        "Mock on 127.0.0.1:1338 (use --endpoint 127.0.0.1:1338).",
    ],
}


def layers_of(frame):
    return frame["_source"]["layers"]


def walk(obj):
    """Yield every (key, value) pair of a nested tshark JSON object."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k, v
            yield from walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from walk(v)


def first(obj, key):
    for k, v in walk(obj):
        if k == key:
            return v
    return None


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def version_of(dst: str, method: str, uri: str, lines: list[str]) -> str:
    """The request's version per the issue 17 schema (`other` for null)."""
    path = uri.split("?", 1)[0]
    has = lambda prefix: any(l.strip().startswith(prefix) for l in lines)  # noqa: E731
    if dst == ALIBABA:
        if method == "PUT" and path.endswith("/api/token"):
            return "token_request"
        return "v2" if has(ALIYUN_TOKEN) and not has(ALIYUN_TTL) else "v1"
    if dst in CREDENTIAL_AGENTS or path.startswith("/v2/credentials/"):
        return "other"
    if path.startswith(("/opc/v1/", "/openstack/", "/0.1/", "/computeMetadata/v1beta1/")):
        return "v1"
    if path.startswith("/opc/v2/"):
        return "v2"
    if path.startswith("/computeMetadata/v1/"):
        return "v2" if has("metadata-flavor: google") else "other"
    first_seg = path.lstrip("/").split("/", 1)[0]
    if has(OTHER_HEADERS) or first_seg in OTHER_PATHS:
        return "other"
    if has(TOKEN_HEADER):
        return "v2"
    if method == "PUT" and re.search(r"/api/token$", path):
        return "token_request"
    return "v1"


def shown_path(dst: str, uri: str) -> str:
    """The path as imdswatch shows it: query values and the ECS credential id redacted."""
    head, sep, query = uri.partition("?")
    if head.startswith("/v2/credentials/") and (dst == "169.254.170.2" or dst not in CREDENTIAL_AGENTS):
        head = "/v2/credentials/[REDACTED]"
    if not sep:
        return head
    parts = []
    for part in re.split(r"([&;])", query):
        k, eq, v = part.partition("=")
        parts.append(f"{k}=[REDACTED]" if eq and v else part)
    return head + "?" + "".join(parts)


def ttl_of(ly) -> int:
    ip = ly.get("ip") or ly.get("ipv6") or {}
    if isinstance(ip, list):
        ip = ip[-1]
    ttl = first(ip, "ip.ttl") or first(ip, "ipv6.hlim")
    return int(ttl) if ttl is not None else 255


def unacknowledged(path: str, low_ttl):
    """The low-TTL answers no later client segment acknowledged: (stream, request key)."""
    if not low_ttl:
        return []
    out = subprocess.run(
        ["tshark", "-r", path, "-Y", "tcp.flags.ack == 1", "-T", "fields", "-E", "separator=,",
         "-e", "frame.number", "-e", "tcp.stream", "-e", "tcp.dstport", "-e", "tcp.ack"],
        capture_output=True, text=True, check=True,
    ).stdout
    acks = [tuple(int(x) for x in line.split(",")) for line in out.splitlines() if line.count(",") == 3]
    lost = []
    for stream, fno, sport, nxt, key in low_ttl:
        st = int(stream)
        if not any(f > fno and s == st and d == sport and a >= nxt for f, s, d, a in acks):
            lost.append((stream, key))
    return lost


def main() -> int:
    args = sys.argv[1:]
    header = False
    if args and args[0] == "--with-header":
        header, args = True, args[1:]
    if len(args) != 1:
        sys.exit(__doc__)
    path = args[0]
    out = subprocess.run(
        ["tshark", "-r", path, "-Y", "http && !icmp && !icmpv6", "-T", "json", "--no-duplicate-keys",
         "-J", "frame ip ipv6 tcp http"],
        capture_output=True, text=True, check=True,
    ).stdout
    frames = json.loads(out) if out.strip() else []
    streams: dict[str, dict] = {}
    requests = []  # (frame, index, stream, version, method, path)
    low_ttl = []  # answers at TTL <= 1: (stream, frame, server port, next seq, request key)
    for fr in frames:
        ly = layers_of(fr)
        tcp = ly.get("tcp")
        if isinstance(tcp, list):  # tunnelled / quoted TCP: not expected here
            tcp = tcp[-1]
        analysis = tcp.get("tcp.analysis", {}) if tcp else {}
        flags = {k for k, _ in walk(analysis)}
        if flags & {"tcp.analysis.retransmission", "tcp.analysis.spurious_retransmission",
                    "tcp.analysis.fast_retransmission"}:
            continue
        stream = tcp["tcp.stream"]
        fno = int(first(ly["frame"], "frame.number"))
        st = streams.setdefault(stream, {"pending": [], "status": {}})
        for i, pdu in enumerate(as_list(ly.get("http"))):
            method = first(pdu, "http.request.method")
            code = first(pdu, "http.response.code")
            if method is not None:
                uri = first(pdu, "http.request.uri")
                lines = [str(x).lower() for x in as_list(pdu.get("http.request.line"))]
                ip = ly.get("ip") or ly.get("ipv6") or {}
                if isinstance(ip, list):
                    ip = ip[-1]
                dst = first(ip, "ip.dst") or first(ip, "ipv6.dst") or ""
                version = version_of(dst, method, uri, lines)
                key = (fno, i)
                requests.append((key, stream, version, method, shown_path(dst, uri)))
                st["pending"].append(key)
            elif code is not None:
                if st["pending"]:
                    key = st["pending"].pop(0)
                    st["status"][key] = code
                    if ttl_of(ly) <= 1:
                        low_ttl.append((stream, fno, int(tcp["tcp.srcport"]), int(tcp.get("tcp.nxtseq", 0)), key))
    for stream, key in unacknowledged(path, low_ttl):
        streams[stream]["status"][key] = "none"
    if header:
        print(f"# Expected IMDS requests in {path.rsplit('/', 1)[-1]}, in time order,")
        print("# derived from the capture with tshark (captures/clients/expected_from_pcap.py).")
        print("# version method path status   (status: HTTP status, or none = no answer seen)")
        for line in NOTES.get(path.rsplit("/", 1)[-1], []):
            print("# " + line)
    for key, stream, version, method, uri in sorted(requests):
        print(f"{version} {method} {uri} {streams[stream]['status'].get(key, 'none')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
