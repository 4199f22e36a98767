"""Test script: print argv[1] numbered lines as fast as Python can write them."""
import sys

count, chunk = int(sys.argv[1]), 10_000
for start in range(0, count, chunk):
    sys.stdout.write("".join(f"line {i}\n" for i in range(start, min(start + chunk, count))))
