"""429s with Retry-After neither idle the run nor hold it for long (issue 26, item 11).

A worker asleep on a 429 is not busy: the runner adds workers meanwhile. The wall-clock time a
run spends waiting on 429s is bounded by ``--max-wait`` (a server answering ``Retry-After: 60``
over and over fails the targets left instead of holding the run for minutes).
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from instantly_cli.ratelimit import DEFAULT_MAX_WAIT, RateLimiter
from instantly_cli.services import bulk
from instantly_cli.services.bulk import Outcome
from tests.conftest import TEST_KEY
from tests.hostile import HostileServer, Request, answer
from tests.test_e2e_server import base_env, instantly


def test_workers_asleep_on_a_429_are_replaced() -> None:
    """The first four workers sleep on a 429 until the 36 other targets are done; before, the
    run waited for them (no unit finished, so no worker was added)."""
    limiter = RateLimiter(100)
    others_done = threading.Event()
    done = [0]
    lock = threading.Lock()

    def work(unit: list[str]) -> list[Outcome]:
        if int(unit[0].split("@")[0][1:]) < 4:
            with limiter.resting_worker():
                others_done.wait(20)
        else:
            with lock:
                done[0] += 1
                if done[0] == 36:
                    others_done.set()
        return [Outcome(unit[0], "updated")]

    units = [[f"u{i}@acme.io"] for i in range(40)]
    started = time.monotonic()
    # Four workers, all resting at first: only the ones added beside them can do the rest.
    result = bulk.run(units, work, concurrency=4, rate=100.0, resting=lambda: limiter.resting)
    assert others_done.is_set()
    assert time.monotonic() - started < 15
    assert len(result.outcomes) == 40
    assert result.workers > 4


def test_the_wait_budget_counts_wall_clock_time_once() -> None:
    now = [0.0]
    limiter = RateLimiter(10, clock=lambda: now[0], max_wait=10.0)
    assert limiter.max_wait == 10.0
    assert RateLimiter(10).max_wait == DEFAULT_MAX_WAIT
    # Eight workers resting on the same 3-second Retry-After: 3 seconds of the budget, not 24.
    assert all(limiter.rest(3.0) for _ in range(8))
    assert limiter.rested == pytest.approx(3.0)
    now[0] = 5.0
    assert limiter.rest(6.0)  # 9 s in all
    assert not limiter.rest(60.0)  # would be 69 s: refused, nothing booked
    assert limiter.rested == pytest.approx(9.0)


def always_throttled(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
    answer(conn, 429, b'{"statusCode":429,"error":"Too Many Requests","message":"slow down"}',
           {"Retry-After": "60"})


@pytest.fixture
def server() -> Iterator[HostileServer]:
    srv = HostileServer(always_throttled).start()
    yield srv
    srv.stop()


def test_retry_after_60_cannot_hold_a_run(server: HostileServer, tmp_path: Path) -> None:
    env = base_env(tmp_path)
    env.pop("PYTHONUNBUFFERED", None)
    env.update(INSTANTLY_BASE_URL=server.url, INSTANTLY_API_KEY=TEST_KEY)
    started = time.monotonic()
    done = subprocess.run(
        [*instantly(), "accounts", "update", "a@acme.io", "b@acme.io", "--daily-limit", "5",
         "--yes", "--max-wait", "2"],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert time.monotonic() - started < 60
    assert done.returncode == 1, done.stderr
    assert "--max-wait" in done.stderr
    assert "Traceback" not in done.stderr


def test_max_wait_is_checked(tmp_path: Path) -> None:
    done = subprocess.run(
        [*instantly(), "accounts", "update", "a@acme.io", "--daily-limit", "5", "--yes",
         "--max-wait", "-1"],
        env=base_env(tmp_path), capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "--max-wait" in done.stderr
