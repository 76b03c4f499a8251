"""``instantly accounts pause|resume``: stop and restart sending."""

import typer

from instantly_cli import context
from instantly_cli.commands import _bulk, handled
from instantly_cli.commands.accounts import app
from instantly_cli.enums import FAILED, PAUSED, RESUMED
from instantly_cli.options import (
    ConcurrencyOpt,
    FailuresOpt,
    JsonOpt,
    OutputOpt,
    RateOpt,
    TargetsArg,
    YesOpt,
    examples,
)
from instantly_cli.services.bulk import DEFAULT_CONCURRENCY, DEFAULT_RATE

PauseExamples = examples(
    "instantly accounts pause ops@acme.io",
    "instantly accounts list --status sending-error -o jsonl | instantly accounts pause - --yes",
)


@app.command("pause", epilog=PauseExamples)
@handled
def pause(
    ctx: typer.Context,
    targets: TargetsArg,
    yes: YesOpt = False,
    rate: RateOpt = DEFAULT_RATE,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    failures: FailuresOpt = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int:
    """Pause sending from accounts (bulk endpoint, 100 per request)."""
    from instantly_cli.services import accounts as service
    from instantly_cli.services.bulk import batches

    fmt = context.output_format(ctx, output_, json_output)
    emails = _bulk.targets(
        ctx, targets, rate=rate, concurrency=concurrency, verb="pause", yes=yes
    )
    with context.client(ctx, rate=rate) as client:
        work = service.pause_work(client, single=len(emails) == 1)
        units = batches(emails, service.BATCH)
        result = _bulk.run(units, work, concurrency=concurrency, label="Pausing")
    return _bulk.finish(
        result, fmt=fmt, order=(PAUSED, FAILED), failures=failures, command="accounts pause"
    )


ResumeExamples = examples(
    "instantly accounts resume ops@acme.io",
    "instantly accounts list --status paused -o jsonl | instantly accounts resume - --yes",
)


@app.command("resume", epilog=ResumeExamples)
@handled
def resume(
    ctx: typer.Context,
    targets: TargetsArg,
    yes: YesOpt = False,
    rate: RateOpt = DEFAULT_RATE,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    failures: FailuresOpt = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int:
    """Resume sending from paused accounts (one request per account, paced)."""
    from instantly_cli.services import accounts as service

    fmt = context.output_format(ctx, output_, json_output)
    emails = _bulk.targets(
        ctx, targets, rate=rate, concurrency=concurrency, verb="resume", yes=yes
    )
    with context.client(ctx, rate=rate) as client:
        work = service.resume_work(client)
        result = _bulk.run([[e] for e in emails], work, concurrency=concurrency, label="Resuming")
    return _bulk.finish(
        result, fmt=fmt, order=(RESUMED, FAILED), failures=failures, command="accounts resume"
    )
