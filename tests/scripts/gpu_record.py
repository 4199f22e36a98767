"""Test script: hold the GPUs it was given for a while, then record which ones, where and when.

argv: record_file seconds. Appends one JSON line: job, host, gpus (CUDA_VISIBLE_DEVICES), start
and end (wall clock), so a test can check no GPU was ever given to two jobs at once."""
import json
import os
import sys
import time

start = time.time()
time.sleep(float(sys.argv[2]))
line = {"job": os.environ["TRAINQ_JOB_ID"], "host": os.environ["TRAINQ_HOST"],
        "gpus": os.environ["CUDA_VISIBLE_DEVICES"], "start": start, "end": time.time()}
# One write(2) on an O_APPEND descriptor: lines of concurrent jobs never mix.
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
os.write(fd, (json.dumps(line) + "\n").encode())
os.close(fd)
