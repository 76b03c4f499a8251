"""End to end over real loopback sockets: the installed ``instantly`` run as a subprocess.

Servers are started by the tests on 127.0.0.1 and stopped by them; every subprocess has a
timeout.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import Store
from tests.children import instantly, user_env
from tests.contract import validate_recorded
from tests.waiting import Lines, thread_count, wait_until

pytestmark = pytest.mark.slow

KEY = "e2e-key-Hh44Jj55Kk66"
TIMEOUT = 30


def base_env(tmp_path: Path) -> dict[str, str]:
    env = user_env()
    env.update(
        INSTANTLY_CONFIG_DIR=str(tmp_path / "config"),
        INSTANTLY_DATA_DIR=str(tmp_path / "data"),
        NO_COLOR="1",
    )
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*instantly(), *args], env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    store = Store()
    store.ensure_seeded(120)
    app = SandboxApp(store, api_key=KEY)
    srv = SandboxServer(app, "127.0.0.1", 0).start()
    yield srv
    srv.stop()
    validate_recorded(app, every_request=True)
    store.close()


@pytest.fixture
def env(server: SandboxServer, tmp_path: Path) -> dict[str, str]:
    return {**base_env(tmp_path), "INSTANTLY_BASE_URL": server.url, "INSTANTLY_API_KEY": KEY}


def test_list_all_over_loopback(server: SandboxServer, env: dict[str, str]) -> None:
    proc = run(["accounts", "list", "--all", "-o", "jsonl"], env)
    assert proc.returncode == 0, proc.stderr
    items = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(items) == 120 and len({i["email"] for i in items}) == 120
    assert proc.stderr == ""
    # The concurrent lister: offset pages (a few past the end may be asked for ahead).
    assert set(server.status_counts) == {200} and server.status_counts[200] >= 2
    # The cursor walk: two pages, one after the other.
    before = server.status_counts[200]
    proc = run(["accounts", "list", "--all", "--no-parallel", "-o", "jsonl"], env)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line) for line in proc.stdout.splitlines()] == items[::-1]
    assert server.status_counts[200] == before + 2


def test_wrong_key_over_loopback_is_exit_3(server: SandboxServer, env: dict[str, str]) -> None:
    proc = run(["accounts", "list"], {**env, "INSTANTLY_API_KEY": "nope-nope-nope-1234"})
    assert proc.returncode == 3
    assert proc.stdout == "" and "nope-nope-nope-1234" not in proc.stderr
    assert server.status_counts == {401: 1}


def test_retries_429_with_and_without_retry_after_and_503(
    server: SandboxServer, env: dict[str, str]
) -> None:
    server.inject("429", 1, path_contains="/api/v2/accounts", method="GET")
    server.inject("429-no-retry-after", 1, path_contains="/api/v2/accounts", method="GET")
    server.inject("503", 1, path_contains="/api/v2/accounts", method="GET")
    proc = run(["-v", "accounts", "list", "--all", "-o", "jsonl"], env)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 120
    counts = server.status_counts
    assert (counts[429], counts[503], set(counts)) == (2, 1, {200, 429, 503})
    # --verbose shows every exchange, retries included, and never the key.
    assert proc.stderr.count("→ 429") == 2 and proc.stderr.count("→ 503") == 1
    assert "retry" in proc.stderr and KEY not in proc.stderr


def test_get_survives_a_dropped_connection_and_an_html_gateway_page(
    server: SandboxServer, env: dict[str, str]
) -> None:
    server.inject("drop", 1, path_contains="/accounts/ops", method="GET")
    server.inject("html", 1, path_contains="/accounts/ops", method="GET")
    proc = run(["accounts", "get", "ops+eu@acme-outreach.com", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["email"] == "ops+eu@acme-outreach.com"
    assert server.status_counts[502] == 1 and server.status_counts[200] == 2


def test_latency_knob_is_applied(server: SandboxServer, env: dict[str, str]) -> None:
    server.latency_ms = 250
    started = time.monotonic()
    proc = run(["accounts", "list", "--limit", "1", "--json"], env)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    # A lower bound only (a sleep is never shorter), so this cannot flake on a slow machine.
    assert elapsed >= 0.25


def serve_child(
    tmp_path: Path, *args: str
) -> tuple[subprocess.Popen[str], Lines, str]:
    """``instantly sandbox serve --port 0`` started the way CI may start it: SIGINT ignored.

    A background job of a non-interactive shell (``pytest … &``) inherits SIGINT as ignored; the
    server must install its own handler. Returns the child, its stderr lines and its URL, read
    from the line it prints once it listens (no port picked in advance, no probing).
    """
    proc = subprocess.Popen(
        [*instantly(), "sandbox", "serve", "--port", "0", *args],
        env=base_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert proc.stderr is not None
    err = Lines(proc.stderr)
    try:
        found = re.search(r"http://127\.0\.0\.1:\d+", err.wait_for("Sandbox listening on "))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    assert found
    return proc, err, found.group(0)


def finish(proc: subprocess.Popen[str], err: Lines) -> tuple[str, str]:
    """Wait for the child (killing it if it hangs); its stdout and stderr."""
    try:
        proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stdout is not None
    return proc.stdout.read(), err.text()


def test_sandbox_serve_subprocess_then_sigint(tmp_path: Path) -> None:
    state = tmp_path / "served.sqlite3"
    server, err_lines, url = serve_child(
        tmp_path, "--state", str(state), "--accounts", "42", "--latency", "1"
    )
    try:
        client = run(["accounts", "list", "--all", "-o", "jsonl"],
                     {**base_env(tmp_path), "INSTANTLY_BASE_URL": url, "INSTANTLY_API_KEY": "any"})
        assert client.returncode == 0, client.stderr
        assert len(client.stdout.splitlines()) == 42
        server.send_signal(signal.SIGINT)
    finally:
        out, err = finish(server, err_lines)
    assert server.returncode == 0, err
    assert out == ""
    assert f"INSTANTLY_BASE_URL={url}" in err
    assert "any" in err.lower() and "stopped" in err.lower()
    assert "Traceback" not in err
    assert state.exists()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sandbox_serve_stops_with_a_request_in_flight(tmp_path: Path, sig: int) -> None:
    # 10 minutes of latency: an exit at all proves the stop did not wait for it.
    server, err_lines, url = serve_child(tmp_path, "--accounts", "5", "--latency", "600000")
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        # Main thread and accept loop; one more thread once the connection is accepted.
        wait_until(lambda: thread_count(server.pid) == 2, "the accept loop")
        conn.request("GET", "/api/v2/accounts", headers={"Authorization": "Bearer k"})
        wait_until(lambda: thread_count(server.pid) == 3, "the connection to be accepted")
        server.send_signal(sig)  # the request was sent before: it is in flight
        answer = conn.getresponse()
        body = json.loads(answer.read())
    finally:
        conn.close()
        _, err = finish(server, err_lines)
    assert server.returncode == 0, err
    assert "stopped" in err.lower() and "Traceback" not in err
    # The request in flight got a clean answer, not a cut connection.
    assert answer.status == 503
    assert body["statusCode"] == 503 and "shutting down" in body["message"]


def test_sandbox_serve_interrupted_while_seeding_exits_130(tmp_path: Path) -> None:
    state = tmp_path / "big.sqlite3"
    proc = subprocess.Popen(
        [*instantly(), "sandbox", "serve", "--port", "0", "--state", str(state),
         "--accounts", "1000000"],
        env=base_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert proc.stderr is not None
    err_lines = Lines(proc.stderr)
    try:
        err_lines.wait_for("Seeding 1,000,000 accounts")
        proc.send_signal(signal.SIGINT)
    finally:
        out, err = finish(proc, err_lines)
    assert proc.returncode == 130, err
    assert "Interrupted" in err and "Traceback" not in err and "listening" not in err
    assert out == ""
    # Seeding is one transaction: nothing half-seeded is left for the next start.
    store = Store(str(state))
    try:
        assert store.count_accounts() == 0
    finally:
        store.close()


def test_sandbox_serve_with_api_key_rejects_others(tmp_path: Path) -> None:
    server, err_lines, url = serve_child(tmp_path, "--accounts", "5", "--api-key", KEY)
    try:
        target = {**base_env(tmp_path), "INSTANTLY_BASE_URL": url}
        good = run(["accounts", "list", "-o", "jsonl"], {**target, "INSTANTLY_API_KEY": KEY})
        bad = run(["accounts", "list"], {**target, "INSTANTLY_API_KEY": "other-key-000000"})
        server.send_signal(signal.SIGTERM)
    finally:
        _, err = finish(server, err_lines)
    assert good.returncode == 0 and len(good.stdout.splitlines()) == 5
    assert bad.returncode == 3
    assert server.returncode == 0, err


def test_sandbox_state_persists_between_processes(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    reset = run(["sandbox", "reset", "--accounts", "7"], env)
    assert reset.returncode == 0, reset.stderr
    listed = run(["--sandbox", "accounts", "list", "--all", "-o", "jsonl"], env)
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 7
    assert (tmp_path / "data" / "sandbox.sqlite3").exists()
    accounts = [json.loads(line) for line in listed.stdout.splitlines()]
    email = next(a["email"] for a in accounts if a["status"] == 1)
    # A change made by one process is seen by the next one.
    paused = run(["--sandbox", "accounts", "pause", email, "--yes"], env)
    assert paused.returncode == 0, paused.stderr
    got = run(["--sandbox", "accounts", "get", email, "--json"], env)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["status"] == 2
