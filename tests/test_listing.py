"""The concurrent lister: every account exactly once, in order, while the workspace changes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from instantly_cli.client import InstantlyClient
from instantly_cli.ratelimit import RateLimiter
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import Store
from instantly_cli.services.accounts.listing import PAGE, STEP, ParallelLister

KEY = "listing-key-8765"
TOTAL = 1234


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store(":memory:")
    s.reset(TOTAL)
    yield s
    s.close()


class Hooked:
    """The sandbox app, calling ``hook(n, query)`` before answering the n-th account listing."""

    def __init__(self, app: SandboxApp, hook: Callable[[int, dict[str, list[str]]], None]):
        self.app, self.hook = app, hook
        self.listings: list[dict[str, list[str]]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/api/v2/accounts" and environ["REQUEST_METHOD"] == "GET":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            with self.lock:
                self.listings.append(query)
                n = len(self.listings)
            self.hook(n, query)
        return self.app(environ, start_response)


def client_for(wsgi: Any) -> InstantlyClient:
    return InstantlyClient(
        api_key=KEY, base_url="http://sandbox.invalid", transport=httpx.WSGITransport(app=wsgi),
        limiter=RateLimiter(100), sleep=lambda s: None, backoff_base=0.001,
    )


def emails_in_order(store: Store) -> list[str]:
    """Every email, oldest first (the lister's promised order)."""
    with store._lock:
        rows = store._conn.execute("SELECT email FROM accounts ORDER BY ts, email").fetchall()
    return [r[0] for r in rows]


def create_account(store: Store, n: int) -> str:
    """Create an account now, as the API's create does (the newest timestamp)."""
    email = f"created-during-walk-{n}@acme.io"
    store.create_account(
        {
            "email": email,
            "first_name": "New",
            "last_name": f"Account {n}",
            "provider_code": 1,
            "imap_username": email,
            "imap_password": "x",
            "imap_host": "imap.acme.io",
            "imap_port": 993,
            "smtp_username": email,
            "smtp_password": "x",
            "smtp_host": "smtp.acme.io",
            "smtp_port": 587,
        }
    )
    return email


def delete_account(store: Store, email: str) -> None:
    store.delete_account(email)


def walk(lister: ParallelLister) -> list[str]:
    return [item["email"] for page in lister for item in page]


def test_lists_every_account_once_in_order_while_accounts_are_created(store: Store) -> None:
    created: list[str] = []

    def hook(n: int, query: dict[str, list[str]]) -> None:
        if n in (2, 5, 9):  # mid-walk, while other pages are in flight
            created.extend(create_account(store, 10_000 + n * 10 + k) for k in range(3))

    app = Hooked(SandboxApp(store, api_key=KEY, record=False), hook)
    with client_for(app) as client:
        lister = ParallelLister(client, workers=4)
        got = walk(lister)
    assert lister.mode == "offset"
    assert len(created) == 9
    assert got == emails_in_order(store)  # each exactly once, oldest first, new ones at the end
    assert len(got) == len(set(got)) == TOTAL + 9
    sent = app.listings[0]
    assert sent["sort_by"] == ["timestamp_created"] and sent["sort_order"] == ["asc"]
    assert sent["skip"] == ["0"] and sent["limit"] == [str(PAGE)]


def test_an_account_deleted_before_the_offset_makes_no_other_account_go_missing(
    store: Store,
) -> None:
    order = emails_in_order(store)
    doomed = order[:6]  # all on the first page: every later offset moves back by six

    def hook(n: int, query: dict[str, list[str]]) -> None:
        if n == 4:
            for email in doomed:
                delete_account(store, email)

    app = Hooked(SandboxApp(store, api_key=KEY, record=False), hook)
    with client_for(app) as client:
        lister = ParallelLister(client, workers=3)
        got = walk(lister)
    survivors = [e for e in order if e not in doomed]
    assert [e for e in got if e not in doomed] == survivors  # none skipped, in order
    assert len(got) == len(set(got))  # none twice
    assert lister.backups >= 1 and lister.anomaly is None


def test_filters_travel_with_every_page_and_pages_overlap_by_one(store: Store) -> None:
    app = Hooked(SandboxApp(store, api_key=KEY, record=False), lambda n, q: None)
    with client_for(app) as client:
        got = walk(ParallelLister(client, {"status": 1, "search": None}, workers=2))
    assert got and all(store.get_account(e)["status"] == 1 for e in got)  # type: ignore[index]
    assert all(q["status"] == ["1"] and "search" not in q for q in app.listings)
    skips = sorted(int(q["skip"][0]) for q in app.listings)
    assert skips[:3] == [0, STEP, 2 * STEP]


def test_memory_is_bounded_by_the_window(store: Store) -> None:
    app = Hooked(SandboxApp(store, api_key=KEY, record=False), lambda n, q: None)
    with client_for(app) as client:
        lister = ParallelLister(client, workers=2, window=3)
        pages = iter(lister)
        next(pages)
        next(pages)
        # The first page, then at most a window of pages ahead of the one being read.
        assert len(app.listings) <= 1 + 3
        pages.close()


def test_falls_back_to_the_cursor_walk_when_skip_is_refused(store: Store) -> None:
    sandbox = SandboxApp(store, api_key=KEY, record=False)

    def refusing(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if "skip=" in environ.get("QUERY_STRING", ""):
            body = json.dumps(
                {"statusCode": 400, "error": "Bad Request",
                 "message": "querystring must NOT have additional properties"}
            ).encode()
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [body]
        return sandbox(environ, start_response)

    app = Hooked(refusing, lambda n, q: None)  # type: ignore[arg-type]
    with client_for(app) as client:
        lister = ParallelLister(client, workers=4)
        got = walk(lister)
    assert lister.mode == "cursor"
    assert sorted(got) == sorted(emails_in_order(store)) and len(got) == TOTAL
    assert "skip" in app.listings[0]
    assert all("skip" not in q and "sort_by" not in q for q in app.listings[1:])


def test_other_errors_are_not_mistaken_for_a_refusal(store: Store) -> None:
    def broken(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("401 Unauthorized", [("Content-Type", "application/json")])
        return [b'{"statusCode": 401, "error": "Unauthorized", "message": "bad key"}']

    from instantly_cli.errors import CliError

    with client_for(broken) as client, pytest.raises(CliError) as caught:
        walk(ParallelLister(client))
    assert caught.value.status == 401


def rewrite_query(store: Store, drop: tuple[str, ...]) -> Callable[..., Iterable[bytes]]:
    """The sandbox behind an API that silently ignores some query parameters."""
    sandbox = SandboxApp(store, api_key=KEY, record=False)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING", "")
        kept = "&".join(p for p in query.split("&") if p.split("=")[0] not in drop)
        return sandbox({**environ, "QUERY_STRING": kept}, start_response)

    return app


@pytest.mark.parametrize("ignored", [("skip",), ("sort_by", "sort_order")])
def test_an_api_ignoring_skip_or_sort_by_gets_the_cursor_walk(
    store: Store, ignored: tuple[str, ...]
) -> None:
    app = Hooked(rewrite_query(store, ignored), lambda n, q: None)  # type: ignore[arg-type]
    with client_for(app) as client:
        lister = ParallelLister(client, workers=4)
        got = walk(lister)
    assert lister.mode == "cursor"
    assert len(got) == len(set(got)) == TOTAL  # the first page is not listed twice
    assert set(got) == set(emails_in_order(store))


def test_parallel_lister_is_used_only_for_everything_unsorted(store: Store) -> None:
    from instantly_cli.paging import Pager
    from instantly_cli.services.accounts.listing import parallel_lister

    app = Hooked(SandboxApp(store, api_key=KEY, record=False), lambda n, q: None)
    with client_for(app) as client:
        assert isinstance(parallel_lister(client, {}, limit=None, offset=False), ParallelLister)
        for kwargs in ({"limit": 5, "offset": False}, {"limit": None, "offset": True}):
            assert isinstance(parallel_lister(client, {}, **kwargs), Pager)  # type: ignore[arg-type]
        cursor = {"starting_after": "x"}
        assert isinstance(parallel_lister(client, cursor, limit=None, offset=False), Pager)
        every = [i["email"] for p in parallel_lister(client, {}, limit=None, offset=False)
                 for i in p]
    assert every == emails_in_order(store)
