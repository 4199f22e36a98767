"""Seed 004's `command`, split as a shell would split it but never run by one: trainq starts the
program itself, so shell syntax would silently mean something else, and is refused instead."""
from __future__ import annotations

import shlex
from dataclasses import dataclass

from config.protocol import Launcher

PYTHONS = ("python", "python3")
TORCHRUN = "torchrun"
#: torchrun options trainq accepts; it sets the rendezvous (hosts, ports, ranks) itself.
_NPROC = ("--nproc_per_node", "--nproc-per-node")
_NNODES = "--nnodes"
_SHELL_CHARS = set("();<>|&")


class CommandError(ValueError):
    """What is wrong with the command, and what to write instead."""


@dataclass(frozen=True)
class Command:
    launcher: str
    script_path: str
    args: tuple[str, ...]
    nproc_per_node: int | None = None
    nnodes: int | None = None


def parse_command(text: str) -> Command:
    words = _words(text)
    if not words:
        raise CommandError("the command is empty; write e.g. 'python train.py --epochs 3'")
    program, rest = words[0], words[1:]
    if program in PYTHONS:
        rest = rest[1:] if rest[:1] == ["-u"] else rest  # unbuffered: trainq streams output anyway
        return _with_script(Launcher.PYTHON, rest)
    if program == TORCHRUN:
        return _torchrun(rest)
    raise CommandError(f"the command starts with {program!r}; it must start with python, python3 "
                       "or torchrun, followed by a script under the script root")


def _words(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError as exc:  # an unclosed quote
        raise CommandError(f"the command cannot be split into words ({exc}); close its quotes")
    for word in words:
        if set(word) <= _SHELL_CHARS or "$" in word or "`" in word:
            raise CommandError(
                f"the command has shell syntax ({word!r}); trainq runs one program without a "
                "shell: no ;, |, &&, redirections, $(…) or $VARIABLES (pass values in envs)")
    return words


def _torchrun(rest: list[str]) -> Command:
    options: dict[str, int] = {}
    while rest and rest[0].startswith("-"):
        name = rest[0].partition("=")[0]
        if name not in (*_NPROC, _NNODES):
            raise CommandError(f"torchrun option {name!r} is not accepted: trainq sets the "
                               "rendezvous itself; give only --nproc_per_node and --nnodes")
        name, value, rest = _option(rest)
        options[_NNODES if name == _NNODES else _NPROC[0]] = value
    command = _with_script(Launcher.TORCHRUN, rest)
    return Command(command.launcher, command.script_path, command.args,
                   options.get(_NPROC[0]), options.get(_NNODES))


def _option(rest: list[str]) -> tuple[str, int, list[str]]:
    name, equals, value = rest[0].partition("=")
    if not equals:
        if len(rest) < 2:
            raise CommandError(f"torchrun option {name!r} needs a value")
        value, rest = rest[1], rest[1:]
    if not value.isdigit() or int(value) < 1:
        raise CommandError(f"torchrun option {name!r} needs a whole number of 1 or more, "
                           f"not {value!r}")
    return name, int(value), rest[1:]


def _with_script(launcher: str, rest: list[str]) -> Command:
    if not rest or rest[0].startswith("-"):
        raise CommandError("the command names no script; write the script's path (under the "
                           "script root) right after the program")
    return Command(launcher, rest[0], tuple(rest[1:]))
