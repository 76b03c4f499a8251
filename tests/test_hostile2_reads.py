"""Bounded reads (issue 26, item 1): stdin, ``--from`` and ``--input`` have documented limits
(exit 2 naming the limit, nothing sent); target lines are streamed, keeping only the emails.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import Result

from instantly_cli import targets
from tests.conftest import TEST_KEY
from tests.hostile import HostileServer, Request, answer
from tests.test_e2e_server import base_env, instantly


def count_only(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
    answer(conn, 500, b"{}")


@pytest.fixture
def server() -> Iterator[HostileServer]:
    srv = HostileServer(count_only).start()
    yield srv
    srv.stop()


def env_for(srv: HostileServer, tmp_path: Path) -> dict[str, str]:
    env = base_env(tmp_path)
    env.pop("PYTHONUNBUFFERED", None)  # as in a user's shell
    env.update(INSTANTLY_BASE_URL=srv.url, INSTANTLY_API_KEY=TEST_KEY)
    return env


def test_an_endless_stream_of_targets_stops_at_the_line_limit(
    server: HostileServer, tmp_path: Path
) -> None:
    """``yes a@b.com | instantly accounts update - …`` grew without bound; now exit 2."""
    yes = shutil.which("yes")
    producer_cmd = [yes, "a@b.com"] if yes else [
        sys.executable, "-c", "import sys\nwhile True: sys.stdout.write('a@b.com\\n' * 1000)"]
    producer = subprocess.Popen(producer_cmd, stdout=subprocess.PIPE)
    try:
        done = subprocess.run(
            [*instantly(), "accounts", "update", "-", "--daily-limit", "5", "--yes"],
            stdin=producer.stdout, env=env_for(server, tmp_path), capture_output=True,
            text=True, timeout=240,
        )
    finally:
        producer.kill()
        producer.wait()
    assert done.returncode == 2, done.stderr
    assert "1,000,000 lines" in done.stderr
    assert "Traceback" not in done.stderr
    assert server.requests == 0


class Lines(io.RawIOBase):
    """A binary stream of ``count`` JSON lines made as they are read (never held whole)."""

    def __init__(self, count: int, padding: int) -> None:
        self.count, self.number, self.pending = count, 0, b""
        self.padding = "x" * padding

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while len(self.pending) < len(buffer) and self.number < self.count:
            self.number += 1
            record = {"email": f"user{self.number % 5000}@acme.io", "note": self.padding}
            self.pending += json.dumps(record).encode() + b"\n"
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


class Stdin:
    def __init__(self, raw: io.RawIOBase) -> None:
        self.buffer = io.BufferedReader(raw)


def test_json_lines_are_streamed_not_held() -> None:
    """25,000 JSON lines of 1 KB (25 MB) keep only their 5,000 distinct emails in memory."""
    tracemalloc.start()
    try:
        emails = targets.read_stdin_targets(Stdin(Lines(25_000, 1000)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(emails) == 5000
    assert emails[0] == "user1@acme.io"
    assert peak < 8 * 1024 * 1024, peak


def test_stdin_targets_keep_their_behaviour() -> None:
    text = "A@acme.io\n# comment\n\n{\"email\": \"a@ACME.io\"}\nb@acme.io\r\n"
    assert targets.read_stdin_targets(Stdin(io.BytesIO(text.encode()))) == [
        "A@acme.io", "b@acme.io"
    ]
    array = json.dumps([{"email": "x@acme.io"}, {"email": "X@acme.io"}], indent=1)
    assert targets.read_stdin_targets(Stdin(io.BytesIO(array.encode()))) == ["x@acme.io"]
    bad = b"ok@acme.io\n\xffbad@acme.io\n"
    with pytest.raises(targets.UsageError, match="line 2 is not valid UTF-8"):
        targets.read_stdin_targets(Stdin(io.BytesIO(bad)))


def test_a_line_longer_than_the_limit_is_refused() -> None:
    huge = b"a" * (targets.MAX_LINE_BYTES + 10) + b"\n"
    with pytest.raises(targets.UsageError, match="longer than 1 MB"):
        targets.read_stdin_targets(Stdin(io.BytesIO(b"ok@acme.io\n" + huge)))


@pytest.mark.parametrize(
    "args",
    [
        ["api", "POST", "/api/v2/accounts", "--input", "/dev/zero"],
        ["accounts", "create", "--from", "/dev/zero", "--yes"],
    ],
    ids=["api --input", "create --from"],
)
def test_endless_files_are_refused(
    server: HostileServer, tmp_path: Path, args: list[str]
) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    done = subprocess.run(
        [*instantly(), *args], env=env_for(server, tmp_path), capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done.stderr
    assert "limit of 64 MB" in done.stderr
    assert "Traceback" not in done.stderr
    assert server.requests == 0


def test_api_input_on_stdin_is_bounded(server: HostileServer, tmp_path: Path) -> None:
    with open("/dev/zero", "rb") as zero:
        done = subprocess.run(
            [*instantly(), "api", "POST", "/api/v2/accounts", "--input", "-"],
            env=env_for(server, tmp_path), capture_output=True, text=True, timeout=120,
            stdin=zero,
        )
    assert done.returncode == 2, done.stderr
    assert "limit of 64 MB" in done.stderr
    assert server.requests == 0


@pytest.mark.parametrize("value", ["9" * 5000, "²", "0", "70000", "-1"])
def test_max_response_mb_out_of_range(
    sandbox: object, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("INSTANTLY_MAX_RESPONSE_MB", value)
    result = cli(["accounts", "list", "--limit", "1"])
    assert result.exit_code == 2, result.stderr
    assert "INSTANTLY_MAX_RESPONSE_MB must be a whole number" in result.stderr
    assert "Internal error" not in result.stderr
    assert len(result.stderr) < 400
