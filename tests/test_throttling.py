"""Pacing under scattered 429s (issue 12, item 16): the limiter backs off in proportion to the
evidence and recovers toward its target, deterministically (an injected clock and sleep).

The throughput promise itself (>= 60 % of clean under one 429 in 7) is measured by
``benchmarks/throttled.py``; the sandbox server's ``every=N`` faults that it uses are tested here.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from instantly_cli import ratelimit
from instantly_cli.client import InstantlyClient
from instantly_cli.ratelimit import RateLimiter
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import Store
from tests.conftest import TEST_KEY, envelope


class Clock:
    """A clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(rate: float = 50) -> tuple[RateLimiter, Clock]:
    clock = Clock()
    return RateLimiter(rate, clock=clock, sleep=clock.sleep), clock


def test_a_burst_of_429s_lowers_the_rate_once() -> None:
    lim, clock = limiter(50)
    for _ in range(20):  # twenty 429s inside one second: one piece of evidence
        lim.on_throttled()
        clock.now += 0.04
    assert lim.rate == pytest.approx(50 * ratelimit.DECREASE)


def test_429s_a_second_apart_lower_it_again_down_to_the_floor() -> None:
    lim, clock = limiter(50)
    lim.on_throttled()
    clock.now += 0.999
    lim.on_throttled()  # still the same window
    assert lim.rate == pytest.approx(35)
    clock.now += 0.001
    lim.on_throttled()
    assert lim.rate == pytest.approx(50 * 0.7 * 0.7)
    for _ in range(30):
        clock.now += 1.0
        lim.on_throttled()
    assert lim.rate == ratelimit.MIN_RATE


def test_successes_recover_additively_toward_the_target_never_above() -> None:
    lim, clock = limiter(50)
    for _ in range(10):
        lim.on_success()
    assert lim.rate == lim.target == 50  # at the target, successes change nothing
    lim.on_throttled()
    assert lim.rate == pytest.approx(35)
    lim.on_success()
    assert lim.rate == pytest.approx(35 + 50 * ratelimit.INCREASE)
    # 30 % of the target comes back in 0.30 / 0.02 = 15 successes, and no further.
    for _ in range(14):
        lim.on_success()
    assert lim.rate == pytest.approx(50)
    for _ in range(100):
        lim.on_success()
    assert lim.rate == 50


def test_the_target_is_capped_under_the_api_limit() -> None:
    lim, _ = limiter(500)
    assert lim.target == pytest.approx(ratelimit.API_RATE_PER_SECOND * ratelimit.PACE_HEADROOM)


def test_acquire_spaces_requests_at_the_current_rate() -> None:
    lim, clock = limiter(10)
    start = clock.now
    for _ in range(11):
        lim.acquire()
    assert clock.now - start == pytest.approx(1.0)  # ten gaps of 0.1 s
    lim.on_throttled()  # 7/s now
    start = clock.now
    for _ in range(7):
        lim.acquire()
    assert clock.now - start == pytest.approx(0.1 + 6 / 7)  # the gap already booked, then 1/7 s


def test_the_per_minute_cap_holds_whatever_the_rate() -> None:
    clock = Clock()
    lim = RateLimiter(50, per_minute=100, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(101):
        lim.acquire()
    assert clock.now - start == pytest.approx(60.0)  # the 101st waits for the minute


def every_seventh_429(log: list[int]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        log.append(len(log) + 1)
        if len(log) % 7 == 0:
            return envelope(429, "Too Many Requests", "Too Many Requests")  # no Retry-After
        return httpx.Response(200, json={"email": "a@example.com"})

    return httpx.MockTransport(handle)


def test_one_429_in_seven_keeps_the_client_near_its_target() -> None:
    """200 paced PATCHes through the real request loop, on simulated time."""
    clock = Clock()
    lim = RateLimiter(50, clock=clock, sleep=clock.sleep)
    log: list[int] = []
    with InstantlyClient(
        api_key=TEST_KEY,
        base_url="http://mock.test",
        transport=every_seventh_429(log),
        limiter=lim,
        sleep=clock.sleep,
    ) as client:
        start = clock.now
        rates = []
        for n in range(200):
            client.update_account(f"a{n}@example.com", {"daily_limit": 5})
            rates.append(lim.rate)
    elapsed = clock.now - start
    assert len(log) > 200  # every 429 was retried, and each update then succeeded
    assert min(rates) >= 50 * ratelimit.DECREASE**2  # never a collapse
    assert max(rates) <= 50
    # Sequential here, so any back-off of the 429's own is on the critical path: with the
    # limiter as the only back-off it stays near the target (it took 18 s, 11/s, when every
    # 429 also slept its exponential back-off).
    assert 200 / elapsed > 0.7 * 50, (elapsed, rates[-20:])


def paced_client(handler, clock: Clock) -> tuple[InstantlyClient, RateLimiter]:
    lim = RateLimiter(50, clock=clock, sleep=lambda s: None)
    client = InstantlyClient(
        api_key=TEST_KEY,
        base_url="http://mock.test",
        transport=httpx.MockTransport(handler),
        limiter=lim,
        sleep=clock.sleep,
    )
    return client, lim


def throttle_first(n: int, headers: dict[str, str] | None = None):
    seen: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(1)
        if len(seen) <= n:
            return httpx.Response(429, json={"statusCode": 429}, headers=headers)
        return httpx.Response(200, json={"email": "a@example.com"})

    return handle


def test_a_paced_429_without_retry_after_waits_only_for_the_limiter() -> None:
    clock = Clock()
    client, lim = paced_client(throttle_first(1), clock)
    client.get_account("a@example.com")
    assert clock.slept == []  # no back-off sleep of its own
    assert lim.rate < lim.target  # the limiter slowed instead


def test_a_request_refused_again_backs_off_exponentially() -> None:
    clock = Clock()
    client, _ = paced_client(throttle_first(3), clock)
    client.get_account("a@example.com")
    assert len(clock.slept) == 2  # the second and third 429 of the same request
    assert 0 < clock.slept[0] <= client.backoff_base < clock.slept[1] <= 2 * client.backoff_base


def test_retry_after_is_honoured_even_when_paced() -> None:
    clock = Clock()
    client, _ = paced_client(throttle_first(1, {"Retry-After": "2"}), clock)
    client.get_account("a@example.com")
    assert clock.slept == [2.0]


def test_an_unpaced_429_still_backs_off() -> None:
    clock = Clock()
    client = InstantlyClient(
        api_key=TEST_KEY,
        base_url="http://mock.test",
        transport=httpx.MockTransport(throttle_first(1)),
        sleep=clock.sleep,
    )
    client.get_account("a@example.com")
    assert len(clock.slept) == 1 and clock.slept[0] > 0


# -- the sandbox server's every-N-th faults -----------------------------------------------


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    store = Store()
    store.ensure_seeded(20)
    srv = SandboxServer(SandboxApp(store, api_key=TEST_KEY)).start()
    yield srv
    srv.stop()
    store.close()


def test_every_nth_fault(server: SandboxServer) -> None:
    server.inject("429-no-retry-after", 3, every=7, method="GET")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TEST_KEY}"}) as c:
        c.patch("/api/v2/custom-tags/none", json={})  # not matching (PATCH): not counted
        codes = [c.get("/api/v2/custom-tags").status_code for _ in range(28)]
        last = c.get("/api/v2/custom-tags")
    throttled = [i + 1 for i, code in enumerate(codes) if code == 429]
    assert throttled == [7, 14, 21]  # three times, then used up
    assert set(codes) == {200, 429} and last.status_code == 200
    assert "retry-after" not in last.headers


def test_every_must_be_positive(server: SandboxServer) -> None:
    with pytest.raises(ValueError):
        server.inject("429", every=0)
