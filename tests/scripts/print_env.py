"""Test script: which python runs it, and the mark a runtime environment's wrapper sets."""
import os
import sys

print(f"executable={sys.executable}", flush=True)
print(f"env-mark={os.environ.get('TRAINQ_TEST_ENV_MARK', 'none')}", flush=True)
