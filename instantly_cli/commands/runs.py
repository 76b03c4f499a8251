"""``instantly runs list|show|forget``: the journals of bulk runs (what `--resume` continues)."""

from typing import Annotated, Any

import typer

from instantly_cli import output
from instantly_cli.commands import handled
from instantly_cli.options import argument, arguments, examples, required
from instantly_cli.options_bundles import NO_VIEW, View, view_options

app = typer.Typer(help="Journals of bulk runs: list, show, forget.", no_args_is_help=True)


def _row(run: Any) -> dict[str, Any]:
    from instantly_cli.commands._argv import command_text
    from instantly_cli.commands._bulk import ago

    counts = run.counts()
    return {
        "run_id": run.run_id, "state": run.state, "command": run.command,
        "started": run.started, "age": ago(run.started).split(", ")[-1],
        "targets": len(run.targets), "left": len(run.remaining()),
        "failed": counts.get("failed", 0), "counts": dict(counts), "change": run.change,
        "command_line": command_text(run.argv), "where": run.where,
    }


@app.command("list", epilog=examples("instantly runs list", "instantly runs list --json"))
@handled
@view_options()
def list_runs(
    ctx: typer.Context, view: View = NO_VIEW
) -> None:
    """Every kept run, newest first: state, age, counts, command.

    Journals are kept 30 days; an unfinished run continues with its command's --resume.
    """
    from instantly_cli.columns import Column
    from instantly_cli.services import journal
    from instantly_cli.settings import state_dir

    fmt = view.format(ctx)
    rows = [_row(r) for r in journal.runs(state_dir())]
    columns = [Column("run_id", "Run"), Column("state", "State"), Column("age", "Age"),
               Column("targets", "Targets"), Column("left", "Left"),
               Column("failed", "Failed"), Column("command_line", "Command")]
    output.emit_records([rows], fmt, columns, empty_message="No runs.")


@app.command("show", epilog=examples("instantly runs show 20260101-120000-ab12"))
@handled
@view_options()
def show(
    ctx: typer.Context,
    run_id: Annotated[str | None, argument("RUN")] = None,
    view: View = NO_VIEW,
) -> None:
    """One run: command, change, counts, targets left.

    RUN is a run id from `instantly runs list`.
    """
    from instantly_cli.commands._argv import command_text
    from instantly_cli.services import journal
    from instantly_cli.settings import state_dir

    fmt = view.format(ctx)
    run = journal.find(state_dir(), required(run_id, "the RUN", "instantly runs show RUN"))
    row = _row(run)
    row["remaining"] = run.remaining()
    row["results"] = [{"email": e, "result": run.results.get(e.lower(), "left")}
                      for e in run.targets]
    if fmt in ("json", "jsonl"):
        output.emit_json(row) if fmt == "json" else output.emit_records([[row]], fmt, [])
        return
    counts = ", ".join(f"{k} {v:,}" for k, v in row["counts"].items())
    lines = [f"Run {run.run_id} ({row['state']}), started {run.started[:19]} ({row['age']})",
             f"  command: {row['command_line']}", f"  change:  {run.change}",
             f"  results: {counts} of {len(run.targets):,}"]
    if row["remaining"]:
        lines.append(f"  left:    {len(row['remaining']):,}; finish with: "
                     + command_text(run.resume_words()))
    for line in lines:
        output.emit_text(line)


@app.command("forget", epilog=examples("instantly runs forget 20260101-120000-ab12"))
@handled
def forget(ctx: typer.Context, run_ids: Annotated[list[str], arguments("RUN")]) -> None:
    """Delete the journals of runs.

    An unfinished run can then no longer be resumed.

    RUN is a run id from `instantly runs list`; give one or more.
    """
    from instantly_cli.errors import UsageError
    from instantly_cli.services import journal
    from instantly_cli.settings import state_dir

    if not run_ids:
        raise UsageError("No run given.", hint="`instantly runs list` shows the run ids.")
    runs = [journal.find(state_dir(), r) for r in run_ids]
    for run in runs:
        journal.forget(run)
        output.info(f"Forgot run {run.run_id} ({run.command}).")
