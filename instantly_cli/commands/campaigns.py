"""``instantly campaigns``: campaigns seen from their sending accounts, and editing who sends.

Each command reads one sweep (``services.campaigns.sweep``: every campaign and every account
with its tags), hands rows to ``views`` and ``output``.
"""

from typing import Annotated

import typer

from instantly_cli import context, output
from instantly_cli.columns import parse_fields, pick
from instantly_cli.commands import handled
from instantly_cli.enums import AT_RISK_BELOW, WATCH_BELOW
from instantly_cli.options import (
    AtRiskBelowOpt,
    FieldsOpt,
    JsonOpt,
    OutputOpt,
    WatchBelowOpt,
    WideOpt,
    argument,
    examples,
    required,
)

app = typer.Typer(
    help="Campaigns: accounts, capacity, risk; attach and detach.",
    no_args_is_help=True,
)


@app.command(
    "list",
    epilog=examples(
        "instantly campaigns list",
        "instantly campaigns list --json | jq '.[] | select(.accounts_available == 0) | .name'",
    ),
)
@handled
def list_campaigns(
    ctx: typer.Context,
    at_risk_below: AtRiskBelowOpt = AT_RISK_BELOW,
    watch_below: WatchBelowOpt = WATCH_BELOW,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
    wide: WideOpt = False,
) -> None:
    """List campaigns: accounts, capacity, at-risk share.

    Accounts: available (status active) of all that serve it, listed or through a tag.
    Per day: the daily limits of its available accounts. At risk: the share of that capacity
    on at-risk accounts (the health classes of `accounts summary`). Sending status: the API's
    diagnosis (one request per campaign, side by side).
    """
    from instantly_cli import views
    from instantly_cli.services import campaigns as service
    from instantly_cli.services import fleet
    from instantly_cli.services.health import Thresholds

    fmt = context.output_format(ctx, output_, json_output)
    field_list = parse_fields(fields)
    thresholds = Thresholds(at_risk_below, watch_below)
    with context.client(ctx) as client:
        sw = fleet.campaign_sweep(client, thresholds, warn=output.warn)
        rows = service.list_rows(client, sw, output.warn)
    output.emit_records(
        [rows if fmt in ("json", "jsonl") else views.campaign_rows(rows)],
        fmt,
        views.campaign_columns(),
        fields=field_list,
        empty_message="No campaigns yet.",
        wide=wide,
    )


@app.command(
    "get",
    epilog=examples(
        'instantly campaigns get "Client A outreach"',
        "instantly campaigns get 3f0c9a52-8d71-4b6e-a2c4-5e9d1f7b3a60 --json | jq .accounts",
    ),
)
@handled
def get_campaign(
    ctx: typer.Context,
    campaign: Annotated[str | None, argument("CAMPAIGN")] = None,
    at_risk_below: AtRiskBelowOpt = AT_RISK_BELOW,
    watch_below: WatchBelowOpt = WATCH_BELOW,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
    wide: WideOpt = False,
) -> None:
    """Show one campaign: its accounts, their health, its diagnosis.

    CAMPAIGN is an id or a name (case-insensitive; an unknown name lists close ones).
    JSON: the campaign object plus accounts_total, accounts_available, capacity,
    at_risk_share, sending_status, reason and accounts (email, status, health, daily_limit,
    available, via).
    """
    from instantly_cli import views
    from instantly_cli.services import campaigns as service
    from instantly_cli.services import fleet
    from instantly_cli.services.health import Thresholds

    fmt = context.output_format(ctx, output_, json_output)
    field_list = parse_fields(fields)
    thresholds = Thresholds(at_risk_below, watch_below)
    campaign = required(campaign, "CAMPAIGN", "instantly campaigns get \"Client A outreach\"")
    with context.client(ctx) as client:
        sw = fleet.campaign_sweep(client, thresholds, warn=output.warn)
        found = sw.resolve(campaign)
        cid = str(found.get("id"))
        status = service.diagnoses(client, [cid], output.warn).get(cid)
    row = service.campaign_row(sw, found, status)
    accounts = service.account_rows(sw, cid)
    if fmt == "json":
        doc = {**row, "accounts": accounts}
        output.emit_json(pick(doc, field_list) if field_list else doc)
        return
    if fmt == "table" and not field_list:
        for line in views.sending_status_lines(status):
            output.info(line)
    output.emit_records(
        [accounts],
        fmt,
        views.campaign_account_columns(),
        fields=field_list,
        title=views.campaign_title(row) if fmt == "table" else None,
        empty_message=f"No account serves '{found.get('name')}'.",
        wide=wide,
    )
