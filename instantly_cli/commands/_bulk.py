"""What every bulk command does around its service call: targets, confirmation, progress, finish.

Only terminal work lives here (asking, progress bars, the summary); the runner and the
accounting are in ``services.bulk``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import typer

from instantly_cli import context, output
from instantly_cli.errors import EXIT_FAILED, UsageError
from instantly_cli.services import bulk
from instantly_cli.services.bulk import Outcome, RunResult


def where(ctx: typer.Context) -> str:
    """``profile 'x', workspace 'y'`` (or the sandbox): what a confirmation acts on."""
    s = context.settings(ctx)
    if s.sandbox:
        return "the sandbox"
    place = f"profile '{s.profile}'"
    return place + (f", workspace '{s.workspace}'" if s.workspace else "")


def confirm(ctx: typer.Context, question: str, refusal: str, yes: bool) -> None:
    """Ask on a terminal; refuse without --yes when stdin or stdout is not one."""
    if yes:
        return
    if not (output.stdin_is_tty() and output.stdout_is_tty()):
        raise UsageError(
            refusal,
            hint="Add --yes to confirm (stdin or stdout is not a terminal), "
            "or --dry-run to preview.",
        )
    if not output.confirm(f"{question} ({where(ctx)})"):
        raise UsageError("Cancelled; nothing was changed.", hint=None)


def confirm_many(ctx: typer.Context, count: int, verb: str, yes: bool) -> None:
    """Ask before touching more than one account."""
    if count > 1:
        confirm(
            ctx,
            f"{verb.capitalize()} {count:,} accounts?",
            f"Refusing to {verb} {count:,} accounts without confirmation.",
            yes,
        )


def targets(
    ctx: typer.Context,
    args: list[str],
    *,
    rate: float,
    concurrency: int,
    verb: str,
    yes: bool,
    dry_run: bool = False,
) -> list[str]:
    """Check the pacing options, read the targets, and confirm (unless previewing)."""
    from instantly_cli.targets import read_targets

    bulk.check_rate(rate, concurrency)
    emails = read_targets(args)
    if not dry_run:
        confirm_many(ctx, len(emails), verb, yes)
    return emails


def run(
    units: Sequence[list[str]],
    work: Callable[[list[str]], list[Outcome]],
    *,
    concurrency: int,
    label: str,
    rate: float | None = None,
    pace: bulk.Pace | None = None,
) -> RunResult:
    """The service's runner with a progress bar on stderr and the Ctrl-C notice.

    Pass ``rate`` (and ``pace=client.limiter.thread_stats``) to size the workers from the
    observed latency, ``concurrency`` being the upper bound.
    """
    total = sum(len(u) for u in units)

    def interrupted(pending: int) -> None:
        output.warn(
            f"Interrupted: waiting for {pending} in-flight request(s) to finish; "
            "press Ctrl-C again to stop waiting."
        )

    with output.progress(total, label) as advance:
        return bulk.run(
            units,
            work,
            concurrency=concurrency,
            advance=advance,
            on_interrupt=interrupted,
            rate=rate,
            pace=pace,
        )


def finish(
    result: RunResult,
    *,
    fmt: str,
    order: Sequence[str],
    failures: Path | None,
    command: str,
    emit: bool = True,
) -> int:
    """Write the failure file and the summary first (they must survive a broken stdout), then
    the per-target results; return the exit code."""
    outcomes = result.outcomes
    path = bulk.write_failures(outcomes, failures)
    output.info(result.summary(order))
    for o in outcomes:
        for warning in o.warnings:
            output.warn(f"{o.email}: {warning}")
    bad = result.failed
    for o in bad[:10]:
        output.info(f"  failed {o.email}: {o.error}")
    if len(bad) > 10:
        output.info(f"  … and {len(bad) - 10:,} more")
    if path is not None:
        output.info(
            f"Failed and not-attempted targets written to {path}; retry exactly those with: "
            f"instantly {command} - <same options> --yes < {path}"
        )
    code = result.exit_code()
    if emit and fmt in ("json", "jsonl", "tsv", "csv"):
        try:
            output.emit_outcomes([o.to_json() for o in outcomes], fmt)
        except BrokenPipeError:
            # The reader left (`| head`): the accounting above stands, and so does the code.
            output.silence_broken_pipe()
        except OSError as exc:
            output.warn(f"Could not write the results to stdout: {exc.strerror or exc}.")
            return max(code, EXIT_FAILED)
    return code
