"""``instantly workspaces list``: the key's workspace and, for an agency's admin key, its
sub-workspaces (the names `--workspace` and `accounts move --to` accept)."""

import typer

from instantly_cli import context, output
from instantly_cli.commands import handled
from instantly_cli.options import examples
from instantly_cli.options_bundles import NO_VIEW, View, view_options

app = typer.Typer(help="Workspaces of the key: names, ids and status.", no_args_is_help=True)


@app.command(
    "list",
    epilog=examples(
        "instantly workspaces list",
        "instantly workspaces list --json",
        'instantly --workspace "Client North" accounts summary',
    ),
)
@handled
@view_options()
def list_workspaces(
    ctx: typer.Context, view: View = NO_VIEW
) -> None:
    """The key's workspace and its sub-workspaces: name, id and status.

    Status is `current` for the key's own workspace, else the sub-workspace's membership:
    `accepted` (the key may act on it: --workspace NAME, --all-workspaces), `pending` or
    `rejected`. Always read from the API; it also refreshes the names this profile remembers.
    """
    from instantly_cli.columns import Column
    from instantly_cli.services import workspaces

    fmt = view.format(ctx)
    own = context.settings(ctx)
    own.workspace = None  # the key's own workspace lists the sub-workspaces
    with context.client(ctx, resolved=own) as client:
        found = workspaces.directory(client)
    context.name_cache(own).save(found)
    records = [w.to_json() for w in found]
    columns = [Column("name", "Name"), Column("id", "Id"), Column("status", "Status")]
    output.emit_records([records], fmt, columns)
