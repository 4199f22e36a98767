"""Save PNGs of the dashboard's three pages (jobs list, a job with its curves, the cluster)
to docs/images/, from the browser test's stack: a real API, scheduler, consumer and hosts,
and real training jobs, in headless Chromium.

    .venv/bin/python scripts/screenshots.py [--out docs/images] [-- extra pytest args]

Needs what `make test` needs (Redis; TRAINQ_TEST_REDIS_URL picks its database) and Debian's
chromium + chromium-driver."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()
    env = {**os.environ, "TRAINQ_UI_SCREENSHOTS": str(Path(args.out).resolve())}
    test = "tests/test_ui_browser.py::test_screenshots_of_the_three_pages"
    result = subprocess.run([sys.executable, "-m", "pytest", test, "-q", "-p", "no:cacheprovider",
                             *args.pytest_args], cwd=ROOT, env=env)
    if result.returncode == 0:
        for name in ("jobs.png", "job.png", "cluster.png"):
            print(Path(args.out) / name)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
