"""A small forwarding proxy that adds X-Forwarded-For, as kube2iam/kiam-style metadata
proxies do: IMDS refuses such token requests with 403, and the client falls back to IMDSv1.

    xff_proxy.py PORT      listens on 127.0.0.1:PORT, one request per connection

Run inside the test namespace only (make-captures.sh), where 169.254.169.254 is the mock.
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
        with socket.create_connection(("169.254.169.254", 80), timeout=3) as up:
            up.sendall(out)
            while True:
                data = up.recv(65536)
                if not data:
                    break
                self.request.sendall(data)


socketserver.TCPServer.allow_reuse_address = True
with socketserver.TCPServer(("127.0.0.1", int(sys.argv[1])), Handler) as srv:
    srv.serve_forever()
