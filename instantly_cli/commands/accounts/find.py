"""``instantly accounts find EMAIL…``: which profile and workspace holds each address."""

from typing import Annotated, Any

import typer

from instantly_cli import output
from instantly_cli.commands import handled
from instantly_cli.commands.accounts import app
from instantly_cli.enums import FOUND, NOT_FOUND
from instantly_cli.errors import EXIT_FAILED, EXIT_NOT_FOUND, UsageError
from instantly_cli.options import arguments, examples
from instantly_cli.options_bundles import NO_VIEW, View, view_options


@app.command(
    "find",
    epilog=examples(
        "instantly accounts find ops@acme.io",
        "instantly accounts find Ops@Acme.io sales@acme.io --json",
    ),
)
@handled
@view_options()
def find(
    ctx: typer.Context,
    emails: Annotated[list[str], arguments("EMAIL...")],
    view: View = NO_VIEW,
) -> int | None:
    """Which profile and workspace holds each address.

    Looks in every configured profile (the current settings when none is configured) and
    every accepted sub-workspace of each key, side by side; addresses compare
    case-insensitively. One row per place an address is found (in the API's spelling), and a
    `not found` row for an address found nowhere (exit 4). A workspace that cannot be read is
    reported (exit 1).
    """
    from instantly_cli.columns import Column
    from instantly_cli.commands.accounts import _rollup
    from instantly_cli.config_file import load_config
    from instantly_cli.services.workspaces import find_accounts, side_by_side

    fmt = view.format(ctx)
    wanted = [e.strip() for e in emails if e.strip()]
    if not wanted:
        raise UsageError("Name at least one address.", hint="instantly accounts find EMAIL...")
    bad = [e for e in wanted if "@" not in e]
    if bad:
        raise UsageError(f"'{bad[0]}' is not an email address.",
                         hint="Give whole addresses: instantly accounts find ops@acme.io")
    units = _rollup.units(ctx, all_profiles=bool(load_config().profiles), all_workspaces=True)
    done = side_by_side(units, lambda client, _unit: find_accounts(client, wanted))
    # Emails compare case-insensitively: `A@x a@x` is one address (the first spelling kept for
    # a `not found` row); a row found shows the API's spelling.
    asked: dict[str, str] = {}
    for email in wanted:
        asked.setdefault(email.casefold(), email)
    rows: list[dict[str, Any]] = []
    missing = 0
    for key, typed in asked.items():
        places = [(d, d.value[key]) for d in done if d.value and key in d.value]
        missing += not places
        rows += [{"email": a.get("email"), **d.labels(), "status": a.get("status"),
                  "result": FOUND} for d, a in places]
        if not places:
            rows.append({"email": typed, "profile": None, "workspace_name": None,
                         "workspace_id": None, "status": None, "result": NOT_FOUND})
    columns = [Column("email", "Email"), Column("profile", "Profile"),
               Column("workspace_name", "Workspace"), Column("workspace_id", "Workspace id"),
               Column("result", "Result")]
    output.emit_records([rows], fmt, columns)
    if _rollup.report(done):
        return EXIT_FAILED
    if missing:
        output.warn(f"{missing} of {len(asked)} addresses found nowhere.")
        return EXIT_NOT_FOUND
    return None
