"""The command that starts a job's script and what it needs to find its peers: `python <script>`,
or torchrun for PyTorch distributed training (nproc_per_node processes per instance; one instance
with a standalone rendezvous, several with a static one at rank 0's host); TF_CONFIG for the
instances of a multi-host TensorFlow job."""
from __future__ import annotations

import sys
from pathlib import Path

from config.protocol import Launcher, TaskSpec
from workers.gang import Gang

#: Signals torchrun passes on to its workers: without it in the list, a signal such as SIGUSR1
#: kills torchrun and orphans them (research/scheduling.md E7-E10).
TORCHRUN_SIGNALS = "SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1,SIGUSR2"


def command(spec: TaskSpec, script: Path, gpus: tuple[str, ...], gang: Gang | None = None,
            python: str = sys.executable) -> list[str]:
    """`python`: the interpreter of the job's runtime environment (workers/environments.py)."""
    if spec.launcher == Launcher.TORCHRUN:
        return [*torchrun(spec, gpus, gang, python), str(script), *spec.args]
    return [python, str(script), *spec.args]


def torchrun(spec: TaskSpec, gpus: tuple[str, ...], gang: Gang | None = None,
             python: str = sys.executable) -> list[str]:
    """No restarts: a failed process fails the attempt, and trainq's own retries decide.
    torchrun's agent starts its workers with its own interpreter: the environment's."""
    per_node = spec.nproc_per_node or max(1, len(gpus))
    return [python, "-m", "torch.distributed.run", *_rendezvous(gang),
            f"--nproc-per-node={per_node}", "--max-restarts=0",
            f"--signals-to-handle={TORCHRUN_SIGNALS}"]


def _rendezvous(gang: Gang | None) -> list[str]:
    if gang is None:
        return ["--standalone", "--nnodes=1"]
    addr, port = gang.master
    # Static rendezvous: rank 0's agent serves the store, the others connect to it.
    return [f"--nnodes={gang.size}", f"--node-rank={gang.rank}", f"--master-addr={addr}",
            f"--master-port={port}"]


def gang_env(spec: TaskSpec, gang: Gang | None) -> dict[str, str]:
    """What an instance of a multi-host job sees besides torchrun's own variables."""
    if gang is None:
        return {}
    env = {"TRAINQ_NODE_RANK": str(gang.rank), "TRAINQ_NUM_NODES": str(gang.size)}
    if spec.framework == "tensorflow":
        env["TF_CONFIG"] = gang.tf_config()
    return env
