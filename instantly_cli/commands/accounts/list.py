"""``instantly accounts list``."""

from typing import Annotated

import typer

from instantly_cli import context, output
from instantly_cli.commands import handled
from instantly_cli.commands.accounts import app
from instantly_cli.errors import CliError, UsageError
from instantly_cli.options import (
    AllOpt,
    FieldsOpt,
    FilterOpt,
    JsonOpt,
    LimitOpt,
    OutputOpt,
    ProviderOpt,
    SortOpt,
    StatusOpt,
    examples,
)

ListExamples = examples(
    "instantly accounts list --status connection-error",
    "instantly accounts list --provider google --all -o jsonl | jq -r .email",
    'instantly accounts list --tag "Client A" --include-tags --sort warmup-score --asc',
)


@app.command("list", epilog=ListExamples)
@handled
def list_accounts(
    ctx: typer.Context,
    status: StatusOpt = None,
    provider: ProviderOpt = None,
    search: Annotated[
        str | None, typer.Option("--search", metavar="TEXT", help="Match email or name.")
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            "--tag", metavar="TAG", help="Has any of these tags (label or id); repeatable."
        ),
    ] = None,
    tag_all: Annotated[
        list[str] | None,
        typer.Option("--tag-all", metavar="TAG", help="Has all of these tags; repeatable."),
    ] = None,
    filter_: FilterOpt = None,
    sort: SortOpt = None,
    asc: Annotated[
        bool | None,
        typer.Option("--asc/--desc", help="Sort direction (with --sort).", show_default=False),
    ] = None,
    include_tags: Annotated[
        bool, typer.Option("--include-tags", help="Add each account's tags.")
    ] = False,
    limit: LimitOpt = 100,
    all_: AllOpt = False,
    starting_after: Annotated[
        str | None,
        typer.Option(
            "--starting-after", metavar="CURSOR", help="Cursor printed by an earlier page."
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 if the API's pagination misbehaves.")
    ] = False,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
) -> None:
    """List accounts, filtered and sorted; streams every page with --all."""
    from instantly_cli import views
    from instantly_cli.services import accounts

    fmt = context.output_format(ctx, output_, json_output)
    field_list = output.parse_fields(fields)
    if limit < 1:
        raise UsageError(
            f"--limit must be at least 1 (got {limit}).", hint="Use --all to fetch every page."
        )
    query = accounts.ListQuery(
        status=status,
        provider=provider,
        search=search,
        filter=filter_,
        sort=sort,
        asc=asc,
        include_tags=include_tags,
        starting_after=starting_after,
        tags=tag or [],
        tags_all=tag_all or [],
    )
    query.params()  # validate before any request
    with context.client(ctx) as client:
        pager = accounts.list_accounts(
            client,
            query,
            limit=None if all_ else limit,
            warn=output.warn,
        )
        output.emit_records(
            pager,
            fmt,
            views.account_columns(fmt, include_tags),
            fields=field_list,
            empty_message="No accounts match.",
        )
    if pager.anomaly:
        output.warn(f"Listing ended early: {pager.anomaly}.")
        if strict:
            raise CliError(
                "Pagination stopped early (--strict); the output may be incomplete.",
                hint="Retry later; without --strict the listing ends with what was fetched.",
            )
    if pager.more:
        if pager.next_cursor:
            output.info(
                f"More accounts available: add --starting-after '{pager.next_cursor}' "
                "for the next page, or --all for everything."
            )
        else:
            output.info("More accounts available: raise --limit or use --all.")
