"""`python -m bench`: see bench/run.py."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailadmin.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from bench.run import main  # noqa: E402

if __name__ == "__main__":
    results = main(sys.argv[1:])
    for name, v in results["verdict"].items():
        print(f"{name}: {v['value']} (target {v['target']}, met={v['met']})")
