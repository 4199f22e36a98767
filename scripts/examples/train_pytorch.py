"""Example trainq job: a small PyTorch MLP on scikit-learn's bundled digits dataset.

It shows what a script needs to cooperate with trainq:
  * one `##trainq {json}` metrics line per epoch via workers.reporting.report_epoch;
  * a checkpoint in $TRAINQ_CHECKPOINT_DIR after every epoch, and resuming from it;
  * the final model and metrics.json in $TRAINQ_OUTPUT_DIR;
  * a graceful stop on SIGTERM: checkpoint at the next batch boundary, exit code 143.

Run: python scripts/examples/train_pytorch.py --epochs 5 --seed 0
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

import torch
from sklearn.datasets import load_digits
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn

from workers.reporting import report_epoch

CHECKPOINT_NAME = "checkpoint.pt"
stop_requested = False  # set by the SIGTERM handler, read at every batch boundary


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=64, help="hidden layer size")
    return parser.parse_args()


def on_sigterm(signum, frame) -> None:
    # Only set a flag: stopping mid-step could leave weights and optimizer out of step.
    global stop_requested
    stop_requested = True


def env_dir(name: str) -> Path | None:
    value = os.environ.get(name)
    if not value:
        return None
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_data():
    print("loading digits dataset", file=sys.stderr, flush=True)
    x, y = load_digits(return_X_y=True)
    # The split's random_state is fixed (not --seed) so every run validates on the same images.
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.2, random_state=42, stratify=y)
    scaler = StandardScaler().fit(x_train)  # fit on train only: no validation leakage
    return (torch.tensor(scaler.transform(x_train), dtype=torch.float32), torch.tensor(y_train),
            torch.tensor(scaler.transform(x_val), dtype=torch.float32), torch.tensor(y_val))


def build_model(hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def save_checkpoint(ckpt_dir: Path | None, epoch: int, model, optimizer, metrics: dict) -> bool:
    if ckpt_dir is None:
        return False
    state = {"epoch": epoch, "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "metrics": metrics}
    tmp = ckpt_dir / (CHECKPOINT_NAME + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, ckpt_dir / CHECKPOINT_NAME)  # atomic: a kill mid-write leaves the old one
    return True


def load_checkpoint(ckpt_dir: Path | None, model, optimizer) -> tuple[int, dict]:
    path = ckpt_dir / CHECKPOINT_NAME if ckpt_dir else None
    if path is None or not path.exists():
        return 0, {}
    state = torch.load(path, weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    print(f"resumed from checkpoint {path} at epoch {state['epoch']}", flush=True)
    return state["epoch"], state["metrics"]


def train_epoch(model, optimizer, loss_fn, x, y, batch_size: int, generator) -> dict | None:
    """One pass over the data; None if SIGTERM arrived (the epoch is then incomplete)."""
    model.train()
    total_loss, correct = 0.0, 0
    for idx in torch.randperm(len(x), generator=generator).split(batch_size):
        if stop_requested:
            return None
        logits = model(x[idx])
        loss = loss_fn(logits, y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(idx)
        correct += (logits.argmax(1) == y[idx]).sum().item()
    return {"loss": total_loss / len(x), "accuracy": correct / len(x)}


@torch.no_grad()
def evaluate(model, loss_fn, x, y) -> dict:
    model.eval()
    logits = model(x)
    pred = logits.argmax(1)
    return {"val_loss": loss_fn(logits, y).item(),
            "val_accuracy": (pred == y).float().mean().item(),
            "f1_score": f1_score(y.numpy(), pred.numpy(), average="macro")}


def save_outputs(out_dir: Path | None, model, metrics: dict, args) -> None:
    if out_dir is None:
        return
    torch.save(model.state_dict(), out_dir / "model.pt")
    summary = {"framework": "pytorch", "epochs": args.epochs, "seed": args.seed, **metrics}
    (out_dir / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    torch.set_num_threads(1)  # tiny model: extra threads only add overhead on a shared worker
    torch.manual_seed(args.seed)
    ckpt_dir, out_dir = env_dir("TRAINQ_CHECKPOINT_DIR"), env_dir("TRAINQ_OUTPUT_DIR")

    x_train, y_train, x_val, y_val = load_data()
    model = build_model(args.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    start, metrics = load_checkpoint(ckpt_dir, model, optimizer)

    for epoch in range(start + 1, args.epochs + 1):
        # Shuffle order depends only on (seed, epoch), so a resumed run sees the same batches.
        generator = torch.Generator().manual_seed(args.seed * 100_003 + epoch)
        train_metrics = train_epoch(model, optimizer, loss_fn, x_train, y_train,
                                    args.batch_size, generator)
        if train_metrics is None:
            # Weights are mid-epoch; keep them but record the last *finished* epoch,
            # so a resume reruns the interrupted epoch rather than skipping it.
            saved = save_checkpoint(ckpt_dir, epoch - 1, model, optimizer, metrics)
            print("received SIGTERM, " + ("checkpoint saved" if saved else
                  "no TRAINQ_CHECKPOINT_DIR so no checkpoint"), flush=True)
            return 143  # 128 + SIGTERM, what the worker expects from a terminated job
        metrics = {**train_metrics, **evaluate(model, loss_fn, x_val, y_val)}
        report_epoch(epoch, args.epochs, **metrics)
        print(f"Epoch {epoch}/{args.epochs}, Loss: {metrics['loss']:.4f}, "
              f"Val accuracy: {metrics['val_accuracy']:.4f}", flush=True)
        save_checkpoint(ckpt_dir, epoch, model, optimizer, metrics)

    save_outputs(out_dir, model, metrics, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
