"""``--sandbox`` in-process and the ``instantly sandbox`` commands (no server started here)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from instantly_cli import settings
from instantly_cli.sandbox.store import Store

Cli = Callable[..., Result]


def test_global_sandbox_needs_no_key_and_keeps_state_in_data_dir(cli: Cli, isolated: Path) -> None:
    result = cli(["--sandbox", "accounts", "list", "--all", "-o", "jsonl"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 120
    # The banner is for a terminal only (tests/test_daily.py); piped, stderr stays empty.
    assert result.stderr == ""
    state = settings.sandbox_state_path()
    assert state == isolated / "data" / "sandbox.sqlite3" and state.exists()
    assert not (isolated / "config" / "config.toml").exists()


def test_env_flag_works_like_the_option(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSTANTLY_SANDBOX", "1")
    result = cli(["accounts", "get", "ops+eu@acme-outreach.com", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["email"] == "ops+eu@acme-outreach.com"


def test_sandbox_ignores_a_configured_real_key_and_url(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing may leave the machine: an unreachable base URL proves no request went out.
    monkeypatch.setenv("INSTANTLY_API_KEY", "real-key-should-not-matter")
    monkeypatch.setenv("INSTANTLY_BASE_URL", "http://127.0.0.1:9")
    result = cli(["--sandbox", "accounts", "list", "--limit", "2", "--json"])
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 2


def test_reset_reseeds_and_sandbox_commands_see_it(cli: Cli) -> None:
    first = cli(["sandbox", "reset", "--accounts", "7"], catch_exceptions=False)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == ""
    assert "7 accounts" in first.stderr and str(settings.sandbox_state_path()) in first.stderr
    listed = cli(["--sandbox", "accounts", "list", "--all", "-o", "jsonl"])
    assert len(listed.stdout.splitlines()) == 7
    again = cli(["sandbox", "reset"])
    assert again.exit_code == 0 and "120 accounts" in again.stderr
    listed = cli(["--sandbox", "accounts", "list", "--all", "-o", "jsonl"])
    assert len(listed.stdout.splitlines()) == 120


def test_reset_with_explicit_state_file(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "nested" / "demo.sqlite3"
    result = cli(["sandbox", "reset", "--state", str(path), "--accounts", "3"])
    assert result.exit_code == 0, result.stderr
    store = Store(str(path))
    try:
        assert store.count_accounts() == 3
    finally:
        store.close()
    assert not settings.sandbox_state_path().exists()


def test_reset_on_a_broken_state_file_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "broken.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    result = cli(["sandbox", "reset", "--state", str(path)])
    assert result.exit_code == 1
    assert str(path) in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--port", "70000"], "--port"),
        (["--port", "-1"], "--port"),
        (["--fail-rate", "1.5"], "--fail-rate"),
        (["--fail-rate", "-0.1"], "--fail-rate"),
        (["--latency", "-5"], "--latency"),
        (["--accounts", "0"], "--accounts"),
        (["--accounts", "1000001"], "--accounts"),
        (["--rps", "0"], "--rps"),
        (["--api-key", " "], "--api-key"),
    ],
)
def test_serve_validates_options_before_doing_anything(
    cli: Cli, args: list[str], needle: str
) -> None:
    result = cli(["sandbox", "serve", *args])
    assert result.exit_code == 2
    assert needle in result.stderr
    assert not settings.sandbox_state_path().exists()


def test_reset_validates_accounts(cli: Cli) -> None:
    result = cli(["sandbox", "reset", "--accounts", "-3"])
    assert result.exit_code == 2 and "--accounts" in result.stderr


def test_serve_on_a_busy_port_is_a_clear_error(cli: Cli) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli(["sandbox", "serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


def test_reset_builds_the_agency_or_the_single_layout(cli: Cli, tmp_path: Path) -> None:
    from instantly_cli.sandbox.seed import DEFAULT_WORKSPACE_ID, SUB_WORKSPACES

    path = tmp_path / "agency.sqlite3"
    result = cli(
        [
            "sandbox",
            "reset",
            "--state",
            str(path),
            "--accounts",
            "4",
            "--sub-accounts",
            "2",
            "--extra-campaigns",
            "5",
        ]
    )
    assert result.exit_code == 0, result.stderr
    store = Store(str(path))
    try:
        assert store.count_accounts(DEFAULT_WORKSPACE_ID) == 4
        assert len(store.list_campaigns()[0]) == 21
        assert [store.count_accounts(ws[0]) for ws in SUB_WORKSPACES] == [2] * 5
        members, _ = store.group_members(DEFAULT_WORKSPACE_ID)
        assert sorted(m["status"] for m in members) == [
            "accepted",
            "accepted",
            "accepted",
            "pending",
            "rejected",
        ]
    finally:
        store.close()
    single = cli(["sandbox", "reset", "--state", str(path), "--single-workspace"])
    assert single.exit_code == 0, single.stderr
    store = Store(str(path))
    try:
        assert store.group_members(DEFAULT_WORKSPACE_ID)[0] == []
        assert not store.may_act_as(SUB_WORKSPACES[0][0])
    finally:
        store.close()
    bad = cli(["sandbox", "reset", "--state", str(path), "--sub-accounts", "-1"])
    assert bad.exit_code == 2 and "--sub-accounts" in bad.stderr
    bad = cli(["sandbox", "reset", "--state", str(path), "--extra-campaigns", "10001"])
    assert bad.exit_code == 2 and "--extra-campaigns" in bad.stderr


def test_serve_refuses_an_unknown_forbid_resource(cli: Cli) -> None:
    result = cli(["sandbox", "serve", "--forbid", "audit-log"])
    assert result.exit_code == 2
    assert "--forbid" in result.stderr and "audit-logs" in result.stderr
    assert not settings.sandbox_state_path().exists()
