"""The command that starts a job's script: `python <script>`, or torchrun for PyTorch
distributed training (one instance, nproc_per_node processes, a standalone rendezvous)."""
from __future__ import annotations

import sys
from pathlib import Path

from config.protocol import Launcher, TaskSpec

#: Signals torchrun passes on to its workers: without it in the list, a signal such as SIGUSR1
#: kills torchrun and orphans them (research/scheduling.md E7-E10).
TORCHRUN_SIGNALS = "SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1,SIGUSR2"


def command(spec: TaskSpec, script: Path, gpus: tuple[str, ...]) -> list[str]:
    if spec.launcher == Launcher.TORCHRUN:
        return [*torchrun(spec, gpus), str(script), *spec.args]
    return [sys.executable, str(script), *spec.args]


def torchrun(spec: TaskSpec, gpus: tuple[str, ...]) -> list[str]:
    """No restarts: a failed process fails the attempt, and trainq's own retries decide."""
    per_node = spec.nproc_per_node or max(1, len(gpus))
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
            f"--nproc-per-node={per_node}", "--max-restarts=0",
            f"--signals-to-handle={TORCHRUN_SIGNALS}"]
