"""Test script for GPU hosts: fail unless PyTorch sees exactly the GPUs the slot was given."""
import os
import sys

import torch

visible = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d]
print(f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r} "
      f"available={torch.cuda.is_available()} count={torch.cuda.device_count()}", flush=True)
if not torch.cuda.is_available() or torch.cuda.device_count() != len(visible):
    sys.exit(1)
x = torch.randn(256, 256, device="cuda")
print(f"matmul ok on {torch.cuda.get_device_name(0)}: {float((x @ x).sum()):.3f}", flush=True)
