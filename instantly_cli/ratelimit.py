"""The one rate limiter per process and the API's own pacing signals.

The workspace allows 100 requests a second and 6,000 a minute, shared with every other tool
using it. :class:`RateLimiter` spaces requests under a rate that backs off on 429 and recovers
after successes; :func:`parse_retry_after` reads the server's ``Retry-After``. Bulk work is
sized here too: the rate constants, worker sizing from latency (:func:`workers_for`) and the
:class:`LatencyGauge` that feeds it.
"""

from __future__ import annotations

import email.utils
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

MAX_RETRY_AFTER = 60.0
API_RATE_PER_SECOND = 100
API_RATE_PER_MINUTE = 6000
PACE_HEADROOM = 0.97
# AIMD pacing: a 429 multiplies the rate by DECREASE (at most once a second); every success adds
# INCREASE x the target back. One 429 in 7 requests then costs a few percent, not 99 %.
DECREASE = 0.7
INCREASE = 0.02
MIN_RATE = 1.0
# The 429s of one burst count once: answers to requests sent at the old rate keep arriving for
# about one round trip; one second covers any real latency while staying short enough to react.
THROTTLE_WINDOW = 1.0
# The most wall-clock time a run spends with requests waiting on 429s (--max-wait): a server
# answering `Retry-After: 60` again and again fails the targets left instead of holding a run
# for many minutes.
DEFAULT_MAX_WAIT = 300.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: a number of seconds or an HTTP date (uncapped: the
    client caps it at its ``max_retry_after``, :data:`MAX_RETRY_AFTER` unless told)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)



class RateLimiter:
    """Spaces requests under a rate that backs off on 429 and recovers after successes.

    One per process, shared by every worker thread, so concurrent bulk work never exceeds the
    workspace limit (100/s and 6,000/min, shared with every other tool using the workspace).
    """

    def __init__(
        self,
        rate: float,
        *,
        per_minute: int = API_RATE_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = DEFAULT_MAX_WAIT,
    ):
        # Requests leave evenly spaced but arrive with network jitter; a little headroom under
        # the hard limit avoids tripping it (a 429 costs far more than 3 % of the pace).
        self.target = max(0.1, min(float(rate), API_RATE_PER_SECOND * PACE_HEADROOM))
        self.rate = self.target
        self.per_minute = per_minute
        self._lock = threading.Lock()
        self._next = 0.0
        self._minute: deque[float] = deque()
        self._last_drop = -math.inf
        self._clock = clock
        self._sleep = sleep
        self._local = threading.local()
        self.max_wait = max_wait
        # Workers asleep on a 429 right now (not busy: the runner adds workers for them), and
        # the wall-clock time some request spent waiting on a 429 (overlaps counted once).
        self.resting = 0
        self.rested = 0.0
        self._rest_end = -math.inf

    def thread_stats(self) -> tuple[int, float]:
        """(requests paced, seconds slept for pacing) so far by the calling thread.

        A caller subtracts the sleeping from a request's time to see the API's own latency
        (what sizing workers by Little's law needs: the queue here is not the server's).
        """
        local = self._local
        return getattr(local, "acquired", 0), getattr(local, "waited", 0.0)

    def note_sleep(self, seconds: float) -> None:
        """Count a retry's back-off sleep as waiting too: a throttled request is not slow."""
        self._local.waited = getattr(self._local, "waited", 0.0) + seconds

    def rest(self, seconds: float) -> bool:
        """Book ``seconds`` of waiting on a 429 against ``max_wait``; False (nothing booked)
        when the run has waited that long already. Waits that overlap count once: the budget
        is wall-clock time, not the sum over workers."""
        with self._lock:
            now = self._clock()
            end = now + seconds
            new = max(0.0, end - max(now, self._rest_end))
            if new > 0 and self.rested + new > self.max_wait:
                return False
            self.rested += new
            self._rest_end = max(self._rest_end, end)
            return True

    def rest_for(self, delay: float, sleep: Callable[[float], None], *, throttled: bool) -> None:
        """A retry's back-off sleep, counted as waiting (not latency). On a 429 (``throttled``)
        the sleep is booked against ``max_wait`` (RateLimitedError past it), and the worker
        counts as resting meanwhile: it holds no slot of the limiter, and the runner adds a
        worker for it, so one throttled request does not idle one worker's share of the rate."""
        if throttled and not self.rest(delay):
            from instantly_cli.errors import RateLimitedError

            raise RateLimitedError(
                f"Still rate limited: the run has waited {self.max_wait:g} s on 429 answers "
                "already (--max-wait).",
                status=429,
                hint="Run again later (--resume finishes the run), or raise --max-wait.",
            )
        self.note_sleep(delay)
        with self.resting_worker() if throttled else nullcontext():
            sleep(delay)

    @contextmanager
    def resting_worker(self) -> Iterator[None]:
        """Around a worker's sleep on a 429: it is counted in :attr:`resting` meanwhile."""
        with self._lock:
            self.resting += 1
        try:
            yield
        finally:
            with self._lock:
                self.resting -= 1

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            while self._minute and self._minute[0] <= slot - 60.0:
                self._minute.popleft()
            if len(self._minute) >= self.per_minute:
                slot = max(slot, self._minute[0] + 60.0)
            self._next = slot + 1.0 / self.rate
            self._minute.append(slot)
        delay = slot - self._clock()
        local = self._local
        local.acquired = getattr(local, "acquired", 0) + 1
        if delay > 0:
            local.waited = getattr(local, "waited", 0.0) + delay
            self._sleep(delay)

    def on_throttled(self) -> None:
        """A 429: halve the evidence, not the rate per response. The 429s of one burst (those
        within one spacing window) are one signal, so the rate drops once per window."""
        with self._lock:
            now = self._clock()
            if now - self._last_drop >= THROTTLE_WINDOW:
                self.rate = max(MIN_RATE, self.rate * DECREASE)
                self._last_drop = now

    def on_success(self) -> None:
        """Additive increase: each success wins back a small share of the target rate."""
        with self._lock:
            if self.rate < self.target:
                self.rate = min(self.target, self.rate + self.target * INCREASE)


# -- pacing of bulk work: rate constants, worker sizing, the latency gauge --------------------

DEFAULT_RATE = 50.0
MAX_RATE = 100.0
# The default upper bound of a run given its rate: the runner sizes its workers from the observed
# latency (Little's law), never more than this or --concurrency.
AUTO_CONCURRENCY = 64
MAX_CONCURRENCY = 64
# Before the first answer the latency is unknown: the first wave assumes a slow API, so the rate
# is met from the first request; workers the measured latency does not need then retire. Starting
# small instead costs one latency of under-used rate (~0.2 s of a run at 250 ms).
FIRST_GUESS_LATENCY = 0.25
# Workers beyond rate x latency: latency varies, and a worker short is a rate missed.
HEADROOM = 1.25


def workers_for(rate: float, latency: float, *, cap: int, floor: int = 1) -> int:
    """Little's law: requests in flight = rate x latency, with headroom, within [floor, cap]."""
    want = math.ceil(rate * max(0.0, latency) * HEADROOM)
    return max(floor, min(cap, want))


def first_wave(rate: float, *, cap: int) -> int:
    """The workers a paced run starts with, before any latency is known."""
    return workers_for(rate, FIRST_GUESS_LATENCY, cap=cap)


class LatencyGauge:
    """A smoothed estimate of one request's latency, the pacing sleeps taken out.

    ``measure(elapsed, requests, waited)`` takes one unit of work: it lasted ``elapsed`` seconds,
    sent ``requests`` requests and slept ``waited`` seconds in the rate limiter.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latency: float | None = None

    def measure(self, elapsed: float, requests: int, waited: float) -> float:
        sample = max(0.0, elapsed - waited) / max(1, requests)
        with self._lock:
            if self.latency is None:
                self.latency = sample
            else:
                self.latency += 0.2 * (sample - self.latency)
            return self.latency
