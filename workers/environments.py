"""Runtime environments: the named interpreters a worker host declares (`trainq worker --env
NAME=PATH`) and a job picks by its env_id. `default` is the worker's own Python unless the host
names another; the scheduler places a job only on hosts that declare its environment."""
from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Mapping

from config.protocol import DEFAULT_ENV, ENV_ID_PATTERN
from config.settings import SettingsError

_NAME = re.compile(ENV_ID_PATTERN)


class UnknownEnvironment(ValueError):
    """The job asks for an environment this host does not declare (the scheduler should not
    have placed it here): the attempt fails rather than run under another interpreter."""


def default_envs() -> dict[str, str]:
    return {DEFAULT_ENV: sys.executable}


def parse_envs(values: Iterable[str]) -> dict[str, str]:
    """`--env NAME=PATH` values -> {name: interpreter}, `default` included."""
    envs, named = default_envs(), set()
    for value in values:
        name, eq, path = value.partition("=")
        if not eq or not path:
            raise SettingsError(f"--env takes NAME=PATH, e.g. --env torch2=/opt/venvs/torch2/"
                                f"bin/python; got {value!r}")
        if not _NAME.match(name):
            raise SettingsError(f"--env name {name!r} is not one trainq can use: letters, digits, "
                                "'.', '_' and '-', starting with a letter or digit, at most 64")
        if name in named:
            raise SettingsError(f"--env names {name!r} twice; give each environment once")
        named.add(name)
        envs[name] = _interpreter_path(name, path)
    return envs


def _interpreter_path(name: str, path: str) -> str:
    # Absolute, since scripts start in their job's directory; symlinks are kept as given, for
    # a virtualenv's python finds its environment through the link's own path.
    full = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(full) or not os.access(full, os.X_OK):
        raise SettingsError(f"--env {name}={path}: {full} is not an executable file; give the "
                            "path of the environment's python, e.g. /opt/venvs/torch2/bin/python")
    return full


def to_text(envs: Mapping[str, str]) -> str:
    """How `trainq worker` hands the environments to the Celery worker it starts."""
    return json.dumps(dict(envs), sort_keys=True)


def from_text(text: str) -> dict[str, str]:
    return {**default_envs(), **json.loads(text)} if text else default_envs()


def interpreter(envs: Mapping[str, str], env_id: str, host: str) -> str:
    """The interpreter the job's environment names on this host; UnknownEnvironment if none."""
    path = envs.get(env_id or DEFAULT_ENV)
    if path is None:
        raise UnknownEnvironment(
            f"host {host} has no runtime environment {env_id!r} (it has: "
            f"{', '.join(sorted(envs))}); restart its worker with --env {env_id}=/path/to/python "
            "or submit the job with one of those")
    return path
