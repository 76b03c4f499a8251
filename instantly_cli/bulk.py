"""The paced, concurrent runner shared by every bulk command, and its accounting.

Every target ends as done, failed (with the API's message) or not attempted (interrupted); the
failed and not-attempted ones are written to a JSON-lines file that can be fed back as ``-``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from instantly_cli import output
from instantly_cli.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    CliError,
    UsageError,
    redact,
)

FAILED = "failed"
SKIPPED = "skipped"
DEFAULT_RATE = 50.0
MAX_RATE = 100.0
DEFAULT_CONCURRENCY = 8


@dataclass
class Outcome:
    """What happened to one target."""

    email: str
    result: str
    error: str | None = None
    code: str | None = None
    status: int | None = None
    account: dict[str, Any] | None = None
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


@dataclass
class RunResult:
    outcomes: list[Outcome]
    interrupted: bool
    elapsed: float


def batches(emails: Sequence[str], size: int) -> list[list[str]]:
    """Split targets into request-sized batches (the API takes at most 100 emails a call)."""
    return [list(emails[i : i + size]) for i in range(0, len(emails), size)]


def check_rate(rate: float, concurrency: int) -> None:
    if not 0 < rate <= MAX_RATE:
        raise UsageError(
            f"--rate must be above 0 and at most {MAX_RATE:.0f} requests/s (got {rate:g}).",
            hint="Instantly allows 100 requests/s per workspace, shared by every tool using it.",
        )
    if not 1 <= concurrency <= 64:
        raise UsageError(f"--concurrency must be from 1 to 64 (got {concurrency}).")


def confirm_many(count: int, verb: str, yes: bool) -> None:
    """Ask before touching more than one account; refuse without --yes when not interactive."""
    if count <= 1 or yes:
        return
    if not (output.stdin_is_tty() and output.stdout_is_tty()):
        raise UsageError(
            f"Refusing to {verb} {count:,} accounts without confirmation.",
            hint="Add --yes to confirm (stdin or stdout is not a terminal), "
            "or --dry-run to preview.",
        )
    if not output.confirm(f"{verb.capitalize()} {count:,} accounts?"):
        raise UsageError("Cancelled; nothing was changed.", hint=None)


def run(
    units: Sequence[list[str]],
    work: Callable[[list[str]], list[Outcome]],
    *,
    concurrency: int,
    label: str,
) -> RunResult:
    """Run ``work`` on each unit (a batch of emails) in worker threads.

    Ctrl-C stops new units from starting and lets in-flight ones finish; a second Ctrl-C stops
    waiting. Units never started are reported as skipped, never dropped.
    """
    started = time.monotonic()
    total = sum(len(u) for u in units)
    results: dict[int, list[Outcome]] = {}
    in_flight: dict[int, list[str]] = {}
    lock = threading.Lock()
    stop = threading.Event()
    queue = iter(enumerate(units))

    with output.progress(total, label) as advance:

        running = [0]

        def worker() -> None:
            try:
                loop()
            finally:
                with lock:
                    running[0] -= 1

        def loop() -> None:
            while not stop.is_set():
                with lock:
                    item = next(queue, None)
                    if item is None:
                        return
                    index, unit = item
                    in_flight[index] = unit
                try:
                    res = work(unit)
                except CliError as err:
                    res = [failed(email, err) for email in unit]
                except Exception as exc:  # one bad target must not lose the others
                    internal = CliError(f"internal error: {type(exc).__name__}: {exc}")
                    internal.code = "internal_error"
                    res = [failed(email, internal) for email in unit]
                with lock:
                    results[index] = res
                    in_flight.pop(index, None)
                advance(len(res), sum(1 for o in res if o.result == FAILED))

        threads = [
            threading.Thread(target=worker, name=f"bulk-{n}", daemon=True)
            for n in range(max(1, min(concurrency, len(units))))
        ]
        running[0] = len(threads)
        for thread in threads:
            thread.start()

        def wait() -> None:
            # Poll with sleep: a Ctrl-C landing inside Thread.join() can leave the thread
            # looking finished while it still runs, and its result would be misreported.
            while True:
                with lock:
                    if running[0] == 0:
                        return
                time.sleep(0.02)

        interrupted = False
        try:
            wait()
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            with lock:
                pending = sum(len(u) for u in in_flight.values())
            output.warn(
                f"Interrupted: waiting for {pending} in-flight request(s) to finish; "
                "press Ctrl-C again to stop waiting."
            )
            try:
                wait()
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
    return RunResult(outcomes, interrupted, time.monotonic() - started)


def _create_default_failures_file(payload: str) -> Path:
    """``instantly-failures-<UTC time>.jsonl``, never replacing an earlier run's file."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 1000):
        path = Path(f"instantly-failures-{stamp}{'' if n == 1 else f'-{n}'}.jsonl")
        try:
            with path.open("x", encoding="utf-8") as fh:
                fh.write(payload)
        except FileExistsError:
            continue
        return path
    raise CliError("Cannot find a free name for the failure file.", hint="Pass --failures FILE.")


def write_failures(outcomes: Sequence[Outcome], path: Path | None) -> Path | None:
    """Write failed and skipped targets as JSON lines (feed the file back as ``-``)."""
    rows = [o for o in outcomes if o.result in (FAILED, SKIPPED)]
    if not rows:
        return None
    lines = []
    for o in rows:
        lines.append(
            json.dumps(
                {
                    "email": o.email,
                    "result": o.result,
                    "error": o.error,
                    "code": o.code,
                    "status": o.status,
                },
                ensure_ascii=False,
            )
        )
    payload = "\n".join(lines) + "\n"
    if path is None:
        return _create_default_failures_file(payload)
    path.write_text(payload, encoding="utf-8")
    return path


def finish(
    result: RunResult,
    *,
    fmt: str,
    order: Sequence[str],
    failures: Path | None,
    command: str,
    emit: bool = True,
) -> None:
    """Print results (JSON on stdout) and the summary (stderr), write the failure file, exit."""
    outcomes = result.outcomes
    if emit and fmt in ("json", "jsonl", "tsv", "csv"):
        output.emit_outcomes([o.to_json() for o in outcomes], fmt)
    counts = Counter(o.result for o in outcomes)
    parts = [f"{name} {counts.get(name, 0):,}" for name in order]
    parts += [f"{name} {n:,}" for name, n in counts.items() if name not in order]
    summary = ", ".join(parts) + f" of {len(outcomes):,} in {result.elapsed:.1f} s"
    output.info(summary)
    for o in outcomes:
        for warning in o.warnings:
            output.warn(f"{o.email}: {warning}")
    bad = [o for o in outcomes if o.result == FAILED]
    for o in bad[:10]:
        output.info(f"  failed {o.email}: {o.error}")
    if len(bad) > 10:
        output.info(f"  … and {len(bad) - 10:,} more")
    path = write_failures(outcomes, failures)
    if path is not None:
        output.info(
            f"Failed and not-attempted targets written to {path}; retry exactly those with: "
            f"instantly {command} - <same options> --yes < {path}"
        )
    if result.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if bad:
        if len(outcomes) == 1 and bad[0].code == "not_found":
            raise typer.Exit(EXIT_NOT_FOUND)
        raise typer.Exit(EXIT_FAILED)
    raise typer.Exit(EXIT_OK)
