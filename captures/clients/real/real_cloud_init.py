"""cloud-init's real EC2 datasource crawling the instance metadata, as at boot (issue 24).
`python3 real_cloud_init.py aws|other DIST_PACKAGES`: DIST_PACKAGES is Debian's cloud-init
package unpacked by scripts/clients-lab.sh (never installed: no unit runs at boot). `aws`: the
platform identified as AWS (as on EC2, where cloud-init reads it from DMI); `other`: an
EC2-compatible cloud, where cloud-init falls back to IMDSv1. Runs inside the test namespaces
only (tests/clients_real.rs): 169.254.169.254 is the mock there. Prints only whether
metadata came back, never any value."""
import logging
import os
import signal
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from nscheck import require_test_namespace  # noqa: E402

require_test_namespace()
# Bounded: cloud-init's own waits (max_wait 4 s, timeout 2 s) are not its only ones.
signal.alarm(30)
mode, dist = sys.argv[1], sys.argv[2]
sys.path.insert(0, dist)
logging.basicConfig(level=logging.WARNING)

from cloudinit import helpers, version  # noqa: E402
from cloudinit.sources import DataSourceEc2 as ec2  # noqa: E402

tmp = tempfile.mkdtemp()
cfg = {"datasource": {"Ec2": {"max_wait": 4, "timeout": 2, "metadata_urls": ["http://169.254.169.254"]}}}
ds = ec2.DataSourceEc2(sys_cfg=cfg, distro=None, paths=helpers.Paths({"run_dir": tmp, "cloud_dir": tmp}))
ds._cloud_name = ec2.CloudNames.AWS if mode == "aws" else ec2.CloudNames.UNKNOWN
crawled = ds.crawl_metadata()
found = "instance-id" in crawled.get("meta-data", {})
print(f"cloud-init {version.version_string()} ({mode}): metadata {'found' if found else 'missing'}")
sys.exit(0 if found else 1)
