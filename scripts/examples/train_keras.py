"""Example trainq job: a small Keras 3 (TensorFlow backend) MLP on scikit-learn's digits dataset.

It shows what a Keras script needs to cooperate with trainq:
  * one `##trainq {json}` metrics line per epoch via workers.reporting.keras_callback,
    with the validation macro F1 added through its `extra_metrics` hook;
  * a checkpoint in $TRAINQ_CHECKPOINT_DIR after every epoch, and resuming from it;
  * the final model and metrics.json in $TRAINQ_OUTPUT_DIR;
  * a graceful stop on SIGTERM: checkpoint at the next batch boundary, exit code 143.

Run: python scripts/examples/train_keras.py --epochs 5 --seed 0
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

# Both must be set before keras/tensorflow are imported to take effect.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TF's C++ info/warning banner

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from workers.reporting import keras_callback  # noqa: E402

CHECKPOINT_NAME = "checkpoint.keras"
STATE_NAME = "checkpoint.json"  # the epoch and metrics that go with the checkpointed model
stop_requested = False  # set by the SIGTERM handler, read at every batch boundary


class Interrupted(Exception):
    """Raised between batches after SIGTERM, to leave model.fit without finishing the epoch."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=64, help="hidden layer size")
    return parser.parse_args()


def on_sigterm(signum, frame) -> None:
    # Only set a flag: stopping inside a training step could leave the model half-updated.
    global stop_requested
    stop_requested = True


def env_dir(name: str) -> Path | None:
    value = os.environ.get(name)
    if not value:
        return None
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path


def configure(seed: int) -> None:
    # A tiny model: more threads only add overhead on a shared worker. One intra-op thread
    # also keeps CPU results repeatable, so tf.config.experimental.enable_op_determinism()
    # is not needed (it would also log a spurious tf.data "NodeDef" error on stderr).
    # These must run before TensorFlow executes its first op.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    keras.utils.set_random_seed(seed)  # seeds python, numpy and TF (weights, shuffling)


def load_data():
    print("loading digits dataset", file=sys.stderr, flush=True)
    x, y = load_digits(return_X_y=True)
    # The split's random_state is fixed (not --seed) so every run validates on the same images.
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.2, random_state=42, stratify=y)
    scaler = StandardScaler().fit(x_train)  # fit on train only: no validation leakage
    return (scaler.transform(x_train).astype("float32"), y_train,
            scaler.transform(x_val).astype("float32"), y_val)


def build_model(hidden: int, lr: float) -> keras.Model:
    model = keras.Sequential([keras.Input(shape=(64,)),
                              keras.layers.Dense(hidden, activation="relu"),
                              keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def save_checkpoint(ckpt_dir: Path | None, model, epoch: int, metrics: dict) -> bool:
    if ckpt_dir is None:
        return False
    # Write both files under temporary names and rename them: a kill mid-write leaves the
    # previous checkpoint intact. The .keras file includes the optimizer state.
    model.save(ckpt_dir / ("tmp-" + CHECKPOINT_NAME))
    (ckpt_dir / (STATE_NAME + ".tmp")).write_text(json.dumps({"epoch": epoch, "metrics": metrics}))
    os.replace(ckpt_dir / ("tmp-" + CHECKPOINT_NAME), ckpt_dir / CHECKPOINT_NAME)
    os.replace(ckpt_dir / (STATE_NAME + ".tmp"), ckpt_dir / STATE_NAME)
    return True


def load_checkpoint(ckpt_dir: Path | None, model) -> tuple[keras.Model, int, dict]:
    if ckpt_dir is None or not (ckpt_dir / STATE_NAME).exists():
        return model, 0, {}
    state = json.loads((ckpt_dir / STATE_NAME).read_text())
    model = keras.models.load_model(ckpt_dir / CHECKPOINT_NAME)
    print(f"resumed from checkpoint {ckpt_dir / CHECKPOINT_NAME} at epoch {state['epoch']}",
          flush=True)
    return model, state["epoch"], state["metrics"]


class ValF1:
    """extra_metrics hook for keras_callback: macro F1 on the validation set.

    keras_callback merges the result into a copy of the logs, so the last value is also
    kept here for EpochHooks to checkpoint and write to metrics.json.
    """

    def __init__(self, model, x_val, y_val):
        self.model, self.x_val, self.y_val, self.last = model, x_val, y_val, None

    def __call__(self, epoch, logs):
        pred = self.model(self.x_val, training=False).numpy().argmax(axis=1)
        self.last = float(f1_score(self.y_val, pred, average="macro"))
        return {"f1_score": self.last}


class EpochHooks(keras.callbacks.Callback):
    """Prints the human line, checkpoints each epoch, and stops between batches on SIGTERM."""

    def __init__(self, total_epochs: int, ckpt_dir: Path | None, f1: ValF1, start_metrics: dict):
        super().__init__()
        self.total_epochs, self.ckpt_dir, self.f1 = total_epochs, ckpt_dir, f1
        self.last = {"epoch": 0, "metrics": start_metrics}  # the last *finished* epoch

    def on_train_batch_end(self, batch, logs=None):
        if stop_requested:
            raise Interrupted  # stop_training would still run validation and end the epoch

    def on_epoch_end(self, epoch, logs=None):
        metrics = {**{k: float(v) for k, v in (logs or {}).items()}, "f1_score": self.f1.last}
        print(f"Epoch {epoch + 1}/{self.total_epochs}, Loss: {metrics['loss']:.4f}, "
              f"Val accuracy: {metrics['val_accuracy']:.4f}", flush=True)
        self.last = {"epoch": epoch + 1, "metrics": metrics}
        save_checkpoint(self.ckpt_dir, self.model, epoch + 1, metrics)


def save_outputs(out_dir: Path | None, model, metrics: dict, args) -> None:
    if out_dir is None:
        return
    model.save(out_dir / "model.keras")
    summary = {"framework": "keras", "epochs": args.epochs, "seed": args.seed, **metrics}
    (out_dir / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    configure(args.seed)
    ckpt_dir, out_dir = env_dir("TRAINQ_CHECKPOINT_DIR"), env_dir("TRAINQ_OUTPUT_DIR")

    x_train, y_train, x_val, y_val = load_data()
    model, start, start_metrics = load_checkpoint(ckpt_dir, build_model(args.hidden, args.lr))
    f1 = ValF1(model, x_val, y_val)
    reporter = keras_callback(args.epochs, extra_metrics=f1)
    hooks = EpochHooks(args.epochs, ckpt_dir, f1, start_metrics)  # after reporter: reads f1.last
    try:
        if start < args.epochs:
            model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs,
                      initial_epoch=start, batch_size=args.batch_size, shuffle=True,
                      verbose=0, callbacks=[reporter, hooks])
    except Interrupted:
        # Weights are mid-epoch; keep them but record the last *finished* epoch,
        # so a resume reruns the interrupted epoch rather than skipping it.
        saved = save_checkpoint(ckpt_dir, model, hooks.last["epoch"], hooks.last["metrics"])
        print("received SIGTERM, " + ("checkpoint saved" if saved else
              "no TRAINQ_CHECKPOINT_DIR so no checkpoint"), flush=True)
        return 143  # 128 + SIGTERM, what the worker expects from a terminated job

    save_outputs(out_dir, model, hooks.last["metrics"], args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
