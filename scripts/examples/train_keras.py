"""Example trainq job: a small Keras 3 (TensorFlow backend) MLP on scikit-learn's digits dataset.

It shows what a Keras script needs to cooperate with trainq:
  * one `##trainq {json}` metrics line per epoch via workers.reporting.keras_callback,
    with the validation macro F1 added through its `extra_metrics` hook;
  * a checkpoint in $TRAINQ_CHECKPOINT_DIR after every epoch, and resuming from it;
  * the final model and metrics.json in $TRAINQ_OUTPUT_DIR;
  * a graceful stop on SIGTERM: checkpoint at the next batch boundary, exit code 143.

Distributed (TF_CONFIG names more than one worker): the model is built and compiled inside a
tf.distribute.MultiWorkerMirroredStrategy scope and each worker trains on its shard of every
batch; --batch-size is the global batch, as in Keras. Only the chief (task index 0) reports
epochs, prints, and keeps checkpoints and outputs; following TF's multi-worker guidance the
other workers save too, but into a temporary directory deleted at exit. On resume the chief
reads its checkpoint and sends the epoch, weights and optimizer state to the other workers
over the strategy's all-reduce, so no shared filesystem is needed. After every training batch
the workers all-reduce a stop flag, so a SIGTERM on any of them stops all at the same batch;
the chief saves the checkpoint and every worker exits 143. Limitations: that costs one small
all-reduce per batch; a SIGTERM during the epoch's (distributed) validation pass is acted on
only after it; the script replaces the SIGTERM handler TF's coordination service installs, so
TF's own PreemptionCheckpointHandler cannot be used with it; and a worker killed outright
(SIGKILL) leaves the others blocked in an all-reduce until TF's collective timeouts fail them.
Keras 3 cannot fit under this strategy as released; see fix_keras_multi_worker.

Run: python scripts/examples/train_keras.py --epochs 5 --seed 0
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
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
    parser.add_argument("--batch-size", type=int, default=32, help="over all workers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=64, help="hidden layer size")
    return parser.parse_args()


def on_sigterm(signum, frame) -> None:
    # Only set a flag: stopping inside a training step could leave the model half-updated.
    global stop_requested
    stop_requested = True


def cluster_role() -> tuple[int, bool]:
    """(number of workers, whether this process is the chief) from TF_CONFIG; (1, True) if unset."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    cluster, task = config.get("cluster", {}), config.get("task", {})
    workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    chief = task.get("type") == "chief" or ("chief" not in cluster and task.get("index", 0) == 0)
    return max(workers, 1), chief


def env_dir(name: str) -> Path | None:
    value = os.environ.get(name)
    if not value:
        return None
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path


def configure(seed: int, workers: int) -> tf.distribute.Strategy:
    # A tiny model: more threads only add overhead on a shared worker. One intra-op thread
    # also keeps CPU results repeatable, so tf.config.experimental.enable_op_determinism()
    # is not needed (it would also log a spurious tf.data "NodeDef" error on stderr).
    # These must run before TensorFlow executes its first op.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    # Created before any other op, as TF requires; it reads the cluster from TF_CONFIG.
    strategy = (tf.distribute.MultiWorkerMirroredStrategy() if workers > 1
                else tf.distribute.get_strategy())
    # Seeds python, numpy and TF (weights, shuffling): the same on every worker, so they all
    # shuffle alike and each one's shard of a batch is distinct.
    keras.utils.set_random_seed(seed)
    return strategy


def write_dirs(chief: bool) -> tuple[Path | None, Path | None]:
    """Checkpoint and output dirs: the chief's are kept, the others' are temporary.

    TF's multi-worker guidance has every worker save (saving may take part in collectives),
    non-chief workers into a directory of their own that is then thrown away. Being empty,
    it also means a non-chief worker never resumes on its own: it gets the chief's state.
    """
    if chief:
        return env_dir("TRAINQ_CHECKPOINT_DIR"), env_dir("TRAINQ_OUTPUT_DIR")
    scratch = Path(tempfile.mkdtemp(prefix="trainq-worker-"))
    return scratch, scratch  # no file names in common


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
    # Optimizer variables now rather than in fit: a checkpoint's optimizer state loads into
    # them, and under a strategy every worker must create its variables in the same order.
    model.optimizer.build(model.trainable_variables)
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


def load_checkpoint(ckpt_dir: Path | None, model) -> tuple[int, dict]:
    if ckpt_dir is None or not (ckpt_dir / STATE_NAME).exists():
        return 0, {}
    state = json.loads((ckpt_dir / STATE_NAME).read_text())
    # Into the model built under the strategy (load_model would make new, undistributed
    # variables); a .keras file holds the optimizer state too.
    model.load_weights(ckpt_dir / CHECKPOINT_NAME)
    print(f"resumed from checkpoint {ckpt_dir / CHECKPOINT_NAME} at epoch {state['epoch']}",
          flush=True)
    return state["epoch"], state["metrics"]


def replica_sum(strategy, values: list, first_replica_only: bool = False) -> list:
    """values summed over every replica of every worker; with first_replica_only, the other
    replicas add zeros, so everyone gets the chief's first replica's values."""
    def step(values):
        context = tf.distribute.get_replica_context()
        # Copies made here are on this replica's device, which the all-reduce sends from.
        values = [tf.identity(value) for value in values]
        if first_replica_only:
            first = tf.equal(context.replica_id_in_sync_group, 0)
            values = [tf.where(first, value, tf.zeros_like(value)) for value in values]
        return context.all_reduce(tf.distribute.ReduceOp.SUM, values)

    return strategy.experimental_local_results(strategy.run(step, args=(values,)))[0]


def share_chief_state(strategy, model, epoch: int) -> int:
    """Give every worker the chief's epoch, weights and optimizer state; returns the epoch.

    Only the chief read a checkpoint (the others may not see its directory), and workers
    that start from different epochs or weights would run different steps and hang.
    """
    variables = [*model.weights, *model.optimizer.variables]
    # One dtype, as the all-reduce packs its tensors together; float64 holds float32 weights
    # and the int64 step counter exactly.
    values = [tf.constant(epoch, tf.float64), *(tf.cast(v.value, tf.float64) for v in variables)]
    summed = tf.function(replica_sum)(strategy, values, first_replica_only=True)
    for variable, value in zip(variables, summed[1:]):
        variable.assign(tf.cast(value, variable.dtype))
    return int(summed[0])


def stop_vote(strategy, workers: int):
    """A callable: has any worker got SIGTERM? With several, all must call it at each batch."""
    if workers == 1:
        return lambda: stop_requested
    # A worker leaving fit alone would leave the others blocked in the gradient all-reduce.
    # As a tf.function it is traced once, not run eagerly (slow) at every batch.
    votes = tf.function(lambda flag: replica_sum(strategy, [flag])[0])
    return lambda: float(votes(tf.constant(float(stop_requested)))) > 0


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

    def __init__(self, total_epochs: int, ckpt_dir: Path | None, f1: ValF1, start: dict,
                 should_stop, chief: bool = True):
        super().__init__()
        self.total_epochs, self.ckpt_dir, self.f1 = total_epochs, ckpt_dir, f1
        self.should_stop, self.chief = should_stop, chief
        self.last = start  # {"epoch", "metrics"} of the last *finished* epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.should_stop():
            raise Interrupted  # stop_training would still run validation and end the epoch

    def on_epoch_end(self, epoch, logs=None):
        metrics = {**{k: float(v) for k, v in (logs or {}).items()}, "f1_score": self.f1.last}
        if self.chief:
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


def fix_keras_multi_worker(model, strategy) -> None:
    """Work around two Keras 3 defects that stop fit under MultiWorkerMirroredStrategy.

    keras-team/keras#20585: before training, fit builds the metrics from the first batch but
    hands that (x, y) structure of per-replica values whole to strategy.reduce, which takes
    one value; and each step's scalar metric results go to strategy.reduce(..., axis=0).
    The build needs only shapes and dtypes, which the first replica's part of the batch has;
    a length-1 axis on each result lets the reduce average it over the replicas.
    """
    keras_build = model._maybe_symbolic_build

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = keras.tree.map_structure(
                    lambda value: strategy.experimental_local_results(value)[0], next(batches))
                break
        return keras_build(data_batch=data_batch)

    def with_replica_axis(step):
        return lambda data: keras.tree.map_structure(lambda v: tf.reshape(v, [1]), step(data))

    model._maybe_symbolic_build = build
    model.train_step = with_replica_axis(model.train_step)
    model.test_step = with_replica_axis(model.test_step)


def prepare(args, strategy, workers: int, ckpt_dir: Path | None):
    """The model, restored from the chief's checkpoint if there is one, and where it stands."""
    with strategy.scope():  # every variable is mirrored on all replicas of all workers
        model = build_model(args.hidden, args.lr)
    if workers > 1:
        fix_keras_multi_worker(model, strategy)
    start, start_metrics = load_checkpoint(ckpt_dir, model)
    if workers > 1:
        start = share_chief_state(strategy, model, start)
    return model, {"epoch": start, "metrics": start_metrics}


def train(args, model, data, hooks: EpochHooks, callbacks: list) -> int:
    """Fits from the last finished epoch; 143 if SIGTERM stopped it."""
    x_train, y_train, x_val, y_val = data
    try:
        if hooks.last["epoch"] < args.epochs:
            model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs,
                      initial_epoch=hooks.last["epoch"], batch_size=args.batch_size,
                      shuffle=True, verbose=0, callbacks=callbacks)
    except Interrupted:
        # Weights are mid-epoch; keep them but record the last *finished* epoch,
        # so a resume reruns the interrupted epoch rather than skipping it.
        saved = save_checkpoint(hooks.ckpt_dir, model, hooks.last["epoch"], hooks.last["metrics"])
        if hooks.chief:
            print("received SIGTERM, " + ("checkpoint saved" if saved else
                  "no TRAINQ_CHECKPOINT_DIR so no checkpoint"), flush=True)
        return 143  # 128 + SIGTERM, what the worker expects from a terminated job
    return 0


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    workers, chief = cluster_role()
    strategy = configure(args.seed, workers)
    # Again: the strategy's coordination service installs a SIGTERM handler of its own (for
    # TF's preemption checkpointing, unused here), which would swallow the signal.
    signal.signal(signal.SIGTERM, on_sigterm)
    ckpt_dir, out_dir = write_dirs(chief)
    try:
        data = load_data()
        model, start = prepare(args, strategy, workers, ckpt_dir)
        f1 = ValF1(model, data[2], data[3])
        hooks = EpochHooks(args.epochs, ckpt_dir, f1, start, stop_vote(strategy, workers), chief)
        # Only the chief reports; the reporter goes first because EpochHooks reads f1.last.
        callbacks = [keras_callback(args.epochs, extra_metrics=f1), hooks] if chief else [hooks]
        code = train(args, model, data, hooks, callbacks)
        if code == 0:
            save_outputs(out_dir, model, hooks.last["metrics"], args)
        return code
    finally:
        if not chief:  # the scratch directory of write_dirs
            shutil.rmtree(ckpt_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
