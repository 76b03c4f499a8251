"""`campaigns detach|attach`: only the named accounts change, tag-served ones are reported, and
a run killed with SIGKILL mid-way finishes with `--resume` (a loopback server that holds the
second read-modify-write; the kill is synchronised on it, never on a sleep)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import SEED_CAMPAIGN_ID, Store
from tests.test_bulk_kill import KEY, GatedServer, accounts, journaled
from tests.waiting import wait_until

ENTERPRISE = "d7053543-29c9-46fb-bb5f-cda74cce86a4"
PLUS = "ops+eu@acme-outreach.com"


def test_detach_changes_only_the_named_accounts(cli, sandbox: SandboxApp, store: Store) -> None:
    before = store.get_campaign(ENTERPRISE)
    seed_before = store.get_campaign(SEED_CAMPAIGN_ID)
    named = before["email_list"][:2]
    assert PLUS in named
    dry = cli(["campaigns", "detach", "Enterprise mixed", *named, "--dry-run", "-o", "json"])
    assert dry.exit_code == 0, dry.stderr
    assert [r["result"] for r in json.loads(dry.stdout)] == ["would-detach"] * 2
    assert store.get_campaign(ENTERPRISE)["email_list"] == before["email_list"]  # nothing sent
    result = cli(["campaigns", "detach", "Enterprise mixed", *named, "not.listed@acme.io",
                  "--yes", "-o", "json"])
    assert result.exit_code == 0, result.stderr
    assert [r["result"] for r in json.loads(result.stdout)] == ["detached", "detached",
                                                               "unchanged"]
    after = store.get_campaign(ENTERPRISE)
    assert after["email_list"] == before["email_list"][2:]  # the rest, in order
    assert after["email_tag_list"] == before["email_tag_list"]
    # ops+eu still sends for it through "Client A": reported, not silently kept.
    assert f"{PLUS} (tag Client A)" in result.stderr
    assert store.get_campaign(SEED_CAMPAIGN_ID) == seed_before  # another campaign: as it was
    again = cli(["campaigns", "attach", ENTERPRISE, named[1], "--yes", "-o", "json"])
    assert again.exit_code == 0, again.stderr
    assert store.get_campaign(ENTERPRISE)["email_list"] == [*before["email_list"][2:], named[1]]


def test_unknown_campaign_is_exit_2_and_nothing_written(cli, sandbox: SandboxApp) -> None:
    result = cli(["campaigns", "detach", "Enterprize mixed", PLUS, "--yes"])
    assert result.exit_code == 2
    assert "'Enterprise mixed'" in result.stderr
    assert not [r for r in sandbox.requests if r.method == "PATCH"]


@pytest.fixture
def kill_store(tmp_path: Path) -> Iterator[Store]:
    s = Store(str(tmp_path / "detach.sqlite3"))
    s.ensure_seeded(400)
    yield s
    s.close()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_detach_killed_mid_run_then_resumed(kill_store: Store, tmp_path: Path) -> None:
    emails = [a["email"] for a in accounts(kill_store)][:160]
    kill_store.patch_campaign(ENTERPRISE, {"email_list": emails})
    targets, kept = emails[:150], emails[150:]
    server = GatedServer(SandboxApp(kill_store, api_key=KEY))
    server.start()
    try:
        server.is_write = lambda method, path: method == "PATCH" and "/campaigns/" in path
        server.allowed = 1
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("INSTANTLY_") and k != "PYTHONUNBUFFERED"}
        env.update(INSTANTLY_BASE_URL=server.url, INSTANTLY_API_KEY=KEY, NO_COLOR="1",
                   INSTANTLY_CONFIG_DIR=str(tmp_path / "cfg"),
                   INSTANTLY_STATE_DIR=str(tmp_path / "state"))
        proc = subprocess.Popen(
            [sys.executable, "-m", "instantly_cli", "campaigns", "detach", "Enterprise mixed",
             "-", "--yes"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env=env, cwd=tmp_path)
        assert proc.stdin is not None
        proc.stdin.write("\n".join(targets))
        proc.stdin.close()
        runs = tmp_path / "state" / "runs"
        wait_until(lambda: server.held() and journaled(runs) >= 100 or proc.poll() is not None,
                   "the first unit journaled and the second held")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        proc.kill()
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
        server.gate.set()
        wait_until(server.drained, "the held request to land")
        resumed = subprocess.run(
            [sys.executable, "-m", "instantly_cli", "campaigns", "detach", "--resume", "--yes",
             "-o", "jsonl"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        assert "targets left: 50 of 150" in resumed.stderr
        rows = [json.loads(x) for x in resumed.stdout.splitlines() if x.startswith("{")]
        assert {r["email"] for r in rows} == set(targets[100:])  # exactly the rest
        assert {r["result"] for r in rows} <= {"detached", "unchanged"}
        assert kill_store.get_campaign(ENTERPRISE)["email_list"] == kept  # only the named left
    finally:
        server.gate.set()
        server.stop()
