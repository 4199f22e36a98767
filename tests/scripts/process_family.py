"""Test script: start a child process, record both pids, then run until stopped.

With --ignore-term the script ignores SIGTERM, so only the SIGKILL after the grace period ends it."""
import json
import os
import signal
import subprocess
import sys
import time

if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
pids = {"script": os.getpid(), "child": child.pid, "pgid": os.getpgid(0)}
with open(os.path.join(os.environ["TRAINQ_OUTPUT_DIR"], "pids.json"), "w") as handle:
    json.dump(pids, handle)
print("family " + json.dumps(pids), flush=True)
while True:
    time.sleep(0.1)
