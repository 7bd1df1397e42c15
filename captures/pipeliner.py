"""A client that pipelines: N GETs written at once on one connection (the kernel sends them
as a few GSO segments; the server answers each), every answer read; prints how many answers
were 200. Run only inside the test namespaces (captures/netns.sh), where 169.254.169.254
belongs to the mock (tests/hardening_wire_live.rs, benches/pipeline_drops.sh).

    python3 captures/pipeliner.py N           N IMDSv1 requests
    python3 captures/pipeliner.py N mostly-v2 a token first, then N IMDSv2 requests with
                                              one IMDSv1 request in their middle
"""
import socket
import sys

HOST = b"Host: 169.254.169.254\r\n"
GET = b"GET /latest/meta-data/instance-id HTTP/1.1\r\n"


def token(s):
    s.sendall(b"PUT /latest/api/token HTTP/1.1\r\n" + HOST + b"X-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    hdr, body = head.split(b"\r\n\r\n", 1)
    lines = [l for l in hdr.split(b"\r\n") if l.lower().startswith(b"content-length:")]
    length = int(lines[0].split(b":")[1])
    while len(body) < length:
        body += s.recv(4096)
    return body[:length]


n = int(sys.argv[1])
s = socket.create_connection(("169.254.169.254", 80), timeout=10)
v1 = GET + HOST + b"User-Agent: pipeliner/1.0\r\n\r\n"
if sys.argv[2:] == ["mostly-v2"]:
    v2 = GET + HOST + b"X-aws-ec2-metadata-token: " + token(s) + b"\r\n\r\n"
    s.sendall(v2 * (n // 2) + v1 + v2 * (n - n // 2 - 1))
else:
    s.sendall(v1 * n)
data = b""
while data.count(b"HTTP/1.") < n:
    b = s.recv(65536)
    if not b:
        break
    data += b
s.close()
print(data.count(b"HTTP/1.1 200"))
