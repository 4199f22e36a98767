"""Test script for seed 002's models: print what trainq gave it (datasets, base weights,
arguments), then report three epochs whose `macro_f1` peaks at the second."""
import json
import os
import sys

print("TRAINQ_DATASETS=" + os.environ.get("TRAINQ_DATASETS", "<unset>"), flush=True)
print("TRAINQ_BASE_DIR=" + os.environ.get("TRAINQ_BASE_DIR", "<unset>"), flush=True)
print("ARGS=" + json.dumps(sys.argv[1:]), flush=True)
for epoch, macro_f1 in enumerate((0.5, 0.8, 0.7), start=1):
    report = {"epoch": epoch, "total_epochs": 3, "loss": 1.0 / epoch, "macro_f1": macro_f1}
    print("##trainq " + json.dumps(report), flush=True)
