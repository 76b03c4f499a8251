"""Asking a person a question: on stdin/stderr when stdin is the terminal, else on the
controlling terminal (``/dev/tty``, as apt and gh do) when stdin carries piped targets.

The terminal is opened through a seam (``Terminal.open_tty`` on the Runtime): tests hand in
their own, or run the CLI on a pseudo-terminal.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

from instantly_cli.errors import redact
from instantly_cli.targets import escape


class Tty(Protocol):
    """Where a question is asked and answered: a terminal, or what a test hands in."""

    def write(self, text: str) -> object: ...

    def readline(self) -> str: ...

    def close(self) -> None: ...


class Streams:
    """The question on ``stderr``, the answer from ``stdin`` (stdin is the terminal)."""

    def __init__(self, stdin: Any, stderr: Any):
        self.stdin = stdin
        self.stderr = stderr

    def write(self, text: str) -> object:
        self.stderr.write(text)
        self.stderr.flush()
        return None

    def readline(self) -> str:
        return str(self.stdin.readline())

    def close(self) -> None:
        pass


class DevTty:
    """The controlling terminal, by file descriptor (a buffered file object could swallow
    input typed ahead of the question)."""

    def __init__(self, fd: int):
        self.fd = fd

    def write(self, text: str) -> object:
        data = text.encode("utf-8", "replace")
        while data:
            data = data[os.write(self.fd, data):]
        return None

    def readline(self) -> str:
        chunks: list[bytes] = []
        while True:
            chunk = os.read(self.fd, 1024)
            if not chunk:
                break
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                break
        return b"".join(chunks).decode("utf-8", "replace")

    def close(self) -> None:
        os.close(self.fd)


def open_dev_tty() -> Tty | None:
    """The process's controlling terminal, or None: cron, CI, a detached process, a system
    without ``/dev/tty``."""
    try:
        return DevTty(os.open("/dev/tty", os.O_RDWR | getattr(os, "O_NOCTTY", 0)))
    except OSError:
        return None


def ask(tty: Tty, lines: Sequence[str], question: str) -> str:
    """Print ``lines`` then ``question`` on ``tty``; the answer, stripped."""
    # Account data reaches the question (domains, emails): escaped like every other message.
    tty.write("".join(redact(escape(line)) + "\n" for line in lines)
              + redact(escape(question)) + " ")
    return tty.readline().strip()
