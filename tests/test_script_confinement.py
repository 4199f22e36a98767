"""script_path stays inside TRAINQ_SCRIPT_ROOT after following links: the rule the API applies
and the worker applies again right before it starts the script (a link can change between)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from config.protocol import Allocation, InstanceAssignment, TaskSpec
from config.settings import Settings
from workers.runner import AttemptRun, _start
from workers.scripts import ScriptPathError, resolve_script
from workers.host import Host


@pytest.fixture
def root(tmp_path) -> Path:
    root = tmp_path / "scripts"
    (root / "sub").mkdir(parents=True)
    (root / "train.py").write_text("print('inside')\n")
    (root / "sub" / "nested.py").write_text("print('nested')\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.py").write_text("print('escaped')\n")
    os.symlink(outside / "evil.py", root / "link_out.py")
    os.symlink(outside, root / "dir_out")
    os.symlink(root / "train.py", root / "link_in.py")
    os.mkfifo(root / "fifo.py")
    os.symlink(root / "loop.py", root / "loop.py")
    return root


REFUSED = [
    "../outside/evil.py", "sub/../../outside/evil.py", "./../outside/evil.py",
    "/etc/passwd", "/proc/self/environ", "/dev/null", "//etc/passwd", "link_out.py",
    "dir_out/evil.py", "train.py\x00.txt", "\x00", "sub", ".", "", "fifo.py",
    "%2e%2e%2foutside%2fevil.py", "..%2foutside/evil.py", "..\\outside\\evil.py",
    "\u2025/outside/evil.py", "missing.py", "x" * 5000, "x" * 300 + ".py",
    "sub/" + "../" * 50 + "etc/passwd", "loop.py",
]


@pytest.mark.parametrize("script_path", REFUSED, ids=range(len(REFUSED)))
def test_paths_outside_the_root_or_not_files_are_refused(root, script_path):
    with pytest.raises(ScriptPathError):
        resolve_script(root, script_path)


@pytest.mark.parametrize("script_path", ["train.py", "sub/nested.py", "./train.py",
                                         "sub/../train.py", "link_in.py"])
def test_paths_inside_the_root_are_accepted(root, script_path):
    assert resolve_script(root, script_path).is_relative_to(root.resolve())


def test_an_absolute_path_inside_the_root_is_accepted(root):
    assert resolve_script(root, str(root / "train.py")) == (root / "train.py").resolve()


def test_the_worker_checks_again_right_before_it_starts(root, tmp_path):
    """Accepted by the API as link_in.py -> train.py; swapped to point outside afterwards."""
    assert resolve_script(root, "link_in.py")
    (root / "link_in.py").unlink()
    os.symlink(tmp_path / "outside" / "evil.py", root / "link_in.py")
    settings = Settings.from_env({"TRAINQ_SCRIPT_ROOT": str(root),
                                  "TRAINQ_VAR_DIR": str(tmp_path / "var")})
    run = AttemptRun("job-swap", 1, _spec("link_in.py"), Host("cpu", (), None, "test"), settings,
                     _allocation("job-swap"))
    with pytest.raises(ScriptPathError, match="after following links"):
        _start(run)


def test_the_worker_runs_args_as_a_list_never_through_a_shell(root, tmp_path):
    (root / "echo_args.py").write_text("import sys; print(sys.argv[1:])\n")
    settings = Settings.from_env({"TRAINQ_SCRIPT_ROOT": str(root),
                                  "TRAINQ_VAR_DIR": str(tmp_path / "var")})
    canary = tmp_path / "pwned"
    args = ["; touch " + str(canary), "$(touch " + str(canary) + ")", "`id`", "--x=|y"]
    run = AttemptRun("job-args", 1, _spec("echo_args.py", args), Host("cpu", (), None, "test"),
                     settings, _allocation("job-args"))
    proc = _start(run)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and not canary.exists()
    assert out.decode().strip() == repr(args)


def _allocation(job_id: str) -> str:
    return Allocation(job_id, 1, 1, (InstanceAssignment(0, "test", ()),)).to_wire()


def _spec(script_path: str, args=()) -> dict:
    spec = TaskSpec(script_path, "pytorch", cpu=1, memory=1 << 30, gpu=0, args=tuple(args))
    return spec.to_wire()
