"""A small forwarding proxy that adds X-Forwarded-For, as kube2iam/kiam-style metadata
proxies do: IMDS refuses such token requests with 403, and the client falls back to IMDSv1.

    xff_proxy.py PORT [ADDR]   listens on ADDR:PORT (default 127.0.0.1), one request per
                               connection; as an explicit proxy (curl -x) or as the target
                               of a DNAT rule (netns.sh imw_dnat_proxy), as kube2iam runs

Run inside the test namespace only (make-captures.sh, tests/live_e2e.rs), where
169.254.169.254 is the mock.
"""
import socket
import socketserver
import sys


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        first, rest = head.split(b"\r\n", 1)
        method, target, version = first.split(b" ", 2)
        if target.startswith(b"http://"):
            target = b"/" + target[7:].split(b"/", 1)[1]
        lines = [l for l in rest.split(b"\r\n") if not l.lower().startswith((b"proxy-", b"connection:"))]
        out = b" ".join([method, target, version]) + b"\r\nX-Forwarded-For: 10.244.0.7\r\nConnection: close\r\n"
        out += b"\r\n".join(lines)
        answer = b""
        with socket.create_connection(("169.254.169.254", 80), timeout=3) as up:
            up.sendall(out)
            while len(answer) < 1 << 20:
                data = up.recv(65536)
                if not data:
                    break
                answer += data
        # One request per connection: say so, or a keep-alive client reuses a closed socket.
        rhead, sep, body = answer.partition(b"\r\n\r\n")
        rlines = [l for l in rhead.split(b"\r\n") if not l.lower().startswith(b"connection:")]
        self.request.sendall(b"\r\n".join(rlines + [b"Connection: close"]) + sep + body)


socketserver.TCPServer.allow_reuse_address = True
addr = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
with socketserver.TCPServer((addr, int(sys.argv[1])), Handler) as srv:
    srv.serve_forever()
