"""Listing 2,000 accounts through a misbehaving API: no duplicates, no gaps, no traceback.

The faults hit the 7th of 20 page requests: it is the only one sent with the 6th page's cursor,
so the fault is scripted to match that cursor (the server decodes the query before matching).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import Result

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import AccountQuery, Store

KEY = "list-faults-key-4321"
TOTAL = 2000
PAGE = 100
FAULTY_PAGE = 7


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store(str(tmp_path_factory.mktemp("list-faults") / "state.sqlite3"))
    store.reset(TOTAL)
    yield store
    store.close()


@pytest.fixture(scope="module")
def pages(big_store: Store) -> list[tuple[str | None, list[str]]]:
    """(cursor sent for the page, emails on it) for every page, straight from the store."""
    out: list[tuple[str | None, list[str]]] = []
    cursor: str | None = None
    while True:
        items, nxt = big_store.list_accounts(AccountQuery(limit=PAGE, starting_after=cursor))
        if items:
            out.append((cursor, [i["email"] for i in items]))
        if not nxt or not items:
            return out
        cursor = nxt


@pytest.fixture
def server(big_store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    srv = SandboxServer(SandboxApp(big_store, api_key=KEY)).start()
    monkeypatch.setenv("INSTANTLY_BASE_URL", srv.url)
    monkeypatch.setenv("INSTANTLY_API_KEY", KEY)
    yield srv
    srv.stop()


def page_cursor(pages: list[tuple[str | None, list[str]]], number: int) -> str:
    cursor = pages[number - 1][0]
    assert cursor and "&" in cursor  # timestamp&email: travels as %26, matched decoded
    return cursor


def all_emails(pages: list[tuple[str | None, list[str]]]) -> list[str]:
    return [e for _, emails in pages for e in emails]


def listed(result: Result) -> list[str]:
    return [json.loads(line)["email"] for line in result.stdout.splitlines()]


def list_all(cli: Callable[..., Result], *extra: str) -> Result:
    # The cursor walk (its faults are scripted by cursor); see the last test for the offsets.
    return cli(["--verbose", "accounts", "list", "--all", "--no-parallel", "-o", "jsonl", *extra])


def test_the_fixture_has_20_pages(pages) -> None:
    assert len(pages) == TOTAL // PAGE and len(set(all_emails(pages))) == TOTAL


@pytest.mark.parametrize(
    ("kind", "count"),
    [("500", 1), ("502", 2), ("503", 4), ("429", 2), ("429-no-retry-after", 3), ("drop", 2)],
)
def test_fault_on_page_7_is_retried_without_duplicates_or_gaps(
    cli, server: SandboxServer, pages, kind: str, count: int
) -> None:
    server.inject(kind, count, path_contains=page_cursor(pages, FAULTY_PAGE), method="GET")
    result = list_all(cli)
    assert result.exit_code == 0, result.stderr
    assert listed(result) == all_emails(pages)  # same order, no duplicate, no gap
    if kind != "drop":  # (a dropped answer is counted as the 200 the app produced)
        assert server.status_counts[int(kind[:3])] == count
    # --verbose: one "retry N" line per repeated request, and only the faulty page was repeated.
    retries = [line for line in result.stderr.splitlines() if " retry " in line]
    assert len(retries) == count, result.stderr
    assert "Traceback" not in result.stderr and "Error" not in result.stderr


def test_slow_page_times_out_and_is_retried(
    cli, server: SandboxServer, pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INSTANTLY_TIMEOUT", "0.5")
    server.slow_seconds = 1.5
    server.inject("slow", 1, path_contains=page_cursor(pages, FAULTY_PAGE), method="GET")
    result = list_all(cli)
    assert result.exit_code == 0, result.stderr
    assert listed(result) == all_emails(pages)
    assert "timeout" in result.stderr  # the --verbose line of the abandoned attempt
    # (The abandoned request is still waiting in the server: the fixture's stop() ends it.)


@pytest.mark.parametrize("kind", ["invalid-json", "html"])
def test_persistent_garbage_from_a_proxy_is_a_clear_error(
    cli, server: SandboxServer, pages, kind: str
) -> None:
    server.inject(kind, 10, path_contains=page_cursor(pages, FAULTY_PAGE), method="GET")
    result = cli(["accounts", "list", "--all", "--no-parallel", "-o", "jsonl"])
    assert result.exit_code == 1, result.stderr
    # Whatever came before the bad page is there, whole and in order; nothing after it.
    assert listed(result) == all_emails(pages)[: (FAULTY_PAGE - 1) * PAGE]
    assert "Traceback" not in result.stderr
    err = json.loads(result.stderr.strip().splitlines()[-1])["error"]
    assert err["code"] in ("invalid_response", "server_error")
    assert (
        ("not JSON" in err["message"])
        if kind == "invalid-json"
        else ("text/html" in err["message"])
    )
    assert err["hint"]
    text = cli(["accounts", "list", "--all", "--no-parallel", "-o", "tsv"])
    assert text.exit_code == 1
    lines = [line for line in text.stderr.splitlines() if line.strip()]
    assert lines[-2].startswith("Error: ") and lines[-1].startswith("Hint: ")
    assert "Traceback" not in text.stderr


# -- a server whose pagination misbehaves (mock transport: the sandbox pages correctly) --------


def account(n: int) -> dict[str, object]:
    return {"email": f"user{n}@example.com", "status": 1}


def repeating_cursor(request: httpx.Request) -> httpx.Response:
    cursor = request.url.params.get("starting_after")
    if cursor is None:
        return httpx.Response(
            200, json={"items": [account(1), account(2)], "next_starting_after": "c1"}
        )
    if cursor == "c1":
        return httpx.Response(200, json={"items": [account(3)], "next_starting_after": "c2"})
    # Page 3 sends the client back to c1: a loop if followed.
    return httpx.Response(200, json={"items": [account(4)], "next_starting_after": "c1"})


def empty_page_with_cursor(request: httpx.Request) -> httpx.Response:
    cursor = request.url.params.get("starting_after")
    if cursor is None:
        return httpx.Response(200, json={"items": [account(1)], "next_starting_after": "c1"})
    return httpx.Response(200, json={"items": [], "next_starting_after": "c2"})


def same_cursor_again(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"items": [account(9)], "next_starting_after": "stuck"})


@pytest.mark.parametrize(
    ("handler", "expected", "needle"),
    [
        (repeating_cursor, [1, 2, 3, 4], "repeated the cursor 'c1'"),
        (empty_page_with_cursor, [1], "empty page with a cursor"),
        (same_cursor_again, [9], "a page of items already seen"),
    ],
)
def test_pagination_anomalies_end_with_a_warning(cli, mock_api, handler, expected, needle):
    seen = mock_api(handler)
    result = cli(["accounts", "list", "--all", "--no-parallel", "-o", "jsonl"])
    assert result.exit_code == 0, result.stderr
    assert listed(result) == [f"user{n}@example.com" for n in expected]
    assert "Warning: Listing ended early" in result.stderr and needle in result.stderr
    assert len(seen) <= len(expected) + 1  # it stopped; it did not loop
    strict = cli(["accounts", "list", "--all", "--no-parallel", "-o", "jsonl", "--strict"])
    assert strict.exit_code == 1
    assert listed(strict) == listed(result)  # what was fetched is still printed
    assert needle in strict.stderr
    err = json.loads(strict.stderr.strip().splitlines()[-1])["error"]
    assert "--strict" in err["message"] and err["hint"]


def test_items_missing_from_a_page_is_a_clear_error(cli, mock_api) -> None:
    mock_api(lambda request: httpx.Response(200, json={"data": []}))
    result = cli(["accounts", "list", "--all"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "items" in result.stderr
    assert "Hint: " in result.stderr and "Traceback" not in result.stderr


def test_no_failure_file_is_written_by_a_listing(cli, server, pages, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    server.inject("503", 1, path_contains=page_cursor(pages, 3), method="GET")
    result = cli(["accounts", "list", "--limit", "350", "-o", "jsonl"])
    assert result.exit_code == 0
    assert listed(result) == all_emails(pages)[:350]
    assert "--starting-after" in result.stderr
    assert list(tmp_path.glob("instantly-failures-*")) == []


@pytest.mark.parametrize("kind", ["503", "429", "drop"])
def test_a_fault_on_an_offset_page_is_retried_without_duplicates_or_gaps(
    cli, server: SandboxServer, pages, kind: str
) -> None:
    server.inject(kind, 2, path_contains="skip=594", method="GET")
    result = cli(["accounts", "list", "--all", "-o", "jsonl"])
    assert result.exit_code == 0, result.stderr
    # The concurrent lister: oldest first, every account once.
    assert listed(result) == all_emails(pages)[::-1]
    assert server.status_counts[200] >= TOTAL // PAGE
