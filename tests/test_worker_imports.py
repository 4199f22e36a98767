"""A GPU host loads only config/ and workers/; importing the control plane does no work."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The control plane and what it is built on; none of it belongs on a GPU host.
CONTROL_PLANE = ("app", "flask", "flask_smorest", "sqlalchemy", "marshmallow", "alembic",
                 "werkzeug")


def _run(code: str) -> str:
    """Run `code` in a fresh interpreter (this one has imported everything already)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINQ_")}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_worker_entry_point_imports_no_control_plane():
    """What `celery -A workers.celery_app worker` loads, with the task module it registers."""
    loaded = json.loads(_run(
        "import json, sys\n"
        "import workers.celery_app, workers.tasks\n"
        "top = {name.split('.')[0] for name in sys.modules}\n"
        f"print(json.dumps(sorted(top & {set(CONTROL_PLANE)!r})))\n"))
    assert loaded == []


def test_importing_the_app_package_hashes_no_password():
    """A password hash is slow on purpose; the app package used to make one at import."""
    calls = _run(
        "import werkzeug.security as ws\n"
        "calls = []\n"
        "real = ws.generate_password_hash\n"
        "ws.generate_password_hash = lambda *a, **k: calls.append(a) or real(*a, **k)\n"
        "import app, app.services.auth\n"
        "print(len(calls))\n")
    assert calls.strip() == "0"
