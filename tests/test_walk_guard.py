"""Every command that walks the account pages has the listing's loop guard, its warning and its
--strict (issue 26, item 12), and analytics splits a 414 as it splits a 413, keeping the size
that fits for the rest of the run; its splitting notes are for -v only.

Misbehaving servers on 127.0.0.1 (port 0), the CLI as a subprocess, as a user runs it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.hostile import HostileServer, Request, answer
from tests.test_e2e_server import base_env, instantly

pytestmark = pytest.mark.slow

KEY = "walk-guard-key-Zx81Yw72"
HARD_TIMEOUT = 60
ACCOUNTS = 300


def account(n: int) -> dict[str, object]:
    # Newest first, as the API lists them (so no offset walk is mistaken for working).
    return {"email": f"user{n:03}@example.com", "status": 1, "warmup_status": 1,
            "timestamp_created": f"2026-01-01T00:{59 - n // 60:02}:{59 - n % 60:02}.000Z"}


EVERY = [account(n) for n in range(ACCOUNTS)]


def run(args: list[str], server: HostileServer, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**base_env(tmp_path), "INSTANTLY_BASE_URL": server.url, "INSTANTLY_API_KEY": KEY}
    return subprocess.run([*instantly(), *args], env=env, capture_output=True, text=True,
                          timeout=HARD_TIMEOUT)


def analytics_answer(conn: socket.socket, request: Request, sizes: list[int],
                     most: int | None = None) -> bool:
    """Answer the two analytics endpoints (True), one row per email; a GET with more than
    ``most`` emails is refused with 414."""
    url = urlsplit(request.target)
    if url.path == "/api/v2/accounts/analytics/daily":
        emails = parse_qs(url.query)["emails"]
        sizes.append(len(emails))
        if most is not None and len(emails) > most:
            answer(conn, 414, json.dumps({"statusCode": 414, "error": "URI Too Long",
                                          "message": "URI Too Long"}).encode())
        else:
            day = parse_qs(url.query)["start_date"][0]
            rows = [{"date": day, "email_account": e, "sent": 1} for e in emails]
            answer(conn, 200, json.dumps(rows).encode())
        return True
    if url.path == "/api/v2/accounts/warmup-analytics":
        # The body is not read by the server helper; answer for every account listed.
        data = {a["email"]: {"sent": 2, "landed_inbox": 1, "landed_spam": 1, "received": 2}
                for a in EVERY}
        answer(conn, 200, json.dumps({"aggregate_data": data}).encode())
        return True
    return False


@pytest.fixture
def looping() -> Iterator[tuple[HostileServer, list[int]]]:
    """300 accounts, but the second page's cursor leads back to the first page's accounts, with
    a fresh cursor each time: a walk without the guard would list 100 and stop or go forever."""
    sizes: list[int] = []

    def respond(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
        if analytics_answer(conn, request, sizes):
            return
        query = parse_qs(urlsplit(request.target).query)
        cursor = query.get("starting_after", ["c0"])[0]
        following = f"c{int(cursor.removeprefix('c')) + 1}"
        body = {"items": EVERY[:100], "next_starting_after": following}
        answer(conn, 200, json.dumps(body).encode())

    srv = HostileServer(respond).start()
    yield srv, sizes
    srv.stop()


@pytest.mark.parametrize(
    "command", [["accounts", "analytics", "--all"], ["accounts", "warmup", "stats", "--all"]]
)
def test_a_looping_cursor_is_warned_about_and_strict_fails(
    looping: tuple[HostileServer, list[int]], tmp_path: Path, command: list[str]
) -> None:
    server, _ = looping
    proc = run([*command, "-o", "jsonl"], server, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Listing ended early" in proc.stderr and "already seen" in proc.stderr
    assert "Traceback" not in proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 100  # what was listed, said to be incomplete
    strict = run([*command, "-o", "jsonl", "--strict"], server, tmp_path)
    assert strict.returncode == 1, strict.stderr
    assert "already seen" in strict.stderr and "--strict" in strict.stderr
    assert "Traceback" not in strict.stderr


@pytest.fixture
def narrow() -> Iterator[tuple[HostileServer, list[int]]]:
    """300 accounts paged by cursor; daily analytics refuses more than 50 emails with 414."""
    sizes: list[int] = []

    def respond(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
        if analytics_answer(conn, request, sizes, most=50):
            return
        query = parse_qs(urlsplit(request.target).query)
        start = int(query.get("starting_after", ["0"])[0])
        size = int(query.get("limit", ["100"])[0])
        page = EVERY[start:start + size]
        following = str(start + size) if start + size < ACCOUNTS else None
        answer(conn, 200, json.dumps({"items": page, "next_starting_after": following}).encode())

    srv = HostileServer(respond).start()
    yield srv, sizes
    srv.stop()


def test_a_414_is_split_like_a_413_and_the_size_that_fits_is_kept(
    narrow: tuple[HostileServer, list[int]], tmp_path: Path
) -> None:
    server, sizes = narrow
    proc = run(["accounts", "analytics", "--all", "-o", "jsonl"], server, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == ACCOUNTS
    # 200 refused, 100 refused; from then on every request carries 50: two refusals in all,
    # not one more for each later chunk.
    assert sizes == [200, 100, 50, 50, 50, 50, 50, 50]
    # Routine: nothing said about it without -v.
    assert "too large" not in proc.stderr and "splitting" not in proc.stderr
    sizes.clear()
    loud = run(["-v", "accounts", "analytics", "--all", "-o", "jsonl"], server, tmp_path)
    assert loud.returncode == 0, loud.stderr
    notes = [line for line in loud.stderr.splitlines() if "splitting" in line]
    assert len(notes) == 2 and "414" in notes[0] and "50 accounts" in notes[1]
