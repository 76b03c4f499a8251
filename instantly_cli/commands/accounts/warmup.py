"""``instantly accounts warmup enable|disable``: background jobs, submitted and waited for."""

import math
from pathlib import Path
from typing import Annotated

import typer

from instantly_cli import context, output
from instantly_cli.commands import _bulk, handled
from instantly_cli.commands.accounts import warmup_app
from instantly_cli.enums import DISABLED, ENABLED, FAILED, SUBMITTED
from instantly_cli.errors import UsageError
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

NoWaitOpt = Annotated[
    bool, typer.Option("--no-wait", help="Print the background job ids and return at once.")
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", metavar="SECONDS", help="How long to wait for the jobs.")
]


def _warmup(
    ctx: typer.Context,
    enable: bool,
    targets: list[str],
    *,
    yes: bool,
    no_wait: bool,
    timeout: float,
    rate: float,
    concurrency: int,
    failures: Path | None,
    output_: str | None,
    json_output: bool,
) -> int:
    from instantly_cli import views
    from instantly_cli.services import accounts as service
    from instantly_cli.services.bulk import batches

    fmt = context.output_format(ctx, output_, json_output)
    if not (math.isfinite(timeout) and timeout > 0):
        raise UsageError("--timeout must be a positive number of seconds.")
    verb = "enable" if enable else "disable"
    command = f"accounts warmup {verb}"
    emails = _bulk.targets(
        ctx, targets, rate=rate, concurrency=concurrency, verb=f"{verb} warmup on", yes=yes
    )
    started = context.runtime(ctx).clock()
    with context.client(ctx, rate=rate) as client:
        work = service.warmup_submit_work(client, enable)
        units = batches(emails, service.BATCH)
        result = _bulk.run(units, work, concurrency=concurrency, label=f"Submitting warmup {verb}")
        jobs = service.submitted_jobs(result)
        if no_wait or result.interrupted:
            if fmt == "json":
                output.emit_json(jobs)
            else:
                output.emit_records([jobs], fmt, views.JOB_COLUMNS)
            order = (SUBMITTED, FAILED)
            return _bulk.finish(
                result, fmt=fmt, order=order, failures=failures, command=command, emit=False
            )
        ids = [j["job_id"] for j in jobs]
        waited = _bulk.wait_jobs(ctx, client, ids, timeout=timeout, label="Waiting for warmup jobs")
    service.judge_warmup(result, waited, enable=enable, timeout=timeout)
    result.interrupted = result.interrupted or waited.interrupted
    result.elapsed = context.runtime(ctx).clock() - started
    order = (ENABLED if enable else DISABLED, FAILED)
    return _bulk.finish(result, fmt=fmt, order=order, failures=failures, command=command)


@warmup_app.command(
    "enable",
    epilog=examples(
        "instantly accounts warmup enable ops@acme.io",
        "instantly accounts list --filter warmup-paused -o jsonl | "
        "instantly accounts warmup enable - --yes",
    ),
)
@handled
def warmup_enable(
    ctx: typer.Context,
    targets: TargetsArg,
    no_wait: NoWaitOpt = False,
    timeout: TimeoutOpt = 300.0,
    yes: YesOpt = False,
    rate: RateOpt = DEFAULT_RATE,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    failures: FailuresOpt = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int:
    """Turn warmup on (100 accounts per background job) and wait for the jobs."""
    return _warmup(
        ctx,
        True,
        targets,
        yes=yes,
        no_wait=no_wait,
        timeout=timeout,
        rate=rate,
        concurrency=concurrency,
        failures=failures,
        output_=output_,
        json_output=json_output,
    )


@warmup_app.command(
    "disable",
    epilog=examples(
        "instantly accounts warmup disable ops@acme.io --no-wait --json",
        "instantly accounts list --filter warmup-error -o jsonl | "
        "instantly accounts warmup disable - --yes",
    ),
)
@handled
def warmup_disable(
    ctx: typer.Context,
    targets: TargetsArg,
    no_wait: NoWaitOpt = False,
    timeout: TimeoutOpt = 300.0,
    yes: YesOpt = False,
    rate: RateOpt = DEFAULT_RATE,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    failures: FailuresOpt = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int:
    """Turn warmup off (100 accounts per background job) and wait for the jobs."""
    return _warmup(
        ctx,
        False,
        targets,
        yes=yes,
        no_wait=no_wait,
        timeout=timeout,
        rate=rate,
        concurrency=concurrency,
        failures=failures,
        output_=output_,
        json_output=json_output,
    )
