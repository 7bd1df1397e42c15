"""A client that pipelines: N IMDSv1 GETs written at once on one connection (the kernel
sends them as a few GSO segments; the server answers each), every answer read; prints how
many answers were 200. Run only inside the test namespaces (captures/netns.sh), where
169.254.169.254 belongs to the mock (tests/hardening_wire_live.rs, benches/pipeline_drops.sh).

    python3 captures/pipeliner.py N
"""
import socket
import sys

n = int(sys.argv[1])
req = b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: pipeliner/1.0\r\n\r\n"
s = socket.create_connection(("169.254.169.254", 80), timeout=10)
s.sendall(req * n)
data = b""
while data.count(b"HTTP/1.") < n:
    b = s.recv(65536)
    if not b:
        break
    data += b
s.close()
print(data.count(b"HTTP/1.1 200"))
