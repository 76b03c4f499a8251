"""``instantly accounts coverage``: idle capacity, campaigns leaning on at-risk accounts, and
campaigns that do not send."""

from typing import Annotated, Any

import typer

from instantly_cli import context, output
from instantly_cli.columns import Column
from instantly_cli.commands import handled
from instantly_cli.commands.accounts import _record, app
from instantly_cli.commands.accounts._listing import report_cut
from instantly_cli.enums import COVERAGE_METRIC
from instantly_cli.errors import EXIT_FAILED, UsageError
from instantly_cli.options import (
    AllProfilesOpt,
    AllWorkspacesOpt,
    CoverageFailIfOpt,
    ParallelOpt,
    ProfileAtRiskBelowOpt,
    ProfileWatchBelowOpt,
    examples,
)
from instantly_cli.options_bundles import NO_VIEW, View, view_options

CoverageExamples = examples(
    "instantly accounts coverage",
    "instantly accounts coverage --at-risk-share 20% --fail-if 'campaigns-at-risk>0'",
    "instantly accounts coverage --json | jq -r '.idle[].email'",
    "instantly accounts coverage --fail-if 'idle>0' --fail-if 'at-risk>5%'",
    "instantly accounts coverage --all-workspaces --fail-if 'campaigns-at-risk>0'",
)


def parse_share(text: str) -> float:
    """``30%`` or ``30`` → 30.0; exit 2 outside 0–100."""
    raw = text.strip().removesuffix("%").strip()
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100:
        raise UsageError(
            f"Invalid --at-risk-share '{text}'.", hint="Give a percentage from 0 to 100, e.g. 30%."
        )
    return value


@app.command("coverage", epilog=CoverageExamples)
@handled
@view_options()
def coverage(
    ctx: typer.Context,
    at_risk_share: Annotated[
        str,
        typer.Option(
            "--at-risk-share",
            metavar="PCT",
            help="Flag active campaigns with more than PCT of their capacity on at-risk accounts.",
        ),
    ] = "30%",
    fail_if: CoverageFailIfOpt = None,
    at_risk_below: ProfileAtRiskBelowOpt = None,
    watch_below: ProfileWatchBelowOpt = None,
    all_profiles: AllProfilesOpt = False,
    all_workspaces: AllWorkspacesOpt = False,
    parallel: ParallelOpt = True,
    view: View = NO_VIEW,
) -> int | None:
    """Idle accounts, risky and stopped campaigns.

    Idle: healthy (the summary's class), warmup active, and serving no active campaign.
    At risk: active campaigns with more than --at-risk-share of their capacity (the daily
    limits of their active accounts) on at-risk accounts. Not sending: campaigns not active, or
    active without an available account, with the reason (the API's sending-status diagnosis).
    One sweep of the campaigns and the accounts.

    With --all-profiles or --all-workspaces, every workspace is swept side by side: one row
    per workspace and a total (JSON: `profiles` and `total`; every finding carries `profile`,
    `workspace_name` and `workspace_id`); the gate judges the total. A workspace that fails
    is reported on its row, the others complete, and the exit code is 1.
    """
    from instantly_cli.commands.accounts import _rollup
    from instantly_cli.services.accounts import coverage as service
    from instantly_cli.services.accounts import summary as health

    fmt = view.format(ctx)
    share = parse_share(at_risk_share)
    conditions = health.parse_conditions(fail_if, COVERAGE_METRIC)
    thresholds = _record.thresholds(ctx, at_risk_below, watch_below)
    roll_up = all_profiles or all_workspaces
    failed = 0
    if roll_up:
        doc, metrics, failed = _rollup.coverage_each(
            ctx, thresholds, share, parallel, all_profiles=all_profiles,
            all_workspaces=all_workspaces)
    else:
        with context.client(ctx) as client:
            found = service.coverage(client, thresholds, share, parallel=parallel,
                                     warn=output.warn)
        report_cut(found.anomaly, False, "; the numbers may be incomplete")
        doc, metrics = found.doc, found.metrics()
    doc["gate"] = health.gate(conditions, metrics)
    _render(doc, fmt, roll_up, all_profiles)
    breached = health.breaches(conditions, metrics)
    for line in breached:
        output.info(f"Coverage gate breached: {line}")
    return EXIT_FAILED if breached or failed else None


def _render(doc: dict[str, Any], fmt: str, roll_up: bool, all_profiles: bool) -> None:
    from instantly_cli import views, views_fleet

    if fmt == "json":
        output.emit_json(doc)
        return
    findings = doc["total"] if roll_up else doc
    # A roll-up's findings lead with their workspace (and, across profiles, whose it is: two
    # profiles may reach workspaces of the same name).
    first = [Column("workspace_name", "Workspace", priority=95)] if roll_up else []
    if all_profiles:
        first.insert(0, Column("profile", "Profile", priority=90))
    if fmt == "table":
        if roll_up:
            total = {**views_fleet.coverage_row("Total", findings, None), "result": ""}
            output.emit_records([[*doc["profiles"], total]], fmt,
                                views_fleet.COVERAGE_ROLLUP_COLUMNS,
                                title=f"Workspaces: {len(doc['profiles'])}")
        for title, rows, columns, empty in views.coverage_tables(findings):
            output.emit_records([rows], fmt, [*first, *columns], title=title,
                                empty_message=empty)
    else:
        output.emit_records([views.coverage_records(findings)], fmt,
                            [*first, *views.COVERAGE_COLUMNS])
