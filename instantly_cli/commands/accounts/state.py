"""``instantly accounts pause|resume``: stop and restart sending (one declaration, two verbs)."""

from collections.abc import Callable

import typer

from instantly_cli import context, output
from instantly_cli.commands import _bulk, handled
from instantly_cli.commands.accounts import app
from instantly_cli.enums import FAILED, PAUSED, RESUMED, UNCHANGED, WOULD_PAUSE, WOULD_RESUME
from instantly_cli.options import ImpactStrictOpt, TargetsArg, examples
from instantly_cli.options_bundles import BulkOpts, bulk_options
from instantly_cli.services.bulk import RunResult


def _preview(result: RunResult, fmt: str) -> None:
    """Dry run: current status → new status per target."""
    from instantly_cli.columns import Column

    rows = [o.to_json() for o in result.outcomes]
    if fmt == "json":
        output.emit_json(rows)
    elif fmt == "jsonl":
        output.emit_records([rows], "jsonl", [])
    else:
        columns = [Column("email", "Email"), Column("result", "Result"),
                   Column("from", "Status now"), Column("to", "After"), Column("error", "Error")]
        output.emit_records([rows], fmt, columns)


def _command(pause: bool) -> Callable[..., int]:
    """The command of one verb; both verbs share this declaration."""
    verb = "pause" if pause else "resume"

    @bulk_options()
    def command(
        ctx: typer.Context,
        targets: TargetsArg,
        strict: ImpactStrictOpt = False,
        *,
        opts: BulkOpts,
    ) -> int:
        from instantly_cli.commands._impact import campaign_impact
        from instantly_cli.services.accounts import state as service
        from instantly_cli.services.bulk import batches

        fmt = context.output_format(ctx, opts.output_, opts.json_output)
        dry_run = opts.dry_run
        look = campaign_impact(ctx, strict=strict, dry_run=dry_run, yes=opts.yes) if pause else None
        session = _bulk.open_session(
            ctx, f"accounts {verb}", targets,
            lambda emails: _bulk.Plan({}, verb, ["status"], look=look), verb=verb, fmt=fmt,
            opts=opts)
        with session, session.client() as client:
            emails = session.emails
            if pause:
                work = service.pause_work(client, dry_run=dry_run)
                # The bulk endpoint takes 100 a call; a preview reads one account a unit.
                units = [[e] for e in emails] if dry_run else batches(emails, service.BATCH)
            else:
                work = service.resume_work(client, dry_run=dry_run)
                units = [[e] for e in emails]
            label = "Checking" if dry_run else ("Pausing" if pause else "Resuming")
            result = session.run(units, work, client=client, label=label)
            done = (WOULD_PAUSE if pause else WOULD_RESUME) if dry_run else (
                PAUSED if pause else RESUMED)
            return session.finish(result, order=(done, UNCHANGED, FAILED),
                                  show=(lambda: _preview(result, fmt)) if dry_run else None)

    command.__doc__ = (
        """Pause sending from accounts.

        100 accounts per request; already paused ones stay unchanged.

        TARGET is an account email, or - to read emails / JSON / JSON lines from stdin.
        """ if pause else """Resume sending from paused accounts.

        One paced request per account; active ones are left unchanged.

        TARGET is an account email, or - to read emails / JSON / JSON lines from stdin.
        """
    )
    command.__name__ = verb
    return command


PauseExamples = examples(
    "instantly accounts pause ops@acme.io --dry-run",
    "instantly accounts list --status sending-error -o jsonl | instantly accounts pause - --yes",
    "# undo exactly this run (accounts that were already paused stay paused):",
    "instantly accounts pause - --yes -o jsonl < list.txt | jq -c 'select(.result==\"paused\")' \\",
    "  | instantly accounts resume - --yes",
)
ResumeExamples = examples(
    "instantly accounts resume ops@acme.io --dry-run",
    "instantly accounts list --status paused -o jsonl | instantly accounts resume - --yes",
)
pause = app.command("pause", epilog=PauseExamples)(handled(_command(True)))
resume_ = app.command("resume", epilog=ResumeExamples)(handled(_command(False)))
