"""Escape sequences from the server never reach a terminal (issue 26, item 3), and CSV cells
that a spreadsheet would run as a formula are quoted (item 4).

A loopback server answers accounts and tags whose fields carry OSC 8 links, an OSC 0 window
title, ``ESC[2J``, SGR 8 (hidden text), a C1 CSI, and a right-to-left override; its error
messages carry the same. Every human format and every message shows them as ``\\x1b`` /
``\\u202e`` escapes; JSON keeps the data exact.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from typer.testing import Result

from instantly_cli.context import Runtime
from instantly_cli.terminal import Terminal
from tests.conftest import TEST_KEY
from tests.hostile import HostileServer, Request, answer

EVIL = (
    "Eve\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07"
    "\x1b]0;owned\x07\x1b[2J\x1b[8mhidden\x1b[0m\x9b31m\u202eRLO\x00"
)
# What a terminal acts on; none may appear in human output (NO_COLOR: the tool adds none).
ACTIVE = ("\x1b", "\x07", "\x9b", "\u202e", "\x00")
EMAIL = "eve@acme.io"
ACCOUNT = {
    "email": EMAIL,
    "first_name": EVIL,
    "last_name": "=HYPERLINK(\"https://evil.example\",\"x\")",
    "status": 1,
    "warmup_status": 1,
    "provider_code": 2,
    "daily_limit": -5,
    "sending_gap": 10,
    "stat_warmup_score": 90,
    "timestamp_created": "2026-01-01T00:00:00.000Z",
    "status_message": {"message": EVIL},
}
TAG = {"id": "0199a1b2-0000-7000-8000-000000000001", "label": EVIL, "description": "@SUM(1+1)",
       "timestamp_created": "2026-01-01T00:00:00.000Z", "organization_id": "o"}


def respond(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
    path = request.target.split("?")[0]
    if path == "/api/v2/accounts":
        body: Any = {"items": [ACCOUNT], "next_starting_after": None}
    elif path == f"/api/v2/accounts/{EMAIL}":
        body = ACCOUNT
    elif path == "/api/v2/custom-tags":
        body = {"items": [TAG], "next_starting_after": None}
    elif path == "/api/v2/custom-tag-mappings":
        body = {"items": [], "next_starting_after": None}
    else:
        answer(conn, 400, json.dumps({"statusCode": 400, "error": "Bad Request",
                                      "message": EVIL}).encode())
        return
    answer(conn, 200, json.dumps(body).encode())


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[HostileServer]:
    srv = HostileServer(respond).start()
    monkeypatch.setenv("INSTANTLY_BASE_URL", srv.url)
    monkeypatch.setenv("INSTANTLY_API_KEY", TEST_KEY)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "400")
    yield srv
    srv.stop()


def quiet(text: str) -> list[str]:
    return [c for c in ACTIVE if c in text]


@pytest.fixture
def on_terminal(runtime: Runtime) -> Callable[[], None]:
    def wire() -> None:
        runtime.terminal = Terminal(stdout_isatty=True, stderr_isatty=True)

    return wire


@pytest.mark.parametrize(
    ("args", "tty"),
    [
        (["accounts", "list", "--fields", "email,first_name,status_message.message"], True),
        (["accounts", "list", "--fields", "email,first_name", "-o", "tsv"], False),
        (["accounts", "list", "--fields", "email,first_name", "-o", "csv"], False),
        (["accounts", "list", "--all"], True),
        (["accounts", "get", EMAIL], True),
        (["accounts", "get", EMAIL, "-o", "tsv"], False),
        (["tags", "list"], True),
        (["tags", "list", "-o", "tsv"], False),
        (["tags", "list", "-o", "csv"], False),
    ],
)
def test_human_formats_escape_fields(
    server: HostileServer, cli: Callable[..., Result], on_terminal: Callable[[], None],
    args: list[str], tty: bool,
) -> None:
    if tty:
        on_terminal()
    result = cli(args)
    assert result.exit_code == 0, result.stderr
    assert quiet(result.stdout) == [], result.stdout
    assert quiet(result.stderr) == []
    if "first_name" in ",".join(args) or args[:2] == ["tags", "list"] or "get" in args:
        # The text is still there, readable: each control as an escape.
        assert "\\x1b]0;owned\\x07" in result.stdout
        assert "\\u202eRLO" in result.stdout


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_keeps_the_data_exact(
    server: HostileServer, cli: Callable[..., Result], fmt: str
) -> None:
    result = cli(["accounts", "list", "-o", fmt])
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    record = record[0] if isinstance(record, list) else record
    assert record["first_name"] == EVIL


def test_error_messages_from_the_server_are_escaped(
    server: HostileServer, cli: Callable[..., Result], on_terminal: Callable[[], None]
) -> None:
    on_terminal()
    result = cli(["api", "GET", "/api/v2/nothing-here"])
    assert result.exit_code != 0
    result = cli(["accounts", "update", EMAIL + "x", "--daily-limit", "5", "--yes"])
    assert quiet(result.stderr) == [], result.stderr
    result = cli(["accounts", "get", "missing@acme.io"])
    assert result.exit_code == 1
    assert quiet(result.stderr) == [], result.stderr
    assert "\\x1b]0;owned\\x07" in result.stderr


def test_csv_prefixes_formula_cells_but_not_numbers(
    server: HostileServer, cli: Callable[..., Result]
) -> None:
    result = cli(["accounts", "list", "-o", "csv", "--fields", "email,last_name,daily_limit"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["email", "last_name", "daily_limit"]
    assert rows[1][1] == "'=HYPERLINK(\"https://evil.example\",\"x\")"
    assert rows[1][2] == "-5"  # a number, not a formula: left as it is
    tags = cli(["tags", "list", "-o", "csv", "--fields", "label,description"])
    assert list(csv.reader(io.StringIO(tags.stdout)))[1][1] == "'@SUM(1+1)"
    # JSON and TSV are unchanged.
    tsv = cli(["accounts", "list", "-o", "tsv", "--fields", "last_name"])
    assert tsv.stdout.startswith("=HYPERLINK")
    raw = cli(["accounts", "list", "-o", "json"])
    assert json.loads(raw.stdout)[0]["last_name"].startswith("=")
