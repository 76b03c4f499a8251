"""Servers that misbehave on purpose (issue 12, items 13, 14 and 18), over real loopback sockets.

Each server binds 127.0.0.1 port 0 in a thread and is stopped by its fixture; every loop in it is
bounded. The CLI runs as a subprocess with a hard timeout, so a regression fails instead of
hanging. Nothing here asserts timing (benchmarks do): it asserts what a user sees.
"""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from instantly_cli.client import InstantlyClient
from instantly_cli.errors import InvalidResponseError, NetworkError
from tests.hostile import LIFETIME, HostileServer, Request, answer
from tests.test_e2e_server import base_env, instantly

pytestmark = pytest.mark.slow

KEY = "hostile-key-Qq11Ww22Ee33"
HARD_TIMEOUT = 60  # a CLI that hangs fails the test instead of hanging the suite


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*instantly(), *args], env=env, capture_output=True, text=True, timeout=HARD_TIMEOUT
    )


def env_for(server: HostileServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **base_env(tmp_path),
        "INSTANTLY_BASE_URL": server.url,
        "INSTANTLY_API_KEY": KEY,
        **extra,
    }


def assert_clean_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 1 with one ``Error:`` line naming the problem, and no traceback."""
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], proc.stderr
    return errors[0]


# -- 13: a server that trickles a header line every 0.1 s, forever --------------------------


def trickle(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    ends = time.monotonic() + LIFETIME
    # Faster than any read timeout below: only the attempt's deadline can end it.
    while not stopping.wait(0.1) and time.monotonic() < ends:
        conn.sendall(b"X-Trickle: still-here\r\n")


@pytest.fixture
def trickler() -> Iterator[HostileServer]:
    srv = HostileServer(trickle).start()
    yield srv
    srv.stop()


def test_a_trickling_server_cannot_hold_a_command_forever(trickler, tmp_path: Path) -> None:
    proc = run(["accounts", "list"], env_for(trickler, tmp_path, INSTANTLY_TIMEOUT="0.5"))
    assert_clean_error(proc, "did not answer in time")
    assert proc.stdout == ""
    assert trickler.requests >= 1  # it did talk to the server (and retried within the budget)


def test_the_json_error_says_so_too(trickler, tmp_path: Path) -> None:
    proc = run(["accounts", "list", "--json"], env_for(trickler, tmp_path, INSTANTLY_TIMEOUT="0.5"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    err = json.loads(proc.stderr.strip().splitlines()[-1])["error"]
    assert err["code"] == "network_error" and "did not answer in time" in err["message"]


def test_client_attempt_deadline_and_retry_budget(trickler) -> None:
    with InstantlyClient(api_key=KEY, base_url=trickler.url, read_timeout=0.2) as client:
        assert client.attempt_deadline == pytest.approx(0.6)
        assert client.retry_budget == pytest.approx(1.2)
        with pytest.raises(NetworkError, match="did not answer in time"):
            client.verify()
    # The first attempt overran its deadline and was retried; the budget ended the sequence
    # before the five attempts a plain failure gets.
    assert 2 <= trickler.requests < 5


def test_a_create_that_overruns_is_not_repeated(trickler) -> None:
    with InstantlyClient(api_key=KEY, base_url=trickler.url, read_timeout=0.2) as client:
        with pytest.raises(NetworkError, match="did not answer in time"):
            client.create_tag("x")
    assert trickler.requests == 1


def test_a_slow_but_steady_answer_within_the_deadline_is_taken(tmp_path: Path) -> None:
    """Five header lines 0.3 s apart, then the answer: slower than one read timeout between
    the first and the last byte is fine, as long as the whole attempt fits its deadline."""

    def slow_then_answer(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(5):
            if stopping.wait(0.3):
                return
            conn.sendall(b"X-Trickle: still-here\r\n")
        body = json.dumps({"items": [account(1)]}).encode()
        conn.sendall(b"Content-Type: application/json\r\n")
        conn.sendall(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    srv = HostileServer(slow_then_answer).start()
    try:
        # Each read ~0.3 s; all ~1.5 s; deadline 3 s.
        with InstantlyClient(api_key=KEY, base_url=srv.url, read_timeout=1.0) as client:
            assert client.attempt_deadline == pytest.approx(3.0)
            items = list(client.list_accounts({}).items())
    finally:
        srv.stop()
    assert [i["email"] for i in items] == ["user1@example.com"]


# -- 14: a 1 MB gzip body that expands to 1 GB --------------------------------------------


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """1 GiB of zeros as one valid gzip member (about 1 MB).

    Compressing the GiB takes 6 s of CPU; a full flush makes each compressed MiB independent of
    the one before, so one is compressed and repeated (with the CRC and size of the whole)."""
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(1 << 20)
    block = raw.compress(zeros) + raw.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, Unix
    trailer = crc.to_bytes(4, "little") + ((1 << 30) & 0xFFFFFFFF).to_bytes(4, "little")
    data = header + block * 1024 + raw.flush() + trailer
    assert len(data) < 2 << 20
    return data


@pytest.fixture
def bomber(bomb: bytes) -> Iterator[HostileServer]:
    def respond(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
        answer(conn, 200, bomb, {"Content-Encoding": "gzip"})

    srv = HostileServer(respond).start()
    yield srv
    srv.stop()


def test_a_gzip_bomb_is_refused_without_exhausting_memory(bomber, tmp_path: Path) -> None:
    proc = run(["accounts", "list"], env_for(bomber, tmp_path))
    assert_clean_error(proc, "larger than 64 MB")
    assert "INSTANTLY_MAX_RESPONSE_MB" in proc.stderr  # the hint says how to raise it
    # ru_maxrss is in KiB on Linux: the largest child so far (this one decoded at most 64 MB).
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 500 * 1024


def test_client_caps_the_decoded_size(bomber) -> None:
    with InstantlyClient(api_key=KEY, base_url=bomber.url, max_response_bytes=1 << 20) as client:
        with pytest.raises(InvalidResponseError, match="larger than 1 MB"):
            client.verify()
    assert bomber.requests == 1  # a refused answer is not retried


def big_account(size: int) -> bytes:
    return json.dumps({"email": "big@example.com", "signature": "x" * size}).encode()


@pytest.fixture
def big() -> Iterator[HostileServer]:
    """A plain (not compressed) 2 MB account, with its Content-Length."""

    def respond(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
        answer(conn, 200, big_account(2 << 20))

    srv = HostileServer(respond).start()
    yield srv
    srv.stop()


def test_max_response_mb_lowers_and_raises_the_cap(big, tmp_path: Path) -> None:
    args = ["accounts", "get", "big@example.com", "--json"]
    low = run(args[:-1], env_for(big, tmp_path, INSTANTLY_MAX_RESPONSE_MB="1"))
    assert_clean_error(low, "larger than 1 MB")
    raised = run(args, env_for(big, tmp_path, INSTANTLY_MAX_RESPONSE_MB="3"))
    assert raised.returncode == 0, raised.stderr
    assert json.loads(raised.stdout)["email"] == "big@example.com"


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "lots", "nan"])
def test_a_bad_max_response_mb_is_a_usage_error(big, tmp_path: Path, value: str) -> None:
    proc = run(["accounts", "list"], env_for(big, tmp_path, INSTANTLY_MAX_RESPONSE_MB=value))
    assert proc.returncode == 2, proc.stderr
    assert "INSTANTLY_MAX_RESPONSE_MB" in proc.stderr and "Traceback" not in proc.stderr
    assert big.requests == 0  # refused before anything was sent


# -- 18: fresh cursors over items already seen --------------------------------------------


def account(n: int) -> dict[str, object]:
    return {"email": f"user{n}@example.com", "status": 1, "warmup_status": 0}


@pytest.fixture
def recycler() -> Iterator[HostileServer]:
    """Page 1 brings two accounts; every later page a fresh cursor and the same two again."""

    def respond(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
        query = parse_qs(urlsplit(request.target).query)
        cursor = query.get("starting_after", ["c0"])[0]
        following = f"c{int(cursor.removeprefix('c')) + 1}"
        body = {"items": [account(1), account(2)], "next_starting_after": following}
        answer(conn, 200, json.dumps(body).encode())

    srv = HostileServer(respond).start()
    yield srv
    srv.stop()


def test_fresh_cursors_over_seen_items_end_the_listing(recycler, tmp_path: Path) -> None:
    env = env_for(recycler, tmp_path)
    # The cursor walk (--no-parallel): the concurrent lister would first try offset pages.
    proc = run(["accounts", "list", "--all", "--no-parallel", "-o", "jsonl"], env)
    assert proc.returncode == 0, proc.stderr
    listed = [json.loads(line)["email"] for line in proc.stdout.splitlines()]
    assert listed == ["user1@example.com", "user2@example.com"]
    assert "Listing ended early" in proc.stderr and "already seen" in proc.stderr
    assert recycler.requests == 2  # page 1, then the page that added nothing: no loop
    strict = run(["accounts", "list", "--all", "--no-parallel", "-o", "jsonl", "--strict"], env)
    assert strict.returncode == 1, strict.stderr
    assert "already seen" in strict.stderr and "Traceback" not in strict.stderr
    assert strict.stdout == proc.stdout  # what was fetched is still printed
