"""``instantly accounts list``."""

from typing import Annotated, Any

import typer

from instantly_cli import context, output
from instantly_cli.columns import parse_fields
from instantly_cli.commands import handled
from instantly_cli.commands.accounts import _record, app
from instantly_cli.commands.accounts._listing import report_cut
from instantly_cli.errors import UsageError
from instantly_cli.options import (
    AllOpt,
    AllProfilesOpt,
    AllWorkspacesOpt,
    FieldsOpt,
    JsonOpt,
    LimitOpt,
    NoRecordOpt,
    OutputOpt,
    ParallelOpt,
    ProfileAtRiskBelowOpt,
    ProfileWatchBelowOpt,
    SortOpt,
    StrictOpt,
    WideOpt,
    examples,
    page_limit_for,
)
from instantly_cli.options_bundles import NO_FILTERS, AccountFilters, account_filters

ListExamples = examples(
    "instantly accounts list --status connection-error,sending-error",
    "instantly accounts list --provider google --all -o jsonl | jq -r .email",
    'instantly accounts list --tag "Client A" --include-tags --sort warmup-score --asc',
    "instantly accounts list --domain acme.io --max-score 60 --fields email,stat_warmup_score",
    "instantly accounts list --health at-risk --all --fields email,status,health",
    "instantly accounts list --health at-risk --all -o jsonl | instantly accounts pause -",
    "instantly accounts list --all-workspaces --filter error --all",
)


@app.command("list", epilog=ListExamples)
@handled
@account_filters
def list_accounts(
    ctx: typer.Context,
    filters: AccountFilters = NO_FILTERS,
    at_risk_below: ProfileAtRiskBelowOpt = None,
    watch_below: ProfileWatchBelowOpt = None,
    sort: SortOpt = None,
    asc: Annotated[
        bool | None,
        typer.Option("--asc/--desc", help="Sort direction (with --sort).", show_default=False),
    ] = None,
    include_tags: Annotated[
        bool, typer.Option("--include-tags", help="Add each account's tags.")
    ] = False,
    limit: LimitOpt = None,
    all_: AllOpt = False,
    parallel: ParallelOpt = True,
    starting_after: Annotated[
        str | None,
        typer.Option(
            "--starting-after", metavar="CURSOR", help="Cursor printed by an earlier page."
        ),
    ] = None,
    strict: StrictOpt = False,
    all_profiles: AllProfilesOpt = False,
    all_workspaces: AllWorkspacesOpt = False,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
    wide: WideOpt = False,
    no_record: NoRecordOpt = False,
) -> int | None:
    """List accounts, filtered and sorted.

    On a terminal the first 100 accounts are shown (--limit N for more, --all for every
    page); when stdout is a pipe or a file every page is written unless --limit is given.

    Streams every page with --all: concurrently and oldest first by default when the API's
    latency makes that faster (see --parallel), else newest first, as with --no-parallel.

    Several values of --status, --provider, --filter, --domain or --health mean any of them.
    --fields may name `health` (at-risk, watch, healthy or no-data, judged with --at-risk-below and
    --watch-below) as a column or JSON key.

    With --all-profiles or --all-workspaces, each workspace's accounts (--limit each, or --all)
    follow one another, sorted by workspace name; every record carries `profile`,
    `workspace_name` and `workspace_id`.
    """
    from instantly_cli import views, views_fleet
    from instantly_cli.services.accounts import list as fleet
    from instantly_cli.services.accounts.summary import with_health

    fmt = context.output_format(ctx, output_, json_output)
    field_list = parse_fields(fields)
    if all_ and limit is not None:
        raise UsageError(
            "--all and --limit contradict each other.",
            hint="Use --all for every page, or --limit N for the first N accounts.",
        )
    if limit is not None and limit < 1:
        raise UsageError(
            f"--limit must be at least 1 (got {limit}).", hint="Use --all to fetch every page."
        )
    thresholds = _record.thresholds(ctx, at_risk_below, watch_below)
    query = filters.query(
        thresholds, sort=sort, asc=asc, include_tags=include_tags, starting_after=starting_after
    )
    query.params()  # validate before any request
    columns = views.account_columns(fmt, include_tags)
    if field_list:
        columns.append(views_fleet.HEALTH_COLUMN)  # known to --fields, never a default column
    page_limit = None if all_ else page_limit_for(limit, context.out(ctx).stdout_tty)
    if all_profiles or all_workspaces:
        from instantly_cli.commands.accounts._rollup import list_each

        return list_each(ctx, query, page_limit, parallel, fmt, columns, field_list, wide,
                         all_profiles=all_profiles, all_workspaces=all_workspaces)
    with context.client(ctx) as client:
        pager = fleet.list_accounts(
            client, query, limit=page_limit, parallel=parallel, warn=output.warn
        )
        pages, rec = _record.watch(pager, all_ and not no_record, query, ctx)  # full: history
        shown = output.emit_records(
            with_health(pages, thresholds) if field_list and "health" in field_list else pages,
            fmt,
            columns,
            fields=field_list,
            empty_message="No accounts match.",
            wide=wide,
        )
        if not shown and query.domains and not pager.anomaly:
            close = fleet.close_domains(client, query, query.domains)
            if close:
                output.info("No account has that domain. Did you mean: " + ", ".join(
                    f"--domain {d}" for d in close) + "?")
    _record.finish(ctx, rec, "list", pager, lambda: _report_end(pager, strict))
    return None


def _report_end(pager: Any, strict: bool) -> None:
    """Say on stderr why a listing ended early, or how to get more."""
    report_cut(pager.anomaly, strict)
    if pager.more:
        if pager.next_cursor:
            output.info(
                f"More accounts available: add --starting-after '{pager.next_cursor}' "
                "for the next page, or --all for everything."
            )
        else:
            output.info("More accounts available: raise --limit or use --all.")
