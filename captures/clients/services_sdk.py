#!/usr/bin/env python3
"""Real SDK clients fetching credentials from the mocked services (captures/mock_services.py).

    SVC_ECS_ID=ID services_sdk.py ecs         botocore container provider,
                                      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/ID
    SVC_POD_TOKEN=T services_sdk.py pod [HOST]  botocore container provider, AWS_CONTAINER_CREDENTIALS_FULL_URI
                                      (http://HOST/v1/credentials, HOST 169.254.170.23 or [fd00:ec2::23])
                                      + AWS_CONTAINER_AUTHORIZATION_TOKEN (the EKS Pod Identity way)
    services_sdk.py alibaba normal|hardened   alibabacloud-credentials EcsRamRoleCredentialsProvider
    services_sdk.py gcp               google-auth compute_engine.Credentials (GCE_METADATA_HOST)
    services_sdk.py azure             azure-identity ManagedIdentityCredential (IMDS)

Run only inside the test namespaces (`ip netns exec imw-...host python3 services_sdk.py ...`).
The ECS id and the Pod Identity token come in the environment, never on the command line
(which imdswatch shows). Prints one line: the SDK, its version and whether the mock's fake credential came back. Never
prints a secret value. Exit 0 on success.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nscheck import require_test_namespace  # noqa: E402

require_test_namespace()
SECRETS = {k: os.environ.pop(k, "") for k in ("SVC_ECS_ID", "SVC_POD_TOKEN")}
# Nothing from the caller's environment may redirect a client; no proxy may divert it.
for k in list(os.environ):
    if k.startswith(("AWS_", "ALIBABA_CLOUD_", "GCE_", "AZURE_", "IDENTITY_", "MSI_")) or k.lower().endswith("_proxy"):
        del os.environ[k]


def fake(value: str) -> str:
    return "yes" if value and "SVCSECRET" in value else "NO"


def ecs() -> bool:
    cred_id = SECRETS["SVC_ECS_ID"]
    os.environ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = f"/v2/credentials/{cred_id}"
    import botocore
    from botocore.credentials import ContainerProvider

    creds = ContainerProvider().load()
    frozen = creds.get_frozen_credentials() if creds else None
    ok = bool(frozen) and fake(frozen.secret_key) == "yes"
    print(f"botocore {botocore.__version__} ecs: {'ok' if ok else 'FAILED'}")
    return ok


def pod(host: str = "169.254.170.23") -> bool:
    token = SECRETS["SVC_POD_TOKEN"]
    os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"http://{host}/v1/credentials"
    os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = token
    import botocore
    from botocore.credentials import ContainerProvider

    try:
        creds = ContainerProvider().load()
        frozen = creds.get_frozen_credentials() if creds else None
    except Exception as e:  # the mock refused: say which kind of error, not its text
        print(f"botocore {botocore.__version__} pod identity: refused ({type(e).__name__})")
        return False
    ok = bool(frozen) and fake(frozen.token) == "yes"
    print(f"botocore {botocore.__version__} pod identity: {'ok' if ok else 'FAILED'}")
    return ok


def alibaba(mode: str) -> bool:
    from alibabacloud_credentials.provider.ecs_ram_role import EcsRamRoleCredentialsProvider

    p = EcsRamRoleCredentialsProvider(disable_imds_v1=(mode == "hardened"), async_update_enabled=False)
    c = p.get_credentials()
    ok = fake(c.get_access_key_secret()) == "yes" and fake(c.get_security_token()) == "yes"
    print(f"alibabacloud-credentials ecs_ram_role ({mode}): {'ok' if ok else 'FAILED'}")
    return ok


def gcp() -> bool:
    os.environ["GCE_METADATA_HOST"] = "169.254.169.254"
    os.environ["GCE_METADATA_IP"] = "169.254.169.254"
    os.environ["GCE_METADATA_MTLS_MODE"] = "none"
    import google.auth
    import google.auth.transport.requests
    from google.auth import compute_engine

    creds = compute_engine.Credentials()
    creds.refresh(google.auth.transport.requests.Request())
    ok = fake(creds.token) == "yes"
    print(f"google-auth {google.auth.__version__} compute_engine: {'ok' if ok else 'FAILED'}")
    return ok


def azure() -> bool:
    from azure.identity import ManagedIdentityCredential
    from azure.identity import __version__ as version

    tok = ManagedIdentityCredential().get_token("https://management.azure.com/.default")
    ok = fake(tok.token) == "yes"
    print(f"azure-identity {version} ManagedIdentityCredential: {'ok' if ok else 'FAILED'}")
    return ok


def main() -> int:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    fns = {"ecs": ecs, "pod": pod, "alibaba": alibaba, "gcp": gcp, "azure": azure}
    if cmd not in fns:
        sys.exit(__doc__)
    return 0 if fns[cmd](*args) else 1


if __name__ == "__main__":
    sys.exit(main())
