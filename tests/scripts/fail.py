"""Test script: print a traceback-like message on stderr and exit with the code in argv[1]."""
import sys

print("about to fail", flush=True)
print("Traceback (most recent call last):", file=sys.stderr)
print("ValueError: learning rate must be positive, got -0.1", file=sys.stderr, flush=True)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
