"""Two behaviours behind one script name and one user agent, as a program with a legacy and
a current code path: `sdk.py boto3` speaks IMDSv2 (token, then a token-bearing GET),
`sdk.py boto2` plain IMDSv1. imdswatch must tell the two commands apart (issue 13).

Run only inside the test namespaces (`ip netns exec imw-...host python3 sdk.py boto3`),
where 169.254.169.254 is the mock. Never prints the token.
"""

import http.client
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nscheck import require_test_namespace  # noqa: E402

require_test_namespace()
UA = "sdk-test/1.0"
PATH = "/latest/meta-data/instance-id"


def call(method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    c = http.client.HTTPConnection("169.254.169.254", 80, timeout=10)
    c.request(method, path, headers={"User-Agent": UA, **headers})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


mode = sys.argv[1] if len(sys.argv) > 1 else "boto3"
if mode == "boto3":
    status, token = call("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    if status != 200:
        sys.exit(f"token: {status}")
    status, _ = call("GET", PATH, {"X-aws-ec2-metadata-token": token.decode()})
else:
    status, _ = call("GET", PATH, {})
print(f"sdk {mode}: {status}")
# Stay a moment: a process that exits at once may be gone before it is named.
time.sleep(0.3)
sys.exit(0 if status == 200 else 1)
