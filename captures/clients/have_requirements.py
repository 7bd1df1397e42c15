#!/usr/bin/env python3
"""Exit 0 if every `name==version` pin of the requirement files given is installed (the
interpreter running this one's environment), else 1. No network, no pip."""

import sys
from importlib import metadata

ok = True
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, _, want = line.partition("==")
            try:
                ok &= metadata.version(name.strip()) == want.strip()
            except metadata.PackageNotFoundError:
                ok = False
sys.exit(0 if ok else 1)
