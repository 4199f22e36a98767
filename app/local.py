"""Secrets for a single-machine set-up: generated once under ./var, readable only by the owner."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def ensure_secret_file(path: Path, nbytes: int = 24) -> str:
    """Read the secret at `path`, creating it (mode 0600) when missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(nbytes) + "\n")
    return path.read_text().strip()


def local_secrets_env(var_dir: Path, environ: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Environment additions for values the operator did not set, and notes saying where they are."""
    env, notes = {}, []
    if not environ.get("TRAINQ_SECRET_KEY"):
        env["TRAINQ_SECRET_KEY"] = ensure_secret_file(var_dir / "secret-key", 32)
    if not environ.get("TRAINQ_ADMIN_PASSWORD"):
        path = var_dir / "admin-password"
        env["TRAINQ_ADMIN_PASSWORD"] = ensure_secret_file(path)
        notes.append(f"admin password (user {environ.get('TRAINQ_ADMIN_USERNAME', 'admin')!r}) "
                     f"is in {path} (mode 600): cat {path}")
    return env, notes
