"""Test script: start a child process, record both pids, then run until stopped.

With --ignore-term the script ignores SIGTERM, so only the SIGKILL after the grace period ends it.
With --own-session the child runs in a session of its own, as torchrun starts its workers: out of
reach of the script's process group. With --exit-after S the script exits 0 after S seconds,
leaving the child behind."""
import json
import os
import signal
import subprocess
import sys
import time

if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                         start_new_session="--own-session" in sys.argv)
pids = {"script": os.getpid(), "child": child.pid, "pgid": os.getpgid(0)}
with open(os.path.join(os.environ["TRAINQ_OUTPUT_DIR"], "pids.json"), "w") as handle:
    json.dump(pids, handle)
print("family " + json.dumps(pids), flush=True)
deadline = time.monotonic() + (float(sys.argv[sys.argv.index("--exit-after") + 1])
                               if "--exit-after" in sys.argv else 1e9)
while time.monotonic() < deadline:
    time.sleep(0.1)
