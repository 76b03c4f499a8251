"""End to end over real loopback sockets: the installed ``instantly`` run as a subprocess.

Servers are started by the tests on 127.0.0.1 and stopped by them; every subprocess has a
timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import Store
from tests.contract import validate_recorded

pytestmark = pytest.mark.slow

KEY = "e2e-key-Hh44Jj55Kk66"
TIMEOUT = 30


def instantly() -> list[str]:
    exe = shutil.which("instantly", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "instantly_cli"]


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INSTANTLY_")}
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
    assert server.status_counts == {200: 2}


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
    assert server.status_counts == {429: 2, 503: 1, 200: 2}
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"sandbox serve exited early: {proc.communicate()[1]}")
        try:
            httpx.get(f"{url}/api/v2/accounts", params={"limit": 1},
                      headers={"Authorization": "Bearer probe"}, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("sandbox serve did not answer in time")


def test_sandbox_serve_subprocess_then_sigint(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    state = tmp_path / "served.sqlite3"
    server = subprocess.Popen(
        [*instantly(), "sandbox", "serve", "--port", str(port), "--state", str(state),
         "--accounts", "42", "--latency", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_until_up(url, server)
        client = run(["accounts", "list", "--all", "-o", "jsonl"],
                     {**env, "INSTANTLY_BASE_URL": url, "INSTANTLY_API_KEY": "anything"})
        assert client.returncode == 0, client.stderr
        assert len(client.stdout.splitlines()) == 42
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, err
    assert out == ""
    assert url in err and f"INSTANTLY_BASE_URL={url}" in err
    assert "any" in err.lower() and "stopped" in err.lower()
    assert "Traceback" not in err
    assert state.exists()


def test_sandbox_serve_with_api_key_rejects_others(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*instantly(), "sandbox", "serve", "--port", str(port), "--accounts", "5",
         "--api-key", KEY],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_until_up(url, server)
        target = {**env, "INSTANTLY_BASE_URL": url}
        good = run(["accounts", "list", "-o", "jsonl"], {**target, "INSTANTLY_API_KEY": KEY})
        bad = run(["accounts", "list"], {**target, "INSTANTLY_API_KEY": "other-key-000000"})
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert good.returncode == 0 and len(good.stdout.splitlines()) == 5
    assert bad.returncode == 3
    assert server.returncode == 0


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
