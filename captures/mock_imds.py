#!/usr/bin/env python3
"""A mock EC2 Instance Metadata Service (IMDS) for imdswatch's tests and captures.

Python 3 standard library only. Run it ONLY inside a network namespace made by
captures/netns.sh, where 169.254.169.254 and fd00:ec2::254 belong to it, or on a
loopback port (e.g. 127.0.0.1:1338). It never talks to a real IMDS.

Behaviour (see /work/shared/imds-facts.md):
  PUT /latest/api/token + X-aws-ec2-metadata-token-ttl-seconds: N (1..21600)
      -> 200, body = token "SECRET-TOKEN-...", TTL header echoed.
      TTL missing/invalid -> 400; X-Forwarded-For present -> 403;
      --token-delay-ms N delays the (200) answer by N ms.
      PUT to a versioned token path (/2021-03-23/api/token) -> 403.
      --token-status 404|405 answers every token request so (a disabled or emulated
      token endpoint: SDKs then fall back to IMDSv1).
      The response leaves with IP TTL / IPv6 hop limit = --hop-limit (default 1);
      the socket's previous value is restored when the next request on that
      connection arrives (so retransmissions of a lost token response also carry
      the low hop limit, as on a real instance).
  GET/HEAD with X-aws-ec2-metadata-token: valid -> 200/404, invalid/expired -> 401.
  GET/HEAD without a token: served (200/404) with --tokens optional (default),
      401 with --tokens required.
  Other methods, or GET of /latest/api/token -> 405.
  Every response: Server: EC2ws, Content-Length.

Request classes counted (same rule as imdswatch): a request carrying the header
X-aws-ec2-metadata-token is "v2"; else a PUT to a path ending in /api/token is
"token_request"; anything else is "v1". On SIGTERM/SIGINT (or SIGUSR1, without
exiting) the counts are written as one JSON object to --count-file:
  {"v1": N, "v2": N, "token_request": N, "total": N, "by_status": {"200": N, ...}}
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import secrets
import signal
import socket
import socketserver
import sys
import threading
import time

ROLE = "imdswatch-test-role"
INSTANCE_ID = "i-0fa4e5e0000imdsw"
REGION = "us-east-1"
AZ = "us-east-1a"
ACCOUNT_ID = "123456789012"
MAX_TTL = 21600
TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"


def _credentials(extended: bool) -> str:
    now = time.time()
    doc = {
        "Code": "Success",
        "LastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "Type": "AWS-HMAC",
        "AccessKeyId": "ASIAFAKEIMDSWATCH000",
        "SecretAccessKey": "SECRET-ACCESS-KEY-imdswatch-fake-0000000000000",
        "Token": "SECRET-SESSION-TOKEN-imdswatch-fake-" + "A" * 64,
        "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 6 * 3600)),
    }
    if extended:
        doc["AccountId"] = ACCOUNT_ID
    return json.dumps(doc, indent=2)


def _identity_document() -> str:
    return json.dumps(
        {
            "accountId": ACCOUNT_ID,
            "architecture": "x86_64",
            "availabilityZone": AZ,
            "imageId": "ami-0imdswatch00000",
            "instanceId": INSTANCE_ID,
            "instanceType": "t3.micro",
            "pendingTime": "2024-01-01T00:00:00Z",
            "privateIp": "10.213.9.9",
            "region": REGION,
            "version": "2017-09-30",
        },
        indent=2,
    )


# path -> (content type, body or callable returning the body)
STATIC = {
    "/": ("text/plain", "latest\n"),
    "/latest": ("text/plain", "dynamic\nmeta-data\nuser-data"),
    "/latest/": ("text/plain", "dynamic\nmeta-data\nuser-data"),
    "/latest/meta-data": ("text/plain", "ami-id\nhostname\niam/\ninstance-id\ninstance-type\nlocal-ipv4\nplacement/"),
    "/latest/meta-data/": ("text/plain", "ami-id\nhostname\niam/\ninstance-id\ninstance-type\nlocal-ipv4\nplacement/"),
    "/latest/meta-data/ami-id": ("text/plain", "ami-0imdswatch00000"),
    "/latest/meta-data/hostname": ("text/plain", "ip-10-213-9-9.ec2.internal"),
    "/latest/meta-data/instance-id": ("text/plain", INSTANCE_ID),
    "/latest/meta-data/instance-type": ("text/plain", "t3.micro"),
    "/latest/meta-data/local-ipv4": ("text/plain", "10.213.9.9"),
    "/latest/meta-data/placement/": ("text/plain", "availability-zone\nregion"),
    "/latest/meta-data/placement/availability-zone": ("text/plain", AZ),
    "/latest/meta-data/placement/region": ("text/plain", REGION),
    "/latest/meta-data/iam/": ("text/plain", "info\nsecurity-credentials/"),
    "/latest/meta-data/iam/info": (
        "text/plain",
        json.dumps(
            {
                "Code": "Success",
                "InstanceProfileArn": f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/{ROLE}",
                "InstanceProfileId": "AIPAFAKEIMDSWATCH000",
            },
            indent=2,
        ),
    ),
    "/latest/meta-data/iam/security-credentials": ("text/plain", ROLE),
    "/latest/meta-data/iam/security-credentials/": ("text/plain", ROLE),
    f"/latest/meta-data/iam/security-credentials/{ROLE}": ("text/plain", lambda: _credentials(False)),
    "/latest/meta-data/iam/security-credentials-extended": ("text/plain", ROLE),
    "/latest/meta-data/iam/security-credentials-extended/": ("text/plain", ROLE),
    f"/latest/meta-data/iam/security-credentials-extended/{ROLE}": ("text/plain", lambda: _credentials(True)),
    "/latest/dynamic/": ("text/plain", "instance-identity/"),
    "/latest/dynamic/instance-identity/": ("text/plain", "document"),
    "/latest/dynamic/instance-identity/document": ("text/plain", _identity_document),
}


class State:
    def __init__(self, args: argparse.Namespace) -> None:
        self.tokens_required = args.tokens == "required"
        self.hop_limit = args.hop_limit
        self.token_delay = max(0, args.token_delay_ms) / 1000.0
        self.token_status = args.token_status
        self.verbose = args.verbose
        self.count_file = args.count_file
        self.lock = threading.Lock()
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.counts = {"v1": 0, "v2": 0, "token_request": 0}
        self.by_status: dict[str, int] = {}

    def new_token(self, ttl: int) -> str:
        tok = "SECRET-TOKEN-" + secrets.token_urlsafe(33)
        with self.lock:
            now = time.monotonic()
            if len(self.tokens) > 10000:  # keep memory bounded under load
                self.tokens = {t: e for t, e in self.tokens.items() if e > now}
            self.tokens[tok] = now + ttl
        return tok

    def token_valid(self, tok: str) -> bool:
        with self.lock:
            exp = self.tokens.get(tok)
        return exp is not None and exp > time.monotonic()

    def count(self, version: str, status: int) -> None:
        with self.lock:
            self.counts[version] += 1
            key = str(status)
            self.by_status[key] = self.by_status.get(key, 0) + 1

    def snapshot(self) -> dict:
        with self.lock:
            d = dict(self.counts)
            d["total"] = sum(self.counts.values())
            d["by_status"] = dict(sorted(self.by_status.items()))
        return d

    def write_counts(self) -> None:
        if not self.count_file:
            return
        tmp = self.count_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            json.dump(self.snapshot(), f, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.count_file)


def classify(method: str, path: str, has_token: bool) -> str:
    if has_token:
        return "v2"
    if method == "PUT" and path.split("?", 1)[0].endswith("/api/token"):
        return "token_request"
    return "v1"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "EC2ws"
    sys_version = ""
    state: State  # set on the class by make_handler

    # --- plumbing -----------------------------------------------------------------
    def version_string(self) -> str:  # "Server: EC2ws" exactly
        return "EC2ws"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib signature)
        if self.state.verbose:
            sys.stderr.write("mock_imds: %s %s\n" % (self.client_address[0], format % args))

    def setup(self) -> None:
        super().setup()
        self._saved_hops: tuple[int, int, int] | None = None

    def parse_request(self) -> bool:
        # Called once the next request line has arrived on this connection: the previous
        # (token) response got through, so the socket's normal hop limit comes back.
        self._restore_hops()
        return super().parse_request()

    def _set_hops(self, hops: int) -> None:
        sock = self.connection
        if sock.family == socket.AF_INET6:
            level, opt = socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS
        else:
            level, opt = socket.IPPROTO_IP, socket.IP_TTL
        try:
            if self._saved_hops is None:
                self._saved_hops = (level, opt, sock.getsockopt(level, opt))
            sock.setsockopt(level, opt, hops)
            # An IPv4-mapped peer on a dual-stack socket uses IP_TTL as well.
            if sock.family == socket.AF_INET6:
                try:
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, hops)
                except OSError:
                    pass
        except OSError:
            pass

    def _restore_hops(self) -> None:
        saved = getattr(self, "_saved_hops", None)
        if saved is None:
            return
        level, opt, value = saved
        self._saved_hops = None
        try:
            self.connection.setsockopt(level, opt, value if value > 0 else 64)
            if self.connection.family == socket.AF_INET6:
                try:
                    self.connection.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 64)
                except OSError:
                    pass
        except OSError:
            pass

    def _reply(self, version: str, status: int, body: str = "", ctype: str = "text/plain",
               extra: dict[str, str] | None = None, hops: int | None = None) -> None:
        data = body.encode("utf-8")
        if hops is not None:
            self._set_hops(hops)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Accept-Ranges", "none")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        # Head and body in one write (one TCP segment for small answers).
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD" and data:
            self._headers_buffer.append(data)
        self.flush_headers()
        self.state.count(version, status)

    def _drain_body(self) -> bool:
        """Read (and discard) a request body. False if the request is malformed."""
        te = self.headers.get("Transfer-Encoding")
        if te and te.lower() != "identity":
            self.close_connection = True
            return False
        length = self.headers.get("Content-Length")
        if length is None:
            return True
        try:
            n = int(length)
        except ValueError:
            self.close_connection = True
            return False
        if n < 0 or n > 1 << 20:
            self.close_connection = True
            return False
        while n > 0:
            chunk = self.rfile.read(min(n, 65536))
            if not chunk:
                break
            n -= len(chunk)
        return True

    # --- IMDS ---------------------------------------------------------------------
    def _dispatch(self) -> None:
        token = self.headers.get(TOKEN_HEADER)
        path = self.path.split("?", 1)[0]
        version = classify(self.command, self.path, token is not None)
        if not self._drain_body():
            self._reply(version, 400, "Bad Request")
            return

        if self.command == "PUT":
            if path == "/latest/api/token":
                self._token_put(version)
            elif path.endswith("/api/token"):
                self._reply(version, 403, "Forbidden")
            else:
                self._reply(version, 405, "Method Not Allowed", extra={"Allow": "GET, HEAD"})
            return
        if self.command not in ("GET", "HEAD"):
            self._reply(version, 405, "Method Not Allowed", extra={"Allow": "GET, HEAD, PUT"})
            return

        # GET / HEAD
        if token is not None:
            if not self.state.token_valid(token):
                self._reply(version, 401, "Unauthorized")
                return
        elif self.state.tokens_required:
            self._reply(version, 401, "Unauthorized")
            return
        if path.endswith("/api/token"):
            self._reply(version, 405, "Method Not Allowed", extra={"Allow": "PUT"})
            return
        entry = STATIC.get(path)
        if entry is None:
            self._reply(version, 404, "Not Found")
            return
        ctype, body = entry
        self._reply(version, 200, body() if callable(body) else body, ctype)

    def _token_put(self, version: str) -> None:
        if self.headers.get("X-Forwarded-For") is not None:
            self._reply(version, 403, "Forbidden")
            return
        if self.state.token_status != 200:
            self._reply(version, self.state.token_status, "Not Found" if self.state.token_status == 404 else "Method Not Allowed")
            return
        raw = (self.headers.get(TTL_HEADER) or "").strip()
        ttl = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else -1
        if not 1 <= ttl <= MAX_TTL:
            self._reply(version, 400, "Bad Request")
            return
        if self.state.token_delay:
            time.sleep(self.state.token_delay)  # a slow token answer (the dashboard's "pending")
        tok = self.state.new_token(ttl)
        self._reply(version, 200, tok, extra={TTL_HEADER: str(ttl)}, hops=self.state.hop_limit)

    do_GET = _dispatch
    do_HEAD = _dispatch
    do_PUT = _dispatch
    do_POST = _dispatch
    do_DELETE = _dispatch
    do_PATCH = _dispatch
    do_OPTIONS = _dispatch


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            # Let 0.0.0.0:80 and [::]:80 coexist as separate listeners.
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = port

    def handle_error(self, request, client_address) -> None:  # quiet on resets
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def parse_listen(spec: str) -> tuple[int, tuple[str, int]]:
    if spec.startswith("["):
        host, _, port = spec[1:].partition("]:")
        if not port:
            raise argparse.ArgumentTypeError(f"bad --listen {spec!r}: want [ADDR]:PORT")
        return socket.AF_INET6, (host, int(port))
    host, sep, port = spec.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"bad --listen {spec!r}: want ADDR:PORT or [ADDR]:PORT")
    return socket.AF_INET, (host, int(port))


def serve(name: str, listens, state, handler_cls, pid_file: str | None, verbose: bool) -> int:
    """Serves `handler_cls` (bound to `state`) on every listen address until SIGTERM/SIGINT;
    SIGUSR1 (and the end) write the counts. Shared by the mocks."""
    handler = type("BoundHandler", (handler_cls,), {"state": state})
    servers = []
    for family, addr in listens:
        cls = type("Server6" if family == socket.AF_INET6 else "Server4", (Server,), {"address_family": family})
        try:
            servers.append(cls(addr, handler))
        except OSError as e:
            print(f"{name}: cannot listen on {addr}: {e}", file=sys.stderr)
            return 1
    if pid_file:
        with open(pid_file, "w", encoding="ascii") as f:
            f.write(f"{os.getpid()}\n")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda s, f: stop.set())
    signal.signal(signal.SIGINT, lambda s, f: stop.set())
    signal.signal(signal.SIGUSR1, lambda s, f: state.write_counts())
    for s in servers:
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    if verbose:
        print(f"{name}: listening on {[s.server_address for s in servers]}", file=sys.stderr)
    while not stop.wait(0.5):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    state.write_counts()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Mock EC2 IMDS: inside the captures/netns.sh namespaces (where 169.254.169.254 is this mock) or on a loopback port such as 127.0.0.1:1338; scripts/try.sh runs it both ways")
    ap.add_argument("--listen", action="append", type=parse_listen, metavar="ADDR:PORT",
                    help="address to listen on, repeatable; e.g. 0.0.0.0:80, [::]:80 (default 0.0.0.0:80)")
    ap.add_argument("--tokens", choices=("optional", "required"), default="optional",
                    help="optional: v1 (no token) allowed (default); required: v1 gets 401")
    ap.add_argument("--hop-limit", type=int, default=1,
                    help="IP TTL / IPv6 hop limit of token responses (1..255, default 1)")
    ap.add_argument("--token-delay-ms", type=int, default=0,
                    help="wait this long before answering a token request (default 0)")
    ap.add_argument("--token-status", type=int, choices=(200, 404, 405), default=200,
                    help="status of every token answer (default 200; 404/405: the token endpoint refuses)")
    ap.add_argument("--count-file", help="write request counts (JSON) here on SIGTERM/SIGINT/SIGUSR1")
    ap.add_argument("--pid-file", help="write the pid here once every listener is bound")
    ap.add_argument("-v", "--verbose", action="store_true", help="log each request to stderr")
    args = ap.parse_args(argv)
    if not 1 <= args.hop_limit <= 255:
        ap.error("--hop-limit must be in 1..255")
    listens = args.listen or [parse_listen("0.0.0.0:80")]

    return serve("mock_imds", listens, State(args), Handler, args.pid_file, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
