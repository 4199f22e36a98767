"""What a training script calls to report an epoch: one `##trainq {json}` line on stdout."""
from __future__ import annotations

import json
import math
import sys
from typing import Any, TextIO

# Copies of config.protocol's METRIC_LINE_PREFIX and NAMED_METRICS: a training script has only
# this file on its path. tests/test_protocol.py checks that the copies agree.
PREFIX = "##trainq "
#: The metrics that map onto the webhook's result fields.
NAMED_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "f1_score")


def metric_line(epoch: int, total_epochs: int | None = None, **metrics: Any) -> str:
    """The exact line the worker parses; usable from any language that can print JSON."""
    record: dict[str, Any] = {"epoch": int(epoch)}
    if total_epochs is not None:
        record["total_epochs"] = int(total_epochs)
    for name, value in metrics.items():
        record[name] = _plain_number(value)
    return PREFIX + json.dumps(record, allow_nan=False)


def report_epoch(epoch: int, total_epochs: int | None = None, *, stream: TextIO | None = None,
                 **metrics: Any) -> None:
    """Report one finished epoch (1-based) with its metrics, e.g. loss=0.41, accuracy=0.87."""
    out = stream or sys.stdout
    out.write(metric_line(epoch, total_epochs, **metrics) + "\n")
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
