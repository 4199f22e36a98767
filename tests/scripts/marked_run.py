"""Test script: log each start to a shared marker file, then run for a while.

argv: marker_file first_attempt_seconds [later_attempt_seconds]. Records its pid and process group
in TRAINQ_OUTPUT_DIR/pids-<attempt>.json so tests can check nothing outlives a killed worker."""
import json
import os
import sys
import time

marker, first = sys.argv[1], float(sys.argv[2])
later = float(sys.argv[3]) if len(sys.argv) > 3 else first
job, attempt = os.environ["TRAINQ_JOB_ID"], int(os.environ["TRAINQ_ATTEMPT"])
with open(marker, "a") as handle:
    handle.write(f"start {job} {attempt} {os.getpid()} {time.time()}\n")
with open(os.path.join(os.environ["TRAINQ_OUTPUT_DIR"], f"pids-{attempt}.json"), "w") as handle:
    json.dump({"script": os.getpid(), "pgid": os.getpgid(0)}, handle)
print(f"running attempt {attempt}", flush=True)
time.sleep(first if attempt == 1 else later)
with open(marker, "a") as handle:
    handle.write(f"end {job} {attempt} {os.getpid()} {time.time()}\n")
