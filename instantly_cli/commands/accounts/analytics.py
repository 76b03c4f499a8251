"""``instantly accounts analytics`` and ``accounts warmup stats``: sending and warmup numbers."""

from typing import Annotated

import typer

from instantly_cli import context, output
from instantly_cli.columns import parse_fields
from instantly_cli.columns import pick as pick_paths
from instantly_cli.commands import handled
from instantly_cli.commands.accounts import app, warmup_app
from instantly_cli.commands.accounts._listing import report_cut
from instantly_cli.enums import ANALYTICS_BY
from instantly_cli.errors import NotFoundError, UsageError
from instantly_cli.options import AllAccountsOpt, StrictOpt, TargetsArg, complete_enum, examples
from instantly_cli.options_bundles import NO_VIEW, View, view_options


def _targets(targets: list[str] | None, all_: bool) -> list[str] | None:
    """The emails asked for, or None for --all; exit 2 for neither or both."""
    from instantly_cli.targets import read_targets

    if all_ and targets:
        raise UsageError("Give targets or --all, not both.")
    if not all_ and not targets:
        raise UsageError("No targets given.", hint="Name account emails, - for stdin, or --all.")
    return None if all_ else read_targets(targets or [])


@app.command(
    "analytics",
    epilog=examples(
        "instantly accounts analytics ops@acme.io --from 2026-03-01 --to 2026-03-31",
        "instantly accounts analytics --all --by day",
        "instantly accounts list --tag 'Client A' -o jsonl | instantly accounts analytics - --json",
    ),
)
@handled
@view_options("fields")
def analytics(
    ctx: typer.Context,
    targets: TargetsArg,
    all_: AllAccountsOpt = False,
    from_: Annotated[
        str | None,
        typer.Option("--from", metavar="DATE", help="First day, YYYY-MM-DD [default: 6 days "
                     "before --to]."),
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", metavar="DATE", help="Last day [default: today, UTC].")
    ] = None,
    by: Annotated[
        str,
        typer.Option("--by", metavar="GROUP", help="Totals per account or per day.",
                     autocompletion=complete_enum(ANALYTICS_BY)),
    ] = "account",
    strict: StrictOpt = False,
    view: View = NO_VIEW,
) -> None:
    """Sending analytics per account or per day.

    Sent, bounced, opened, replies… as the API reports them.

    Default: the last 7 days. A terminal also gets a chart of daily sent volume.
    """
    from datetime import UTC, datetime

    from instantly_cli import views_fleet
    from instantly_cli.services.accounts import analytics as service

    fmt = view.format(ctx)
    field_list = parse_fields(view.fields)
    group = str(ANALYTICS_BY.parse(by))
    first, last = service.date_range(from_, to, datetime.now(UTC).date())
    wanted = _targets(targets, all_)
    # Splitting a request the API found too large is routine: said only with -v.
    verbose = context.settings(ctx).verbose
    with context.client(ctx) as client:
        listed = service.account_emails(client, wanted)
        report_cut(listed.anomaly, strict, "; the numbers cover the accounts listed before")
        emails = listed.emails
        data = service.daily(client, emails, first, last,
                             on_split=output.notice if verbose else lambda message: None)
    rows = service.totals(data.rows, group, emails)
    lost = service.missing(emails, data.rows) if wanted is not None else []
    shown = [r for r in rows if group == "day" or str(r["email_account"]) not in lost]
    columns = views_fleet.analytics_columns(group, service.metrics(data.rows))
    output.emit_records([shown], fmt, columns, fields=field_list,
                        empty_message="No analytics for these accounts and dates.")
    if fmt == "table" and data.rows:
        output.emit_text(views_fleet.bar_chart(service.totals(data.rows, "day")))
    output.info(f"{first} to {last}, {len(emails) - len(lost):,} account(s), "
                f"{data.requests:,} request(s)")
    if lost:
        raise NotFoundError(f"No analytics for {', '.join(lost[:10])}"
                            + (f" and {len(lost) - 10:,} more" if len(lost) > 10 else "")
                            + " (not accounts of this workspace?).")


@warmup_app.command(
    "stats",
    epilog=examples(
        "instantly accounts warmup stats ops@acme.io",
        "instantly accounts warmup stats --all -o csv > warmup.csv",
    ),
)
@handled
@view_options("fields")
def warmup_stats(
    ctx: typer.Context,
    targets: TargetsArg,
    all_: AllAccountsOpt = False,
    strict: StrictOpt = False,
    view: View = NO_VIEW,
) -> None:
    """Warmup health of the last 14 days.

    Inbox rate per account and in total.

    Inbox, spam, sent and received counts, 100 accounts per request.
    """
    from instantly_cli import views_fleet
    from instantly_cli.services.accounts import analytics as service

    fmt = view.format(ctx)
    field_list = parse_fields(view.fields)
    wanted = _targets(targets, all_)
    with context.client(ctx) as client:
        listed = service.account_emails(client, wanted)
        report_cut(listed.anomaly, strict, "; the numbers cover the accounts listed before")
        emails = listed.emails
        with output.progress(len(emails), "Fetching warmup analytics") as advance:
            stats = service.warmup_stats(client, emails, advance=advance)
    if fmt == "json":
        pick = (lambda r: pick_paths(r, field_list)) if field_list else (lambda r: r)
        output.emit_json({"accounts": [pick(r) for r in stats.accounts],
                          "aggregate": stats.aggregate})
    else:
        rows = stats.accounts + ([views_fleet.warmup_total_row(stats.aggregate)] if fmt == "table"
                                 and stats.accounts else [])
        output.emit_records([rows], fmt, views_fleet.warmup_stats_columns(fmt), fields=field_list,
                            empty_message="No warmup analytics for these accounts.")
    agg = stats.aggregate
    rate = f"{agg['inbox_rate']:.1f}%" if agg["inbox_rate"] is not None else "n/a"
    output.info(f"{agg['accounts']:,} account(s): {agg['landed_inbox']:,} of {agg['sent']:,} "
                f"warmup emails landed in the inbox ({rate})")
    if stats.missing:
        raise NotFoundError(f"No warmup analytics for {', '.join(stats.missing[:10])}"
                            + (f" and {len(stats.missing) - 10:,} more"
                               if len(stats.missing) > 10 else "")
                            + " (not accounts of this workspace?).")
