"""Ctrl-C during bulk work: held back for the few steps that must finish whole (writing a line,
starting workers, writing a failure file), and owned by a :class:`Shield` for a whole run.
Imports nothing from the package."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Block SIGINT for the duration; a Ctrl-C pressed meanwhile is delivered right after.

    Only the main thread receives KeyboardInterrupt, so elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Shield:
    """Owns Ctrl-C (SIGINT) from the start of a bulk run until its results are written.

    While installed a press never raises by itself: the runner reads :attr:`presses` (first:
    stop starting work; second: stop waiting), and once waiting has stopped every later press is
    ignored, so the failure file and the summary are always written. :meth:`raising` lets one
    press raise ``KeyboardInterrupt`` (to break out of a blocking wait such as job polling) and
    ignores the rest. Only the main thread can own signals; elsewhere it does nothing.
    """

    def __init__(self) -> None:
        self.presses = 0
        self._raise = False
        self._old: Any = None
        self.installed = False

    def install(self) -> Shield:
        if threading.current_thread() is threading.main_thread() and not self.installed:
            try:
                self._old = signal.signal(signal.SIGINT, self._handle)
                self.installed = True
            except (ValueError, OSError):  # pragma: no cover - no signals here
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.presses += 1
        if self._raise:
            self._raise = False
            raise KeyboardInterrupt

    @contextmanager
    def raising(self) -> Iterator[None]:
        self._raise = self.installed
        try:
            yield
        finally:
            self._raise = False

    def release(self, *, exiting: bool = False) -> None:
        """Give Ctrl-C back. ``exiting``: the process is ending because of Ctrl-C, so keep
        ignoring it (a press during interpreter shutdown would print a traceback)."""
        if self.installed:
            self.installed = False
            signal.signal(signal.SIGINT, signal.SIG_IGN if exiting else self._old)
