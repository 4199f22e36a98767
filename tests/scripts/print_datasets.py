"""Test script: print the dataset directories trainq gave it, one line each."""
import os

print("TRAINQ_DATASET_DIR=" + os.environ.get("TRAINQ_DATASET_DIR", "<unset>"), flush=True)
print("TRAINQ_DATASETS=" + os.environ.get("TRAINQ_DATASETS", "<unset>"), flush=True)
