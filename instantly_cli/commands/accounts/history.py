"""``instantly accounts history EMAIL``: one account's timeline from the fleet's snapshots."""

from typing import Annotated, Any

import typer

from instantly_cli import output
from instantly_cli.columns import Column
from instantly_cli.commands import handled
from instantly_cli.commands.accounts import app
from instantly_cli.dashboard import Section
from instantly_cli.enums import ACCOUNT_STATUS, WARMUP_STATUS
from instantly_cli.errors import NotFoundError
from instantly_cli.options import argument, examples, required
from instantly_cli.options_bundles import NO_VIEW, View, view_options

TIMELINE_COLUMNS = [
    Column("snapshot", "Snapshot", justify="right", priority=5),
    Column("taken_at", "When"),
    Column("status", "Status", enum=ACCOUNT_STATUS),
    Column("warmup_status", "Warmup", enum=WARMUP_STATUS),
    Column("score", "Score", justify="right"),
    Column("daily_limit", "Daily limit", justify="right", priority=20),
    Column("warmup_limit", "Warmup limit", justify="right", priority=10),
    Column("error_message", "Error", priority=1),
]
SPARK = "▁▂▃▄▅▆▇█"


@app.command("history", epilog=examples(
    "instantly accounts history ops@acme.io",
    "instantly accounts history ops@acme.io --json | jq '.[].score'",
))
@handled
@view_options()
def history(
    ctx: typer.Context,
    email: Annotated[str | None, argument("EMAIL")] = None,
    view: View = NO_VIEW,
) -> int | None:
    """One account's timeline from the fleet's snapshots.

    A row per snapshot in which its status, warmup, score, limits, provider, tags or error
    changed (snapshots are recorded by `accounts summary`, `accounts list --all` and
    `accounts diff`); a score sparkline on a terminal. Reads only the local history.
    """
    from instantly_cli.commands.accounts import _record
    from instantly_cli.services import history as history_service

    fmt = view.format(ctx)
    email = required(email, "EMAIL", "instantly accounts history ops@acme.io")
    path = _record.history_file(ctx)
    if not path.exists():
        raise NotFoundError(f"No history yet ({path}).",
                            hint="Record one with `instantly accounts summary` or "
                            "`instantly accounts diff`.")
    with history_service.History(path) as db:
        timeline = db.timeline(email)
    if not timeline:
        raise NotFoundError(f"{email.strip()} is in no snapshot of {path}.",
                            hint="Check the address, the profile and the workspace.")
    rows: list[dict[str, Any]] = []
    for snap, state in timeline:
        rows.append({"snapshot": snap.id, "taken_at": snap.taken_at, "present": state is not None,
                     **(history_service.state_json(state) or {})})
    if fmt != "table":
        output.emit_records([rows], fmt, TIMELINE_COLUMNS)
        return None
    scores = [r["score"] for r in rows if r.get("score") is not None]
    line = "".join(SPARK[min(7, int(s) * 8 // 101)] for s in scores)
    shown = [{**r, "taken_at": r["taken_at"][:16].replace("T", " "),
             "status": r.get("status") if r["present"] else "removed"} for r in rows]
    output.emit_dashboard(
        f"{email.strip()}: {len(rows)} changes",
        [Section("Score", lines=[(line or "no score recorded", "cyan")]),
         Section("Timeline", columns=TIMELINE_COLUMNS, rows=shown)],
    )
    return None
