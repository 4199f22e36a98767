"""Test script: report argv[1] steps (a falling loss and the learning rate), one log line,
then one epoch."""
import sys

from workers.reporting import report_epoch, report_step

steps = int(sys.argv[1])
for step in range(1, steps + 1):
    report_step(step, loss=1.0 / step, lr=0.001)
print("steps done", flush=True)
report_epoch(1, 1, loss=1.0 / steps, accuracy=0.9, val_loss=0.5, val_accuracy=0.88, f1_score=0.8)
