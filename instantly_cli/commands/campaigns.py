"""``instantly campaigns``: campaigns seen from their sending accounts, and editing who sends.

Each command reads one sweep (``services.campaigns.sweep``: every campaign and every account
with its tags), hands rows to ``views`` and ``output``.
"""

import contextlib
from collections.abc import Callable
from typing import Annotated, Any

import typer

from instantly_cli import context, output
from instantly_cli.columns import parse_fields, pick
from instantly_cli.commands import _bulk, handled
from instantly_cli.commands.accounts import _record
from instantly_cli.commands.accounts._listing import report_cut
from instantly_cli.enums import FAILED, UNCHANGED
from instantly_cli.errors import UsageError
from instantly_cli.options import (
    ProfileAtRiskBelowOpt,
    ProfileWatchBelowOpt,
    argument,
    arguments,
    examples,
    required,
)
from instantly_cli.options_bundles import NO_VIEW, BulkOpts, View, bulk_options, view_options

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
@view_options("fields", "wide")
def list_campaigns(
    ctx: typer.Context,
    at_risk_below: ProfileAtRiskBelowOpt = None,
    watch_below: ProfileWatchBelowOpt = None,
    view: View = NO_VIEW,
) -> None:
    """List campaigns: accounts, capacity, at-risk share.

    Accounts: available (status active) of all that serve it, listed or through a tag.
    Per day: the daily limits of its available accounts. At risk: the share of that capacity
    on at-risk accounts (the health classes of `accounts summary`). Sending status: the API's
    diagnosis (one request per campaign, side by side).
    """
    from instantly_cli import views
    from instantly_cli.services import campaigns as service
    from instantly_cli.services.accounts import list as fleet

    fmt = view.format(ctx)
    field_list = parse_fields(view.fields)
    thresholds = _record.thresholds(ctx, at_risk_below, watch_below)
    with context.client(ctx) as client:
        sw = fleet.campaign_sweep(client, thresholds, warn=output.warn)
        rows = service.list_rows(client, sw, output.warn)
    report_cut(sw.anomaly, False, "; the numbers may be incomplete")
    output.emit_records(
        [rows if fmt in ("json", "jsonl") else views.campaign_rows(rows)],
        fmt,
        views.campaign_columns(),
        fields=field_list,
        empty_message="No campaigns yet.",
        wide=view.wide,
    )


@app.command(
    "get",
    epilog=examples(
        'instantly campaigns get "Client A outreach"',
        "instantly campaigns get 3f0c9a52-8d71-4b6e-a2c4-5e9d1f7b3a60 --json | jq .accounts",
    ),
)
@handled
@view_options("fields", "wide")
def get_campaign(
    ctx: typer.Context,
    campaign: Annotated[str | None, argument("CAMPAIGN")] = None,
    at_risk_below: ProfileAtRiskBelowOpt = None,
    watch_below: ProfileWatchBelowOpt = None,
    view: View = NO_VIEW,
) -> None:
    """Show one campaign: its accounts, their health, its diagnosis.

    CAMPAIGN is an id or a name (case-insensitive; an unknown name lists close ones).
    JSON: the campaign object plus accounts_total, accounts_available, capacity,
    at_risk_share, sending_status, reason and accounts (email, status, health, daily_limit,
    available, via).
    """
    from instantly_cli import views
    from instantly_cli.services import campaigns as service
    from instantly_cli.services.accounts import list as fleet

    fmt = view.format(ctx)
    field_list = parse_fields(view.fields)
    thresholds = _record.thresholds(ctx, at_risk_below, watch_below)
    campaign = required(campaign, "CAMPAIGN", "instantly campaigns get \"Client A outreach\"")
    with context.client(ctx) as client:
        sw = fleet.campaign_sweep(client, thresholds, warn=output.warn)
        found = sw.resolve(campaign)
        cid = str(found.get("id"))
        status = service.diagnoses(client, [cid], output.warn).get(cid)
    report_cut(sw.anomaly, False, "; the numbers may be incomplete")
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
        wide=view.wide,
    )


# -- attach / detach -------------------------------------------------------------------------

CampaignAndTargetsArg = Annotated[list[str], arguments("CAMPAIGN TARGET")]


def _membership(attach: bool) -> Callable[..., int]:
    """attach or detach; both verbs share this declaration."""
    verb = "attach" if attach else "detach"

    @bulk_options()
    def command(
        ctx: typer.Context,
        args: CampaignAndTargetsArg,
        *,
        opts: BulkOpts,
    ) -> int:
        from instantly_cli import views
        from instantly_cli.services import campaigns as service
        from instantly_cli.services.bulk import batches

        fmt = context.output_format(ctx, opts.output_, opts.json_output)
        resume, dry_run = opts.resume, opts.dry_run
        words = list(args or [])
        if not resume and len(words) < 2:
            raise UsageError(
                "Name a campaign, then the accounts.",
                hint='For example: instantly campaigns attach "Client A outreach" a@acme.io'
                if verb == "attach"
                else 'For example: instantly campaigns detach "Client A outreach" a@acme.io',
            )
        spec, targets = ("", words) if resume else (words[0], words[1:])
        with contextlib.ExitStack() as stack:
            client = stack.enter_context(context.client(ctx, rate=opts.rate))
            found: list[Any] = []

            def plan(emails: list[str]) -> _bulk.Plan:
                campaign = service.find_campaign(client, spec, output.warn)
                found.append(campaign)
                for line in views.tag_served_lines(
                    service.tag_served(client, campaign, emails, output.warn), attach
                ):
                    output.warn(line)
                name = str(campaign.get("name"))
                return _bulk.Plan({"campaign_id": campaign.get("id"), "name": name},
                                  f"{verb} {'to' if attach else 'from'} campaign '{name}'",
                                  [f"campaign:{campaign.get('id')}"],
                                  f"{verb.capitalize()} {len(emails):,} account(s) "
                                  f"{'to' if attach else 'from'} '{name}'?")

            session = stack.enter_context(_bulk.open_session(
                ctx, f"campaigns {verb}", targets, plan, verb=verb, fmt=fmt, opts=opts))
            cid = str(session.what.get("campaign_id") or "")
            if dry_run and session.emails:
                preview = service.plan_membership(client, found[0], session.emails, attach,
                                                  clock=context.runtime(ctx).clock)
                rows = [o.to_json() for o in preview.outcomes]

                def show() -> None:
                    if fmt == "json":
                        output.emit_json(rows)
                    else:
                        output.emit_records([rows], fmt, views.OUTCOME_ROWS)

                return session.finish(preview, order=(views.would_word(attach), UNCHANGED),
                                      show=show)
            result = session.run(
                batches(session.emails, service.MEMBERSHIP_BATCH),
                service.membership_work(client, cid, attach), client=client,
                label="Attaching" if attach else "Detaching", respell=False,
            )
            return session.finish(result, order=(views.done_word(attach), UNCHANGED, FAILED))

    command.__doc__ = (
        f"""{verb.capitalize()} accounts {'to' if attach else 'from'} a campaign's email list.

        Reads the campaign's email_list, {'adds' if attach else 'removes'} the accounts and
        writes the whole list back (PATCH), 100 accounts per read-modify-write; journaled and
        resumable like every write (--resume). Accounts that serve the campaign through a tag
        (email_tag_list) are reported: {'they already send for it' if attach else
        'a detach leaves them sending for it'}.

        CAMPAIGN is a campaign id or name; TARGET is an account email, or - to read emails /
        JSON / JSON lines from stdin.
        """
    )
    command.__name__ = verb
    return command


app.command(
    "attach",
    epilog=examples(
        'instantly campaigns attach "Client A outreach" a@acme.io b@acme.io',
        'instantly accounts list --idle --all -o jsonl | instantly campaigns attach "Q3" - --yes',
    ),
)(handled(_membership(True)))
app.command(
    "detach",
    epilog=examples(
        'instantly campaigns detach "Client A outreach" a@acme.io --dry-run',
        "instantly accounts list --health at-risk --campaign Q3 --all -o jsonl"
        " | instantly campaigns detach Q3 - --yes",
    ),
)(handled(_membership(False)))
