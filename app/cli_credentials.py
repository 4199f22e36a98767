"""Where `trainq login` keeps the API's address and token, and which ones a command uses.

TRAINQ_URL and TRAINQ_TOKEN override the stored ones. The stored token is sent only to the
address it was issued by: pointing TRAINQ_URL elsewhere never hands it to another server."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from app.client import Client, ClientError

#: What `make run` serves.
DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Target:
    url: str
    token: str | None
    #: where the stored login points, when it is not `url` (to say so when the token is missing)
    stored_url: str | None = None


def config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    # XDG Base Directory: a relative XDG_CONFIG_HOME is invalid and must be ignored.
    base = environ.get("XDG_CONFIG_HOME", "")
    home = Path(environ.get("HOME") or Path.home())
    return (Path(base) if os.path.isabs(base) else home / ".config") / "trainq"


def credentials_path(environ: Mapping[str, str] = os.environ) -> Path:
    return config_dir(environ) / "credentials.json"


def target(environ: Mapping[str, str] = os.environ) -> Target:
    stored = load(environ)
    url = clean_url(environ.get("TRAINQ_URL") or stored.get("url") or DEFAULT_URL)
    if environ.get("TRAINQ_TOKEN"):
        return Target(url, environ["TRAINQ_TOKEN"])
    if stored.get("url") == url:
        return Target(url, stored.get("token"))
    return Target(url, None, stored.get("url"))


def client(environ: Mapping[str, str] = os.environ) -> Client:
    """A client of the configured API with its token; without one, say how to get one."""
    found = target(environ)
    if found.token:
        return Client(found.url, found.token)
    elsewhere = f" (you are logged in to {found.stored_url})" if found.stored_url else ""
    raise ClientError(f"not logged in to {found.url}{elsewhere}: run `trainq login "
                      f"{found.url}`, or set TRAINQ_TOKEN")


def load(environ: Mapping[str, str] = os.environ) -> dict:
    try:
        return json.loads(credentials_path(environ).read_text())
    except (FileNotFoundError, ValueError):
        return {}


def save(url: str, username: str, token: str, environ: Mapping[str, str] = os.environ) -> Path:
    """Write the login readable by its owner only (0600, in a 0700 folder), replacing any other."""
    path = credentials_path(environ)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": clean_url(url), "username": username, "token": token}, handle)
    os.replace(partial, path)
    return path


def forget(environ: Mapping[str, str] = os.environ) -> bool:
    path = credentials_path(environ)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


def clean_url(url: str) -> str:
    url = url.strip().rstrip("/")
    return url if "://" in url else f"http://{url}"
