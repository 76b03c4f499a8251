"""``instantly accounts summary``: fleet health at a glance, a CI gate and an agency roll-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from instantly_cli import context, output
from instantly_cli.commands import handled
from instantly_cli.commands.accounts import _record, app
from instantly_cli.commands.accounts._listing import report_cut
from instantly_cli.dashboard import Section
from instantly_cli.enums import AT_RISK_BELOW, SUMMARY_BY, WATCH_BELOW
from instantly_cli.errors import EXIT_FAILED
from instantly_cli.options import (
    AllProfilesOpt,
    AllWorkspacesOpt,
    FailIfOpt,
    JsonOpt,
    NoRecordOpt,
    NotifyOpt,
    NotifyStrictOpt,
    OutputOpt,
    ParallelOpt,
    ProfileAtRiskBelowOpt,
    ProfileWatchBelowOpt,
    SinceOpt,
    complete_enum,
    examples,
)
from instantly_cli.options_bundles import NO_FILTERS, AccountFilters, account_filters

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.services.accounts.list import ListQuery
    from instantly_cli.services.accounts.summary import Tally, Thresholds
    from instantly_cli.services.history import Recorder

# The roll-up's rows in JSON: one per workspace (the key keeps its first name).
ROWS = "profiles"

SummaryExamples = examples(
    "instantly accounts summary",
    "instantly accounts summary --provider google --by domain",
    "instantly accounts summary --fail-if 'at-risk>5%' --fail-if 'errors>=3'",
    "instantly accounts summary --all-profiles --fail-if 'capacity<20000'",
    "instantly accounts summary --all-workspaces",
    "instantly accounts summary --by tag -o csv > health-by-tag.csv",
)


@app.command("summary", epilog=SummaryExamples)
@handled
@account_filters
def summary(
    ctx: typer.Context,
    filters: AccountFilters = NO_FILTERS,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            metavar="GROUP",
            help="One row per " + ", ".join(SUMMARY_BY.names) + ", worst (at-risk share) first.",
            autocompletion=complete_enum(SUMMARY_BY),
        ),
    ] = None,
    fail_if: FailIfOpt = None,
    at_risk_below: ProfileAtRiskBelowOpt = None,
    watch_below: ProfileWatchBelowOpt = None,
    all_profiles: AllProfilesOpt = False,
    all_workspaces: AllWorkspacesOpt = False,
    parallel: ParallelOpt = True,
    no_record: NoRecordOpt = False,
    since: SinceOpt = None,
    notify: NotifyOpt = None,
    notify_strict: NotifyStrictOpt = False,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int | None:
    """Fleet health at a glance.

    Health classes, statuses, scores, capacity and errors.

    Counts by status, warmup status and provider, the warmup score spread, sending capacity,
    health classes and errors grouped by reason, from one streamed pass over the accounts.

    At risk: an error status, a warmup ban/spam-folder/suspension, or a score below
    --at-risk-below (70). No data: warmup paused, or no score. Watch: paused, or a score below
    --watch-below (90). Healthy: the rest. Takes the filters of `accounts list`. Without
    filters, the pass is recorded in the fleet's history (see `accounts diff`).
    """
    from instantly_cli.services.accounts import summary as health_service

    fmt = context.output_format(ctx, output_, json_output)
    # Everything is validated before the first request: a bad gate is exit 2, nothing fetched.
    conditions = health_service.parse_conditions(fail_if)
    thresholds = _record.thresholds(ctx, at_risk_below, watch_below)
    group_by = str(SUMMARY_BY.parse(by)) if by else None
    query = filters.query(thresholds, include_tags=group_by == "tag")
    query.params()
    failed = 0
    roll_up = all_profiles or all_workspaces
    notify = _record.notify_or_profile(ctx, notify, not roll_up and _record.is_full(query))
    base = _record.base_tally(ctx, since, thresholds, group_by, query, roll_up, notify)
    rec = _record.recorder((not no_record or bool(notify)) and not roll_up
                           and _record.is_full(query), None if notify else ctx)
    if roll_up:
        total, rows, failed = _roll_up(ctx, query, thresholds, group_by, parallel,
                                       all_profiles=all_profiles, all_workspaces=all_workspaces)
        doc: dict[str, Any] = {ROWS: rows, "total": total.to_json()}
        metrics = total.metrics()
    else:
        with context.client(ctx) as client:
            tally = _summarize(client, query, thresholds, group_by, parallel, rec)
        doc = {**tally.to_json(), **_record.changes(base, tally)}
        metrics = tally.metrics()
        reasons = [row["reason"] for row in doc["errors"]["reasons"]]
        for row in doc["errors"]["reasons"]:
            text = _distinct_text(row["reason"], reasons)
            row["list_command"] = _list_command(ctx, filters, thresholds, text)
    doc["gate"] = health_service.gate(conditions, metrics)
    _render(doc, fmt, roll_up)
    if not roll_up:
        _record.commit(ctx, None if no_record else rec, "summary", tally)
    breached = health_service.breaches(conditions, metrics)
    for line in breached:
        output.info(f"Health gate breached: {line}")
    hooks = _record.alert(ctx, notify, rec, base, thresholds, breached, bool(conditions))
    return EXIT_FAILED if breached or failed or (hooks and notify_strict) else None


def _distinct_text(reason: str, reasons: list[str]) -> str:
    """The shortest leading words of ``reason`` (three at least) that no other group's reason
    contains, so --error selects this group alone; the whole reason when none is."""
    others = [r.casefold() for r in reasons if r != reason]
    words = reason.split()
    for k in range(3, len(words)):
        text = " ".join(words[:k])
        if not any(text.casefold() in other for other in others):
            return text
    return reason


def _list_command(
    ctx: typer.Context, filters: AccountFilters, thresholds: Thresholds, text: str
) -> str:
    """The `accounts list` command that selects one error group: this summary's filters, and
    the group's text as --error (it replaces any --error given here)."""
    import shlex

    opts = context.runtime(ctx).options
    words = ["instantly"]
    if opts.sandbox:
        words.append("--sandbox")
    for flag, value in (("--profile", opts.profile), ("--workspace", opts.workspace)):
        if value:
            words += [flag, value]
    words += ["accounts", "list", *filters._replace(error=[text]).argv()]
    if filters.health:
        for flag, limit, default in (
            ("--at-risk-below", thresholds.at_risk_below, AT_RISK_BELOW),
            ("--watch-below", thresholds.watch_below, WATCH_BELOW),
        ):
            if limit != default:
                words += [flag, f"{limit:g}"]
    return shlex.join([*words, "--all"])


def _summarize(
    client: InstantlyClient,
    query: ListQuery,
    thresholds: Thresholds,
    by: str | None,
    parallel: bool,
    rec: Recorder | None = None,
) -> Tally:
    """One streamed pass over the accounts (``fleet.list_accounts`` chooses how); ``rec``
    keeps what history tracks."""
    from instantly_cli.services.accounts import list as fleet
    from instantly_cli.services.accounts import summary as health

    listing = fleet.list_accounts(client, query, limit=None, parallel=parallel, warn=output.warn)
    accounts = fleet.accounts_of(rec.watch_pages(listing) if rec else listing)
    tally = health.summarize(accounts, thresholds=thresholds, by=by)
    tally.anomaly = listing.anomaly
    report_cut(listing.anomaly, False, "; the numbers may be incomplete")
    return tally


def _roll_up(
    ctx: typer.Context,
    query: ListQuery,
    thresholds: Thresholds,
    by: str | None,
    parallel: bool,
    *,
    all_profiles: bool,
    all_workspaces: bool,
) -> tuple[Tally, list[dict[str, Any]], int]:
    """Every workspace of the roll-up side by side, one row each (sorted by workspace name);
    a failing one is reported on its row and the rest still complete."""
    from instantly_cli import views_fleet
    from instantly_cli.commands.accounts import _rollup
    from instantly_cli.services.accounts.summary import Tally
    from instantly_cli.services.workspaces import side_by_side

    found = _rollup.units(ctx, all_profiles=all_profiles, all_workspaces=all_workspaces)
    done = side_by_side(
        found, lambda client, _unit: _summarize(client, query, thresholds, by, parallel)
    )
    total = Tally(thresholds, by)
    rows: list[dict[str, Any]] = []
    for d in done:
        doc = None
        if d.value is not None:
            total.merge(d.value)
            doc = d.value.to_json()
        error = d.error
        rows.append({
            **views_fleet.profile_row(d.unit.profile, d.unit.id, doc,
                                      error.message if error else None),
            **d.labels(),
            "error": _rollup.error_json(error),
            "summary": doc,
        })
    return total, rows, _rollup.report(done)


def _render(doc: dict[str, Any], fmt: str, roll_up: bool) -> None:
    from instantly_cli import views_fleet

    if fmt in ("json", "jsonl"):
        if fmt == "json":
            output.emit_json(doc)
        else:
            output.emit_records([[doc]], "jsonl", [])
        return
    summary = doc["total"] if roll_up else doc
    if fmt == "table":
        sections = views_fleet.summary_sections(summary)
        if roll_up:
            rows = [*doc[ROWS], views_fleet.profile_row("Total", None, summary, None)]
            rows[-1]["result"] = ""
            table = Section(
                f"Workspaces: {len(doc[ROWS])}",
                columns=views_fleet.PROFILE_COLUMNS,
                rows=rows,
                styles=["red" if r.get("error") else "" for r in rows[:-1]] + ["bold"],
            )
            sections.insert(0, table)
        if summary.get("since"):
            sections.insert(0, _record.since_section(summary["since"]))
        output.emit_dashboard(views_fleet.summary_title(summary), sections)
        if not roll_up and (commands := views_fleet.error_commands(summary)):
            output.emit_text(commands)
        return
    if roll_up:
        output.emit_records([doc[ROWS]], fmt, views_fleet.PROFILE_FIELDS)
    elif summary.get("groups") and summary.get("since"):
        from instantly_cli.columns import Column

        names = [c.key for c in views_fleet.GROUP_FIELDS]
        rows = _record.change_rows(summary["since"], summary["groups"]["rows"], names)
        output.emit_records([rows], fmt, [Column(k, k) for k in rows[0]] if rows else [])
    elif summary.get("groups"):
        output.emit_records([summary["groups"]["rows"]], fmt, views_fleet.GROUP_FIELDS)
    elif summary.get("since"):
        output.emit_records([_record.change_records(summary["since"])], fmt,
                            _record.CHANGE_FIELDS)
    else:
        output.emit_kv(views_fleet.metric_rows(summary), fmt)
