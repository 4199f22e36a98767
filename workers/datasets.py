"""The dataset directories a script is given. The control plane resolved the job's registered
datasets to paths relative to TRAINQ_DATASET_ROOT; each host joins them under its own root, so
hosts may mount the data where they like."""
from __future__ import annotations

import json
from pathlib import Path

from config.protocol import TaskSpec

ROLES = ("train", "test")


def dataset_env(spec: TaskSpec, root: Path) -> dict[str, str]:
    """TRAINQ_DATASETS, JSON {"train": [dirs], "test": [dirs]} of absolute directories, and
    TRAINQ_DATASET_DIR, the first of them (a train one if any); a spec from before the registry,
    with only dataset_id, keeps TRAINQ_DATASET_DIR = <root>/<dataset_id>."""
    if spec.datasets:
        dirs = {role: [str(root / path) for path in spec.datasets.get(role, [])] for role in ROLES}
        env = {"TRAINQ_DATASETS": json.dumps(dirs)}
        first = next((d for role in ROLES for d in dirs[role]), None)
        if first is not None:
            env["TRAINQ_DATASET_DIR"] = first
        return env
    if spec.dataset_id is not None:
        return {"TRAINQ_DATASET_DIR": str(root / str(spec.dataset_id))}
    return {}
