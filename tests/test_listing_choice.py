"""How every account is walked is decided in one place (``services.accounts.list.list_accounts``):
the concurrent lister's first page measures the latency, and one page at a time wins when it is
as fast (a local server); pages in flight are paced only while they are in flight."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from instantly_cli.client import InstantlyClient
from instantly_cli.ratelimit import RateLimiter
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import AccountQuery, Store
from instantly_cli.services.accounts import list as fleet
from instantly_cli.services.accounts.listing import ParallelLister
from tests.conftest import TEST_KEY

TOTAL = 450


@pytest.fixture
def many(store: Store) -> Store:
    store.reset(TOTAL)
    return store


class Recording:
    """The sandbox app, remembering each account listing's query and whether the client was
    paced (had a limiter) when it was sent."""

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.client: InstantlyClient | None = None
        self.listings: list[tuple[dict[str, list[str]], bool]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/api/v2/accounts" and environ["REQUEST_METHOD"] == "GET":
            paced = self.client is not None and self.client.limiter is not None
            with self.lock:
                self.listings.append((parse_qs(environ.get("QUERY_STRING", "")), paced))
        return self.app(environ, start_response)


@pytest.fixture
def recording(many: Store) -> Iterator[tuple[Recording, InstantlyClient]]:
    app = Recording(SandboxApp(many, api_key=TEST_KEY, record=False))
    client = InstantlyClient(api_key=TEST_KEY, base_url="http://sandbox.test",
                             transport=httpx.WSGITransport(app=app), sleep=lambda s: None)
    app.client = client
    with client:
        yield app, client


def newest_first(store: Store) -> list[str]:
    items, _ = store.list_accounts(AccountQuery(limit=1_000_000))
    return [str(a["email"]) for a in items]


def test_one_page_in_flight_is_enough_below_the_rates_spacing() -> None:
    # 100 requests/s: a page every 10 ms. With the runner's headroom (1.25), one page in flight
    # covers up to 8 ms a page; above that pages in flight pay.
    assert fleet.prefer_cursor(100.0, 0.0)
    assert fleet.prefer_cursor(100.0, 0.005)
    assert not fleet.prefer_cursor(100.0, 0.012)
    assert not fleet.prefer_cursor(100.0, 0.150)
    assert not fleet.prefer_cursor(10.0, 0.150)


def test_the_threshold_zero_never_prefers_the_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fleet, "CURSOR_UP_TO", 0)
    assert not fleet.prefer_cursor(100.0, 0.0)


def test_a_fast_api_gets_one_page_at_a_time_unpaced_in_the_same_order(
    recording: tuple[Recording, InstantlyClient], many: Store
) -> None:
    app, client = recording
    lister = ParallelLister(
        client, limiter=RateLimiter(100), prefer_cursor=lambda rate, latency: True
    )
    got = [item["email"] for page in lister for item in page]
    assert lister.fast and lister.peak_in_flight == 1
    # The order of --all never depends on the latency: oldest first, each account once.
    assert got == list(reversed(newest_first(many)))
    assert all(q["sort_order"] == ["asc"] and "skip" in q for q, _ in app.listings)
    # Like --no-parallel: nothing paced, and the client is left as it was.
    assert not any(paced for _, paced in app.listings)
    assert client.limiter is None


def test_a_slow_api_gets_pages_in_flight_paced_only_while_in_flight(
    recording: tuple[Recording, InstantlyClient], many: Store
) -> None:
    app, client = recording
    limiter = RateLimiter(100)
    lister = ParallelLister(client, limiter=limiter, prefer_cursor=lambda rate, latency: False)
    got = [item["email"] for page in lister for item in page]
    assert lister.mode == "offset" and not lister.fast
    assert got == list(reversed(newest_first(many)))  # oldest first
    probe, *rest = app.listings
    assert not probe[1]  # the first page is sent before the choice, unpaced
    assert rest and all(paced for _, paced in rest)
    assert all(q["sort_order"] == ["asc"] and "skip" in q for q, _ in rest)
    assert client.limiter is None  # uninstalled after the walk


def test_the_policy_is_asked_with_the_limiters_rate_and_the_first_pages_latency(
    recording: tuple[Recording, InstantlyClient],
) -> None:
    _, client = recording
    asked: list[tuple[float, float]] = []

    def policy(rate: float, latency: float) -> bool:
        asked.append((rate, latency))
        return True

    limiter = RateLimiter(40)
    list(ParallelLister(client, limiter=limiter, prefer_cursor=policy))
    [(rate, latency)] = asked
    assert rate == limiter.rate and 0 < latency < 60


def test_list_all_keeps_its_order_when_one_page_at_a_time_is_enough(
    cli: Any, sandbox: SandboxApp, many: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever this machine's latency: one page in flight is always "enough".
    monkeypatch.setattr(fleet, "CURSOR_UP_TO", 10**9)
    result = cli(["accounts", "list", "--all", "-o", "jsonl"])
    assert result.exit_code == 0, result.stderr
    got = [json.loads(line)["email"] for line in result.stdout.splitlines()]
    assert got == list(reversed(newest_first(many)))
    queries = [parse_qs(r.query) for r in sandbox.requests
               if r.method == "GET" and r.path == "/api/v2/accounts"]
    assert all("skip" in q for q in queries)
    assert len(queries) == (TOTAL + 98) // 99  # pages overlap by one account


def test_summary_and_analytics_list_through_the_same_place(
    cli: Any, sandbox: SandboxApp, many: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int | None, bool]] = []
    real = fleet.list_accounts

    def spy(client: Any, query: Any, *, limit: int | None, parallel: bool = True,
            **kwargs: Any) -> Any:
        calls.append((limit, parallel))
        return real(client, query, limit=limit, parallel=parallel, **kwargs)

    monkeypatch.setattr(fleet, "list_accounts", spy)
    for args in (["accounts", "summary", "--json"],
                 ["accounts", "summary", "--json", "--no-parallel"],
                 ["accounts", "analytics", "--all", "--json"],
                 ["accounts", "warmup", "stats", "--all", "--json"]):
        result = cli(args)
        assert result.exit_code == 0, (args, result.stderr)
    assert calls == [(None, True), (None, False), (None, True), (None, True)]


@pytest.mark.parametrize("cursor", [False, True])
def test_near_the_line_a_second_page_decides(
    recording: tuple[Recording, InstantlyClient], many: Store, cursor: bool
) -> None:
    app, client = recording
    answers = iter([False, True, cursor])  # no; a third of it would be; the faster page says
    asked: list[float] = []

    def policy(rate: float, latency: float) -> bool:
        asked.append(latency)
        return next(answers)

    lister = ParallelLister(client, limiter=RateLimiter(100), prefer_cursor=policy)
    got = [item["email"] for page in lister for item in page]
    assert len(asked) == 3 and asked[1] == pytest.approx(asked[0] / 3)
    assert asked[2] <= asked[0] and lister.probe == asked[2]
    skips = [q.get("skip") for q, _ in app.listings]
    assert skips[:2] == [["0"], ["99"]]  # the two probe pages, one after the other
    assert lister.fast == cursor and got == list(reversed(newest_first(many)))
    assert skips.count(["99"]) == 1  # the second probe page is the walk's, not read again
