"""Where a job's script may live: inside TRAINQ_SCRIPT_ROOT, after following links.

The API checks a submission with it and the worker again right before it starts the script
(a link can change between), so it lives here, where a GPU host that has only `config/` and
`workers/` finds it."""
from __future__ import annotations

from pathlib import Path


class ScriptPathError(ValueError):
    """The message says what to change."""


def resolve_script(root: Path, script_path: str) -> Path:
    """The real path of `script_path` (absolute, or relative to `root`) if it is a file in root."""
    if "\x00" in script_path:
        raise ScriptPathError("script_path contains a NUL byte")
    root = root.resolve()
    candidate = Path(script_path)
    try:
        real = (candidate if candidate.is_absolute() else root / candidate).resolve()
        is_file = real.is_file()
    except (OSError, RuntimeError) as exc:  # a name too long, a link loop (RuntimeError on 3.11)
        raise ScriptPathError(f"script_path cannot be used ({exc})") from None
    if real != root and root not in real.parents:
        raise ScriptPathError(
            f"script_path must be inside the script root {root} (after following links); "
            f"put the script there or ask an operator to change TRAINQ_SCRIPT_ROOT")
    if not is_file:
        raise ScriptPathError(f"no script at {real}; check the path (relative paths start at {root})")
    return real


def relative_script(root: Path, script_path: str) -> str:
    """The confined script as a path relative to the root; workers resolve it against theirs."""
    return str(resolve_script(root, script_path).relative_to(root.resolve()))
