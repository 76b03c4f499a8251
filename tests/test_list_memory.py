"""The pager and the concurrent lister keep their memory bounded, however long the walk."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

import httpx
import pytest

from instantly_cli.client import InstantlyClient
from instantly_cli.errors import InvalidResponseError, NotFoundError
from instantly_cli.paging import (
    HISTORY_BITS,
    OLD_ITEMS_TO_STOP,
    RECENT_CURSORS,
    RECENT_KEYS,
    SeenKeys,
)
from instantly_cli.ratelimit import RateLimiter
from instantly_cli.services.listing import ParallelLister
from tests.conftest import TEST_KEY

PER_PAGE = 100


def client_over(handler: Callable[[httpx.Request], httpx.Response]) -> InstantlyClient:
    return InstantlyClient(
        api_key=TEST_KEY, base_url="http://mock.test", transport=httpx.MockTransport(handler),
        limiter=RateLimiter(100), sleep=lambda s: None, backoff_base=0.001,
    )


def page_number(request: httpx.Request) -> int:
    cursor = request.url.params.get("starting_after")
    return 0 if cursor is None else int(cursor.removeprefix("c")) + 1


def accounts(page: int) -> list[dict[str, object]]:
    return [{"email": f"user{page * PER_PAGE + i}@example.com"} for i in range(PER_PAGE)]


class Server:
    """A cursor API: ``items(n)`` answers the n-th request, with a fresh cursor every time."""

    def __init__(self, items: Callable[[int], list[dict[str, object]]], pages: int | None = None):
        self.items, self.pages = items, pages
        self.requests = 0
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests += 1
        n = page_number(request)
        body: dict[str, object] = {"items": self.items(n)}
        if self.pages is None or n + 1 < self.pages:
            body["next_starting_after"] = f"c{n}"
        return httpx.Response(200, json=body)


def test_a_long_walk_lists_everything_once_in_bounded_memory() -> None:
    pages = 3 * RECENT_KEYS // PER_PAGE + 5
    server = Server(accounts, pages=pages)
    with client_over(server) as client:
        pager = client.list_accounts({})
        listed = [item["email"] for item in pager.items()]
    assert len(listed) == len(set(listed)) == pages * PER_PAGE
    assert pager.anomaly is None
    # The exact window holds at most one page more than RECENT_KEYS; the rest is a fixed filter.
    assert len(pager.seen) <= RECENT_KEYS + PER_PAGE
    assert pager.seen.history_bytes == HISTORY_BITS // 8
    assert len(pager.cursors) <= RECENT_CURSORS


def test_a_short_walk_never_makes_the_history_filter() -> None:
    with client_over(Server(accounts, pages=3)) as client:
        pager = client.list_accounts({})
        assert len(list(pager.items())) == 3 * PER_PAGE
    assert pager.seen.history_bytes == 0


def test_repeats_at_page_boundaries_are_dropped() -> None:
    # Every page starts with the last account of the page before (an inclusive cursor).
    def overlapping(n: int) -> list[dict[str, object]]:
        return ([accounts(n - 1)[-1]] if n else []) + accounts(n)

    with client_over(Server(overlapping, pages=40)) as client:
        listed = [item["email"] for item in client.list_accounts({}).items()]
    assert listed == [a["email"] for n in range(40) for a in accounts(n)]


def test_a_loop_longer_than_the_exact_window_still_ends() -> None:
    """Fresh cursors forever over a round of pages too long for the exact window."""
    lap = RECENT_KEYS // PER_PAGE + 15
    # An empty page after ten laps ends the walk if the pager failed to: the test fails, not hangs.
    server = Server(lambda n: accounts(n % lap) if n < 10 * lap else [])
    with client_over(server) as client:
        pager = client.list_accounts({})
        listed = [item["email"] for item in pager.items()]
    assert listed == [a["email"] for n in range(lap) for a in accounts(n)]  # each once
    assert pager.anomaly and "listed long before" in pager.anomaly
    assert server.requests <= lap + OLD_ITEMS_TO_STOP // PER_PAGE + 1  # it did not loop


def test_one_page_that_looks_old_is_listed_when_new_pages_follow() -> None:
    """The history filter can mistake new accounts for old ones: it never drops them."""
    repeat_at = RECENT_KEYS // PER_PAGE + 10

    def once_repeating(n: int) -> list[dict[str, object]]:
        return accounts(0) if n == repeat_at else accounts(n)

    with client_over(Server(once_repeating, pages=repeat_at + 5)) as client:
        pager = client.list_accounts({})
        listed = [item["email"] for item in pager.items()]
    assert pager.anomaly is None
    every = [a["email"] for n in range(repeat_at + 5) if n != repeat_at for a in accounts(n)]
    assert set(listed) == set(every)
    # The page that looked old came out in its place, not at the end.
    assert listed[repeat_at * PER_PAGE] == accounts(0)[0]["email"]


def test_seen_keys_drops_only_what_its_exact_window_holds() -> None:
    seen = SeenKeys(recent=10, history_bits=1 << 10)
    first = [{"email": f"a{i}@x.io"} for i in range(10)]
    assert seen.admit(first) == (first, False)
    assert seen.admit([{"email": "A0@X.IO"}, {"email": "b@x.io"}, {"email": "b@x.io"}]) == (
        [{"email": "b@x.io"}],
        False,
    )
    # a0 left the window for the filter: listed again, and flagged as looking old.
    fresh, old = seen.admit([{"email": "a0@x.io"}])
    assert fresh == [{"email": "a0@x.io"}] and old
    assert len(seen) <= 10 + 1
    with pytest.raises(ValueError):
        SeenKeys(history_bits=1000)


def test_answers_leave_nothing_for_the_garbage_collector() -> None:
    """httpx binds a response and its stream in a cycle; the client breaks it, so a page kept
    waiting does not linger (with its request and connection state) until a full collection."""
    with client_over(Server(accounts, pages=1)) as client:
        client.request("GET", "/api/v2/accounts")  # warm up: the pool, the first thread
        gc.collect()
        gc.disable()
        try:
            for _ in range(5):
                client.accounts_page({})
                client.accounts_page_later({})()
            gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept in gc.garbage
            gc.collect()
            left = [o for o in gc.garbage if isinstance(o, httpx.Response | httpx.Request)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert left == []


def test_a_page_fetched_later_is_parsed_only_when_asked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("skip") == "1":
            return httpx.Response(404, json={"statusCode": 404, "message": "no such page"})
        return httpx.Response(200, content=b"not json", headers={"Content-Type": "text/plain"})

    with client_over(handler) as client:
        with pytest.raises(NotFoundError):  # a status error is raised where it was fetched
            client.accounts_page_later({"skip": 1})
        parse = client.accounts_page_later({"skip": 2})  # the body is not read as JSON yet
        with pytest.raises(InvalidResponseError):
            parse()


def test_the_concurrent_lister_parses_pages_in_the_thread_that_reads_them() -> None:
    """Objects made by a worker and freed by the reader fragment glibc's per-thread arenas."""
    total = 1234

    def handler(request: httpx.Request) -> httpx.Response:
        skip = int(request.url.params.get("skip", 0))
        items = [
            {"email": f"u{i:05d}@x.io", "timestamp_created": f"2026-01-01T00:00:{i:05d}"}
            for i in range(skip, min(total, skip + PER_PAGE))
        ]
        return httpx.Response(200, json={"items": items})

    parsed_in: set[int] = set()
    with client_over(handler) as client:
        fetch = client.accounts_page_later

        def spy(params: dict[str, object]) -> Callable[[], object]:
            parse = fetch(params)

            def parse_here() -> object:
                parsed_in.add(threading.get_ident())
                return parse()

            return parse_here

        client.accounts_page_later = spy  # type: ignore[method-assign]
        lister = ParallelLister(client, workers=4)
        listed = [item["email"] for page in lister for item in page]
    assert listed == [f"u{i:05d}@x.io" for i in range(total)]
    assert lister.requests > 4 and parsed_in == {threading.get_ident()}
