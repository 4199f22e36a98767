"""What a training script calls to report an epoch or a step: one `##trainq {json}` line on
stdout."""
from __future__ import annotations

import json
import math
import sys
from typing import Any, TextIO

# Copies of config.protocol's METRIC_LINE_PREFIX, NAMED_METRICS and MAX_STEP: a training script
# has only this file on its path. tests/test_protocol.py checks that the copies agree.
PREFIX = "##trainq "
#: The metrics that map onto the webhook's result fields.
NAMED_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "f1_score")
#: The largest step number the worker keeps.
MAX_STEP = 2**31 - 1


def metric_line(epoch: int, total_epochs: int | None = None, **metrics: Any) -> str:
    """The exact line the worker parses; usable from any language that can print JSON."""
    record: dict[str, Any] = {"epoch": int(epoch)}
    if total_epochs is not None:
        record["total_epochs"] = int(total_epochs)
    return _line(record, metrics)


def step_line(step: int, **values: Any) -> str:
    """The line of one training step: `##trainq {"step": N, ...}` (no "epoch": that key makes
    it an epoch report). Steps draw a curve; only epochs send result webhooks."""
    step = int(step)
    if not 0 <= step <= MAX_STEP:
        raise ValueError(f"step must be 0 to {MAX_STEP}, got {step}")
    if "epoch" in values:
        raise ValueError("a step's value may not be called 'epoch' (that line would report an "
                         "epoch); name it e.g. epoch_progress")
    return _line({"step": step}, values)


def _line(record: dict[str, Any], values: dict[str, Any]) -> str:
    for name, value in values.items():
        record[name] = _plain_number(value)
    return PREFIX + json.dumps(record, allow_nan=False)


def report_epoch(epoch: int, total_epochs: int | None = None, *, stream: TextIO | None = None,
                 **metrics: Any) -> None:
    """Report one finished epoch (1-based) with its metrics, e.g. loss=0.41, accuracy=0.87."""
    _print(metric_line(epoch, total_epochs, **metrics), stream)


def report_step(step: int, *, stream: TextIO | None = None, **values: Any) -> None:
    """Report one training step (any increasing number, e.g. the optimiser step) with its
    values, e.g. loss=0.41, lr=3e-4; as often as every step: the worker batches them."""
    _print(step_line(step, **values), stream)


def _print(line: str, stream: TextIO | None) -> None:
    out = stream or sys.stdout
    out.write(line + "\n")
    out.flush()  # the worker reads lines as they come; an unflushed buffer delays the webhook


def keras_callback(total_epochs: int | None = None, extra_metrics=None):
    """A Keras callback that reports every epoch; `extra_metrics(epoch, logs)` may add values."""
    import keras  # imported here so PyTorch scripts never pay for it

    class TrainqReporter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            values = dict(logs or {})
            if extra_metrics is not None:
                values.update(extra_metrics(epoch, values))
            report_epoch(epoch + 1, total_epochs, **values)

    return TrainqReporter()


def _plain_number(value: Any) -> float | int | None:
    """Numbers from numpy, torch or tf as plain floats; NaN and infinity as null."""
    if hasattr(value, "item"):
        value = value.item()
    value = float(value) if not isinstance(value, (int, float)) else value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
