"""No silent truncation: piped listings return every page; a terminal keeps the first page."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from instantly_cli.context import Runtime
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import AccountQuery, Store
from instantly_cli.terminal import Terminal

Cli = Callable[..., Result]


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_piped_list_returns_every_page(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    result = cli(["accounts", "list", "-o", "jsonl"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    emails = [a["email"] for a in jsonl(result.stdout)]
    assert len(emails) == 120 == len(set(emails))
    assert "More accounts" not in result.stderr


def test_piped_tsv_returns_every_page(cli: Cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "list", "--fields", "email"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 120


def test_limit_is_honoured_when_piped(cli: Cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "list", "--limit", "7", "-o", "jsonl"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert len(jsonl(result.stdout)) == 7
    assert "More accounts available" in result.stderr


def test_a_terminal_keeps_the_first_page_and_its_footer(
    cli: Cli, sandbox: SandboxApp, runtime: Runtime
) -> None:
    screen = io.StringIO()
    runtime.terminal = Terminal(stdout=screen, stdout_isatty=True)
    result = cli(["accounts", "list", "-o", "jsonl"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert len(jsonl(screen.getvalue())) == 100
    assert "More accounts available" in result.stderr


def test_a_terminal_honours_limit(cli: Cli, sandbox: SandboxApp, runtime: Runtime) -> None:
    screen = io.StringIO()
    runtime.terminal = Terminal(stdout=screen, stdout_isatty=True)
    result = cli(["accounts", "list", "--limit", "110", "-o", "jsonl"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert len(jsonl(screen.getvalue())) == 110


def test_piped_tags_list_returns_every_tag(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    before = len(store.list_tags()[0])
    store.seed_extra_tags(130)
    result = cli(["tags", "list", "-o", "jsonl"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert len(jsonl(result.stdout)) == before + 130 > 100


def _seed_jobs(store: Store, count: int) -> None:
    email = str(store.list_accounts(AccountQuery(limit=1))[0][0]["email"])
    for _ in range(count):
        store.create_warmup_job("enable", [email])


def test_piped_jobs_list_returns_every_page(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    _seed_jobs(store, 130)
    result = cli(["jobs", "list", "-o", "jsonl"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert len(jsonl(result.stdout)) == 130
    assert "More jobs" not in result.stderr


def test_jobs_list_on_a_terminal_keeps_the_first_page(
    cli: Cli, sandbox: SandboxApp, store: Store, runtime: Runtime
) -> None:
    _seed_jobs(store, 130)
    screen = io.StringIO()
    runtime.terminal = Terminal(stdout=screen, stdout_isatty=True)
    result = cli(["jobs", "list", "-o", "jsonl"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert len(jsonl(screen.getvalue())) == 100
    assert "More jobs available" in result.stderr
    screen.seek(0)
    screen.truncate()
    cli(["jobs", "list", "--limit", "5", "-o", "jsonl"], catch_exceptions=False)
    assert len(jsonl(screen.getvalue())) == 5


# -- the operator's pipeline over loopback -----------------------------------------------------

KEY = "select-key-Tt55Uu66Vv77"
MATCHING = 2046
WARMUP_ACTIVE, WARMUP_PAUSED = 1, 0


def _instantly() -> list[str]:
    exe = shutil.which("instantly", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "instantly_cli"]


@pytest.fixture
def fleet() -> Iterator[tuple[Store, SandboxServer]]:
    """A sandbox whose fleet has exactly 2,046 accounts with warmup active."""
    store = Store()
    store.ensure_seeded(3400)
    active, _ = store.list_accounts(AccountQuery(limit=10**6, filter="ACC_FILTER_W_ACTIVE"))
    assert len(active) >= MATCHING
    for account in active[MATCHING:]:
        store.simulate(str(account["email"]), warmup_status=WARMUP_PAUSED)
    server = SandboxServer(SandboxApp(store, api_key=KEY), "127.0.0.1", 0).start()
    yield store, server
    server.stop()
    store.close()


@pytest.mark.slow
def test_list_piped_into_an_action_changes_every_matching_account(
    fleet: tuple[Store, SandboxServer], tmp_path: Path
) -> None:
    store, server = fleet
    tag = store.create_tag("Pipeline")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("INSTANTLY_") and k != "PYTHONUNBUFFERED"}
    env.update(
        INSTANTLY_CONFIG_DIR=str(tmp_path / "config"),
        INSTANTLY_DATA_DIR=str(tmp_path / "data"),
        INSTANTLY_STATE_DIR=str(tmp_path / "state"),
        INSTANTLY_BASE_URL=server.url,
        INSTANTLY_API_KEY=KEY,
        NO_COLOR="1",
    )
    # A real pipe between two processes, as a shell makes it; no controlling terminal. The
    # action is a batched one (100 accounts a request): what is under test is the listing.
    lister = subprocess.Popen(
        [*_instantly(), "accounts", "list", "--filter", "warmup-active", "-o", "jsonl"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    acting = subprocess.run(
        [*_instantly(), "tags", "assign", "Pipeline", "-", "--yes", "-o", "jsonl"],
        env=env, stdin=lister.stdout, capture_output=True, text=True, timeout=300,
        start_new_session=True,
    )
    assert lister.stdout is not None
    lister.stdout.close()
    assert lister.wait(timeout=60) == 0
    assert acting.returncode == 0, acting.stderr[-2000:]
    active, _ = store.list_accounts(AccountQuery(limit=10**6, filter="ACC_FILTER_W_ACTIVE"))
    assert len(active) == MATCHING
    tagged: set[str] = set()
    after = None
    while True:
        page, after = store.list_mappings(limit=100, starting_after=after)
        tagged |= {str(m["resource_id"]) for m in page if m["tag_id"] == tag["id"]}
        if not after:
            break
    assert tagged == {str(a["email"]) for a in active}
    assert {str(r.get("email")) for r in jsonl(acting.stdout)} >= tagged
