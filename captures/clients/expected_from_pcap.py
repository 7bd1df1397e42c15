#!/usr/bin/env python3
"""Derive the expected IMDS request list of a capture with tshark (independent of imdswatch).

    expected_from_pcap.py [--with-header] FILE

Prints one line per IMDS HTTP request, in time order: `version method path status`, where
version is `other` for another cloud's metadata protocol (GCP, Azure, Oracle, IBM headers or
path prefixes) without a legacy/hardened form (OCI /opc/v1 and /openstack, GCP /0.1 and
/computeMetadata/v1beta1 are v1; OCI /opc/v2 and GCP /computeMetadata/v1 with its header v2), v2 (the request carries X-aws-ec2-metadata-token), token_request (a PUT to
/<anything>/api/token), else v1; status is the HTTP status of the answer on the same TCP
connection (answers are matched to requests in order, as HTTP/1.1 requires), or `none`.

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
        "inside ICMP errors is neither a request nor an answer.",
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
    "rejections.pcap": [
        "Mock run with --tokens required.",
    ],
    "loopback-mock.pcap": [
        "Mock on 127.0.0.1:1338 (use --endpoint 127.0.0.1:1338).",
    ],
}


def other_cloud_form(uri, lines):
    """Issue 17: OCI and GCP have a legacy (v1) and a hardened (v2) form; None otherwise."""
    segs = [x for x in uri.split("?", 1)[0].split("/") if x]
    a, b = (segs + ["", ""])[:2]
    if (a, b) == ("opc", "v1") or a == "openstack" or a == "0.1" or (a, b) == ("computeMetadata", "v1beta1"):
        return "v1"
    if (a, b) == ("opc", "v2"):
        return "v2"
    if (a, b) == ("computeMetadata", "v1") and any(l.strip().startswith("metadata-flavor: google") for l in lines):
        return "v2"
    return None


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
         "-J", "frame tcp http"],
        capture_output=True, text=True, check=True,
    ).stdout
    frames = json.loads(out) if out.strip() else []
    streams: dict[str, dict] = {}
    requests = []  # (frame, index, stream, version, method, path)
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
                first_seg = uri.split("?", 1)[0].lstrip("/").split("/", 1)[0]
                legacy = other_cloud_form(uri, lines)
                if legacy:
                    version = legacy
                elif any(l.strip().startswith(OTHER_HEADERS) for l in lines) or first_seg in OTHER_PATHS:
                    version = "other"
                elif any(l.startswith(TOKEN_HEADER) for l in lines):
                    version = "v2"
                elif method == "PUT" and re.search(r"/api/token$", uri.split("?", 1)[0]):
                    version = "token_request"
                else:
                    version = "v1"
                key = (fno, i)
                requests.append((key, stream, version, method, uri))
                st["pending"].append(key)
            elif code is not None:
                if st["pending"]:
                    st["status"][st["pending"].pop(0)] = code
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
