"""``instantly accounts pause|resume``: stop and restart sending."""

import typer

from instantly_cli import context, output
from instantly_cli.commands import _bulk, handled
from instantly_cli.commands.accounts import app
from instantly_cli.enums import FAILED, PAUSED, RESUMED, UNCHANGED, WOULD_PAUSE, WOULD_RESUME
from instantly_cli.options import (
    BulkTargetsArg,
    ConcurrencyOpt,
    DryRunOpt,
    FailuresOpt,
    JsonOpt,
    OutputOpt,
    RateOpt,
    ResumeOpt,
    YesOpt,
    examples,
)
from instantly_cli.services.bulk import AUTO_CONCURRENCY, DEFAULT_RATE, RunResult

PauseExamples = examples(
    "instantly accounts pause ops@acme.io --dry-run",
    "instantly accounts list --status sending-error -o jsonl | instantly accounts pause - --yes",
    "# undo exactly this run (accounts that were already paused stay paused):",
    "instantly accounts pause - --yes -o jsonl < list.txt | jq -c 'select(.result==\"paused\")' \\",
    "  | instantly accounts resume - --yes",
)


def _preview(result: RunResult, fmt: str) -> None:
    """Dry run: current status → new status per target."""
    from instantly_cli.columns import Column

    rows = [o.to_json() for o in result.outcomes]
    if fmt == "json":
        output.emit_json(rows)
    elif fmt == "jsonl":
        output.emit_records([rows], "jsonl", [])
    else:
        columns = [
            Column("email", "Email"),
            Column("result", "Result"),
            Column("from", "Status now"),
            Column("to", "After"),
            Column("error", "Error"),
        ]
        output.emit_records([rows], fmt, columns)


def _state(
    ctx: typer.Context,
    pause: bool,
    targets: list[str] | None,
    *,
    dry_run: bool,
    yes: bool,
    rate: float,
    concurrency: int,
    failures: object,
    resume: bool,
    output_: str | None,
    json_output: bool,
) -> int:
    from pathlib import Path

    from instantly_cli.services import accounts as service
    from instantly_cli.services.bulk import batches

    fmt = context.output_format(ctx, output_, json_output)
    verb = "pause" if pause else "resume"
    command = f"accounts {verb}"
    if resume and dry_run:
        from instantly_cli.errors import UsageError

        raise UsageError("--resume cannot be combined with --dry-run.")
    session = _bulk.begin(
        ctx, targets, command=command, verb=verb,
        params={"rate": rate, "concurrency": concurrency}, rate=rate, concurrency=concurrency,
        yes=yes, dry_run=dry_run, resume=resume,
    )
    with session:
        rate = float(session.params.get("rate", rate))
        concurrency = int(session.params.get("concurrency", concurrency))
        emails = session.emails
        with context.client(ctx, rate=rate) as client:
            if pause:
                work = service.pause_work(client, dry_run=dry_run)
                # The bulk endpoint takes 100 a call; a preview reads one account a unit.
                units = [[e] for e in emails] if dry_run else batches(emails, service.BATCH)
            else:
                work = service.resume_work(client, dry_run=dry_run)
                units = [[e] for e in emails]
            label = "Checking" if dry_run else ("Pausing" if pause else "Resuming")
            result = _bulk.run(units, work, concurrency=concurrency,
                rate=rate, pace=_bulk.pace(client), label=label, session=session)
        done = PAUSED if pause else RESUMED
        would = WOULD_PAUSE if pause else WOULD_RESUME
        return _bulk.finish(
            result,
            fmt=fmt,
            order=(would if dry_run else done, UNCHANGED, FAILED),
            failures=failures if isinstance(failures, Path) else None,
            command=command,
            session=session,
            show=(lambda: _preview(result, fmt)) if dry_run else None,
        )


@app.command("pause", epilog=PauseExamples)
@handled
def pause(
    ctx: typer.Context,
    targets: BulkTargetsArg,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    rate: RateOpt = DEFAULT_RATE,
    concurrency: ConcurrencyOpt = AUTO_CONCURRENCY,
    failures: FailuresOpt = None,
    resume: ResumeOpt = False,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int:
    """Pause sending from accounts.

    100 accounts per request; already paused ones stay unchanged.

    TARGET is an account email, or - to read emails / JSON / JSON lines from stdin.
    """
    return _state(
        ctx, True, targets, dry_run=dry_run, yes=yes, rate=rate, concurrency=concurrency,
        failures=failures, resume=resume, output_=output_, json_output=json_output,
    )


ResumeExamples = examples(
    "instantly accounts resume ops@acme.io --dry-run",
    "instantly accounts list --status paused -o jsonl | instantly accounts resume - --yes",
)


@app.command("resume", epilog=ResumeExamples)
@handled
def resume_(
    ctx: typer.Context,
    targets: BulkTargetsArg,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    rate: RateOpt = DEFAULT_RATE,
    concurrency: ConcurrencyOpt = AUTO_CONCURRENCY,
    failures: FailuresOpt = None,
    resume: ResumeOpt = False,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int:
    """Resume sending from paused accounts.

    One paced request per account; active ones are left unchanged.

    TARGET is an account email, or - to read emails / JSON / JSON lines from stdin.
    """
    return _state(
        ctx, False, targets, dry_run=dry_run, yes=yes, rate=rate, concurrency=concurrency,
        failures=failures, resume=resume, output_=output_, json_output=json_output,
    )
