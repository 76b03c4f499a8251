"""``instantly accounts warmup enable|disable``: background jobs, submitted and waited for
(one declaration, two verbs)."""

import math
from collections.abc import Callable

import typer

from instantly_cli import context, output
from instantly_cli.commands import _bulk, handled
from instantly_cli.commands.accounts import warmup_app
from instantly_cli.enums import DISABLED, ENABLED, FAILED, SUBMITTED
from instantly_cli.errors import UsageError
from instantly_cli.options import (
    ImpactStrictOpt,
    JobsTimeoutOpt,
    NoWaitOpt,
    TargetsArg,
    examples,
)
from instantly_cli.options_bundles import BulkOpts, bulk_options


def _command(enable: bool) -> Callable[..., int]:
    """The command of one verb; both verbs share this declaration."""
    verb = "enable" if enable else "disable"

    @bulk_options(dry_run=False)
    def command(
        ctx: typer.Context,
        targets: TargetsArg,
        no_wait: NoWaitOpt = False,
        timeout: JobsTimeoutOpt = 300.0,
        strict: ImpactStrictOpt = False,
        *,
        opts: BulkOpts,
    ) -> int:
        from instantly_cli import views
        from instantly_cli.commands._impact import campaign_impact
        from instantly_cli.services.accounts import warmup as service
        from instantly_cli.services.bulk import Outcome, batches

        fmt = context.output_format(ctx, opts.output_, opts.json_output)
        if not (math.isfinite(timeout) and timeout > 0):
            raise UsageError("--timeout must be a positive number of seconds.")
        session = _bulk.open_session(
            ctx, f"accounts warmup {verb}", targets,
            lambda emails: _bulk.Plan(
                {}, f"warmup {verb}", ["warmup"],
                look=None if enable else campaign_impact(ctx, strict=strict, dry_run=False,
                                                         yes=opts.yes)),
            verb=f"{verb} warmup on", fmt=fmt, opts=opts)
        with session, session.client() as client:
            started = context.runtime(ctx).clock()
            # A resumed run waits for the jobs it had submitted instead of submitting again.
            old = session.resumed
            waiting = {e: j for e in session.emails if old and (j := old.job_of(e))}
            work = service.warmup_submit_work(client, enable)
            units = batches([e for e in session.emails if e not in waiting], service.BATCH)
            result = session.run(units, work, client=client, label=f"Submitting warmup {verb}")
            result.outcomes += [Outcome(e, SUBMITTED, extra={"job_id": j})
                                for e, j in waiting.items()]
            if no_wait or result.interrupted:
                jobs = service.submitted_jobs(result)

                def show() -> None:
                    output.emit_records([jobs], fmt, views.JOB_COLUMNS)

                return session.finish(result, order=(SUBMITTED, FAILED), show=show)
            # Wait; a job that failed as a whole with several emails is split and submitted
            # again until the emails to blame are alone (bisection), so only they fail.
            while ids := service.pending_job_ids(result):
                output.notice(f"Waiting for {len(ids):,} warmup job(s); Ctrl-C stops waiting "
                              "(the jobs go on on the server).")
                waited = session.wait_jobs(client, ids, timeout=timeout,
                                           label="Waiting for warmup jobs")
                service.judge_warmup(result, waited, enable=enable, timeout=timeout)
                result.interrupted = result.interrupted or waited.interrupted
                if waited.interrupted or waited.error is not None or waited.timed_out:
                    break
                halves = service.split_failed_jobs(result)
                if not halves:
                    break
                again = session.run(halves, work, client=client, label="Splitting failed jobs")
                service.replace_outcomes(result, again.outcomes)
                if again.interrupted:
                    result.interrupted = True
                    break
            session.note(result.outcomes)
            result.elapsed = context.runtime(ctx).clock() - started
            order = (ENABLED if enable else DISABLED, SUBMITTED, FAILED)
            return session.finish(result, order=order)

    command.__doc__ = (f"Turn warmup {'on' if enable else 'off'} and wait for the background "
                       "jobs.\n\n100 accounts per job.\n\nTARGET is an account email, or - to "
                       "read emails / JSON / JSON lines from stdin.")
    command.__name__ = f"warmup_{verb}"
    return command


warmup_enable = warmup_app.command("enable", epilog=examples(
    "instantly accounts warmup enable ops@acme.io",
    "instantly accounts list --filter warmup-paused -o jsonl | "
    "instantly accounts warmup enable - --yes",
))(handled(_command(True)))
warmup_disable = warmup_app.command("disable", epilog=examples(
    "instantly accounts warmup disable ops@acme.io --no-wait --json",
    "instantly accounts list --filter warmup-error -o jsonl | "
    "instantly accounts warmup disable - --yes",
))(handled(_command(False)))
