"""Test script: sleep argv[1] seconds, then exit 0."""
import sys
import time

time.sleep(float(sys.argv[1]))
print("done", flush=True)
