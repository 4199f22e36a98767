"""Test script (a poison job): SIGKILL the process that started it, i.e. its worker's pool process."""
import os
import signal
import time

print(f"attempt {os.environ['TRAINQ_ATTEMPT']}: killing my worker", flush=True)
time.sleep(0.3)
os.kill(os.getppid(), signal.SIGKILL)
time.sleep(30)  # never reached: PR_SET_PDEATHSIG takes this process down with its parent
