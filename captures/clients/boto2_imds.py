"""boto 2.49 (IMDSv1 only) reading the instance metadata, as legacy code does.

Run inside the test namespace only (make-captures.sh), where 169.254.169.254 is the mock.
"""
import boto
import boto.utils

md = boto.utils.get_instance_metadata(timeout=2, num_retries=1)
print("boto", boto.__version__, "instance-id:", md.get("instance-id"))
