"""The bulk runner sizes its workers from the observed latency (Little's law), no clock waits."""

from __future__ import annotations

import threading

import pytest

from instantly_cli import ratelimit
from instantly_cli.ratelimit import RateLimiter, workers_for
from instantly_cli.services.bulk import Outcome, run


class FakeTime:
    """Per-thread fake time: each unit of work 'takes' ``latency`` seconds, of which ``waited``
    were spent sleeping in the rate limiter (reported through ``pace``)."""

    def __init__(self, latency: float, waited: float = 0.0, requests: int = 1):
        self.latency, self.waited, self.requests = latency, waited, requests
        self.local = threading.local()

    def clock(self) -> float:
        return getattr(self.local, "now", 0.0)

    def pace(self) -> tuple[int, float]:
        return getattr(self.local, "sent", 0), getattr(self.local, "slept", 0.0)

    def work(self, unit: list[str]) -> list[Outcome]:
        local = self.local
        local.now = self.clock() + self.latency
        local.sent = self.pace()[0] + self.requests
        local.slept = self.pace()[1] + self.waited
        return [Outcome(e, "updated") for e in unit]


UNITS = [[f"a{i}@acme.io"] for i in range(300)]


@pytest.mark.parametrize(
    ("latency", "expected"),
    [(0.05, 7), (0.25, 32), (0.15, 19)],  # ceil(100 x latency x 1.25)
)
def test_workers_grow_to_rate_times_latency(latency: float, expected: int) -> None:
    fake = FakeTime(latency)
    result = run(UNITS, fake.work, concurrency=64, rate=100, pace=fake.pace, clock=fake.clock)
    assert result.workers == expected
    assert [o.email for o in result.outcomes] == [u[0] for u in UNITS]
    assert all(o.result == "updated" for o in result.outcomes)


def test_concurrency_stays_an_upper_bound() -> None:
    fake = FakeTime(0.25)
    result = run(UNITS, fake.work, concurrency=10, rate=100, pace=fake.pace, clock=fake.clock)
    assert result.workers == 10


def test_time_spent_waiting_for_the_limiter_is_not_latency() -> None:
    # 0.25 s per unit, 0.2 s of it asleep in the limiter: the API's latency is 0.05 s.
    fake = FakeTime(0.25, waited=0.2)
    result = run(UNITS, fake.work, concurrency=64, rate=100, pace=fake.pace, clock=fake.clock)
    assert result.workers == 7


def test_a_unit_of_several_requests_counts_per_request_latency() -> None:
    fake = FakeTime(0.5, requests=2)  # two requests of 0.25 s each
    result = run(UNITS, fake.work, concurrency=64, rate=100, pace=fake.pace, clock=fake.clock)
    assert result.workers == 32


def test_without_a_rate_the_concurrency_is_used_as_given() -> None:
    fake = FakeTime(0.25)
    result = run(UNITS, fake.work, concurrency=5, clock=fake.clock)
    assert result.workers == 5


def test_never_more_workers_than_units() -> None:
    fake = FakeTime(0.25)
    units = UNITS[:6]
    result = run(units, fake.work, concurrency=64, rate=100, pace=fake.pace, clock=fake.clock)
    assert result.workers <= 6 and len(result.outcomes) == 6


def test_workers_for_bounds() -> None:
    assert workers_for(100, 0.0, cap=64) == 1
    assert workers_for(100, 10.0, cap=64) == 64
    assert workers_for(100, 0.001, cap=64, floor=2) == 2
    assert ratelimit.AUTO_CONCURRENCY == ratelimit.MAX_CONCURRENCY == 64


def test_limiter_reports_each_threads_pacing_sleeps() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(10, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.acquire()
    sent, waited = limiter.thread_stats()
    assert sent == 3 and waited == pytest.approx(sum(slept)) and waited > 0
    other: list[tuple[int, float]] = []
    thread = threading.Thread(target=lambda: other.append(limiter.thread_stats()))
    thread.start()
    thread.join()
    assert other == [(0, 0.0)]


def test_retry_back_off_counts_as_waiting_not_latency() -> None:
    import httpx

    from instantly_cli.client import InstantlyClient

    answers = iter(
        [httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200, json={})]
    )
    limiter = RateLimiter(100, sleep=lambda s: None)
    client = InstantlyClient(
        api_key="k", base_url="http://x", limiter=limiter, sleep=lambda s: None,
        transport=httpx.MockTransport(lambda r: next(answers)),
    )
    client.request("GET", "/api/v2/accounts")
    sent, waited = limiter.thread_stats()
    assert sent == 2 and waited >= 2.0


def test_the_first_wave_meets_the_rate_before_any_latency_is_known() -> None:
    # 100/s against an API that answers in 250 ms needs 32 requests in flight from the start;
    # starting with a few and growing after the first answers loses a latency of rate.
    in_flight, peak, timed_out = [0], [0], [0]
    lock = threading.Lock()
    full = threading.Event()

    def work(unit: list[str]) -> list[Outcome]:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
            if in_flight[0] == 32:
                full.set()
        # No unit finishes until the first wave is all in flight.
        arrived = full.wait(10)
        with lock:
            in_flight[0] -= 1
            timed_out[0] += not arrived
        return [Outcome(unit[0], "updated")]

    result = run(UNITS[:64], work, concurrency=64, rate=100)
    assert timed_out[0] == 0 and peak[0] == 32
    assert len(result.outcomes) == 64


def test_workers_the_latency_does_not_need_retire() -> None:
    fake = FakeTime(0.05)
    ran_by: list[str] = []

    def work(unit: list[str]) -> list[Outcome]:
        ran_by.append(threading.current_thread().name)
        return fake.work(unit)

    result = run(UNITS, work, concurrency=64, rate=100, pace=fake.pace, clock=fake.clock)
    assert result.workers == 7
    assert len(set(ran_by[-100:])) <= 7


def test_workers_retiring_together_leave_every_unit_done() -> None:
    # An API answering at once asks for one worker: 31 of the first wave retire at the same
    # moment, and none may leave a unit behind (they were once uncounted too late, and a run
    # could end with units "not attempted").
    for _ in range(20):
        fake = FakeTime(0.0)
        result = run(UNITS[:200], fake.work, concurrency=64, rate=100, pace=fake.pace,
                     clock=fake.clock)
        assert [o.result for o in result.outcomes] == ["updated"] * 200
        assert not result.interrupted and result.workers == 1
