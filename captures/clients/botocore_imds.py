#!/usr/bin/env python3
"""Fetch the instance-role credentials with botocore's own IMDS client
(botocore.utils.InstanceMetadataFetcher), the way botocore's credential chain does.

Run only inside the test namespaces: `ip netns exec imw-...host python3 botocore_imds.py`.
It uses botocore's default endpoint (169.254.169.254, which there is the mock) and its
defaults (1 s timeout, 1 attempt, token TTL 21600). Prints a one-line summary, never the
secret values.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nscheck import require_test_namespace  # noqa: E402

require_test_namespace()
for k in list(os.environ):
    if k.startswith("AWS_"):
        del os.environ[k]
# No proxy may divert the request.
for k in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
    os.environ.pop(k, None)

import botocore  # noqa: E402
import botocore.session  # noqa: E402
from botocore.utils import InstanceMetadataFetcher  # noqa: E402

session = botocore.session.Session()
fetcher = InstanceMetadataFetcher(user_agent=session.user_agent())
creds = fetcher.retrieve_iam_role_credentials()
if not creds:
    print(f"botocore {botocore.__version__}: no credentials", file=sys.stderr)
    sys.exit(1)
ok = creds["access_key"].startswith("ASIAFAKE") and creds["secret_key"].startswith("SECRET-ACCESS-KEY-")
print(f"botocore {botocore.__version__}: role={creds['role_name']} access_key={creds['access_key']} mock={'yes' if ok else 'NO'}")
sys.exit(0 if ok else 1)
