#!/usr/bin/env python3
"""Mocks of the other metadata and credential services (issue 17), for imdswatch's tests.

Python 3 standard library only. Run it ONLY inside the imw- network namespaces made by
captures/netns.sh, where the metadata addresses belong to it. It never talks to a real one.

One process, one handler per service, chosen by the local address a request arrived on:
  100.100.100.200             Alibaba Cloud ECS metadata
  169.254.170.2               ECS task credentials (agent)
  169.254.170.23, fd00:ec2::23  EKS Pod Identity agent
  anything else (169.254.169.254, fd00:ec2::254, loopback): --imds-cloud (default `auto`: by
  path, /opc/ and /openstack/ -> Oracle, /computeMetadata/ and /0.1/ -> Google,
  /metadata/ -> Azure, else 404).

Behaviour (see /work/shared/imds-facts.md; marked "mock choice" where no document said):
  Alibaba  PUT /latest/api/token + X-aliyun-ecs-metadata-token-ttl-seconds 1..21600 -> 200 token
           (400 bad/missing TTL, 403 with X-Forwarded-For); GET with X-aliyun-ecs-metadata-token:
           valid -> served, invalid -> 401; GET without: served (--alibaba normal) or 401
           (--alibaba hardened; 401 is a mock choice, as EC2 answers).
  Oracle   /opc/v1/..., /openstack/... (legacy) served, or 404 with --oci-legacy disabled;
           /opc/v2/... needs `Authorization: Bearer Oracle` (401 without);
           Forwarded / X-Forwarded-For / X-Forwarded-Host -> 403.
  Google   /computeMetadata/v1/... needs `Metadata-Flavor: Google` (403 without, and with
           X-Forwarded-For); /0.1/... and /computeMetadata/v1beta1/... (legacy, no header
           needed) served, or 404 with --gcp-legacy disabled (404: mock choice).
  Azure    /metadata/...?api-version=... needs `Metadata: true` (400 without, 400 with
           X-Forwarded-For, 400 without api-version).
  ECS      GET /v2/credentials/<id>: the --ecs-id -> 200 credentials; another id -> 404;
           no id -> 400.
  Pod Id.  GET /v1/credentials: no Authorization -> 400; not the --pod-token -> 403; more
           than --pod-burst requests in one second -> 429; else 200 credentials.
Every secret value handed out (tokens, keys, certificates) contains `SVCSECRET`, so tests
can search every output for it.

On SIGTERM/SIGINT (or SIGUSR1 without exiting) the counts go to --count-file as JSON:
  {"total": N, "by_service": {"alibaba": {"200": N, ...}, ...}}
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import secrets
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mock_imds import parse_listen, serve  # noqa: E402

MARK = "SVCSECRET"
ALIBABA_ROLE = "imdswatch-ram-role"
ALIBABA_TTL = "X-aliyun-ecs-metadata-token-ttl-seconds"
ALIBABA_TOKEN = "X-aliyun-ecs-metadata-token"
GCP_SA = "default"
MAX_TTL = 21600
FORWARDING = ("X-Forwarded-For", "Forwarded", "X-Forwarded-Host")


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _aws_creds(kind: str, account: bool = False) -> str:
    now = time.time()
    doc = {
        "AccessKeyId": f"ASIASVCFAKE{kind.upper()}0000",
        "SecretAccessKey": f"{MARK}-{kind}-secret-access-key-0000000000",
        "Token": f"{MARK}-{kind}-session-token-" + "B" * 48,
        "Expiration": _iso(now + 6 * 3600),
    }
    if account:
        doc["AccountId"] = "123456789012"
    else:
        doc["RoleArn"] = "arn:aws:iam::123456789012:role/imdswatch-task-role"
    return json.dumps(doc)


def _alibaba_creds() -> str:
    now = time.time()
    return json.dumps({
        "AccessKeyId": "STS.SVCFAKEALIYUN000",
        "AccessKeySecret": f"{MARK}-aliyun-access-key-secret-000000",
        "Expiration": _iso(now + 6 * 3600),
        "SecurityToken": f"{MARK}-aliyun-security-token-" + "C" * 40,
        "LastUpdated": _iso(now),
        "Code": "Success",
    })


def _gcp_token() -> str:
    return json.dumps({"access_token": f"ya29.{MARK}-gcp-access-token-000000", "expires_in": 3599,
                       "token_type": "Bearer"})


def _azure_token(resource: str) -> str:
    now = int(time.time())
    return json.dumps({"access_token": f"eyJ0eXAiOiJKV1Qi.{MARK}-azure-access-token.sig", "client_id": "imdswatch",
                       "expires_in": "3599", "expires_on": str(now + 3599), "ext_expires_in": "3599",
                       "not_before": str(now), "resource": resource, "token_type": "Bearer"})


OCI_CERT = f"-----BEGIN CERTIFICATE-----\n{MARK}-oci-instance-principal-cert\n-----END CERTIFICATE-----\n"
OCI_KEY = f"-----BEGIN RSA PRIVATE KEY-----\n{MARK}-oci-instance-principal-key\n-----END RSA PRIVATE KEY-----\n"
OCI_INSTANCE = json.dumps({"id": "ocid1.instance.oc1..imdswatch", "region": "us-ashburn-1",
                           "canonicalRegionName": "us-ashburn-1", "shape": "VM.Standard.E4.Flex"})
# Paths under /opc/vN/ (the same for v1 and v2).
OCI_PATHS = {
    "instance/": OCI_INSTANCE,
    "instance/id": "ocid1.instance.oc1..imdswatch",
    "instance/region": "us-ashburn-1",
    "identity/cert.pem": OCI_CERT,
    "identity/key.pem": OCI_KEY,
    "identity/intermediate.pem": OCI_CERT,
}
OPENSTACK = {"/openstack/latest/meta_data.json": json.dumps({"uuid": "ocid1.instance.oc1..imdswatch"})}
GCP_INSTANCE = {
    "instance/id": "4242424242424242",
    "instance/hostname": "imdswatch.c.project.internal",
    f"instance/service-accounts/{GCP_SA}/": None,  # recursive JSON, below
    f"instance/service-accounts/{GCP_SA}/email": "imdswatch@project.iam.gserviceaccount.com",
    f"instance/service-accounts/{GCP_SA}/token": _gcp_token,
    "project/project-id": "imdswatch-project",
}
GCP_SA_INFO = json.dumps({"aliases": ["default"], "email": "imdswatch@project.iam.gserviceaccount.com",
                          "scopes": ["https://www.googleapis.com/auth/cloud-platform"]})
GCP_LEGACY = {
    "/0.1/meta-data/instance-id": "4242424242424242",
    "/0.1/meta-data/service-accounts/default/acquire": _gcp_token,
}


class State:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.lock = threading.Lock()
        self.tokens: dict[str, float] = {}
        self.counts: dict[str, dict[str, int]] = {}
        self.pod_times: list[float] = []

    def new_token(self, ttl: int) -> str:
        tok = f"ALIYUN-{MARK}-token-" + secrets.token_urlsafe(24)
        with self.lock:
            if len(self.tokens) > 10000:
                now = time.monotonic()
                self.tokens = {t: e for t, e in self.tokens.items() if e > now}
            self.tokens[tok] = time.monotonic() + ttl
        return tok

    def token_valid(self, tok: str) -> bool:
        with self.lock:
            exp = self.tokens.get(tok)
        return exp is not None and exp > time.monotonic()

    def pod_burst(self) -> bool:
        """Whether this Pod Identity request is over --pod-burst in the last second."""
        now = time.monotonic()
        with self.lock:
            self.pod_times = [t for t in self.pod_times if now - t < 1.0][-1000:]
            self.pod_times.append(now)
            return len(self.pod_times) > self.args.pod_burst

    def count(self, service: str, status: int) -> None:
        with self.lock:
            per = self.counts.setdefault(service, {})
            per[str(status)] = per.get(str(status), 0) + 1

    def write_counts(self) -> None:
        if not self.args.count_file:
            return
        with self.lock:
            doc = {"total": sum(sum(v.values()) for v in self.counts.values()), "by_service": self.counts}
        tmp = self.args.count_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            json.dump(doc, f, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.args.count_file)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if self.state.args.verbose:
            sys.stderr.write("mock_services: %s %s\n" % (self.client_address[0], format % args))

    def _reply(self, service: str, status: int, body: str = "", ctype: str = "text/plain",
               extra: dict[str, str] | None = None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD" and data:
            self._headers_buffer.append(data)
        self.flush_headers()
        self.state.count(service, status)

    def _service(self) -> str:
        local = self.connection.getsockname()[0]
        by_addr = {"100.100.100.200": "alibaba", "169.254.170.2": "ecs", "169.254.170.23": "pod",
                   "fd00:ec2::23": "pod"}
        if local in by_addr:
            return by_addr[local]
        cloud = self.state.args.imds_cloud
        if cloud != "auto":
            return cloud
        path = self.path.split("?", 1)[0]
        if path.startswith(("/opc/", "/openstack/")):
            return "oci"
        if path.startswith(("/computeMetadata/", "/0.1/")):
            return "gcp"
        if path.startswith("/metadata/"):
            return "azure"
        return "none"

    def _dispatch(self) -> None:
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) <= 1 << 16:
            self.rfile.read(int(length))
        service = self._service()
        handler = getattr(self, "_" + service)
        status, body, ctype, extra = handler(urlsplit(self.path))
        self._reply(service, status, body, ctype, extra)

    do_GET = _dispatch
    do_HEAD = _dispatch
    do_PUT = _dispatch
    do_POST = _dispatch

    # Each handler returns (status, body, content type, extra headers).
    def _none(self, url):
        return 404, "Not Found", "text/plain", None

    def _alibaba(self, url):
        if self.headers.get("X-Forwarded-For") is not None:
            return 403, "Forbidden", "text/plain", None
        if self.command == "PUT":
            if url.path != "/latest/api/token":
                return 404, "Not Found", "text/plain", None
            raw = (self.headers.get(ALIBABA_TTL) or "").strip()
            ttl = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else -1
            if not 1 <= ttl <= MAX_TTL:
                return 400, "Bad Request", "text/plain", None
            return 200, self.state.new_token(ttl), "text/plain", None
        token = self.headers.get(ALIBABA_TOKEN)
        if token is not None and not self.state.token_valid(token):
            return 401, "Unauthorized", "text/plain", None
        if token is None and self.state.args.alibaba == "hardened":
            return 401, "Unauthorized", "text/plain", None
        creds = "/latest/meta-data/ram/security-credentials/"
        pages = {
            "/latest/meta-data/instance-id": "i-aliyunimdswatch00",
            "/latest/meta-data/region-id": "cn-hangzhou",
            creds: ALIBABA_ROLE,
            creds + ALIBABA_ROLE: None,
        }
        if url.path not in pages:
            return 404, "Not Found", "text/plain", None
        body = pages[url.path]
        return 200, body if body is not None else _alibaba_creds(), "text/plain", None

    def _oci(self, url):
        if any(self.headers.get(h) is not None for h in FORWARDING):
            return 403, "Forbidden", "text/plain", None
        path = url.path
        legacy = path.startswith(("/opc/v1/", "/openstack/"))
        if legacy and self.state.args.oci_legacy == "disabled":
            return 404, "Not Found", "text/plain", None
        if path.startswith("/opc/v2/") and self.headers.get("Authorization") != "Bearer Oracle":
            return 401, json.dumps({"code": "NotAuthenticated"}), "application/json", None
        if path in OPENSTACK:
            return 200, OPENSTACK[path], "application/json", None
        for prefix in ("/opc/v1/", "/opc/v2/"):
            if path.startswith(prefix) and path[len(prefix):] in OCI_PATHS:
                return 200, OCI_PATHS[path[len(prefix):]], "text/plain", None
        return 404, "Not Found", "text/plain", None

    def _gcp(self, url):
        flavor = {"Metadata-Flavor": "Google"}
        path = url.path
        legacy = path.startswith(("/0.1/", "/computeMetadata/v1beta1/"))
        if legacy:
            if self.state.args.gcp_legacy == "disabled":
                return 404, "Not Found", "text/html", flavor
            if path in GCP_LEGACY:
                body = GCP_LEGACY[path]
                return 200, body() if callable(body) else body, "application/json", flavor
            rest = path[len("/computeMetadata/v1beta1/"):] if path.startswith("/computeMetadata/") else None
        elif path.startswith("/computeMetadata/v1/"):
            if self.headers.get("Metadata-Flavor") != "Google" or self.headers.get("X-Forwarded-For"):
                return 403, "Missing Metadata-Flavor:Google header.", "text/html", flavor
            rest = path[len("/computeMetadata/v1/"):]
        else:
            rest = None
        if rest is None or rest not in GCP_INSTANCE:
            return 404, "Not Found", "text/html", flavor
        body = GCP_INSTANCE[rest]
        if body is None:
            body = GCP_SA_INFO
        return 200, body() if callable(body) else body, "application/json", flavor

    def _azure(self, url):
        bad = {"error": "bad_request", "error_description": "Required metadata header not specified"}
        if self.headers.get("Metadata", "").lower() != "true" or self.headers.get("X-Forwarded-For"):
            return 400, json.dumps(bad), "application/json", None
        query = parse_qs(url.query)
        if "api-version" not in query:
            return 400, json.dumps({"error": "Bad request. api-version was not specified"}), "application/json", None
        if url.path == "/metadata/instance":
            return 200, json.dumps({"compute": {"vmId": "imdswatch-vm", "location": "westeurope"}}), \
                "application/json", None
        if url.path == "/metadata/identity/oauth2/token":
            resource = query.get("resource", ["https://management.azure.com/"])[0]
            return 200, _azure_token(resource), "application/json", None
        return 404, json.dumps({"error": "Not found"}), "application/json", None

    def _ecs(self, url):
        prefix = "/v2/credentials"
        if self.command != "GET" or not url.path.startswith(prefix):
            return 404, "Not Found", "text/plain", None
        cid = url.path[len(prefix):].strip("/")
        if not cid:
            return 400, json.dumps({"code": "NoIdInRequest", "message": "CredentialsV2Request: No ID in the request"}), \
                "application/json", None
        if cid != self.state.args.ecs_id:
            return 404, json.dumps({"code": "InvalidIdInRequest"}), "application/json", None
        return 200, _aws_creds("ecs"), "application/json", None

    def _pod(self, url):
        if self.command != "GET" or url.path != "/v1/credentials":
            return 404, "Not Found", "text/plain", None
        if self.state.pod_burst():
            return 429, json.dumps({"message": "throttled"}), "application/json", None
        auth = self.headers.get("Authorization")
        if not auth:
            return 400, json.dumps({"message": "Service account token cannot be empty"}), "application/json", None
        if auth != self.state.args.pod_token:
            return 403, json.dumps({"message": "access denied"}), "application/json", None
        return 200, _aws_creds("pod", account=True), "application/json", None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Mock cloud metadata services (test namespaces only)")
    ap.add_argument("--listen", action="append", type=parse_listen, metavar="ADDR:PORT",
                    help="repeatable; default 0.0.0.0:80 and [::]:80")
    ap.add_argument("--imds-cloud", choices=("auto", "oci", "gcp", "azure"), default="auto",
                    help="who answers on other addresses (169.254.169.254): by path (auto) or one cloud")
    ap.add_argument("--alibaba", choices=("normal", "hardened"), default="normal")
    ap.add_argument("--oci-legacy", choices=("enabled", "disabled"), default="enabled")
    ap.add_argument("--gcp-legacy", choices=("enabled", "disabled"), default="enabled")
    ap.add_argument("--ecs-id", default=f"{MARK}-ecs-credential-id-5f2c9a")
    ap.add_argument("--pod-token", default=f"eyJhbGciOiJSUzI1NiJ9.{MARK}-pod-identity-token.sig")
    ap.add_argument("--pod-burst", type=int, default=5, help="Pod Identity requests per second before 429")
    ap.add_argument("--count-file")
    ap.add_argument("--pid-file")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    listens = args.listen or [parse_listen("0.0.0.0:80"), parse_listen("[::]:80")]
    return serve("mock_services", listens, State(args), Handler, args.pid_file, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
