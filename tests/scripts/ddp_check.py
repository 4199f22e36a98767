"""Test script for launcher "torchrun": every rank joins a gloo process group, all-reduces its
rank each epoch (so a missing rank blocks everyone), rank 0 reports the epoch; each rank writes
its pid to TRAINQ_OUTPUT_DIR so a test can check none outlives a stop. SIGTERM: exit 143.

argv: epochs seconds_per_epoch"""
import os
import signal
import sys
import time

import torch
import torch.distributed as dist

signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
epochs, pause = int(sys.argv[1]), float(sys.argv[2])
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
with open(os.path.join(os.environ["TRAINQ_OUTPUT_DIR"], f"pid-rank{rank}"), "w") as handle:
    handle.write(str(os.getpid()))
dist.init_process_group("gloo")
print(f"rank {rank} of {world} on {os.environ.get('TRAINQ_HOST')} "
      f"(local rank {os.environ['LOCAL_RANK']}, master {os.environ['MASTER_ADDR']})", flush=True)
for epoch in range(1, epochs + 1):
    total = torch.tensor([float(rank)])
    dist.all_reduce(total)
    time.sleep(pause)
    if rank == 0:
        print(f'##trainq {{"epoch": {epoch}, "total_epochs": {epochs}, '
              f'"rank_sum": {total.item()}}}', flush=True)
dist.destroy_process_group()
