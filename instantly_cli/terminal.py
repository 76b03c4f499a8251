"""The facts of the terminal a command runs in: its streams, whether each is a terminal, and
whether colour is wanted. Facts only: nothing here writes (output.py resolves them into the
command's :class:`~instantly_cli.output.Output` and prints)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from instantly_cli.asking import Tty


class Terminal(NamedTuple):
    """The streams a command reads and writes, and whether each is a terminal.

    ``None`` means the process's own: ``sys.stdin``/``sys.stdout``/``sys.stderr`` as they are
    when the command starts, and what the stream says of itself. Tests hand in the facts
    (``Terminal(stdout_isatty=True)`` on the :class:`~instantly_cli.context.Runtime`).
    """

    stdin: Any = None
    stdout: Any = None
    stderr: Any = None
    stdin_isatty: bool | None = None
    stdout_isatty: bool | None = None
    stderr_isatty: bool | None = None
    # Opens the controlling terminal for a question when stdin is a pipe (None: ``/dev/tty``);
    # returns None when there is no terminal at all. Tests hand in their own.
    open_tty: Callable[[], Tty | None] | None = None


def isatty(stream: Any, given: bool | None) -> bool:
    """``given`` when the caller knows; else what the stream says of itself."""
    if given is not None:
        return given
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False


def wants_color(tty: bool) -> bool:
    """NO_COLOR (any value) and CLICOLOR=0 switch colour off; CLICOLOR_FORCE=1 forces it on."""
    if "NO_COLOR" in os.environ:
        return False
    if os.environ.get("CLICOLOR_FORCE", "0") not in ("", "0"):
        return True
    if os.environ.get("CLICOLOR") == "0":
        return False
    return tty
