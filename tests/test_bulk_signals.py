"""Bulk accounting under real pipes, signals and deaths: the installed CLI as a subprocess
against a loopback sandbox server. Tests wait on state (requests the server received, a line
on the child's stderr), never on a fixed sleep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import AccountQuery, Store
from tests.children import cron_env
from tests.conftest import invoke
from tests.waiting import PATIENCE, wait_until

KEY = "signals-key-9Qw8Er7Ty6"
GHOST = "ghost@nowhere-at-all.com"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and pipes"),
]


class CountingServer(SandboxServer):
    """A sandbox server that also counts requests as they arrive (before any latency)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log: list[str] = []
        self._seen_lock = threading.Lock()

    def _handle(self, handler: Any) -> None:
        with self._seen_lock:
            self.log.append(f"{handler.command} {handler.path}")
        super()._handle(handler)

    def arrived(self, method: str, fragment: str = "") -> int:
        with self._seen_lock:
            return sum(1 for r in self.log if r.startswith(method) and fragment in r)

    def drained(self) -> bool:
        """Every request that arrived has been answered (none still sleeping in a handler)."""
        with self._seen_lock:
            arrived = len(self.log)
        return self.stats["total"] >= arrived


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(str(tmp_path / "signals.sqlite3"))
    s.ensure_seeded(300)
    yield s
    s.close()


@pytest.fixture
def server(store: Store) -> Iterator[CountingServer]:
    srv = CountingServer(SandboxApp(store, api_key=KEY))
    srv.start()
    yield srv
    # A request left in flight by a killed or interrupted client still runs in its handler
    # thread: stop() cuts its latency short (503) and lets a request inside the app finish
    # before the store closes under it, without sitting out the seconds of latency.
    assert srv.stop(timeout=PATIENCE)


def env_for(server: SandboxServer, tmp_path: Path) -> dict[str, str]:
    # A cron job's environment: block-buffered stdout, no locale (see tests/children.py).
    return cron_env(
        INSTANTLY_BASE_URL=server.url,
        INSTANTLY_API_KEY=KEY,
        INSTANTLY_CONFIG_DIR=str(tmp_path / "cfg"),
        INSTANTLY_STATE_DIR=str(tmp_path / "state"),
        NO_COLOR="1",
    )


def start(args: list[str], env: dict[str, str], cwd: Path, stdin: str = "",
          stdout: Any = subprocess.PIPE) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "instantly_cli", *args],
        stdin=subprocess.PIPE, stdout=stdout, stderr=subprocess.PIPE, text=True, env=env,
        cwd=cwd,
        # A parent that ignores SIGINT (CI runners may) would make Python ignore it too.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdin is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    proc.stdin = None
    return proc


def emails(store: Store, count: int, status: int | None = None) -> list[str]:
    found: list[str] = []
    skip = 0
    while len(found) < count:
        items, _ = store.list_accounts(AccountQuery(limit=100, sort_by="email", skip=skip))
        if not items:
            break
        skip += len(items)
        found += [i["email"] for i in items if status is None or i["status"] == status]
    return found[:count]


def left_in_journal(tmp_path: Path) -> list[str]:
    """Targets of the run's journal without an outcome, or last failed, skipped or submitted."""
    [path] = sorted((tmp_path / "state" / "runs").glob("*.jsonl"))
    last: dict[str, str] = {}
    targets: list[str] = []
    for line in path.read_text().splitlines():
        item = json.loads(line)
        if item.get("kind") == "start":
            targets = item["targets"]
        if item.get("kind") == "outcome":
            last[item["email"]] = item["result"]
    return [e for e in targets if last.get(e, "skipped") in ("failed", "skipped", "submitted")]


# -- 12.1: stdout that fails ------------------------------------------------------------------


def test_closed_stdout_pipe_keeps_the_journal_and_exit_1(
    server: CountingServer, store: Store, tmp_path: Path
) -> None:
    """``… -o jsonl | true``: the reader is gone before anything is written."""
    targets = [emails(store, 1)[0], GHOST]
    proc = start(["accounts", "update", "-", "--daily-limit", "15", "--yes", "-o", "jsonl"],
                 env_for(server, tmp_path), tmp_path, stdin="\n".join(targets))
    assert proc.stdout is not None
    proc.stdout.close()  # like `| true`: nobody will ever read
    proc.stdout = None
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert left_in_journal(tmp_path) == [GHOST]
    assert "updated 1, unchanged 0, failed 1 of 2" in err
    assert "Traceback" not in err and "Internal error" not in err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_on_stdout_keeps_the_journal_and_fails(
    server: CountingServer, store: Store, tmp_path: Path
) -> None:
    targets = [emails(store, 1)[0], GHOST]
    with open("/dev/full", "w") as full:
        proc = start(["accounts", "update", "-", "--daily-limit", "16", "--yes", "-o", "jsonl"],
                     env_for(server, tmp_path), tmp_path, stdin="\n".join(targets), stdout=full)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert left_in_journal(tmp_path) == [GHOST]
    assert "Could not write the results to stdout" in err
    assert "Internal error" not in err
    # Nothing failed, but the results were lost: still not 0.
    with open("/dev/full", "w") as full:
        ok = start(["accounts", "update", targets[0], "--daily-limit", "17", "-o", "jsonl"],
                   env_for(server, tmp_path), tmp_path, stdout=full)
        _, err = ok.communicate(timeout=60)
    assert ok.returncode == 1 and "Could not write the results" in err


# -- 12.2: Ctrl-C pressed again and again ---------------------------------------------------------


def test_ctrl_c_pressed_repeatedly_never_loses_the_failure_file_or_the_journal(
    server: CountingServer, store: Store, tmp_path: Path
) -> None:
    server.latency_ms = 3000
    targets = emails(store, 20)
    failures = tmp_path / "fails.jsonl"
    proc = start(["accounts", "update", "-", "--daily-limit", "4321", "--yes", "--concurrency",
                  "2", "--failures", str(failures)],
                 env_for(server, tmp_path), tmp_path, stdin="\n".join(targets))
    # Two requests in flight for 3 s.
    wait_until(lambda: server.arrived("PATCH") >= 2, "two PATCHes")
    proc.send_signal(signal.SIGINT)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    if line.startswith("Read "):  # "Read 20 targets from stdin." comes first
        line = proc.stderr.readline()
    assert "Interrupted: waiting" in line
    # The second press, then a third and more right behind it, until the process is gone.
    while proc.poll() is None:
        try:
            proc.send_signal(signal.SIGINT)
        except ProcessLookupError:  # pragma: no cover - exited between poll and kill
            break
        time.sleep(0.0002)  # pacing the presses, not synchronising
    err = proc.stderr.read()
    proc.wait(timeout=30)
    assert proc.returncode == 130, err
    rows = [json.loads(line) for line in failures.read_text().splitlines()]
    assert sorted(r["email"] for r in rows) == sorted(targets)
    assert {r["result"] for r in rows} == {"skipped"}
    assert str(failures) in err and "Traceback" not in err
    assert sorted(left_in_journal(tmp_path)) == sorted(targets)


# -- 12.3: warmup when waiting stops ----------------------------------------------------------


def test_ctrl_c_while_waiting_for_warmup_jobs_reports_the_jobs_and_targets(
    server: CountingServer, store: Store, tmp_path: Path
) -> None:
    server.slow_seconds = 3.0
    server.inject("slow", 50, path_contains="/background-jobs/", method="GET")
    targets = emails(store, 150)
    proc = start(["accounts", "warmup", "enable", "-", "--yes", "-o", "jsonl"],
                 env_for(server, tmp_path), tmp_path, stdin="\n".join(targets))
    assert proc.stderr is not None
    lines: list[str] = []
    while "Waiting for" not in (lines[-1] if lines else ""):
        line = proc.stderr.readline()
        assert line, "".join(lines)
        lines.append(line)
    wait_until(lambda: server.arrived("GET", "/background-jobs/") >= 1, "a job poll")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert sorted(r["email"] for r in rows) == sorted(targets)
    job_ids = {r["job_id"] for r in rows}
    # The jobs go on on the server: every target stays submitted with its job (issue case 3).
    assert len(job_ids) == 2 and all(r["job_id"] for r in rows)
    assert {r["result"] for r in rows} == {"submitted"}
    assert sorted(left_in_journal(tmp_path)) == sorted(targets)
    [line] = [x for x in err.splitlines() if "finish exactly those with:" in x]
    assert line.endswith("--yes") and "accounts warmup enable --resume" in line
    # --resume waits for those jobs; it submits none.
    server.clear_faults()
    before = server.arrived("POST")
    resumed = subprocess.run(
        [sys.executable, "-m", "instantly_cli", "accounts", "warmup", "enable", "--resume",
         "--yes", "-o", "jsonl"], env=env_for(server, tmp_path), cwd=tmp_path,
        capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert server.arrived("POST") == before
    assert {json.loads(x)["result"] for x in resumed.stdout.splitlines()} == {"enabled"}
    assert all((store.get_account(e) or {})["warmup_status"] == 1 for e in targets)


def test_warmup_job_polls_that_keep_failing_still_report_everything(
    server: CountingServer, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.inject("500", 1000, path_contains="/background-jobs/", method="GET")
    targets = emails(store, 3)
    # In-process over the loopback server: the retries' back-off and the poll interval are the
    # test Runtime's (no signal or pipe is involved), not seconds of a real client's waiting.
    for name, value in env_for(server, tmp_path).items():
        if name.startswith("INSTANTLY_"):
            monkeypatch.setenv(name, value)
    result = invoke(["accounts", "warmup", "disable", "-", "--yes", "-o", "jsonl"],
                    input="\n".join(targets))
    out, err = result.stdout, result.stderr
    assert result.exit_code == 1, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["email"] for r in rows] == targets
    [job_id] = {r["job_id"] for r in rows}
    assert all("when waiting stopped" in r["error"] for r in rows)
    assert f"jobs wait {job_id}" in err
    assert sorted(left_in_journal(tmp_path)) == sorted(targets)


# -- 12.4: kill -9 and --resume ---------------------------------------------------------------


def test_kill_9_mid_run_then_resume_finishes_exactly_what_is_left(
    server: CountingServer, store: Store, tmp_path: Path
) -> None:
    server.latency_ms = 40
    targets = emails(store, 80)
    env = env_for(server, tmp_path)
    proc = start(["accounts", "update", "-", "--daily-limit", "4242", "--yes", "--concurrency",
                  "2"], env, tmp_path, stdin="\n".join(targets))
    runs = tmp_path / "state" / "runs"

    def journaled() -> int:
        files = list(runs.glob("*.jsonl")) if runs.is_dir() else []
        return files[0].read_text().count('"kind": "outcome"') if files else 0

    wait_until(lambda: journaled() >= 10, "10 journaled targets")
    proc.kill()  # SIGKILL: no handler, no finally, no flush
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # Let the requests that were in flight land, so the server's record is complete.
    wait_until(server.drained, "requests in flight to be answered")
    [journal] = list(runs.glob("*.jsonl"))
    lines = [json.loads(x) for x in journal.read_text().splitlines() if x.endswith("}")]
    done = {x["email"] for x in lines if x.get("kind") == "outcome" and x["result"] == "updated"}
    assert 10 <= len(done) < len(targets)
    before = len(server.app.requests)
    resumed = subprocess.run(
        [sys.executable, "-m", "instantly_cli", "accounts", "update", "--resume", "--yes",
         "-o", "jsonl"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    again = [r for r in server.app.requests[before:] if r.method == "PATCH"]
    patched = {unquote(r.path.rsplit("/", 1)[1]) for r in again}
    assert patched == set(targets) - done and len(again) == len(patched)
    assert all(json.loads(r.body) == {"daily_limit": 4242} for r in again)
    assert all((store.get_account(e) or {}).get("daily_limit") == 4242 for e in targets)
    assert "targets left:" in resumed.stderr and "--resume" not in resumed.stderr
