"""Looking at processes the way a test of process cleanup has to."""
from __future__ import annotations

import os
from pathlib import Path


def alive(pid: int) -> bool:
    """Running, and not a zombie (dead but not yet reaped by its parent)."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (ProcessLookupError, FileNotFoundError):  # gone, or reaped between the two looks
        return False
