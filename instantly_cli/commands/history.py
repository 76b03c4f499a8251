"""``instantly history``: the fleet's snapshots (recorded by summary, list --all and diff)."""

from typing import Annotated

import typer

from instantly_cli import output
from instantly_cli.columns import Column
from instantly_cli.commands import handled
from instantly_cli.options import examples
from instantly_cli.options_bundles import NO_VIEW, View, view_options

app = typer.Typer(help="The fleet's snapshots: list and prune them.", no_args_is_help=True)

SNAPSHOT_COLUMNS = [
    Column("id", "Snapshot", justify="right"),
    Column("taken_at", "Taken at"),
    Column("source", "By"),
    Column("accounts", "Accounts", justify="right"),
]


@app.command("list", epilog=examples("instantly history list", "instantly history list --json"))
@handled
@view_options()
def list_snapshots(
    ctx: typer.Context, view: View = NO_VIEW
) -> None:
    """List the snapshots of this workspace's history.

    Their ids are what `accounts diff --since` takes.
    """
    from instantly_cli.commands.accounts import _record
    from instantly_cli.services.history import History

    fmt = view.format(ctx)
    path = _record.history_file(ctx)
    snaps = []
    if path.exists():
        with History(path) as db:
            snaps = [s.to_json() for s in db.snapshots()]
    output.emit_records([snaps], fmt, SNAPSHOT_COLUMNS,
                        empty_message=f"No snapshots yet ({path}).")


@app.command("prune", epilog=examples("instantly history prune --keep 90d"))
@handled
def prune(
    ctx: typer.Context,
    keep: Annotated[
        str, typer.Option("--keep", metavar="AGE", help="Keep snapshots this recent (90d, 4w).")
    ] = "90d",
) -> None:
    """Forget snapshots older than --keep.

    The accounts' state at the oldest kept snapshot stays, and the newest snapshot is always
    kept (the next diff compares with it).
    """
    from datetime import UTC, datetime

    from instantly_cli.commands.accounts import _record
    from instantly_cli.services.history import History, parse_age

    age = parse_age(keep, "--keep")
    path = _record.history_file(ctx)
    if not path.exists():
        output.info(f"No history yet ({path}).")
        return
    with History(path) as db:
        snapshots, rows = db.prune(age, datetime.now(UTC))
    output.success(f"Pruned {snapshots} snapshots and {rows} change rows from {path}.")
