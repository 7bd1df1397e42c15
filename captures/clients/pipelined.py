#!/usr/bin/env python3
"""Raw-socket IMDS client for the keep-alive / pipelining capture.

Connection 1: PUT a token, read the answer; then ONE send() carrying three request
heads (v2 GET, v1 GET, v2 HEAD), then read the three answers.
Connection 2: one v1 GET whose head is split over two TCP segments (TCP_NODELAY and a
short pause between the two send()s), to exercise stream reassembly.

Usage (inside the test namespaces only): pipelined.py [HOST] [PORT]
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nscheck import require_test_namespace  # noqa: E402


def read_response(f) -> tuple[int, bytes]:
    status = f.readline()
    if not status:
        raise SystemExit("connection closed early")
    code = int(status.split()[1])
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return code, length


def main() -> int:
    host = sys.argv[1] if len(sys.argv) > 1 else "169.254.169.254"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 80
    if host not in ("127.0.0.1", "::1"):
        require_test_namespace()
    hosthdr = f"[{host}]" if ":" in host else host
    if port != 80:
        hosthdr += f":{port}"

    s = socket.create_connection((host, port), timeout=3)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    s.sendall(
        f"PUT /latest/api/token HTTP/1.1\r\nHost: {hosthdr}\r\nUser-Agent: imdswatch-pipelined/1\r\n"
        "X-aws-ec2-metadata-token-ttl-seconds: 300\r\nContent-Length: 0\r\n\r\n".encode()
    )
    code, length = read_response(f)
    token = f.read(length).decode()
    results = [code]
    heads = (
        f"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: {hosthdr}\r\nUser-Agent: imdswatch-pipelined/1\r\n"
        f"X-aws-ec2-metadata-token: {token}\r\n\r\n"
        f"GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: {hosthdr}\r\nUser-Agent: imdswatch-pipelined/1\r\n\r\n"
        f"HEAD /latest/meta-data/placement/region HTTP/1.1\r\nHost: {hosthdr}\r\nUser-Agent: imdswatch-pipelined/1\r\n"
        f"x-aws-ec2-metadata-token: {token}\r\nConnection: close\r\n\r\n"
    )
    s.sendall(heads.encode())  # one send(): three pipelined request heads
    for method in ("GET", "GET", "HEAD"):
        code, length = read_response(f)
        if method != "HEAD":
            f.read(length)
        results.append(code)
    s.close()

    s = socket.create_connection((host, port), timeout=3)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    s.sendall(b"GET /latest/meta-data/local-ip")
    time.sleep(0.05)
    s.sendall(f"v4 HTTP/1.1\r\nHost: {hosthdr}\r\nUser-Agent: imdswatch-pipelined/1\r\nConnection: close\r\n\r\n".encode())
    code, length = read_response(f)
    f.read(length)
    results.append(code)
    s.close()
    print("pipelined:", " ".join(map(str, results)))
    return 0 if results == [200, 200, 200, 200, 200] else 1


if __name__ == "__main__":
    sys.exit(main())
