"""Wait on state, never on a clock: a condition, a line on a child's stream, a child's threads.

The timeouts here only bound how long a broken test hangs; nothing is synchronised on them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

PATIENCE = 60.0  # seconds before a wait gives up: generous, a loaded 2-core machine is slow


def wait_until(predicate: Callable[[], object], what: str, timeout: float = PATIENCE) -> None:
    """Poll ``predicate`` until it is true; fail naming ``what`` if it never is."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


class Lines:
    """Read a child's text stream in a thread, so a test can wait for a line and still get all.

    Once a stream is handed to ``Lines``, read it only through ``Lines`` (``text()``).
    """

    def __init__(self, stream: IO[str]) -> None:
        self._lines: list[str] = []
        self._done = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        try:
            for line in stream:
                with self._changed:
                    self._lines.append(line)
                    self._changed.notify_all()
        finally:
            with self._changed:
                self._done = True
                self._changed.notify_all()

    def wait_for(self, needle: str, timeout: float = PATIENCE) -> str:
        """The first line containing ``needle``, once it has been written."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self._lines:
                    if needle in line:
                        return line
                left = deadline - time.monotonic()
                if self._done or left <= 0:
                    got = "".join(self._lines)
                    raise AssertionError(f"no line with {needle!r}; the stream had:\n{got}")
                self._changed.wait(left)

    def text(self, timeout: float = PATIENCE) -> str:
        """Everything, once the stream is closed (the child exited)."""
        self._thread.join(timeout)
        with self._changed:
            return "".join(self._lines)


def thread_count(pid: int) -> int:
    """Threads of a live process (Linux /proc): a new one per connection a server accepted."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError(f"no thread count for pid {pid}")
