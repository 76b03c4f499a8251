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
    BulkTargetsArg,
    ConcurrencyOpt,
    FailuresOpt,
    JsonOpt,
    OutputOpt,
    RateOpt,
    ResumeOpt,
    YesOpt,
    examples,
)
from instantly_cli.services.bulk import AUTO_CONCURRENCY, DEFAULT_RATE

NoWaitOpt = Annotated[
    bool, typer.Option("--no-wait", help="Print the background job ids and return at once.")
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", metavar="SECONDS", help="How long to wait for the jobs.")
]


def _warmup(
    ctx: typer.Context,
    enable: bool,
    targets: list[str] | None,
    *,
    yes: bool,
    no_wait: bool,
    timeout: float,
    rate: float,
    concurrency: int,
    failures: Path | None,
    resume: bool,
    output_: str | None,
    json_output: bool,
) -> int:
    from instantly_cli import views
    from instantly_cli.commands._bulk import command_text
    from instantly_cli.services import accounts as service
    from instantly_cli.services.bulk import batches

    fmt = context.output_format(ctx, output_, json_output)
    if not (math.isfinite(timeout) and timeout > 0):
        raise UsageError("--timeout must be a positive number of seconds.")
    verb = "enable" if enable else "disable"
    command = f"accounts warmup {verb}"
    params = {"no_wait": no_wait, "timeout": timeout, "rate": rate, "concurrency": concurrency}
    session = _bulk.begin(
        ctx, targets, command=command, verb=f"{verb} warmup on", params=params, rate=rate,
        concurrency=concurrency, yes=yes, resume=resume,
    )
    with session:
        p = session.params
        no_wait, timeout = bool(p.get("no_wait", no_wait)), float(p.get("timeout", timeout))
        rate, concurrency = float(p.get("rate", rate)), int(p.get("concurrency", concurrency))
        started = context.runtime(ctx).clock()
        with context.client(ctx, rate=rate) as client:
            work = service.warmup_submit_work(client, enable)
            units = batches(session.emails, service.BATCH)
            label = f"Submitting warmup {verb}"
            result = _bulk.run(units, work, concurrency=concurrency,
                rate=rate, pace=_bulk.pace(client), label=label, session=session)
            jobs = service.submitted_jobs(result)
            if no_wait or result.interrupted:

                def show() -> None:
                    output.emit_records([jobs], fmt, views.JOB_COLUMNS)

                order = (SUBMITTED, FAILED)
                return _bulk.finish(
                    result, fmt=fmt, order=order, failures=failures, command=command,
                    session=session, show=show,
                )
            # Wait; a job that failed as a whole with several emails is split and submitted
            # again until the emails to blame are alone (bisection), so only they fail.
            while ids := service.pending_job_ids(result):
                output.notice(
                    f"Waiting for {len(ids):,} warmup job(s); Ctrl-C stops waiting (the jobs "
                    "go on on the server)."
                )
                waited = _bulk.wait_jobs(
                    ctx, client, ids, timeout=timeout, label="Waiting for warmup jobs",
                    session=session,
                )
                service.judge_warmup(result, waited, enable=enable, timeout=timeout)
                result.interrupted = result.interrupted or waited.interrupted
                if waited.interrupted or waited.error is not None or waited.timed_out:
                    break
                halves = service.split_failed_jobs(result)
                if not halves:
                    break
                again = _bulk.run(halves, work, concurrency=concurrency,
                    rate=rate, pace=_bulk.pace(client),
                                  label="Splitting failed jobs", session=session)
                service.replace_outcomes(result, again.outcomes)
                if again.interrupted:
                    result.interrupted = True
                    break
        if session.journal is not None:
            session.journal.record(result.outcomes)
        result.elapsed = context.runtime(ctx).clock() - started
        unfinished = service.unfinished_job_ids(result)
        if unfinished:
            output.info(
                f"Waiting stopped with {len(unfinished):,} job(s) unfinished; they go on on the "
                "server. Wait for them with: " + command_text(
                    [*session.globals, "jobs", "wait", *unfinished]
                )
            )
        order = (ENABLED if enable else DISABLED, FAILED)
        return _bulk.finish(
            result, fmt=fmt, order=order, failures=failures, command=command, session=session
        )


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
    targets: BulkTargetsArg,
    no_wait: NoWaitOpt = False,
    timeout: TimeoutOpt = 300.0,
    yes: YesOpt = False,
    rate: RateOpt = DEFAULT_RATE,
    concurrency: ConcurrencyOpt = AUTO_CONCURRENCY,
    failures: FailuresOpt = None,
    resume: ResumeOpt = False,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int:
    """Turn warmup on and wait for the background jobs.

    100 accounts per job.

    TARGET is an account email, or - to read emails / JSON / JSON lines from stdin.
    """
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
        resume=resume,
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
    targets: BulkTargetsArg,
    no_wait: NoWaitOpt = False,
    timeout: TimeoutOpt = 300.0,
    yes: YesOpt = False,
    rate: RateOpt = DEFAULT_RATE,
    concurrency: ConcurrencyOpt = AUTO_CONCURRENCY,
    failures: FailuresOpt = None,
    resume: ResumeOpt = False,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int:
    """Turn warmup off and wait for the background jobs.

    100 accounts per job.

    TARGET is an account email, or - to read emails / JSON / JSON lines from stdin.
    """
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
        resume=resume,
        output_=output_,
        json_output=json_output,
    )
