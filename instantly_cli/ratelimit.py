"""Pacing of bulk work: the rate constants, worker sizing from latency, and the latency gauge.

(The client's one-per-process limiter lives next to these; they size the workers that feed it.)
"""

from __future__ import annotations

import math
import threading

DEFAULT_RATE = 50.0
MAX_RATE = 100.0
# Workers of a run given no rate (a fixed number).
DEFAULT_CONCURRENCY = 8
# The default upper bound of a run given its rate: the runner starts a few workers and adds more
# as the observed latency asks for them (Little's law), never more than this or --concurrency.
AUTO_CONCURRENCY = 64
MAX_CONCURRENCY = 64
INITIAL_WORKERS = 4
# Workers beyond rate x latency: latency varies, and a worker short is a rate missed.
HEADROOM = 1.25


def workers_for(rate: float, latency: float, *, cap: int, floor: int = 1) -> int:
    """Little's law: requests in flight = rate x latency, with headroom, within [floor, cap]."""
    want = math.ceil(rate * max(0.0, latency) * HEADROOM)
    return max(floor, min(cap, want))


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
