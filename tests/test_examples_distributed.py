"""The example scripts as distributed jobs, run the way a gang's instances run them.

PyTorch: two ranks under torch.distributed.run (and, for the stop test, started directly with
the variables torchrun sets, so each rank's exit code can be seen). Keras: two workers with
TF_CONFIG for MultiWorkerMirroredStrategy on loopback. Each process gets its own
TRAINQ_CHECKPOINT_DIR/TRAINQ_OUTPUT_DIR where the script allows it, as on hosts without a
shared filesystem. No trainq stack is needed: only the scripts' own contract is checked.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "scripts" / "examples"
PREFIX = "##trainq "
TIMEOUT = 120  # a hung collective fails the test instead of blocking the suite


def _env(ckpt: Path, out: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TRAINQ_") and k not in {"TF_CONFIG", "RANK", "WORLD_SIZE"}}
    env.update(PYTHONPATH=str(ROOT), TRAINQ_CHECKPOINT_DIR=str(ckpt), TRAINQ_OUTPUT_DIR=str(out),
               **extra)
    return env


def _free_ports(count: int) -> list[int]:
    with ExitStack() as stack:  # all held open at once, so the ports differ
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def _epochs(output: str) -> list[int]:
    return [json.loads(line[len(PREFIX):])["epoch"] for line in output.splitlines()
            if line.startswith(PREFIX)]


def _torchrun(tmp_path: Path, epochs: int) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
               "--nproc-per-node=2", str(EXAMPLES / "train_pytorch.py"), "--epochs", str(epochs)]
    return subprocess.run(command, env=_env(tmp_path / "ckpt", tmp_path / "out"), cwd=ROOT,
                          capture_output=True, text=True, timeout=TIMEOUT)


def _start_all(tmp_path: Path, script: str, envs: list[dict], args: list[str]) -> list:
    """One process per env, output to files (TF is chatty enough to fill a pipe)."""
    procs = []
    for index, env in enumerate(envs):
        log = (tmp_path / f"{script}.{index}.log").open("w")
        procs.append(subprocess.Popen([sys.executable, str(EXAMPLES / script), *args], env=env,
                                      cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
    return procs


def _wait_all(procs: list) -> list[int]:
    try:
        return [proc.wait(timeout=TIMEOUT) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _wait_for_epoch(log: Path, epoch: int, procs: list) -> None:
    deadline = time.monotonic() + TIMEOUT
    while epoch not in _epochs(log.read_text()):
        assert time.monotonic() < deadline, f"no epoch {epoch} in {log}"
        assert all(proc.poll() is None for proc in procs), log.read_text()[-3000:]
        time.sleep(0.2)


def _logs(tmp_path: Path, script: str, count: int) -> list[str]:
    return [(tmp_path / f"{script}.{index}.log").read_text() for index in range(count)]


# --- PyTorch --------------------------------------------------------------------------------

def _rank_envs(tmp_path: Path) -> list[dict]:
    port = _free_ports(1)[0]
    return [_env(tmp_path / f"rank{rank}" / "ckpt", tmp_path / f"rank{rank}" / "out",
                 RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
                 MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)) for rank in (0, 1)]


def test_pytorch_example_under_torchrun_reports_on_rank_0_and_resumes(tmp_path):
    pytest.importorskip("torch")
    first = _torchrun(tmp_path, 2)
    assert first.returncode == 0, first.stderr[-3000:]
    assert _epochs(first.stdout) == [1, 2]  # one line per epoch: rank 0 only
    assert first.stdout.count("Epoch 2/2") == 1
    assert (tmp_path / "ckpt" / "checkpoint.pt").is_file()
    assert (tmp_path / "out" / "model.pt").is_file()
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["val_accuracy"] > 0.85

    resumed = _torchrun(tmp_path, 3)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from checkpoint" in resumed.stdout
    assert _epochs(resumed.stdout) == [3]
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["epochs"] == 3


def test_pytorch_sigterm_to_one_rank_stops_both_with_rank_0_checkpoint(tmp_path):
    pytest.importorskip("torch")
    envs = _rank_envs(tmp_path)
    procs = _start_all(tmp_path, "train_pytorch.py", envs, ["--epochs", "500"])
    _wait_for_epoch(tmp_path / "train_pytorch.py.0.log", 1, procs)
    procs[1].send_signal(signal.SIGTERM)  # rank 0 never sees the signal itself
    assert _wait_all(procs) == [143, 143]
    rank0, rank1 = _logs(tmp_path, "train_pytorch.py", 2)
    assert "received SIGTERM, checkpoint saved" in rank0
    assert _epochs(rank1) == [] and "checkpoint" not in rank1
    assert (tmp_path / "rank0" / "ckpt" / "checkpoint.pt").is_file()
    assert not (tmp_path / "rank1" / "ckpt" / "checkpoint.pt").exists()  # rank 0 writes alone


# --- Keras ----------------------------------------------------------------------------------

def _worker_envs(tmp_path: Path) -> list[dict]:
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    envs = []
    for index in (0, 1):
        scratch = tmp_path / f"worker{index}" / "tmp"  # TMPDIR: where a worker's scratch goes
        scratch.mkdir(parents=True, exist_ok=True)
        task = {"type": "worker", "index": index}
        envs.append(_env(tmp_path / f"worker{index}" / "ckpt", tmp_path / f"worker{index}" / "out",
                         TF_CONFIG=json.dumps({"cluster": cluster, "task": task}),
                         TRAINQ_NODE_RANK=str(index), TRAINQ_NUM_NODES="2", TMPDIR=str(scratch)))
    return envs


def test_keras_example_on_two_workers_reports_on_the_chief_and_resumes(tmp_path):
    pytest.importorskip("tensorflow")
    procs = _start_all(tmp_path, "train_keras.py", _worker_envs(tmp_path), ["--epochs", "2"])
    assert _wait_all(procs) == [0, 0], _logs(tmp_path, "train_keras.py", 2)[0][-3000:]
    chief, other = _logs(tmp_path, "train_keras.py", 2)
    assert _epochs(chief) == [1, 2] and _epochs(other) == []
    assert "Epoch 2/2" in chief and "Epoch 2/2" not in other
    assert (tmp_path / "worker0" / "ckpt" / "checkpoint.keras").is_file()
    assert json.loads((tmp_path / "worker0" / "out" / "metrics.json").read_text())["epochs"] == 2
    # The other worker saved into a scratch dir of its own (TF's guidance), removed at exit.
    assert not (tmp_path / "worker1" / "ckpt").exists()
    assert list((tmp_path / "worker1" / "tmp").iterdir()) == []

    # Worker 1 cannot see the chief's checkpoint: it must get the state from the chief.
    procs = _start_all(tmp_path, "train_keras.py", _worker_envs(tmp_path), ["--epochs", "3"])
    assert _wait_all(procs) == [0, 0], _logs(tmp_path, "train_keras.py", 2)[0][-3000:]
    chief, other = _logs(tmp_path, "train_keras.py", 2)
    assert "resumed from checkpoint" in chief
    assert _epochs(chief) == [3] and _epochs(other) == []


def test_keras_sigterm_to_one_worker_stops_both_with_chief_checkpoint(tmp_path):
    pytest.importorskip("tensorflow")
    procs = _start_all(tmp_path, "train_keras.py", _worker_envs(tmp_path), ["--epochs", "500"])
    _wait_for_epoch(tmp_path / "train_keras.py.0.log", 1, procs)
    procs[1].send_signal(signal.SIGTERM)  # the chief never sees the signal itself
    assert _wait_all(procs) == [143, 143]
    chief, other = _logs(tmp_path, "train_keras.py", 2)
    assert "received SIGTERM, checkpoint saved" in chief
    state = json.loads((tmp_path / "worker0" / "ckpt" / "checkpoint.json").read_text())
    assert state["epoch"] == max(_epochs(chief))  # the last finished epoch
    assert "received SIGTERM" not in other
