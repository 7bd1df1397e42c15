"""Safety belt shared by the clients: refuse to talk to a metadata address unless this
process runs inside the imdswatch test topology (captures/netns.sh), i.e. one of the
interfaces that only exist there is present."""

import socket
import sys

TOPOLOGY_IFACES = {"h-imds", "h-ctr", "ctr0", "imds0"}


def require_test_namespace() -> None:
    names = {name for _, name in socket.if_nameindex()}
    if not names & TOPOLOGY_IFACES:
        sys.exit(
            "refusing to run: not inside an imw- test namespace (no h-imds/ctr0/imds0 "
            "interface here); run me with `ip netns exec imw-...host|ctr`"
        )
