"""Ctrl-C in the middle of a bulk lifecycle command, then the failure file rerun to the end."""

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
from tests.waiting import wait_until

KEY = "lifecycle-interrupt-key"
# Enough that Ctrl-C, sent once 20 are done at 20 accounts/s, lands seconds before the end.
TARGETS = 150
pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
    pytest.mark.slow,
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[SandboxServer, Store]]:
    store = Store(str(tmp_path / "state.sqlite3"))
    store.ensure_seeded(2 * TARGETS)
    server = SandboxServer(SandboxApp(store, api_key=KEY, record=False), latency_ms=60)
    server.start()
    yield server, store
    server.stop()
    store.close()


def env_for(server: SandboxServer, tmp_path: Path) -> dict[str, str]:
    return user_env(INSTANTLY_BASE_URL=server.url, INSTANTLY_API_KEY=KEY,
                    INSTANTLY_CONFIG_DIR=str(tmp_path / "cfg"))


def existing(store: Store, emails: list[str]) -> set[str]:
    return {e for e in emails if store.get_account(e) is not None}


def all_emails(store: Store) -> list[str]:
    return [r[0] for r in store._conn.execute("SELECT email FROM accounts ORDER BY email")]


def test_sigint_during_delete_then_resume_from_the_failure_file(
    served: tuple[SandboxServer, Store], tmp_path: Path
) -> None:
    server, store = served
    targets = all_emails(store)[:TARGETS]
    failures = tmp_path / "fails.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "instantly_cli", "accounts", "delete", "-", "--yes", "--rate", "40",
         "--concurrency", "4", "-o", "jsonl", "--failures", str(failures)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env_for(server, tmp_path), cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdin is not None
    proc.stdin.write("\n".join(targets))
    proc.stdin.close()
    proc.stdin = None
    wait_until(lambda: len(targets) - len(existing(store, targets)) >= 20, "20 deletes")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    results = [json.loads(line) for line in out.splitlines()]
    assert sorted(r["email"] for r in results) == sorted(targets)  # every target accounted for
    deleted = {r["email"] for r in results if r["result"] == "deleted"}
    skipped = {r["email"] for r in results if r["result"] == "skipped"}
    assert deleted and skipped and deleted | skipped == set(targets)
    assert deleted == set(targets) - existing(store, targets)  # the report matches the state
    in_file = {json.loads(line)["email"] for line in failures.read_text().splitlines()}
    assert in_file == skipped

    again = subprocess.run(
        [sys.executable, "-m", "instantly_cli", "accounts", "delete", "-", "--yes", "-o",
         "jsonl", "--rate", "100", "--failures", str(tmp_path / "second.jsonl")],
        input=failures.read_text(), capture_output=True, text=True, timeout=120,
        env=env_for(server, tmp_path), cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr
    assert {json.loads(line)["email"] for line in again.stdout.splitlines()} == skipped
    assert existing(store, targets) == set()


def test_sigint_during_mark_fixed_then_resume(
    served: tuple[SandboxServer, Store], tmp_path: Path
) -> None:
    server, store = served
    targets = all_emails(store)[:TARGETS]
    failures = tmp_path / "fails.jsonl"
    args = ["accounts", "mark-fixed", "-", "--yes", "-o", "jsonl"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "instantly_cli", *args, "--rate", "40", "--concurrency", "4",
         "--failures", str(failures)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env_for(server, tmp_path), cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdin is not None
    proc.stdin.write("\n".join(targets))
    proc.stdin.close()
    proc.stdin = None
    # Two requests per account: 20 accounts reached.
    wait_until(lambda: server.stats["total"] >= 40, "40 requests")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    results = [json.loads(line) for line in out.splitlines()]
    assert sorted(r["email"] for r in results) == sorted(targets)
    done = {r["email"] for r in results if r["result"] in ("fixed", "unchanged")}
    skipped = {r["email"] for r in results if r["result"] == "skipped"}
    assert done and skipped and done | skipped == set(targets)
    assert {json.loads(line)["email"] for line in failures.read_text().splitlines()} == skipped
    again = subprocess.run(
        [sys.executable, "-m", "instantly_cli", *args, "--rate", "100",
         "--failures", str(tmp_path / "2.jsonl")],
        input=failures.read_text(), capture_output=True, text=True, timeout=120,
        env=env_for(server, tmp_path), cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr
    assert {json.loads(line)["email"] for line in again.stdout.splitlines()} == skipped
    assert all(store.get_account(e)["status"] >= 0 for e in targets)
