"""``instantly accounts``: list, inspect and change sending accounts (mailboxes)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from instantly_cli import output
from instantly_cli.commands import get_client
from instantly_cli.enums import ACCOUNT_STATUS, LIST_FILTER, PROVIDER, SORT_FIELD, WARMUP_STATUS
from instantly_cli.errors import UsageError, handled
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
)
from instantly_cli.output import Column

app = typer.Typer(help="List, inspect and change sending accounts.", no_args_is_help=True)


def short_time(value: Any) -> str:
    """``2026-01-05T10:00:00.000Z`` → ``2026-01-05 10:00`` for tables (TSV keeps the exact value)."""
    if not isinstance(value, str) or "T" not in value:
        return output.text_value(value)
    return value.replace("T", " ")[:16]


def _name(value: Any) -> str:
    return output.text_value(value)


ACCOUNT_COLUMNS = [
    Column("email", "Email"),
    Column("first_name", "First"),
    Column("last_name", "Last"),
    Column("status", "Status", enum=ACCOUNT_STATUS),
    Column("warmup_status", "Warmup", enum=WARMUP_STATUS),
    Column("provider_code", "Provider", enum=PROVIDER),
    Column("daily_limit", "Daily limit", justify="right"),
    Column("stat_warmup_score", "Score", justify="right"),
    Column("timestamp_created", "Created"),
]
TAGS_COLUMN = Column("tags", "Tags")


def table_columns(fmt: str, include_tags: bool) -> list[Column]:
    cols = list(ACCOUNT_COLUMNS)
    if include_tags:
        cols.append(TAGS_COLUMN)
    if fmt == "table":
        cols = [Column(c.key, c.header, c.enum, short_time, c.justify) if c.key.startswith(
            "timestamp") else c for c in cols]
    return cols


ListExamples = """
Examples:

  instantly accounts list --status connection-error

  instantly accounts list --provider google --all -o jsonl | jq -r .email

  instantly accounts list --tag "Client A" --include-tags --sort warmup-score --asc
"""


@app.command("list", epilog=ListExamples)
@handled
def list_accounts(
    ctx: typer.Context,
    status: StatusOpt = None,
    provider: ProviderOpt = None,
    search: Annotated[str | None, typer.Option("--search", help="Match email or name.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Has any of these tags (label or id); repeatable.")
    ] = None,
    tag_all: Annotated[
        list[str] | None, typer.Option("--tag-all", help="Has all of these tags; repeatable.")
    ] = None,
    filter_: FilterOpt = None,
    sort: SortOpt = None,
    asc: Annotated[
        bool | None, typer.Option("--asc/--desc", help="Sort direction (with --sort).", show_default=False)
    ] = None,
    include_tags: Annotated[
        bool, typer.Option("--include-tags", help="Add each account's tags.")
    ] = False,
    limit: LimitOpt = 100,
    all_: AllOpt = False,
    starting_after: Annotated[
        str | None, typer.Option("--starting-after", help="Cursor printed by an earlier page.")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 if the API's pagination misbehaves.")
    ] = False,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
) -> None:
    """List accounts, filtered and sorted; streams every page with --all."""
    fmt = output.resolve_format(output_, json_output)
    field_list = output.parse_fields(fields)
    params: dict[str, Any] = {
        "status": ACCOUNT_STATUS.parse(status) if status else None,
        "provider_code": PROVIDER.parse(provider) if provider else None,
        "search": search or None,
        "filter": LIST_FILTER.parse(filter_) if filter_ else None,
        "include_tags": True if include_tags else None,
    }
    if sort:
        params["sort_by"] = SORT_FIELD.parse(sort)
        params["sort_order"] = "asc" if asc else "desc"
    elif asc is not None:
        raise UsageError("--asc/--desc needs --sort.", hint="For example: --sort email --asc.")
    if starting_after and sort:
        raise UsageError("--starting-after cannot be combined with --sort.",
                         hint="Sorted lists page by offset; use --all or --limit.")
    with get_client(ctx) as client:
        if tag or tag_all:
            from instantly_cli.commands.tags import resolve_tag_ids

            params["tag_ids"] = resolve_tag_ids(client, tag) or None
            params["tag_ids_all"] = resolve_tag_ids(client, tag_all) or None
        if starting_after:
            params["starting_after"] = starting_after
        pager = client.pages(
            "/api/v2/accounts", params, limit=None if all_ else limit, offset=bool(sort)
        )
        output.emit_records(
            pager,
            fmt,
            table_columns(fmt, include_tags),
            fields=field_list,
            empty_message="No accounts match.",
        )
    if pager.anomaly:
        output.warn(f"Listing ended early: {pager.anomaly}.")
        if strict:
            raise UsageError("Pagination stopped early (--strict).", hint=None) from None
    if pager.more:
        if pager.next_cursor:
            output.info(
                f"More accounts available: add --starting-after '{pager.next_cursor}' "
                "for the next page, or --all for everything."
            )
        else:
            output.info("More accounts available: raise --limit or use --all.")


def _status_text(account: dict[str, Any]) -> str:
    text = ACCOUNT_STATUS.label(account.get("status"))
    message = account.get("status_message")
    if isinstance(message, dict) and (message.get("e_message") or message.get("response")):
        detail = message.get("e_message") or message.get("response")
        code = message.get("responseCode") or message.get("code")
        text += f" — {detail}" + (f" ({code})" if code else "")
    return text


def _detail(account: dict[str, Any]) -> None:
    def row(label: str, value: Any, style: str = "") -> tuple[str, str, str]:
        return (label, output.text_value(value), style)

    warmup = account.get("warmup") if isinstance(account.get("warmup"), dict) else {}
    advanced = warmup.get("advanced") if isinstance(warmup.get("advanced"), dict) else {}
    name = " ".join(p for p in (account.get("first_name"), account.get("last_name")) if p)
    sections = [
        ("Account", [
            row("Name", name),
            row("Provider", PROVIDER.label(account.get("provider_code"))),
            row("Status", _status_text(account), ACCOUNT_STATUS.style(account.get("status"))),
            row("Daily limit", account.get("daily_limit") if account.get("daily_limit") is not None
                else "none"),
            row("Sending gap", f"{output.text_value(account.get('sending_gap'))} min"
                if account.get("sending_gap") is not None else ""),
            row("Reply-to", account.get("reply_to")),
            row("Tracking domain", account.get("tracking_domain_name")),
            row("Tracking status", account.get("tracking_domain_status")),
            row("Slow ramp", account.get("enable_slow_ramp")),
            row("Tags", account.get("tags")),
        ]),
        ("Warmup", [
            row("Status", WARMUP_STATUS.label(account.get("warmup_status")),
                WARMUP_STATUS.style(account.get("warmup_status"))),
            row("Score", account.get("stat_warmup_score")),
            row("Limit", warmup.get("limit")),
            row("Increment", warmup.get("increment")),
            row("Reply rate", warmup.get("reply_rate")),
            row("Custom tag", warmup.get("warmup_custom_ftag")),
            row("Open rate", advanced.get("open_rate")),
            row("Important rate", advanced.get("important_rate")),
            row("Spam save rate", advanced.get("spam_save_rate")),
            row("Read emulation", advanced.get("read_emulation")),
            row("Warm CTD", advanced.get("warm_ctd")),
            row("Weekdays only", advanced.get("weekday_only")),
            row("Started", account.get("timestamp_warmup_start")),
        ]),
        ("Timestamps", [
            row("Created", account.get("timestamp_created")),
            row("Updated", account.get("timestamp_updated")),
        ]),
    ]
    output.emit_detail(str(account.get("email", "")), sections)


GetExamples = """
Examples:

  instantly accounts get ops@acme.io

  instantly accounts get a@acme.io b@acme.io --json | jq '.[].warmup.limit'
"""


@app.command("get", epilog=GetExamples)
@handled
def get_accounts(
    ctx: typer.Context,
    emails: Annotated[list[str], typer.Argument(help="One or more account emails.", show_default=False)],
    include_tags: Annotated[
        bool, typer.Option("--include-tags", help="Add the account's tags (always shown in the detail view).")
    ] = False,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
) -> None:
    """Show one account in detail, or several as a table."""
    from instantly_cli.targets import validate_email

    fmt = output.resolve_format(output_, json_output)
    field_list = output.parse_fields(fields)
    wanted = list(dict.fromkeys(validate_email(e) for e in emails))
    with get_client(ctx) as client:
        accounts = [client.get_account(e) for e in wanted]
        detail = fmt == "table" and len(accounts) == 1 and not field_list
        if include_tags or detail:
            from instantly_cli.commands.tags import attach_tags

            attach_tags(client, accounts)
    if fmt == "json" and len(accounts) == 1:
        output.emit_json(output.pick(accounts[0], field_list) if field_list else accounts[0])
    elif detail:
        _detail(accounts[0])
    else:
        output.emit_records([accounts], fmt, table_columns(fmt, include_tags), fields=field_list)
