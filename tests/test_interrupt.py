"""Ctrl-C: whole lines only on stdout, in-flight work finished, every target accounted for."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import Store
from tests.children import user_env
from tests.waiting import PATIENCE, Lines, wait_until

KEY = "sk_Q7vX2mJ9pL4wR8tZ"
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[SandboxServer, Store]]:
    store = Store(str(tmp_path / "state.sqlite3"))
    store.ensure_seeded(3000)
    server = SandboxServer(SandboxApp(store, api_key=KEY, record=False), latency_ms=60)
    server.start()
    yield server, store
    server.stop()
    store.close()


def start(args: list[str], server: SandboxServer, tmp_path: Path, stdin: str | None = None
          ) -> subprocess.Popen[str]:
    env = user_env()
    env.update(INSTANTLY_BASE_URL=server.url, INSTANTLY_API_KEY=KEY,
               INSTANTLY_CONFIG_DIR=str(tmp_path / "cfg"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "instantly_cli", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env, cwd=tmp_path,
        # A parent that ignores SIGINT (CI runners may) would make Python ignore it too.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
    assert proc.stdin is not None
    proc.stdin.close()
    proc.stdin = None  # communicate() must not flush it again
    return proc


def test_sigint_during_jsonl_listing_leaves_whole_lines(served, tmp_path: Path) -> None:
    server, _ = served
    proc = start(["accounts", "list", "--all", "-o", "jsonl"], server, tmp_path)
    assert proc.stdout is not None
    first = [proc.stdout.readline() for _ in range(150)]
    proc.send_signal(signal.SIGINT)
    # Read through the same buffered stream (communicate() would bypass its buffer).
    rest = proc.stdout.read()
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert proc.wait(timeout=20) == 130
    lines = "".join(first).splitlines() + rest.splitlines()
    assert 150 <= len(lines) < 3000
    assert all(json.loads(line)["email"] for line in lines)  # every line is whole
    assert (first[-1] + rest).endswith("\n")
    assert "Interrupted" in err and "Traceback" not in err


def test_sigint_during_bulk_update_finishes_in_flight_and_writes_failures(
    served, tmp_path: Path
) -> None:
    server, store = served
    targets = _emails(store, 400)
    failures = tmp_path / "fails.jsonl"
    proc = start(["accounts", "update", "-", "--daily-limit", "4321", "--yes", "--rate", "40",
                  "--concurrency", "4", "-o", "jsonl", "--failures", str(failures)],
                 server, tmp_path, stdin="\n".join(targets))
    wait_until(lambda: sum(1 for e in targets if _limit(store, e) == 4321) >= 20, "20 updates")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    results = [json.loads(line) for line in out.splitlines()]
    assert sorted(r["email"] for r in results) == sorted(targets)  # every target accounted for
    updated = {r["email"] for r in results if r["result"] == "updated"}
    skipped = {r["email"] for r in results if r["result"] == "skipped"}
    assert updated and skipped and updated | skipped == set(targets)
    assert updated == {e for e in targets if _limit(store, e) == 4321}  # summary matches state
    in_file = {json.loads(line)["email"] for line in failures.read_text().splitlines()}
    assert in_file == skipped
    assert "Interrupted" in err and str(failures) in err


def test_second_sigint_stops_waiting(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "slow.sqlite3"))
    store.ensure_seeded(50)
    # Ten minutes of latency: whatever the machine's load, the requests are still in flight.
    server = SandboxServer(SandboxApp(store, api_key=KEY, record=False), latency_ms=600_000)
    server.start()
    proc = None
    try:
        targets = _emails(store, 20)
        failures = tmp_path / "fails.jsonl"
        proc = start(["accounts", "update", "-", "--daily-limit", "4321", "--yes",
                      "--concurrency", "2", "--failures", str(failures)],
                     server, tmp_path, stdin="\n".join(targets))
        assert proc.stderr is not None
        err_lines = Lines(proc.stderr)
        wait_until(lambda: server.in_flight == 2, "two requests in flight")
        proc.send_signal(signal.SIGINT)
        err_lines.wait_for("press Ctrl-C again")  # the first one was seen: it is waiting now
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=PATIENCE)
        err = err_lines.text()
        # It did not wait: the server has not answered the requests that were in flight.
        assert server.status_counts[200] == 0 and server.in_flight == 2
        assert proc.returncode == 130, err
        rows = [json.loads(line) for line in failures.read_text().splitlines()]
        assert len(rows) == 20 and {r["result"] for r in rows} == {"skipped"}
        assert any("in flight" in r["error"] for r in rows)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        assert server.stop() is True  # the sleeping requests were ended, not waited for
        store.close()


def _emails(store: Store, count: int) -> list[str]:
    from instantly_cli.sandbox.store import AccountQuery

    emails: list[str] = []
    while len(emails) < count:
        items, _ = store.list_accounts(AccountQuery(limit=100, sort_by="email", skip=len(emails)))
        emails += [i["email"] for i in items]
    return emails[:count]


def _limit(store: Store, email: str) -> object:
    account = store.get_account(email)
    return account.get("daily_limit") if account else None
