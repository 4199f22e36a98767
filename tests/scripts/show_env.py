"""Test script: print the environment and arguments trainq gave it, as one JSON line."""
import json
import os
import sys

shown = {k: v for k, v in os.environ.items()
         if k.startswith(("TRAINQ_", "CUDA_VISIBLE_DEVICES", "MY_"))}
print("ENV " + json.dumps({"env": shown, "argv": sys.argv[1:], "cwd": os.getcwd()}), flush=True)
