"""Test script: say it started, then wait until the file named in argv[1] exists (max argv[2] s)."""
import os
import sys
import time

path, limit = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 120
print(f"started {os.environ['TRAINQ_JOB_ID']} attempt {os.environ['TRAINQ_ATTEMPT']}", flush=True)
deadline = time.monotonic() + limit
while not os.path.exists(path) and time.monotonic() < deadline:
    time.sleep(0.05)
print("released", flush=True)
