"""A state folder that fills up mid-run (issue 26, item 10): the journal is cut short, so the
run must not offer a ``--resume`` (it would exit 2 or redo targets blindly); it says where the
record of the targets left is instead.

The full folder is a file-size limit (``RLIMIT_FSIZE``, SIGXFSZ ignored) in the child: every
write past 4 KiB fails with EFBIG, as a 4 KiB tmpfs would with ENOSPC.
"""

from __future__ import annotations

import json
import resource
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY
from tests.hostile import HostileServer, Request, answer
from tests.test_e2e_server import base_env, instantly

LIMIT = 4096
GOOD = [f"user{i:03d}@acme.io" for i in range(60)]
BAD = ["xa@acme.io", "xb@acme.io"]


def respond(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
    email = request.target.split("?")[0].rsplit("/", 1)[-1].replace("%40", "@")
    if email.startswith("x"):
        answer(conn, 429, b'{"statusCode":429,"error":"Too Many Requests","message":"slow"}')
        return
    account = {"email": email, "status": 1, "daily_limit": 1, "warmup_status": 1}
    answer(conn, 200, json.dumps(account).encode())


@pytest.fixture
def server() -> Iterator[HostileServer]:
    srv = HostileServer(respond).start()
    yield srv
    srv.stop()


def small_files() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def test_a_cut_journal_offers_no_resume(server: HostileServer, tmp_path: Path) -> None:
    env = base_env(tmp_path)
    env.pop("PYTHONUNBUFFERED", None)
    (tmp_path / "tmp").mkdir()
    env.update(INSTANTLY_BASE_URL=server.url, INSTANTLY_API_KEY=TEST_KEY,
               INSTANTLY_STATE_DIR=str(tmp_path / "state"), TMPDIR=str(tmp_path / "tmp"),
               PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [*instantly(), "accounts", "update", "-", "--daily-limit", "5", "--yes",
         "--max-wait", "0"],
        input="\n".join(GOOD + BAD), env=env, capture_output=True, text=True, timeout=180,
        preexec_fn=small_files,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    journals = list((tmp_path / "state").rglob("*.jsonl"))
    assert journals and journals[0].stat().st_size <= LIMIT  # the journal was cut short
    assert "--resume" not in done.stderr
    assert "cannot be resumed" in done.stderr
    record = tmp_path / "tmp" / f"instantly-{journals[0].stem}-left.jsonl"
    assert str(record) in done.stderr
    left = [json.loads(line)["email"] for line in record.read_text().splitlines()]
    assert sorted(left) == BAD
