"""Invalid answers are one clear error, exit 1, in every command (issue 26, item 5).

A loopback server answers listings whose ``items`` hold a ``null`` (or a number), and objects
holding ``NaN`` / ``Infinity`` (which Python's json accepts and would re-emit with ``-o json``).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from typer.testing import Result

from tests.conftest import TEST_KEY
from tests.hostile import HostileServer, Request, answer

EMAIL = "ops@acme.io"
ACCOUNT = {"email": EMAIL, "status": 1, "warmup_status": 1, "provider_code": 2,
           "timestamp_created": "2026-01-01T00:00:00.000Z"}


def server_with(items_text: str, account_text: str) -> Callable[..., None]:
    def respond(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
        path = request.target.split("?")[0]
        if path.startswith("/api/v2/accounts/"):
            answer(conn, 200, account_text.encode())
        elif path in ("/api/v2/accounts", "/api/v2/custom-tags", "/api/v2/custom-tag-mappings",
                      "/api/v2/campaigns"):
            answer(conn, 200, f'{{"items": {items_text}, "next_starting_after": null}}'.encode())
        else:
            answer(conn, 200, b"{}")

    return respond


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], HostileServer]]:
    started: list[HostileServer] = []

    def start(items_text: str, account_text: str = json.dumps(ACCOUNT)) -> HostileServer:
        srv = HostileServer(server_with(items_text, account_text)).start()
        started.append(srv)
        monkeypatch.setenv("INSTANTLY_BASE_URL", srv.url)
        monkeypatch.setenv("INSTANTLY_API_KEY", TEST_KEY)
        return srv

    yield start
    for srv in started:
        srv.stop()


COMMANDS = [
    ["accounts", "list"],
    ["accounts", "list", "--all"],
    ["accounts", "list", "--all", "-o", "json"],
    ["accounts", "summary"],
    ["tags", "list"],
    ["tags", "map"],
]


def clear_failure(result: Result) -> None:
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert "Internal error" not in result.stderr
    assert "Traceback" not in result.stderr
    if result.stderr.startswith("{"):  # -o json: the error as JSON
        message = json.loads(result.stderr)["error"]["message"]
    else:
        message = result.stderr.removeprefix("Error: ")
    assert message.startswith("The API answered"), result.stderr


@pytest.mark.parametrize("items", [f"[null, {json.dumps(ACCOUNT)}]", "[1]", '["x"]'])
@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_listing_with_items_that_are_not_objects(
    serve: Callable[[str], HostileServer], cli: Callable[..., Result], args: list[str],
    items: str,
) -> None:
    serve(items)
    result = cli(args)
    clear_failure(result)
    assert "not an object" in result.stderr


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(
    serve: Callable[[str, str], HostileServer], cli: Callable[..., Result], constant: str
) -> None:
    account = json.dumps(ACCOUNT)[:-1] + f', "stat_warmup_score": {constant}}}'
    serve(f"[{account}]", account)
    for args in (["accounts", "get", EMAIL, "-o", "json"], ["accounts", "list", "-o", "json"],
                 ["accounts", "list", "--all"]):
        result = cli(args)
        clear_failure(result)
        assert constant.lstrip("-") in result.stderr
        assert constant not in result.stdout
