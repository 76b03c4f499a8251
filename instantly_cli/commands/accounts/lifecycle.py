"""``instantly accounts delete|mark-fixed|move``: retire, repair and relocate accounts."""

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
    MOVED,
    UNCHANGED,
    WOULD_DELETE,
    WOULD_FIX,
    WOULD_MOVE,
)
from instantly_cli.options import (
    ConcurrencyOpt,
    DryRunOpt,
    FailuresOpt,
    FieldsOpt,
    JsonOpt,
    OutputOpt,
    RateOpt,
    TargetsArg,
    YesOpt,
    examples,
)
from instantly_cli.services.bulk import AUTO_CONCURRENCY, DEFAULT_RATE

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient


def _found(client: "InstantlyClient", email: str) -> bool:  # noqa: UP037
    from instantly_cli.errors import NotFoundError

    try:
        client.get_account(email)
    except NotFoundError:
        return False
    return True


def _lookup_in(
    ctx: typer.Context, stack: contextlib.ExitStack, rate: float, workspace: str
) -> Callable[[str], bool]:
    """Whether an email is in ``workspace``; its client is opened on first use only (a lost
    answer of a move is the only reason to look there)."""
    there = dataclasses.replace(context.settings(ctx), workspace=workspace)
    lock = threading.Lock()
    opened: list[InstantlyClient] = []

    def found(email: str) -> bool:
        with lock:
            if not opened:
                opened.append(stack.enter_context(context.client(ctx, rate=rate, resolved=there)))
        return _found(opened[0], email)

    return found


def _accounts(n: int) -> str:
    return f"{n:,} account" + ("" if n == 1 else "s")


@app.command(
    "delete",
    epilog=examples(
        "instantly accounts delete old@acme.io --dry-run",
        "instantly accounts list --search old-domain.com -o jsonl | "
        "instantly accounts delete - --yes --json > deleted.json",
    ),
)
@handled
def delete(
    ctx: typer.Context,
    targets: TargetsArg,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    rate: RateOpt = DEFAULT_RATE,
    concurrency: ConcurrencyOpt = AUTO_CONCURRENCY,
    failures: FailuresOpt = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
) -> int:
    """Delete accounts for good.

    Asks first; --yes when not on a terminal.

    With -o json the deleted accounts (as the API returned them) are kept in the output, so a
    mistake can be recreated by hand.
    """
    from instantly_cli import views
    from instantly_cli.services import lifecycle

    fmt = context.output_format(ctx, output_, json_output)
    field_list = parse_fields(fields)
    emails = _bulk.targets(
        ctx, targets, rate=rate, concurrency=concurrency, verb="delete", yes=yes, dry_run=True
    )
    if not dry_run:
        n = _accounts(len(emails))
        _bulk.confirm(
            ctx,
            f"Delete {n} for good?",
            f"Refusing to delete {n} without confirmation.",
            yes,
        )
    with context.client(ctx, rate=rate) as client:
        work = lifecycle.delete_work(client, dry_run=dry_run)
        label = "Checking" if dry_run else "Deleting"
        result = _bulk.run([[e] for e in emails], work, concurrency=concurrency,
            rate=rate, pace=_bulk.pace(client), label=label)
    code = _bulk.finish(
        result,
        fmt=fmt,
        order=(WOULD_DELETE,) if dry_run else (DELETED, FAILED),
        failures=failures,
        command="accounts delete",
        emit=False,
    )
    found = [o.account for o in result.outcomes if o.account is not None]
    columns = views.account_columns(fmt, False) if fmt == "table" else OUTCOME_COLUMNS
    _outcomes.emit(result, fmt, field_list, columns, table_rows=found)
    return code


@app.command(
    "mark-fixed",
    epilog=examples(
        "instantly accounts mark-fixed ops@acme.io",
        "instantly accounts list --filter error -o jsonl | "
        "instantly accounts mark-fixed - --yes",
    ),
)
@handled
def mark_fixed(
    ctx: typer.Context,
    targets: TargetsArg,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    rate: RateOpt = DEFAULT_RATE,
    concurrency: ConcurrencyOpt = AUTO_CONCURRENCY,
    failures: FailuresOpt = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
) -> int:
    """Mark repaired accounts fixed.

    Shows each account's status before and after.

    TARGET is an account email, or - to read emails / JSON / JSON lines from stdin.
    """
    from instantly_cli import views
    from instantly_cli.services import lifecycle

    fmt = context.output_format(ctx, output_, json_output)
    field_list = parse_fields(fields)
    emails = _bulk.targets(
        ctx, targets, rate=rate, concurrency=concurrency, verb="mark fixed", yes=yes,
        dry_run=dry_run,
    )
    with context.client(ctx, rate=rate) as client:
        work = lifecycle.mark_fixed_work(client, dry_run=dry_run)
        result = _bulk.run([[e] for e in emails], work, concurrency=concurrency,
            rate=rate, pace=_bulk.pace(client), label="Fixing")
    order = (WOULD_FIX, UNCHANGED) if dry_run else (FIXED, UNCHANGED, FAILED)
    code = _bulk.finish(
        result,
        fmt=fmt,
        order=order,
        failures=failures,
        command="accounts mark-fixed",
        emit=False,
    )
    rows = [o.to_json() for o in result.outcomes]
    _outcomes.emit(result, fmt, field_list, views.STATUS_CHANGE_COLUMNS, table_rows=rows)
    return code


@app.command(
    "move",
    epilog=examples(
        "instantly --workspace SOURCE_ID accounts move ops@acme.io --to DEST_ID",
        "instantly accounts list --tag 'Client B' -o jsonl | "
        "instantly accounts move - --from SOURCE_ID --to DEST_ID --yes",
    ),
)
@handled
def move(
    ctx: typer.Context,
    targets: TargetsArg,
    to: Annotated[
        str,
        typer.Option("--to", metavar="WORKSPACE_ID", help="The workspace to move them to.",
                     show_default=False),
    ],
    from_: Annotated[
        str | None,
        typer.Option("--from", metavar="WORKSPACE_ID",
                     help="The workspace they are in [default: the current one, --workspace]."),
    ] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    rate: RateOpt = DEFAULT_RATE,
    concurrency: ConcurrencyOpt = AUTO_CONCURRENCY,
    failures: FailuresOpt = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
) -> int:
    """Move accounts to another workspace.

    100 per request; asks first, naming both workspaces.

    TARGET is an account email, or - to read emails / JSON / JSON lines from stdin.
    """
    from instantly_cli.services import lifecycle
    from instantly_cli.services.bulk import batches

    fmt = context.output_format(ctx, output_, json_output)
    field_list = parse_fields(fields)
    source = lifecycle.check_move(from_ or context.settings(ctx).workspace, to)
    emails = _bulk.targets(
        ctx, targets, rate=rate, concurrency=concurrency, verb="move", yes=yes, dry_run=True
    )
    if not dry_run:
        n = _accounts(len(emails))
        _bulk.confirm(
            ctx,
            f"Move {n} from workspace {source} to workspace {to.strip()}?",
            f"Refusing to move {n} from workspace {source} to {to.strip()} without confirmation.",
            yes,
        )
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(context.client(ctx, rate=rate))
        work = lifecycle.move_work(
            client, source, to.strip(), dry_run=dry_run,
            in_destination=_lookup_in(ctx, stack, rate, to.strip()),
        )
        units = batches(emails, lifecycle.MOVE_BATCH)
        result = _bulk.run(units, work, concurrency=concurrency,
            rate=rate, pace=_bulk.pace(client), label="Moving")
    code = _bulk.finish(
        result,
        fmt=fmt,
        order=(WOULD_MOVE,) if dry_run else (MOVED, FAILED),
        failures=failures,
        command="accounts move",
        emit=False,
    )
    _outcomes.emit(result, fmt, field_list)
    return code
