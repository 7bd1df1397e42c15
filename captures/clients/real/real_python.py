"""A real Python AWS client fetching instance credentials, as an application does (issue 24).
`real_python.py botocore|boto3|boto2`, run with the lab venv's python (scripts/clients-lab.sh),
inside the test namespaces only (tests/clients_real.rs): 169.254.169.254 is the mock there.
Prints only whether credentials came back, never their values."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from nscheck import require_test_namespace  # noqa: E402

require_test_namespace()
mode = sys.argv[1]
if mode == "boto2":
    import boto.utils

    md = boto.utils.get_instance_metadata(timeout=2, num_retries=1)
    ok = bool(md.get("instance-id"))
elif mode == "boto3":
    import boto3

    ok = boto3.Session().get_credentials() is not None
else:
    import botocore.session

    ok = botocore.session.get_session().get_credentials() is not None
print(f"{mode}: credentials {'found' if ok else 'missing'}")
sys.exit(0 if ok else 1)
