"""The pager and the concurrent lister keep their memory bounded, however long the walk."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

import httpx
import pytest

from instantly_cli.client import InstantlyClient
from instantly_cli.errors import InvalidResponseError, NotFoundError
from instantly_cli.paging import OLD_ITEMS_TO_STOP
from instantly_cli.ratelimit import RateLimiter
from instantly_cli.services.accounts.listing import ParallelLister
from tests.conftest import TEST_KEY

PER_PAGE = 100
# Longer than any window a pager could keep of its items: 1,000 accounts.
LONG = 1000


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


def test_a_long_walk_lists_everything_once_remembering_two_strings_a_page() -> None:
    pages = 3 * LONG // PER_PAGE + 5
    server = Server(accounts, pages=pages)
    with client_over(server) as client:
        pager = client.list_accounts({})
        listed = [item["email"] for item in pager.items()]
    assert len(listed) == len(set(listed)) == pages * PER_PAGE
    assert pager.anomaly is None
    # Nothing per item: the cursors followed and the key each page ended on.
    assert len(pager.cursors) == pages - 1
    assert len(pager.page_ends) == pages


def test_repeats_at_page_boundaries_are_dropped() -> None:
    # Every page starts with the last account of the page before (an inclusive cursor).
    def overlapping(n: int) -> list[dict[str, object]]:
        return ([accounts(n - 1)[-1]] if n else []) + accounts(n)

    with client_over(Server(overlapping, pages=40)) as client:
        listed = [item["email"] for item in client.list_accounts({}).items()]
    assert listed == [a["email"] for n in range(40) for a in accounts(n)]


def test_a_loop_longer_than_the_exact_window_still_ends() -> None:
    """Fresh cursors forever over a round of pages too long for the exact window."""
    lap = LONG // PER_PAGE + 15
    # An empty page after ten laps ends the walk if the pager failed to: the test fails, not hangs.
    server = Server(lambda n: accounts(n % lap) if n < 10 * lap else [])
    with client_over(server) as client:
        pager = client.list_accounts({})
        listed = [item["email"] for item in pager.items()]
    assert listed == [a["email"] for n in range(lap) for a in accounts(n)]  # each once
    assert pager.anomaly and "listed long before" in pager.anomaly
    assert server.requests <= lap + OLD_ITEMS_TO_STOP // PER_PAGE + 1  # it did not loop


def test_a_cursor_loop_of_any_length_ends_at_the_first_repeat() -> None:
    """Every cursor followed is kept: a loop of 150 pages ends when it closes, not later."""
    lap = 150

    def looping(request: httpx.Request) -> httpx.Response:
        n = page_number(request)
        # The last page's cursor leads back to the second page.
        cursor = f"c{n}" if n < lap - 1 else "c0"
        return httpx.Response(200, json={"items": accounts(n), "next_starting_after": cursor})

    requests: list[int] = []
    with client_over(lambda r: (requests.append(1), looping(r))[1]) as client:
        pager = client.list_accounts({})
        listed = [item["email"] for item in pager.items()]
    assert listed == [a["email"] for n in range(lap) for a in accounts(n)]
    assert pager.anomaly and "repeated the cursor" in pager.anomaly
    assert len(requests) == lap


def test_one_page_that_looks_old_is_listed_when_new_pages_follow() -> None:
    """One page answered twice (with a fresh cursor) is not a loop: it is listed in place."""
    repeat_at = LONG // PER_PAGE + 10

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


def test_answers_leave_nothing_for_the_garbage_collector() -> None:
    """httpx binds a response and its stream in a cycle; the client breaks it, so a page kept
    waiting does not linger (with its request and connection state) until a full collection."""
    with client_over(Server(accounts, pages=1)) as client:
        client.request("GET", "/api/v2/accounts")  # warm up: the pool, the first thread
        gc.collect()
        gc.disable()
        try:
            for _ in range(5):
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
