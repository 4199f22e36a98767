"""Example trainq job: a small PyTorch MLP on scikit-learn's bundled digits dataset.

It shows what a script needs to cooperate with trainq:
  * one `##trainq {json}` metrics line per epoch via workers.reporting.report_epoch;
  * a checkpoint in $TRAINQ_CHECKPOINT_DIR after every epoch, and resuming from it;
  * the final model and metrics.json in $TRAINQ_OUTPUT_DIR;
  * a graceful stop on SIGTERM: checkpoint at the next batch boundary, exit code 143.

Distributed (run by torch.distributed.run / torchrun, so WORLD_SIZE > 1): every rank joins a
process group (nccl on cuda:$LOCAL_RANK where CUDA is available, else gloo on the CPU) and
trains a DistributedDataParallel copy of the model on its share of each epoch's batches: all
ranks shuffle alike from (seed, epoch) and rank r takes batches r, r + world, ...; the few
batches left over when their number is not a multiple of the world size are skipped, because
every rank must run the same number of steps. --batch-size is per rank. Rank 0 alone reports
epochs, evaluates, writes outputs and reads and writes the checkpoint; on resume it broadcasts
the checkpoint to the other ranks, which need no shared filesystem. Every rank checks at every
batch whether any rank got SIGTERM, so all stop at the same batch; rank 0 saves the checkpoint
and every rank exits 143. A single process (WORLD_SIZE unset or 1) trains on the CPU as before.

Run: python scripts/examples/train_pytorch.py --epochs 5 --seed 0
     python -m torch.distributed.run --standalone --nproc-per-node 2 \
         scripts/examples/train_pytorch.py --epochs 5
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from sklearn.datasets import load_digits
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from workers.reporting import report_epoch

CHECKPOINT_NAME = "checkpoint.pt"
stop_requested = False  # set by the SIGTERM handler, read at every batch boundary


@dataclass(frozen=True)
class Group:
    """This process's place in the job: rank 0 of 1 on the CPU when not distributed."""
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def chief(self) -> bool:
        return self.rank == 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank when distributed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=64, help="hidden layer size")
    return parser.parse_args()


def on_sigterm(signum, frame) -> None:
    # Only set a flag: stopping mid-step could leave weights and optimizer out of step.
    global stop_requested
    stop_requested = True


def join_group() -> Group:
    """Join the process group the launcher describes in the environment, if there is one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Group()
    if torch.cuda.is_available():
        # nccl only moves CUDA tensors; broadcast_object_list uses the current device.
        device, backend = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))), "nccl"
        torch.cuda.set_device(device)
    else:
        device, backend = torch.device("cpu"), "gloo"
    dist.init_process_group(backend)  # rendezvous from MASTER_ADDR/PORT, RANK, WORLD_SIZE
    return Group(int(os.environ["RANK"]), world, device)


def env_dir(name: str) -> Path | None:
    value = os.environ.get(name)
    if not value:
        return None
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_data(device: torch.device):
    print("loading digits dataset", file=sys.stderr, flush=True)
    x, y = load_digits(return_X_y=True)
    # The split's random_state is fixed (not --seed) so every run validates on the same images.
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.2, random_state=42, stratify=y)
    scaler = StandardScaler().fit(x_train)  # fit on train only: no validation leakage
    tensors = (torch.tensor(scaler.transform(x_train), dtype=torch.float32), torch.tensor(y_train),
               torch.tensor(scaler.transform(x_val), dtype=torch.float32), torch.tensor(y_val))
    return tuple(t.to(device) for t in tensors)


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


def read_checkpoint(ckpt_dir: Path | None) -> dict | None:
    path = ckpt_dir / CHECKPOINT_NAME if ckpt_dir else None
    if path is None or not path.exists():
        return None
    # On the CPU: the state may be pickled to other ranks, and they load it onto their device.
    state = torch.load(path, weights_only=True, map_location="cpu")
    print(f"resumed from checkpoint {path} at epoch {state['epoch']}", flush=True)
    return state


def load_checkpoint(ckpt_dir: Path | None, model, optimizer, group: Group) -> tuple[int, dict]:
    state = read_checkpoint(ckpt_dir) if group.chief else None
    if group.distributed:
        # Other ranks may be on hosts that cannot see rank 0's checkpoint directory.
        box = [state]
        dist.broadcast_object_list(box, src=0)
        state = box[0]
    if state is None:
        return 0, {}
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return state["epoch"], state["metrics"]


def should_stop(group: Group) -> bool:
    """True once any rank got SIGTERM; every rank must call it at the same batch."""
    if not group.distributed:
        return stop_requested
    # A rank leaving alone would leave the others blocked in DDP's gradient all-reduce.
    flag = torch.tensor([float(stop_requested)], device=group.device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return flag.item() > 0


def rank_batches(n: int, batch_size: int, generator, group: Group) -> list[torch.Tensor]:
    # Shuffle order depends only on (seed, epoch): every rank, and a resumed run, agree on it.
    batches = torch.randperm(n, generator=generator).split(batch_size)
    # Equal step counts on every rank, or a DDP all-reduce waits for a rank that is done.
    usable = len(batches) - len(batches) % group.world
    return list(batches[group.rank:usable:group.world])


def sum_over_ranks(values: list[float], group: Group) -> list[float]:
    if not group.distributed:
        return values
    total = torch.tensor(values, dtype=torch.float64, device=group.device)
    dist.all_reduce(total)
    return total.tolist()


def train_epoch(model, optimizer, loss_fn, x, y, batches, group: Group) -> dict | None:
    """One pass over this rank's batches; None if SIGTERM arrived (the epoch is then incomplete)."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    for idx in batches:
        if should_stop(group):
            return None
        idx = idx.to(group.device)
        logits = model(x[idx])
        loss = loss_fn(logits, y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(idx)
        correct += (logits.argmax(1) == y[idx]).sum().item()
        seen += len(idx)
    total_loss, correct, seen = sum_over_ranks([total_loss, correct, seen], group)
    return {"loss": total_loss / seen, "accuracy": correct / seen}


@torch.no_grad()
def evaluate(model, loss_fn, x, y) -> dict:
    model.eval()
    logits = model(x)
    pred = logits.argmax(1)
    return {"val_loss": loss_fn(logits, y).item(),
            "val_accuracy": (pred == y).float().mean().item(),
            "f1_score": f1_score(y.cpu().numpy(), pred.cpu().numpy(), average="macro")}


def save_outputs(out_dir: Path | None, model, metrics: dict, args) -> None:
    if out_dir is None:
        return
    torch.save(model.state_dict(), out_dir / "model.pt")
    summary = {"framework": "pytorch", "epochs": args.epochs, "seed": args.seed, **metrics}
    (out_dir / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")


def stop_with_checkpoint(ckpt_dir, epoch: int, model, optimizer, metrics, group: Group) -> int:
    # Weights are mid-epoch; keep them but record the last *finished* epoch,
    # so a resume reruns the interrupted epoch rather than skipping it.
    saved = save_checkpoint(ckpt_dir, epoch - 1, model, optimizer, metrics)
    if group.chief:
        print("received SIGTERM, " + ("checkpoint saved" if saved else
              "no TRAINQ_CHECKPOINT_DIR so no checkpoint"), flush=True)
    if group.distributed:
        # torchrun tears the job down once a rank exits non-zero: wait until rank 0 has saved.
        dist.barrier()
    return 143  # 128 + SIGTERM, what the worker expects from a terminated job


def train(args, group: Group) -> int:
    # Only rank 0 touches files; the other ranks get the checkpoint by broadcast.
    ckpt_dir, out_dir = ((env_dir("TRAINQ_CHECKPOINT_DIR"), env_dir("TRAINQ_OUTPUT_DIR"))
                         if group.chief else (None, None))
    x_train, y_train, x_val, y_val = load_data(group.device)
    model = build_model(args.hidden).to(group.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    start, metrics = load_checkpoint(ckpt_dir, model, optimizer, group)
    # DDP wraps the same parameters; checkpoints keep the plain model's keys (no "module.").
    trained = DistributedDataParallel(model) if group.distributed else model

    for epoch in range(start + 1, args.epochs + 1):
        generator = torch.Generator().manual_seed(args.seed * 100_003 + epoch)
        batches = rank_batches(len(x_train), args.batch_size, generator, group)
        train_metrics = train_epoch(trained, optimizer, loss_fn, x_train, y_train, batches, group)
        if train_metrics is None:
            return stop_with_checkpoint(ckpt_dir, epoch, model, optimizer, metrics, group)
        if not group.chief:
            continue  # weights are identical on every rank: rank 0 evaluates and reports
        metrics = {**train_metrics, **evaluate(model, loss_fn, x_val, y_val)}
        report_epoch(epoch, args.epochs, **metrics)
        print(f"Epoch {epoch}/{args.epochs}, Loss: {metrics['loss']:.4f}, "
              f"Val accuracy: {metrics['val_accuracy']:.4f}", flush=True)
        save_checkpoint(ckpt_dir, epoch, model, optimizer, metrics)

    save_outputs(out_dir, model, metrics, args)
    return 0


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    torch.set_num_threads(1)  # tiny model: extra threads only add overhead on a shared worker
    torch.manual_seed(args.seed)  # the same initial weights on every rank
    group = join_group()
    if not group.distributed:
        return train(args, group)
    try:
        code = train(args, group)
    finally:
        dist.destroy_process_group()
    # Once its peer has exited, a gloo rank can abort while the interpreter finalizes
    # ("terminate called without an active exception", SIGABRT with no Python frame left, seen
    # with torch 2.13 on a loaded 2-core host), which turns a clean stop or a finished run into a
    # failed attempt. Everything is saved and the group is destroyed: leave without finalizers.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
