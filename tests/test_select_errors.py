"""Selecting what the summary shows: --error-code, --error, --not-tag, and each error group's
`accounts list` command (running it selects exactly that group)."""

from __future__ import annotations

import io
import json
import shlex
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import Result

from instantly_cli.context import Runtime
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import AccountQuery, Store
from instantly_cli.services.accounts.summary import error_reason
from instantly_cli.terminal import Terminal

Cli = Callable[..., Result]
ERROR_STATUSES = (-1, -2, -3)


def every(store: Store, **query: Any) -> list[dict[str, Any]]:
    items, _ = store.list_accounts(AccountQuery(limit=1_000_000, **query))
    return items


def emails(result: Result) -> set[str]:
    assert result.exit_code == 0, result.stderr
    return {json.loads(line)["email"] for line in result.stdout.splitlines()}


def in_error(store: Store) -> list[dict[str, Any]]:
    return [a for a in every(store) if a["status"] in ERROR_STATUSES]


def test_error_code_selects_accounts_with_that_code(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    expected = {a["email"] for a in in_error(store) if a["status_message"]["code"] == "EAUTH"}
    assert expected
    got = emails(cli(["accounts", "list", "--error-code", "eauth", "-o", "jsonl"]))
    assert got == expected
    both = emails(cli(["accounts", "list", "--error-code", "EAUTH,ETIMEDOUT", "-o", "jsonl"]))
    assert both == {a["email"] for a in in_error(store)
                    if a["status_message"]["code"] in ("EAUTH", "ETIMEDOUT")}


def test_error_text_matches_the_message_ignoring_case(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    text = "username and password NOT accepted"
    expected = {a["email"] for a in in_error(store)
                if text.casefold() in " ".join(a["status_message"]["e_message"].split()).casefold()}
    assert expected
    got = emails(cli(["accounts", "list", "--error", text, "-o", "jsonl"]))
    assert got == expected
    # An IP as sent matches the raw message; the summary's placeholder matches too.
    spamhaus = [a for a in in_error(store) if "Spamhaus" in a["status_message"]["e_message"]]
    ip = spamhaus[0]["status_message"]["e_message"].split("[")[1].split("]")[0]
    assert spamhaus[0]["email"] in emails(cli(["accounts", "list", "--error", ip, "-o", "jsonl"]))
    placeholder = emails(cli(["accounts", "list", "--error", "client host [<ip>]", "-o", "jsonl"]))
    assert placeholder == {a["email"] for a in spamhaus}


def test_error_filters_combine_with_and(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    got = emails(cli(["accounts", "list", "--error-code", "ETIMEDOUT", "--error", "535",
                      "-o", "jsonl"]))
    assert got == set()


def test_empty_error_value_is_a_usage_error(cli: Cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "list", "--error", "  "])
    assert result.exit_code == 2
    assert "--error needs a value" in result.stderr
    assert not sandbox.requests


def test_not_tag_excludes_the_tag_and_keeps_the_objects_as_listed(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    tags, _ = store.list_tags()
    client_a = next(str(t["id"]) for t in tags if t["label"] == "Client A")
    tagged = {a["email"] for a in every(store, tag_ids=[client_a])}
    assert tagged
    result = cli(["accounts", "list", "--not-tag", "client a", "-o", "jsonl"])
    assert emails(result) == {a["email"] for a in every(store)} - tagged
    assert all("tags" not in json.loads(line) for line in result.stdout.splitlines())
    with_tags = cli(["accounts", "list", "--not-tag", "Client A", "--include-tags", "-o", "jsonl"])
    rows = [json.loads(line) for line in with_tags.stdout.splitlines()]
    assert rows and all("tags" in r for r in rows)


def test_summary_takes_the_new_filters(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    result = cli(["accounts", "summary", "--error-code", "EAUTH", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    expected = [a for a in in_error(store) if a["status_message"]["code"] == "EAUTH"]
    assert doc["total"] == len(expected) == doc["errors"]["count"]


def _groups(store: Store, accounts: list[dict[str, Any]]) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    for a in accounts:
        if a["status"] in ERROR_STATUSES:
            groups.setdefault(error_reason(a.get("status_message"))[0], set()).add(a["email"])
    return groups


def _run_printed(cli: Cli, command: str) -> set[str]:
    words = shlex.split(command)
    assert words[:1] == ["instantly"] and "--sandbox" not in words
    return emails(cli([*words[1:], "-o", "jsonl"]))


@pytest.mark.parametrize(
    "extra", [[], ["--provider", "google,microsoft"], ["--not-tag", "Client B"]]
)
def test_each_error_group_prints_the_command_that_selects_it(
    cli: Cli, sandbox: SandboxApp, store: Store, extra: list[str]
) -> None:
    result = cli(["accounts", "summary", *extra, "--json"])
    assert result.exit_code == 0, result.stderr
    reasons = json.loads(result.stdout)["errors"]["reasons"]
    universe = emails(cli(["accounts", "list", *extra, "-o", "jsonl"]))
    expected = _groups(store, [a for a in every(store) if a["email"] in universe])
    assert len(reasons) == len(expected) >= 2
    for row in reasons:
        assert _run_printed(cli, row["list_command"]) == expected[row["reason"]], row
        for word in extra:
            assert word in shlex.split(row["list_command"])


def test_the_dashboard_prints_the_commands_in_full(
    cli: Cli, sandbox: SandboxApp, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    screen = io.StringIO()
    runtime.terminal = Terminal(stdout=screen, stdout_isatty=True)
    result = cli(["accounts", "summary"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    commands = [line.split("] ", 1)[1] for line in screen.getvalue().splitlines()
                if line.startswith("[") and "accounts list" in line]
    assert len(commands) >= 2
    runtime.terminal = None  # the printed commands are then run into a pipe
    for command in commands:
        assert _run_printed(cli, command)
