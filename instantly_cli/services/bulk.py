"""The one engine of every command that writes: the paced, concurrent runner and its accounting.

Every target ends with one result word (``enums.Result``): done, ``unchanged``/``gone``/
``exists`` when it was already as wanted, failed (with the API's message) or skipped
(interrupted). The journal (``services.journal``) records each as it lands; ``--resume`` acts on
what is left. Nothing here touches the terminal: progress and the interrupt notice reach it as
callbacks.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instantly_cli.config_file import atomic_write
from instantly_cli.enums import FAILED, SKIPPED
from instantly_cli.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    CliError,
    UsageError,
    redact,
)
from instantly_cli.interrupts import Shield, sigint_deferred
from instantly_cli.ratelimit import MAX_CONCURRENCY, MAX_RATE, LatencyGauge, first_wave, workers_for

__all__ = ["Outcome", "RunResult", "Work", "batches", "bisect", "check_rate", "failed",
           "halves", "run", "write_failures"]

Advance = Callable[[int, int], None]
# The calling thread's (requests paced, seconds slept for pacing): ``RateLimiter.thread_stats``.
Pace = Callable[[], tuple[int, float]]
# The API's spelling of an email typed in another case (None: no such account).
Respell = Callable[[str], str | None]
# The work of one batch of emails: the outcome of each.
Work = Callable[[list[str]], list["Outcome"]]


@dataclass(eq=False)
class Outcome:
    """What happened to one target."""

    email: str
    result: str
    error: str | None = None
    code: str | None = None
    status: int | None = None
    account: Mapping[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"email": self.email, "result": self.result, "error": self.error}
        if self.code:
            data["code"] = self.code
        if self.status is not None:
            data["status"] = self.status
        if self.warnings:
            data["warnings"] = self.warnings
        data.update(self.extra)
        if self.account is not None:
            data["account"] = self.account
        return data


def failed(email: str, err: CliError) -> Outcome:
    return Outcome(email, FAILED, error=redact(err.message), code=err.code, status=err.status)


@dataclass(repr=False, eq=False)
class RunResult:
    """The outcomes of a bulk run, whether it was interrupted, and how long it took."""

    outcomes: list[Outcome]
    interrupted: bool
    elapsed: float
    # The workers the run sized itself to (rate x measured latency, plus any added beside
    # workers resting on a 429), not the threads started: a short run may start fewer, and the
    # first wave may have had more.
    workers: int = 0
    # Installed by the caller for the run; released once the results are written.
    shield: Shield | None = None

    def release(self) -> None:
        if self.shield is not None:
            self.shield.release(exiting=self.interrupted and self.shield.presses > 0)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == FAILED]

    def exit_code(self) -> int:
        """130 when interrupted, 4 when the only target does not exist, 1 when any failed."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        bad = self.failed
        if bad:
            if len(self.outcomes) == 1 and bad[0].code == "not_found":
                return EXIT_NOT_FOUND
            return EXIT_FAILED
        return EXIT_OK

    def summary(self, order: Sequence[str]) -> str:
        """``updated 998, unchanged 0, failed 2 of 1,000 in 21.3 s``."""
        counts = Counter(o.result for o in self.outcomes)
        parts = [f"{name} {counts.get(name, 0):,}" for name in order]
        parts += [f"{name} {n:,}" for name, n in counts.items() if name not in order]
        return ", ".join(parts) + f" of {len(self.outcomes):,} in {self.elapsed:.1f} s"


def halves(emails: Sequence[str]) -> list[list[str]]:
    """The two halves of a batch refused as a whole, to find the targets to blame."""
    half = len(emails) // 2
    return [list(emails[:half]), list(emails[half:])]


def bisect(
    work: Work,
    batch: list[str],
    refused: Callable[[CliError], bool],
    refusal: CliError | None = None,
) -> list[Outcome]:
    """``work(batch)``; a batch the API refuses as a whole (``refused(err)``: one bad email
    refuses them all) is split in halves until the refused emails are alone, so only they fail.
    ``refusal`` is the error of a batch already refused (its halves go next). Any other error
    fails the batch it came from."""
    if refusal is None:
        try:
            return work(batch)
        except CliError as err:
            refusal = err
    if len(batch) > 1 and refused(refusal):
        return [o for part in halves(batch) for o in bisect(work, part, refused)]
    return [failed(e, refusal) for e in batch]


def batches(emails: Sequence[str], size: int) -> list[list[str]]:
    """Split targets into request-sized batches (the API takes at most 100 emails a call)."""
    return [list(emails[i : i + size]) for i in range(0, len(emails), size)]


def check_rate(rate: float, concurrency: int) -> None:
    if not 0 < rate <= MAX_RATE:
        raise UsageError(
            f"--rate must be above 0 and at most {MAX_RATE:.0f} requests/s (got {rate:g}).",
            hint="Instantly allows 100 requests/s per workspace, shared by every tool using it.",
        )
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise UsageError(f"--concurrency must be from 1 to {MAX_CONCURRENCY} (got {concurrency}).")


def run(
    units: Sequence[list[str]],
    work: Work,
    *,
    concurrency: int,
    advance: Advance | None = None,
    on_interrupt: Callable[[int], None] | None = None,
    on_done: Callable[[list[Outcome]], None] | None = None,
    shield: Shield | None = None,
    rate: float | None = None,
    pace: Pace | None = None,
    respell: Respell | None = None,
    clock: Callable[[], float] = time.monotonic,
    resting: Callable[[], int] | None = None,
) -> RunResult:
    """Run ``work`` on each unit (a batch of emails) in worker threads.

    Without ``rate``, ``concurrency`` workers run. With it (the requests per second the limiter
    allows), the runner starts as many workers as a slow API would need, then sizes them to rate
    x observed latency (plus headroom), at most ``concurrency``: at 50 ms per request 100/s
    needs ~7, at 250 ms ~32. Workers beyond the first measured size retire; later the size only
    grows. ``pace`` (the limiter's ``thread_stats``) lets the latency exclude the time a
    worker slept for pacing, and count the requests a unit sent; without it a unit is one
    request.

    Ctrl-C stops new units from starting and lets in-flight ones finish (``on_interrupt`` is told
    how many targets are in flight); a second Ctrl-C stops waiting. Units never started are
    reported as skipped, never dropped. ``on_done`` sees each unit's outcomes as they land (the
    journal), from the worker thread. With an installed ``shield`` Ctrl-C is read from it and
    any later press is ignored until the caller releases it (see :class:`Shield`).
    ``respell`` looks up a target that failed as not found under the API's spelling (emails
    are case-insensitive to users) and runs it once more as spelled there.

    ``resting`` (the limiter's count of workers asleep on a 429) keeps such workers from
    counting as busy: the runner adds one for each while it sleeps (beyond ``concurrency``:
    a resting worker has no request in flight), so a ``Retry-After`` costs its wait, not a
    worker's share of the rate.
    """
    started = time.monotonic()
    # Presses are counted from here, before any worker starts.
    guard = shield if shield is not None and shield.installed else None
    base = guard.presses if guard is not None else 0
    results: dict[int, list[Outcome]] = {}
    in_flight: dict[int, list[str]] = {}
    lock = threading.Lock()
    stop = threading.Event()
    queue = iter(enumerate(units))
    remaining = [len(units)]
    running = [0]
    names = itertools.count()
    gauge = LatencyGauge()
    cap = max(1, min(concurrency, len(units)))
    first = cap if rate is None else first_wave(rate, cap=cap)
    # The size the run aims for, and whether a latency has set it yet.
    target = [first]
    measured = [False]

    def attempt(unit: list[str]) -> list[Outcome]:
        try:
            return work(unit)
        except CliError as err:
            return [failed(email, err) for email in unit]
        except Exception as exc:  # one bad target must not lose the others
            internal = CliError(f"internal error: {type(exc).__name__}: {exc}")
            internal.code = "internal_error"
            return [failed(email, internal) for email in unit]

    def again(o: Outcome) -> Outcome:
        """A target not found as typed: once more under the API's spelling, if it has one."""
        assert respell is not None
        try:
            spelled = respell(o.email)
        except CliError:
            return o
        if spelled is None or spelled == o.email:
            return o
        return attempt([spelled])[0]

    def spawn(count: int) -> None:
        # Called with ``lock`` held.
        for _ in range(count):
            running[0] += 1
            threading.Thread(target=worker, name=f"bulk-{next(names)}", daemon=True).start()

    def worker() -> None:
        retired = False
        try:
            retired = loop()
        finally:
            if not retired:
                with lock:
                    running[0] -= 1

    def grow(latency: float | None) -> None:
        if rate is None:
            return
        asleep = resting() if resting is not None else 0
        if latency is None and not asleep:
            return
        busy = workers_for(rate, latency, cap=cap) if latency is not None else first
        want = min(busy, cap) + asleep
        with lock:
            if latency is not None and not measured[0]:
                # The first measurement may undo the first wave's guess; after it the size only
                # grows, so a latency that wavers does not start and stop threads.
                measured[0] = True
                target[0] = want
            else:
                target[0] = max(target[0], want)
            # More workers than units left would only start and stop.
            extra = min(target[0] - running[0], remaining[0])
            if extra > 0 and not stop.is_set():
                spawn(extra)

    def loop() -> bool:
        """Work units until none is left; True when the worker retired (already uncounted)."""
        while not stop.is_set():
            with lock:
                if running[0] > target[0]:
                    # The first wave was larger than the latency asks for. Uncounted under the
                    # same lock, so workers retiring together never leave fewer than target.
                    running[0] -= 1
                    return True
                item = next(queue, None)
                if item is None:
                    return False
                remaining[0] -= 1
                index, unit = item
                in_flight[index] = unit
            sent0, waited0 = pace() if pace is not None else (0, 0.0)
            began = clock()
            res = attempt(unit)
            if respell is not None:
                res = [again(o) if o.result == FAILED and o.code == "not_found" else o
                       for o in res]
            elapsed = clock() - began
            sent1, waited1 = pace() if pace is not None else (1, 0.0)
            if on_done is not None:
                on_done(res)
            with lock:
                results[index] = res
                in_flight.pop(index, None)
            if advance is not None:
                advance(len(res), sum(1 for o in res if o.result == FAILED))
            grow(gauge.measure(elapsed, sent1 - sent0, waited1 - waited0))
        return False

    def wait(presses: int) -> bool:
        """True when every worker is done; False when the shield saw ``presses`` Ctrl-Cs."""
        # Poll with sleep: a Ctrl-C landing inside Thread.join() can leave the thread
        # looking finished while it still runs, and its result would be misreported.
        while True:
            with lock:
                if running[0] == 0:
                    return True
            if resting is not None:
                # Workers asleep on a 429 finish no unit, so nothing else would size the run.
                grow(gauge.latency)
            if guard is not None and guard.presses - base >= presses:
                return False
            time.sleep(0.02)

    def first_press() -> None:
        stop.set()
        with lock:
            pending = sum(len(u) for u in in_flight.values())
        if on_interrupt is not None:
            on_interrupt(pending)

    interrupted = False
    try:
        # Without a shield a Ctrl-C while workers start is held until they have (the count
        # stays exact), then stops the run like any other.
        with sigint_deferred(), lock:
            spawn(first)
        if not wait(1):
            interrupted = True
            first_press()
            wait(2)
    except KeyboardInterrupt:  # no shield (not the main thread): Ctrl-C raises as usual
        interrupted = True
        first_press()
        try:
            wait(2)
        except KeyboardInterrupt:
            pass

    outcomes: list[Outcome] = []
    with lock:
        for index, unit in enumerate(units):
            if index in results:
                outcomes.extend(results[index])
            elif index in in_flight:
                outcomes.extend(
                    Outcome(
                        e,
                        SKIPPED,
                        error="interrupted while in flight; the change may or may "
                        "not have been applied",
                    )
                    for e in unit
                )
            else:
                outcomes.extend(
                    Outcome(e, SKIPPED, error="not attempted (interrupted)") for e in unit
                )
        workers = target[0]
    return RunResult(
        outcomes, interrupted, time.monotonic() - started, workers=workers, shield=shield
    )


def write_failures(outcomes: Sequence[Outcome], path: Path) -> bool:
    """``--failures FILE``: failed and skipped targets as JSON lines (feed them back as ``-``),
    written whole or not at all. False when there were none."""
    rows = [o for o in outcomes if o.result in (FAILED, SKIPPED)]
    if not rows:
        return False
    payload = "".join(json.dumps({"email": o.email, "result": o.result, "error": o.error,
                                  "code": o.code, "status": o.status}, ensure_ascii=False) + "\n"
                      for o in rows)
    try:
        atomic_write(path, payload)
    except OSError as exc:
        raise CliError(f"Cannot write the failure file {path}: {exc.strerror or exc}.",
                       hint="The run's journal has every result: `instantly runs show`.") from None
    return True
