"""``instantly accounts diff``: what changed in the fleet since a snapshot."""

from typing import Annotated, Any

import typer

from instantly_cli import context, output
from instantly_cli.columns import Column
from instantly_cli.commands import handled
from instantly_cli.commands.accounts import app
from instantly_cli.dashboard import Section
from instantly_cli.enums import DIFF_METRIC, TRANSITION
from instantly_cli.errors import EXIT_FAILED, UsageError
from instantly_cli.options import (
    AllProfilesOpt,
    AllWorkspacesOpt,
    DiffFailIfOpt,
    NoRecordOpt,
    NotifyOpt,
    NotifyStrictOpt,
    ParallelOpt,
    ProfileAtRiskBelowOpt,
    ProfileWatchBelowOpt,
    SinceOpt,
    examples,
)
from instantly_cli.options_bundles import NO_VIEW, View, view_options
from instantly_cli.views import cut

DiffExamples = examples(
    "instantly accounts diff",
    "instantly accounts diff --since 7d --score-drop 15",
    "instantly accounts diff --since 2026-12-01 -o jsonl | jq -r 'select(.kind==\"new-error\")"
    ".email'",
    "instantly accounts diff --fail-if 'new-errors>0' --fail-if 'score-drops>5%'",
    "instantly accounts diff --notify https://hooks.slack.com/services/T000/B000/XXX",
)
# Table/TSV/CSV columns; JSON carries every key of a record.
DIFF_COLUMNS = [
    Column("kind", "Kind", enum=TRANSITION),
    Column("email", "Account"),
    Column("field", "Field", priority=10),
    Column("from", "From"),
    Column("to", "To"),
    Column("reason", "Reason", priority=20),
    Column("actor", "By", priority=5),
]
GROUP_COLUMNS = [Column("email", "Account"), Column("change", "Change")]
ACTOR_COLUMN = Column("actor", "By")
# A change longer than this is cut in the table (JSON has it whole).
CHANGE_WIDTH = 60


@app.command("diff", epilog=DiffExamples)
@handled
@view_options()
def diff(
    ctx: typer.Context,
    since: SinceOpt = None,
    score_drop: Annotated[
        float,
        typer.Option("--score-drop", metavar="POINTS",
                     help="A score falling by at least POINTS is a transition (so is one "
                     "crossing a health class)."),
    ] = 10.0,
    fail_if: DiffFailIfOpt = None,
    at_risk_below: ProfileAtRiskBelowOpt = None,
    watch_below: ProfileWatchBelowOpt = None,
    notify: NotifyOpt = None,
    notify_strict: NotifyStrictOpt = False,
    no_record: NoRecordOpt = False,
    parallel: ParallelOpt = True,
    all_profiles: AllProfilesOpt = False,
    all_workspaces: AllWorkspacesOpt = False,
    view: View = NO_VIEW,
) -> int | None:
    """What changed since a snapshot.

    Fetches every account, compares it with the newest snapshot at or before --since (default:
    the previous one) and lists the transitions, worst first: removed, newly in error (by
    reason), warmup banned or suspended, score drops, warmup paused, status and limit changes,
    recoveries, warmup resumed, score rises, added. The pass is recorded as the next snapshot
    (--no-record: not). JSON and JSON lines: one record per transition
    {kind, email, field, from, to, reason, health, since, snapshot, actor}.

    With --all-profiles or --all-workspaces, each workspace is compared with its own history,
    side by side; records carry `profile`, `workspace_name` and `workspace_id`, and the gate
    judges the workspaces' metrics added up (--notify is per workspace: not with them).
    """
    from datetime import UTC, datetime

    from instantly_cli.commands.accounts import _record
    from instantly_cli.services import history as history_service
    from instantly_cli.services.accounts import summary as health_service

    fmt = view.format(ctx)
    conditions = health_service.parse_conditions(fail_if, DIFF_METRIC)
    thresholds = _record.thresholds(ctx, at_risk_below, watch_below)
    if not (0 < score_drop <= 100):
        raise UsageError(f"--score-drop must be from 1 to 100 points (got {score_drop:g}).",
                         hint="For example --score-drop 10.")
    now = datetime.now(UTC)
    wanted = history_service.parse_since(since, now)
    hooks = _record.notify_urls(
        _record.notify_or_profile(ctx, notify, not (all_profiles or all_workspaces)))
    if all_profiles or all_workspaces:
        if hooks:
            raise UsageError("--notify is per workspace: not with --all-profiles or "
                             "--all-workspaces.", hint="Run `accounts diff --notify` per profile.")
        return _roll_up(ctx, conditions, wanted, score_drop, thresholds, parallel, no_record,
                        fmt, all_profiles=all_profiles, all_workspaces=all_workspaces)
    resolved = context.settings(ctx)
    with context.client(ctx, resolved=resolved) as client:
        result = _diff_one(ctx, client, resolved, wanted, score_drop, thresholds, parallel,
                           no_record, now)
    _render(result, fmt)
    if result.note:
        output.info(result.note)
    if result.base is None:
        output.info(f"No earlier snapshot in {_record.history_file(ctx, resolved)}: this run "
                    "is the first" + ("." if no_record
                                      else " (recorded); the next diff compares with it."))
    breached = health_service.breaches(conditions, result.metrics)
    for line in breached:
        output.info(f"Gate breached: {line}")
    code = EXIT_FAILED if breached else None
    if hooks and result.records and (not conditions or breached):
        failed = _record.send(ctx, hooks, result.records, result.base, breached)
        if failed and notify_strict:
            code = EXIT_FAILED
    return code


def _diff_one(ctx: typer.Context, client: Any, resolved: Any, wanted: Any, score_drop: float,
              thresholds: Any, parallel: bool, no_record: bool, now: Any, where: str = ""
              ) -> Any:
    """One workspace's pass compared with its own history (annotated from the audit log),
    then recorded unless ``no_record`` or the listing ended early."""
    from instantly_cli.commands.accounts import _record
    from instantly_cli.services import history as history_service
    from instantly_cli.services.accounts import diff as diff_service
    from instantly_cli.services.accounts import list as fleet
    from instantly_cli.services.accounts import summary as health_service

    query = fleet.ListQuery(thresholds=thresholds)
    with history_service.History(_record.history_file(ctx, resolved)) as history:
        listing = fleet.list_accounts(client, query, limit=None, parallel=parallel,
                                      warn=output.warn)
        result = diff_service.diff(
            history, listing, since=wanted, score_drop=score_drop, thresholds=thresholds,
            tally=health_service.Tally(thresholds), partial=lambda: listing.anomaly)
        if result.base is not None and result.records:
            _annotate(client, result, now)
        if listing.anomaly:
            output.warn(f"Listing ended early{where}: {listing.anomaly}; accounts not listed "
                        "are not reported as removed, and no snapshot is recorded.")
        elif not no_record:
            result.recorded = history.record(result.states, "diff", now)
    return result


def _roll_up(ctx: typer.Context, conditions: Any, wanted: Any, score_drop: float,
             thresholds: Any, parallel: bool, no_record: bool, fmt: str, *,
             all_profiles: bool, all_workspaces: bool) -> int | None:
    """Every workspace of the roll-up against its own history, side by side."""
    from datetime import UTC, datetime

    from instantly_cli.commands.accounts import _rollup
    from instantly_cli.services.accounts import summary as health_service

    now = datetime.now(UTC)

    def one(client: Any, unit: Any) -> Any:
        return _diff_one(ctx, client, unit.where, wanted, score_drop, thresholds, parallel,
                         no_record, now, f" ({_rollup.where(unit)})")

    done, failed = _rollup.diff_each(ctx, one, all_profiles=all_profiles,
                                     all_workspaces=all_workspaces)
    metrics: dict[str, Any] = {}
    records: list[dict[str, Any]] = []
    for d in done:
        if d.value is None:
            continue
        for key, value in d.value.metrics.items():
            metrics[key] = metrics.get(key, 0) + value
        records += [{**d.labels(), **r} for r in d.value.records]
        if fmt == "table":
            output.emit_text(f"{d.unit.name or d.unit.id or d.unit.profile} "
                             f"(profile {d.unit.profile}):")
            _render(d.value, fmt)
            if d.value.base is None:
                output.emit_text("  no earlier snapshot: this run is the first.")
    if fmt != "table":
        output.emit_records([records], fmt, [Column("workspace_name", "Workspace"),
                                             *DIFF_COLUMNS])
    breached = health_service.breaches(conditions, metrics)
    for line in breached:
        output.info(f"Gate breached: {line}")
    return EXIT_FAILED if breached or failed else None


def _annotate(client: Any, result: Any, now: Any) -> None:
    """Who did it: audit-log entries of the window (a key without the scope: one note)."""
    from instantly_cli.services.accounts import diff as diff_service

    note = diff_service.annotate(client, result.records, result.base.taken_at, now)
    if note:
        output.info(note)


def _actor(record: dict[str, Any]) -> str:
    actor = record.get("actor")
    if not actor:
        return ""
    return f"{actor.get('name') or actor.get('api_key_id') or actor.get('user_id') or '?'} " \
        f"{actor.get('at') or ''}".strip()


def _render(result: Any, fmt: str) -> None:
    from instantly_cli.services.accounts import diff as diff_service

    records = result.records
    if fmt in ("json", "jsonl", "csv", "tsv"):
        if fmt in ("csv", "tsv"):
            rows = [{**r, "actor": _actor(r)} for r in records]
            output.emit_records([rows], fmt, DIFF_COLUMNS)
        else:
            output.emit_records([records], fmt, DIFF_COLUMNS)
        return
    base = result.base
    if base is None:
        return
    m = result.metrics
    title = (f"Changes since snapshot {base.id} ({base.taken_at[:16].replace('T', ' ')} UTC): "
             f"{m['transitions']:,} transitions over {m['compared']:,} accounts")
    sections = []
    columns = [*GROUP_COLUMNS, *([ACTOR_COLUMN] if any(r["actor"] for r in records) else [])]
    for kind in TRANSITION.values:
        group = [r for r in records if r["kind"] == kind.name]
        if group:
            rows = [{"email": r["email"], "change": cut(diff_service.describe(r), CHANGE_WIDTH),
                     "actor": _actor(r)} for r in group]
            sections.append(Section(f"{kind.label}: {len(group):,}", columns=columns,
                                    rows=rows, styles=[kind.style] * len(rows)))
    if not sections:
        sections.append(Section("No changes", lines=[("Nothing changed.", "green")]))
    output.emit_dashboard(title, sections)
