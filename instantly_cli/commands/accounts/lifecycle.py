"""``instantly accounts delete|mark-fixed|move``: retire, repair and relocate accounts.

delete and mark-fixed share one declaration; move adds its workspaces to the same options."""

import contextlib
import dataclasses
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from instantly_cli import context
from instantly_cli.columns import OUTCOME_COLUMNS, parse_fields
from instantly_cli.commands import _bulk, handled
from instantly_cli.commands.accounts import _outcomes, app
from instantly_cli.enums import (
    DELETED,
    FAILED,
    FIXED,
    GONE,
    MOVED,
    UNCHANGED,
    WOULD_DELETE,
    WOULD_FIX,
    WOULD_MOVE,
)
from instantly_cli.options import FieldsOpt, ImpactStrictOpt, TargetsArg, examples
from instantly_cli.options_bundles import BulkOpts, bulk_options

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient


def _lookup_in(
    ctx: typer.Context, stack: contextlib.ExitStack, rate: float, workspace: str
) -> Callable[[str], bool]:
    """Whether an email is in ``workspace``; its client is opened on first use only (a lost
    answer, or a refused batch, of a move is the only reason to look there)."""
    from instantly_cli.errors import NotFoundError
    from instantly_cli.services.accounts.get import get_account

    there = dataclasses.replace(context.settings(ctx), workspace=workspace)
    lock = threading.Lock()
    opened: list[InstantlyClient] = []

    def found(email: str) -> bool:
        with lock:
            if not opened:
                opened.append(stack.enter_context(context.client(ctx, rate=rate, resolved=there)))
        try:
            get_account(opened[0], email)
        except NotFoundError:
            return False
        return True

    return found


def _delete_brief(ctx: typer.Context, emails: list[str], rate: float,
                  concurrency: int) -> _bulk.Brief:
    """Read the accounts about to be deleted (only when a person is asked): the domains,
    the status mix and every active one, and whether the count must be typed."""
    from instantly_cli import output
    from instantly_cli.services import bulk
    from instantly_cli.services.accounts import lifecycle
    from instantly_cli.services.bulk import Outcome

    with context.client(ctx, rate=rate) as client, output.progress(len(emails),
                                                                    "Checking") as advance:
        def work(unit: list[str]) -> list[Outcome]:
            return [Outcome(unit[0], WOULD_DELETE, account=client.get_account(unit[0]))]

        result = bulk.run([[e] for e in emails], work, concurrency=concurrency, rate=rate,
                          advance=advance, pace=client.limiter.thread_stats
                          if client.limiter is not None else None)
    if result.interrupted:
        raise KeyboardInterrupt
    accounts = [o.account for o in result.outcomes if o.account is not None]
    lines, strict = lifecycle.delete_brief(emails, accounts, missing=len(result.failed))
    return _bulk.Brief(lines, strict)


def _accounts(n: int) -> str:
    return f"{n:,} account" + ("" if n == 1 else "s")


def _command(delete: bool) -> Callable[..., int]:
    """delete or mark-fixed; both verbs share this declaration."""
    name = "delete" if delete else "mark-fixed"

    @bulk_options()
    def command(
        ctx: typer.Context,
        targets: TargetsArg,
        fields: FieldsOpt = None,
        strict: ImpactStrictOpt = False,
        *,
        opts: BulkOpts,
    ) -> int:
        from instantly_cli import views
        from instantly_cli.commands._impact import campaign_impact
        from instantly_cli.services.accounts import lifecycle

        fmt = context.output_format(ctx, opts.output_, opts.json_output)
        field_list = parse_fields(fields)
        dry_run = opts.dry_run

        def plan(emails: list[str]) -> _bulk.Plan:
            if delete:
                return _bulk.Plan({}, "delete", ["account"],
                                  f"Delete {_accounts(len(emails))} for good?",
                                  look=campaign_impact(ctx, strict=strict, dry_run=dry_run,
                                                       yes=opts.yes),
                                  brief=lambda: _delete_brief(ctx, emails, opts.rate,
                                                               opts.concurrency))
            return _bulk.Plan({}, "mark fixed", ["status"])

        session = _bulk.open_session(
            ctx, f"accounts {name}", targets, plan, verb="delete" if delete else "mark fixed",
            fmt=fmt, opts=opts, brief=(lambda emails: _delete_brief(
                ctx, emails, opts.rate, opts.concurrency)) if delete else None)
        with session, session.client() as client:
            if delete:
                work = lifecycle.delete_work(client, dry_run=dry_run)
                order = (WOULD_DELETE, FAILED) if dry_run else (DELETED, GONE, FAILED)
            else:
                work = lifecycle.mark_fixed_work(client, dry_run=dry_run)
                order = (WOULD_FIX, UNCHANGED) if dry_run else (FIXED, UNCHANGED, FAILED)
            result = session.run([[e] for e in session.emails], work, client=client,
                                 label="Checking" if dry_run else ("Deleting" if delete
                                                                   else "Fixing"))
            if delete:
                found = [o.account for o in result.outcomes if o.account is not None]
                columns = (views.account_columns(fmt, False) if fmt == "table"
                           else OUTCOME_COLUMNS)
                return session.finish(result, order=order, show=lambda: _outcomes.emit(
                    result, fmt, field_list, columns, table_rows=found))
            rows = [o.to_json() for o in result.outcomes]
            return session.finish(result, order=order, show=lambda: _outcomes.emit(
                result, fmt, field_list, views.STATUS_CHANGE_COLUMNS, table_rows=rows))

    command.__doc__ = """Delete accounts for good.

    Asks first, naming the domains and the status mix; more than 10 accounts, or any active
    one (it may be sending), must be confirmed by typing their number. Without a terminal,
    --yes. Every active account is flagged, with --dry-run too. An account already deleted is
    "gone".

    With -o json each deleted account is kept as the API returned it: `accounts create --from`
    takes that file back (with --imap-host, --smtp-host and --password-stdin, which the API
    never returns).
    """ if delete else """Mark repaired accounts fixed.

    Shows each account's status before and after.

    TARGET is an account email, or - to read emails / JSON / JSON lines from stdin.
    """
    command.__name__ = name.replace("-", "_")
    return command


delete = app.command("delete", epilog=examples(
    "instantly accounts delete old@acme.io --dry-run",
    "instantly accounts list --search old-domain.com -o jsonl | "
    "instantly accounts delete - --json > deleted.json",
    "instantly accounts create --from deleted.json --imap-host imap.acme.io "
    "--smtp-host smtp.acme.io --password-stdin",
))(handled(_command(True)))
mark_fixed = app.command("mark-fixed", epilog=examples(
    "instantly accounts mark-fixed ops@acme.io",
    "instantly accounts list --filter error -o jsonl | instantly accounts mark-fixed - --yes",
))(handled(_command(False)))


@app.command(
    "move",
    epilog=examples(
        'instantly accounts move ops@acme.io --to "Client North"',
        "instantly --workspace SOURCE_ID accounts move ops@acme.io --to DEST_ID",
        "instantly accounts list --tag 'Client B' -o jsonl | "
        "instantly accounts move - --from SOURCE_ID --to DEST_ID --yes",
    ),
)
@handled
@bulk_options()
def move(
    ctx: typer.Context,
    targets: TargetsArg,
    to: Annotated[
        str | None,
        typer.Option("--to", metavar="WORKSPACE", help="The workspace to move them to (a name "
                     "or an id).",
                     show_default=False),
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option("--from", metavar="WORKSPACE",
                     help="The workspace they are in (a name or an id) [default: --workspace, "
                     "else each account's own]."),
    ] = None,
    fields: FieldsOpt = None,
    strict: ImpactStrictOpt = False,
    *,
    opts: BulkOpts,
) -> int:
    """Move accounts to another workspace.

    100 per request; asks first, naming both workspaces. Accounts already in the destination
    are "unchanged".

    TARGET is an account email, or - to read emails / JSON / JSON lines from stdin.
    """
    from instantly_cli.commands._impact import campaign_impact
    from instantly_cli.errors import UsageError
    from instantly_cli.services.accounts import lifecycle
    from instantly_cli.services.bulk import batches

    fmt = context.output_format(ctx, opts.output_, opts.json_output)
    field_list = parse_fields(fields)
    dry_run = opts.dry_run

    def plan(emails: list[str]) -> _bulk.Plan:
        if to is None:
            raise UsageError("Missing option '--to'.", hint="Name the destination workspace.")
        dest = context.workspace_id(ctx, to, option="--to")
        given = from_ or context.settings(ctx).workspace
        source = lifecycle.check_move(
            given and context.workspace_id(ctx, given, option="--from"), dest)
        n = _accounts(len(emails))
        named = dest if to.strip().lower() == dest else f"{to.strip()} ({dest})"
        where = f"workspace {source}" if source else "their workspaces (each account's own)"
        return _bulk.Plan({"from": source, "to": dest}, f"move to workspace {named}",
                          ["workspace"], f"Move {n} from {where} to workspace {named}?",
                          look=campaign_impact(ctx, strict=strict, dry_run=dry_run,
                                               yes=opts.yes))

    session = _bulk.open_session(
        ctx, "accounts move", targets, plan, verb="move", fmt=fmt, opts=opts)
    with session, contextlib.ExitStack() as stack:
        client = stack.enter_context(session.client())
        source, dest = session.what.get("from") or None, str(session.what.get("to"))
        work = lifecycle.move_work(client, source, dest, dry_run=dry_run,
                                   in_destination=_lookup_in(ctx, stack, session.rate, dest))
        result = session.run(batches(session.emails, lifecycle.MOVE_BATCH), work, client=client,
                             label="Moving")
        return session.finish(result, order=(WOULD_MOVE,) if dry_run else (MOVED, UNCHANGED,
                                                                            FAILED),
                              show=lambda: _outcomes.emit(result, fmt, field_list))

