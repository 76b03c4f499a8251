"""Every account, fetched by several workers at once, streamed in order with bounded memory.

``GET /api/v2/accounts`` offers offset paging (``skip`` with ``sort_by``) besides the cursor. The
cursor walk is one request at a time (each page names the next); offsets let ``workers`` pages be
in flight together under the client's shared rate limiter, so 20,000 accounts take ~2 s at the
workspace's 100 requests/s instead of ~30 s at 150 ms per page.

Consistency, and how it is kept:

- The walk is ordered by ``timestamp_created`` ascending, so an account created during the walk
  lands at the end: it shifts no offset, and it is listed if it exists when the last page is read.
- Consecutive pages overlap by one account. A page that does not start with an account already
  listed means accounts before it were deleted mid-walk and offsets moved back; the walk backs up
  a page and reads again, so no account that exists for the whole walk is skipped.
- Duplicates (from the overlap, or a page re-read) are dropped by email. The order makes this
  cheap: only the emails that share the newest timestamp seen are remembered, not every email.
- Pages come back in any order but are emitted in offset order; at most ``window`` pages (of 100)
  are held, whatever the number of accounts. Workers only fetch; the consuming thread parses
  the JSON, so one thread makes and frees the objects (parsed in the workers, they fragmented
  glibc's per-thread arenas and memory grew with every page).
- How many pages are in flight follows Little's law: the limiter's rate x the latency observed
  (pacing sleeps excluded), with headroom, at most ``workers``; at 150 ms it is all 16.
- When the first page says one page at a time already reaches the rate (``prefer_cursor``, the
  caller's policy: :func:`instantly_cli.services.accounts.list.list_accounts`), pages in flight
  cannot be faster: one page is in flight at a time, unpaced, as with ``--no-parallel``, in the
  same order (so the order of ``--all`` never depends on latency). On a local server the latency
  is the server's own CPU, which pages in flight only fight over (and the pacing at the
  workspace's 100 requests/s would hold back a walk that runs at twice that). Near the line
  (within 3x), a second page is fetched the same way and the faster of the two decides: a first
  request may pay alone for a new connection.
- The pages in flight are paced by the client's limiter or, when the client has none, by
  ``limiter``, installed on the client for the concurrent part of the walk only.
- The first request says whether the API takes ``skip``/``sort_by``: a 400 there and the walk is
  the ordinary cursor walk (:class:`~instantly_cli.client.Pager`), newest first, one page a time.
  So does a first page that is not oldest first (``sort_by`` ignored), or a second page that
  starts where the first did (``skip`` ignored; the first page is not listed twice).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from instantly_cli.errors import CliError
from instantly_cli.ratelimit import LatencyGauge, workers_for

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.ratelimit import RateLimiter

# (rate, latency) -> whether to walk the cursor instead; by default never.
CursorPolicy = Callable[[float, float], bool]


def _never(rate: float, latency: float) -> bool:
    return False

PAGE = 100
# Pages overlap by one account, so a page can prove it continues the previous one.
STEP = PAGE - 1
DEFAULT_WORKERS = 16
# The client keeps 16 connections; more workers would only queue for them.
MAX_WORKERS = 16
# Back-ups allowed before the walk stops checking continuity (deletions that never stop).
MAX_BACKUPS = 20
# Full pages in a row with nothing new before the walk gives up (an API that ignores skip).
MAX_STALE_PAGES = 3
ORDER = {"sort_by": "timestamp_created", "sort_order": "asc"}


class ParallelLister:
    """Iterate pages of accounts (lists), like :class:`~instantly_cli.client.Pager`.

    ``mode`` is ``"offset"`` or ``"cursor"`` (the API refused offsets, or ``prefer_cursor``
    chose it after the first page: ``fast`` is then True); ``anomaly`` says
    when the walk could not keep its promise (the command warns); ``more`` is always False (it
    lists everything). ``requests`` counts the pages asked for.
    """

    def __init__(
        self,
        client: InstantlyClient,
        params: Mapping[str, Any] | None = None,
        *,
        workers: int = DEFAULT_WORKERS,
        window: int | None = None,
        limiter: RateLimiter | None = None,
        prefer_cursor: CursorPolicy = _never,
    ):
        self.client = client
        self.params = {k: v for k, v in (params or {}).items() if v is not None}
        for key in ("sort_by", "sort_order", "skip", "starting_after", "limit"):
            if key in self.params:
                raise ValueError(f"ParallelLister sets {key} itself")
        self.workers = max(1, min(workers, MAX_WORKERS))
        self.window = max(self.workers, window or 2 * self.workers)
        self.limiter = limiter
        self.prefer_cursor = prefer_cursor
        self.mode = "offset"
        self.fast = False
        # The first page's latency (seconds), which chose between the walks.
        self.probe: float | None = None
        self.anomaly: str | None = None
        self.more = False
        self.next_cursor: str | None = None
        self.requests = 0
        self.backups = 0
        self.gauge = LatencyGauge()
        self.last_latency = 0.0
        # The most pages that were in flight at once.
        self.peak_in_flight = 0
        # Dedupe state: the newest timestamp emitted and the emails emitted at it.
        self._last_ts = ""
        self._at_last: set[str] = set()

    def _page(self, skip: int) -> Callable[[], list[dict[str, Any]]]:
        """Fetch one page (in a worker); calling the result parses it (in the consumer)."""
        self.requests += 1
        limiter = self.client.limiter
        sent0, waited0 = limiter.thread_stats() if limiter is not None else (0, 0.0)
        began = time.monotonic()
        page = self.client.accounts_page_later(
            {**self.params, **ORDER, "limit": PAGE, "skip": skip}
        )
        elapsed = time.monotonic() - began
        sent1, waited1 = limiter.thread_stats() if limiter is not None else (1, 0.0)
        self.gauge.measure(elapsed, sent1 - sent0, waited1 - waited0)
        # This page's own latency (the probe pages are fetched one at a time).
        self.last_latency = max(0.0, elapsed - (waited1 - waited0)) / max(1, sent1 - sent0)
        return lambda: page()["items"]

    def ahead(self) -> int:
        """Pages to keep requested ahead of the one being emitted."""
        limiter = self.client.limiter
        latency = self.gauge.latency
        if limiter is None or latency is None:
            return self.window
        # Two more than in flight, so one slow page does not idle the others.
        return min(self.window, workers_for(limiter.rate, latency, cap=self.workers, floor=2) + 2)

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        try:
            first = self._page(0)()
        except CliError as err:
            if err.status != 400:
                raise
            # The API does not take skip/sort_by with these parameters: walk the cursor.
            yield from self._cursor_walk()
            return
        stamps = [item.get("timestamp_created") for item in first]
        if not all(isinstance(t, str) for t in stamps) or any(
            a > b for a, b in zip(stamps, stamps[1:], strict=False)  # type: ignore[operator]
        ):
            # sort_by was ignored (or the items carry no creation time): offsets are unsafe.
            yield from self._cursor_walk()
            return
        second = None
        limiter = self.client.limiter or self.limiter
        if limiter is not None:
            latency = self.last_latency
            fast = self.prefer_cursor(limiter.rate, latency)
            if not fast and len(first) == PAGE and self.prefer_cursor(limiter.rate, latency / 3):
                # Near the line, the first page may have paid for a new connection alone:
                # a second page, fetched the same way, has the last word.
                second = self._page(STEP)
                latency = min(latency, self.last_latency)
                fast = self.prefer_cursor(limiter.rate, latency)
            self.probe = latency
            if fast:
                # One page at a time is as fast here, and unpaced like the cursor walk; the
                # offsets keep the order (oldest first) whichever walk the latency chose.
                self.fast = True
                self.window = 1
                yield from self._offset_walk(first, second)
                return
        installed = self.client.limiter is None and self.limiter is not None
        if installed:
            self.client.limiter = self.limiter
        try:
            yield from self._offset_walk(first, second)
        finally:
            if installed:
                self.client.limiter = None

    def _cursor_walk(self, exclude: frozenset[str] = frozenset()) -> Iterator[list[dict[str, Any]]]:
        self.mode = "cursor"
        pager = self.client.list_accounts(dict(self.params))
        for page in pager:
            fresh = [item for item in page if item.get("email") not in exclude]
            if fresh:
                yield fresh
        self.anomaly = pager.anomaly

    def items(self) -> Iterator[dict[str, Any]]:
        for page in self:
            yield from page

    # -- offset walk ----------------------------------------------------------------------

    def _offset_walk(
        self, first: list[dict[str, Any]], second: Callable[[], list[dict[str, Any]]] | None
    ) -> Iterator[list[dict[str, Any]]]:
        page = self._fresh(first)
        if page:
            yield page
        if len(first) < PAGE:
            return
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="list")
        pending: deque[tuple[int, Future[Callable[[], list[dict[str, Any]]]]]] = deque()
        next_skip = STEP
        if second is not None:
            # The second probe page, already fetched: the walk goes on from it.
            fetched: Future[Callable[[], list[dict[str, Any]]]] = Future()
            fetched.set_result(second)
            pending.append((STEP, fetched))
            next_skip += STEP
        stale_pages = 0
        try:
            while True:
                while len(pending) < self.ahead():
                    pending.append((next_skip, pool.submit(self._page, next_skip)))
                    next_skip += STEP
                self.peak_in_flight = max(self.peak_in_flight, len(pending))
                skip, future = pending.popleft()
                # Parsed here, not in the worker: the objects are then made and freed by one
                # thread (glibc's arenas stay compact; memory no longer grows with each page).
                items = future.result()()
                if skip == STEP and items and items[0].get("email") == first[0].get("email"):
                    # The API answered skip=99 with the first page: it ignores skip. Walk the
                    # cursor, leaving out the page already listed.
                    for _, stale in pending:
                        stale.cancel()
                    pending.clear()
                    yield from self._cursor_walk(frozenset(str(i.get("email")) for i in first))
                    return
                if items and not self._seen(items[0]) and self.backups < MAX_BACKUPS:
                    # Accounts before this page were deleted mid-walk: offsets moved back and an
                    # account may have slipped between the pages. Read again from a page earlier.
                    self.backups += 1
                    for _, stale in pending:
                        stale.cancel()
                    pending.clear()
                    next_skip = max(0, skip - STEP)
                    continue
                page = self._fresh(items)
                if page:
                    yield page
                    stale_pages = 0
                else:
                    stale_pages += 1
                if len(items) < PAGE:
                    return
                if stale_pages > MAX_STALE_PAGES:
                    self.anomaly = "the API kept answering pages already listed; stopped there"
                    return
        finally:
            if self.backups >= MAX_BACKUPS:
                self.anomaly = (
                    "accounts kept being deleted during the walk; some may be missing"
                )
            pool.shutdown(wait=True, cancel_futures=True)

    def _seen(self, item: Mapping[str, Any]) -> bool:
        ts = item.get("timestamp_created")
        if not isinstance(ts, str):
            return False
        return ts < self._last_ts or (ts == self._last_ts and item.get("email") in self._at_last)

    def _fresh(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items not emitted before (advancing the dedupe state)."""
        out = []
        for item in items:
            if self._seen(item):
                continue
            ts = item.get("timestamp_created")
            if isinstance(ts, str) and ts >= self._last_ts:
                if ts > self._last_ts:
                    self._last_ts = ts
                    self._at_last = set()
                self._at_last.add(str(item.get("email")))
            out.append(item)
        return out


def parallel_lister(
    client: InstantlyClient,
    params: dict[str, Any],
    *,
    limit: int | None,
    offset: bool,
    limiter: RateLimiter | None = None,
    prefer_cursor: CursorPolicy = _never,
) -> Iterable[list[dict[str, Any]]]:
    """A ``services.accounts.list.Lister``: every account concurrently when that is what is asked.

    A limit, a sort or a starting cursor keeps the client's pager (its order and its resume
    cursor are what those mean). The stream comes oldest first: when several streams are merged
    they must be merged ascending.
    """
    if limit is not None or offset or params.get("starting_after") or params.get("sort_by"):
        return client.list_accounts(params, limit=limit, offset=offset)
    return ParallelLister(client, params, limiter=limiter, prefer_cursor=prefer_cursor)
