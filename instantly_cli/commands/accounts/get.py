"""``instantly accounts get``."""

from typing import Annotated

import typer

from instantly_cli import context, output
from instantly_cli.columns import check_fields, parse_fields, pick
from instantly_cli.commands import handled
from instantly_cli.commands.accounts import app
from instantly_cli.errors import CliError, NotFoundError, UsageError
from instantly_cli.options import (
    FieldsOpt,
    JsonOpt,
    OutputOpt,
    WideOpt,
    arguments,
    examples,
)

GetExamples = examples(
    "instantly accounts get ops@acme.io",
    "instantly accounts get a@acme.io b@acme.io --json | jq '.[].warmup.limit'",
    "instantly accounts get ops@acme.io --include-campaigns --json | jq '.campaigns[].name'",
)


@app.command("get", epilog=GetExamples)
@handled
def get_accounts(
    ctx: typer.Context,
    emails: Annotated[list[str], arguments("EMAIL")],
    include_tags: Annotated[
        bool,
        typer.Option(
            "--include-tags", help="Add the account's tags (always shown in the detail view)."
        ),
    ] = False,
    include_campaigns: Annotated[
        bool,
        typer.Option(
            "--include-campaigns",
            help="Add the campaigns each account serves (always shown in the detail view).",
        ),
    ] = False,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
    wide: WideOpt = False,
) -> None:
    """Show one account in detail, or several as a table.

    EMAIL is an account email; give one or more. The detail view shows the campaigns the
    account serves, listed or through which tag; --include-campaigns adds them to JSON
    (`campaigns`: id, name, status, direct, tags).
    """
    from instantly_cli.services.accounts.get import get_accounts
    from instantly_cli.targets import dedupe, validate_email

    fmt = context.output_format(ctx, output_, json_output)
    field_list = parse_fields(fields)
    if not emails:
        raise UsageError("No account given.", hint="Name one or more account emails.")
    wanted = dedupe(validate_email(e) for e in emails)
    detail = fmt == "table" and len(wanted) == 1 and not field_list
    with context.client(ctx) as client:
        found, missing = get_accounts(client, wanted)
        if include_tags or detail:
            from instantly_cli.services.tags import attach_tags

            attach_tags(client, found, warn=output.warn)
        if include_campaigns or detail:
            from instantly_cli.services.campaigns import served_by

            try:
                served = served_by(client, found, output.warn)
            except CliError as err:
                if include_campaigns:
                    raise
                # The account is what was asked for: a key without campaign scopes, or an
                # API that fails the walk, still shows it.
                output.warn(f"Campaigns not shown: {err.message}")
                served = {}
            for account in found:
                if served:
                    account["campaigns"] = served.get(str(account.get("email")), [])
    if fmt == "json" and len(wanted) == 1:
        if field_list:
            check_fields(field_list, found)
        output.emit_json(pick(found[0], field_list) if field_list else found[0])
    elif detail:
        # Views only for tables and records: `-o json` stays light at start-up.
        from instantly_cli import views

        output.emit_detail(str(found[0].get("email", "")), views.account_detail(found[0]))
    elif found:
        from instantly_cli import views

        output.emit_records(
            [found],
            fmt,
            views.account_columns(fmt, include_tags),
            fields=field_list,
            wide=wide,
        )
    if missing:
        # Like gh: show what was found, then fail for the rest.
        raise NotFoundError(f"No account {', '.join(missing)}.")
