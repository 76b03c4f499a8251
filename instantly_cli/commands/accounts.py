"""``instantly accounts``: list, inspect and change sending accounts (mailboxes)."""

import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from instantly_cli import context, fields, output
from instantly_cli.commands import _bulk, handled
from instantly_cli.enums import (
    ACCOUNT_STATUS,
    FAILED,
    JOB_DONE,
    LIST_FILTER,
    PROVIDER,
    SORT_FIELD,
    WARMUP_INCREMENT,
    WARMUP_STATUS,
)
from instantly_cli.errors import CliError, NotFoundError, UsageError
from instantly_cli.options import (
    AllOpt,
    ConcurrencyOpt,
    DryRunOpt,
    FailuresOpt,
    FieldsOpt,
    FilterOpt,
    JsonOpt,
    LimitOpt,
    OutputOpt,
    ProviderOpt,
    RateOpt,
    SortOpt,
    StatusOpt,
    YesOpt,
    complete_enum,
    examples,
)
from instantly_cli.output import Column
from instantly_cli.services import bulk
from instantly_cli.services.jobs import wait_for_jobs
from instantly_cli.targets import read_targets

app = typer.Typer(help="List, inspect and change sending accounts.", no_args_is_help=True)


def short_time(value: Any) -> str:
    """``2026-01-05T10:00:00.000Z`` → ``2026-01-05 10:00`` for tables (TSV keeps it exact)."""
    if not isinstance(value, str) or "T" not in value:
        return output.text_value(value)
    return value.replace("T", " ")[:16]


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
        cols = [
            Column(c.key, c.header, c.enum, short_time, c.justify)
            if c.key.startswith("timestamp")
            else c
            for c in cols
        ]
    return cols


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
    fmt = context.output_format(ctx, output_, json_output)
    field_list = output.parse_fields(fields)
    if limit < 1:
        raise UsageError(
            f"--limit must be at least 1 (got {limit}).", hint="Use --all to fetch every page."
        )
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
        raise UsageError(
            "--starting-after cannot be combined with --sort.",
            hint="Sorted lists page by offset; use --all or --limit.",
        )
    with context.client(ctx) as client:
        if tag or tag_all:
            from instantly_cli.commands.tags import resolve_tag_ids

            params["tag_ids"] = resolve_tag_ids(client, tag) or None
            params["tag_ids_all"] = resolve_tag_ids(client, tag_all) or None
        if starting_after:
            params["starting_after"] = starting_after
        pager = client.list_accounts(params, limit=None if all_ else limit, offset=bool(sort))
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


def _status_text(account: Mapping[str, Any]) -> str:
    text = ACCOUNT_STATUS.label(account.get("status"))
    message = account.get("status_message")
    if isinstance(message, dict) and (message.get("e_message") or message.get("response")):
        detail = message.get("e_message") or message.get("response")
        code = message.get("responseCode") or message.get("code")
        text += f" — {detail}" + (f" ({code})" if code else "")
    return text


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _detail(account: Mapping[str, Any]) -> None:
    def row(label: str, value: Any, style: str = "") -> tuple[str, str, str]:
        return (label, output.text_value(value), style)

    warmup = _obj(account.get("warmup"))
    advanced = _obj(warmup.get("advanced"))
    name = " ".join(p for p in (account.get("first_name"), account.get("last_name")) if p)
    sections = [
        (
            "Account",
            [
                row("Name", name),
                row("Provider", PROVIDER.label(account.get("provider_code"))),
                row("Status", _status_text(account), ACCOUNT_STATUS.style(account.get("status"))),
                row(
                    "Daily limit",
                    account.get("daily_limit")
                    if account.get("daily_limit") is not None
                    else "none",
                ),
                row(
                    "Sending gap",
                    f"{output.text_value(account.get('sending_gap'))} min"
                    if account.get("sending_gap") is not None
                    else "",
                ),
                row("Reply-to", account.get("reply_to")),
                row("Tracking domain", account.get("tracking_domain_name")),
                row("Tracking status", account.get("tracking_domain_status")),
                row("Slow ramp", account.get("enable_slow_ramp")),
                row("Tags", account.get("tags")),
            ],
        ),
        (
            "Warmup",
            [
                row(
                    "Status",
                    WARMUP_STATUS.label(account.get("warmup_status")),
                    WARMUP_STATUS.style(account.get("warmup_status")),
                ),
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
            ],
        ),
        (
            "Timestamps",
            [
                row("Created", account.get("timestamp_created")),
                row("Updated", account.get("timestamp_updated")),
            ],
        ),
    ]
    output.emit_detail(str(account.get("email", "")), sections)


GetExamples = examples(
    "instantly accounts get ops@acme.io",
    "instantly accounts get a@acme.io b@acme.io --json | jq '.[].warmup.limit'",
)


@app.command("get", epilog=GetExamples)
@handled
def get_accounts(
    ctx: typer.Context,
    emails: Annotated[
        list[str],
        typer.Argument(metavar="EMAIL", help="One or more account emails.", show_default=False),
    ],
    include_tags: Annotated[
        bool,
        typer.Option(
            "--include-tags", help="Add the account's tags (always shown in the detail view)."
        ),
    ] = False,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
) -> None:
    """Show one account in detail, or several as a table."""
    from instantly_cli.targets import validate_email

    fmt = context.output_format(ctx, output_, json_output)
    field_list = output.parse_fields(fields)
    wanted = list(dict.fromkeys(validate_email(e) for e in emails))
    with context.client(ctx) as client:
        accounts, missing = [], []
        for email in wanted:
            try:
                accounts.append(client.get_account(email))
            except NotFoundError:
                if len(wanted) == 1:
                    raise
                missing.append(email)
        detail = fmt == "table" and len(wanted) == 1 and not field_list
        if include_tags or detail:
            from instantly_cli.commands.tags import attach_tags

            attach_tags(client, accounts)
    if fmt == "json" and len(wanted) == 1:
        output.emit_json(output.pick(accounts[0], field_list) if field_list else accounts[0])
    elif detail:
        _detail(accounts[0])
    elif accounts:
        output.emit_records([accounts], fmt, table_columns(fmt, include_tags), fields=field_list)
    if missing:
        # Like gh: show what was found, then fail for the rest.
        raise NotFoundError(f"No account {', '.join(missing)}.")


# -- changes -----------------------------------------------------------------------------------

TargetsArg = Annotated[
    list[str],
    typer.Argument(
        metavar="TARGET",
        help="Account emails, or - to read emails / JSON / JSON lines from stdin.",
        show_default=False,
    ),
]


def _opt_text(value: str | None) -> Any:
    """``none`` (or ``null``) clears a nullable field."""
    if value is None:
        return _UNSET
    return None if value.strip().lower() in ("none", "null") else value


def _opt_number(value: str | None, flag: str, *, nullable: bool = False) -> Any:
    if value is None:
        return _UNSET
    text = value.strip().lower()
    if nullable and text in ("none", "null"):
        return None
    try:
        number = float(text)
    except ValueError:
        raise UsageError(
            f"{flag} takes a number{' or none' if nullable else ''}, not '{value}'."
        ) from None
    return int(number) if number.is_integer() and "." not in text and "e" not in text else number


_UNSET: Any = object()


def _flag(value: Any) -> Any:
    return _UNSET if value is None else value


def _load_body(text: str) -> dict[str, Any]:
    source = "--body"
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = sys.stdin.read() if text == "@-" else path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"Cannot read {path}: {exc.strerror}.") from None
        source = f"--body file {path}"
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise UsageError(
            f"{source} is not valid JSON: {exc}.",
            hint="For example: --body '{\"daily_limit\": 30}'.",
        ) from None
    if not isinstance(body, dict):
        raise UsageError(
            f"{source} must be a JSON object.", hint='For example: {"daily_limit": 30}.'
        )
    return body


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    if isinstance(old, int | float) and isinstance(new, int | float):
        return float(old) == float(new)
    return bool(old == new)


def diff(current: Mapping[str, Any], body: dict[str, Any]) -> list[dict[str, Any]]:
    """The fields ``body`` would change on ``current``: ``[{field, old, new}]``."""
    changes = []
    for path, new in fields.leaves(body):
        spec = fields.BY_PATH.get(path)
        if spec is not None and spec.write_only:
            if new:
                changes.append({"field": path, "old": None, "new": new})
            continue
        old = output.get_path(current, path)
        if not _same(old, new):
            changes.append({"field": path, "old": old, "new": new})
    return changes


def not_applied(sent: dict[str, Any], returned: Mapping[str, Any]) -> list[str]:
    """Fields the API answered with a different value than was sent."""
    problems = []
    for path, value in fields.leaves(sent):
        spec = fields.BY_PATH.get(path)
        if spec is not None and spec.write_only:
            continue
        got = output.get_path(returned, path)
        if not _same(got, value):
            problems.append(
                f"{path} not applied (sent {json.dumps(value)}, the API has {json.dumps(got)})"
            )
    return problems


UpdateExamples = examples(
    "instantly accounts update ops@acme.io --daily-limit 40 --warmup-limit 20",
    "instantly accounts list --provider google -o jsonl \\",
    "  | instantly accounts update - --daily-limit 30 --yes",
    "instantly accounts update a@acme.io b@acme.io --set warmup.advanced.open_rate=0.9 --dry-run",
    "instantly accounts update - --daily-limit 30 --yes < instantly-failures-….jsonl",
)


@app.command("update", epilog=UpdateExamples)
@handled
def update(
    ctx: typer.Context,
    targets: TargetsArg,
    first_name: Annotated[
        str | None, typer.Option("--first-name", metavar="TEXT", help="First name.")
    ] = None,
    last_name: Annotated[
        str | None, typer.Option("--last-name", metavar="TEXT", help="Last name.")
    ] = None,
    daily_limit: Annotated[
        str | None, typer.Option("--daily-limit", metavar="N|none", help="Daily sending limit.")
    ] = None,
    sending_gap: Annotated[
        str | None,
        typer.Option("--sending-gap", metavar="MINUTES", help="Gap between emails, 0-1440."),
    ] = None,
    signature: Annotated[
        str | None, typer.Option("--signature", metavar="TEXT|none", help="Email signature.")
    ] = None,
    reply_to: Annotated[
        str | None, typer.Option("--reply-to", metavar="EMAIL|none", help="Reply-to address.")
    ] = None,
    tracking_domain: Annotated[
        str | None,
        typer.Option("--tracking-domain", metavar="NAME|none", help="Custom tracking domain."),
    ] = None,
    tracking_domain_status: Annotated[
        str | None,
        typer.Option("--tracking-domain-status", metavar="TEXT", help="Tracking domain status."),
    ] = None,
    remove_tracking_domain: Annotated[
        bool, typer.Option("--remove-tracking-domain", help="Remove the tracking domain.")
    ] = False,
    skip_cname_check: Annotated[
        bool, typer.Option("--skip-cname-check", help="Skip the tracking domain CNAME check.")
    ] = False,
    slow_ramp: Annotated[
        bool | None,
        typer.Option(
            "--slow-ramp/--no-slow-ramp", help="Slow ramp-up of limits.", show_default=False
        ),
    ] = None,
    inbox_placement_test_limit: Annotated[
        str | None,
        typer.Option(
            "--inbox-placement-test-limit", metavar="N|none", help="Inbox placement test limit."
        ),
    ] = None,
    warmup_limit: Annotated[
        str | None, typer.Option("--warmup-limit", metavar="N", help="Warmup emails per day.")
    ] = None,
    warmup_increment: Annotated[
        str | None,
        typer.Option(
            "--warmup-increment",
            metavar="disabled|0-4",
            help="Daily warmup increment.",
            autocompletion=complete_enum(WARMUP_INCREMENT),
        ),
    ] = None,
    warmup_reply_rate: Annotated[
        str | None, typer.Option("--warmup-reply-rate", metavar="R", help="Warmup reply rate.")
    ] = None,
    warmup_open_rate: Annotated[
        str | None, typer.Option("--warmup-open-rate", metavar="R", help="Warmup open rate.")
    ] = None,
    warmup_important_rate: Annotated[
        str | None,
        typer.Option("--warmup-important-rate", metavar="R", help="Warmup important rate."),
    ] = None,
    warmup_spam_save_rate: Annotated[
        str | None,
        typer.Option("--warmup-spam-save-rate", metavar="R", help="Warmup spam save rate."),
    ] = None,
    warmup_weekdays_only: Annotated[
        bool | None,
        typer.Option(
            "--warmup-weekdays-only/--warmup-every-day",
            help="Warm up on weekdays only.",
            show_default=False,
        ),
    ] = None,
    warmup_read_emulation: Annotated[
        bool | None,
        typer.Option(
            "--warmup-read-emulation/--no-warmup-read-emulation",
            help="Read emulation.",
            show_default=False,
        ),
    ] = None,
    warmup_warm_ctd: Annotated[
        bool | None,
        typer.Option(
            "--warmup-warm-ctd/--no-warmup-warm-ctd",
            help="Warm the custom tracking domain.",
            show_default=False,
        ),
    ] = None,
    warmup_custom_ftag: Annotated[
        str | None, typer.Option("--warmup-custom-ftag", metavar="TEXT", help="Warmup custom tag.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="PATH=VALUE",
            help="Set any field (dots for nesting); "
            "VALUE is JSON when it parses, else text. Repeatable.",
        ),
    ] = None,
    body: Annotated[
        str | None, typer.Option("--body", metavar="JSON|@FILE", help="A raw PATCH body.")
    ] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Count a field the API did not apply as a failure.")
    ] = False,
    rate: RateOpt = bulk.DEFAULT_RATE,
    concurrency: ConcurrencyOpt = bulk.DEFAULT_CONCURRENCY,
    failures: FailuresOpt = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int:
    """Change fields of one account or thousands: validated, previewable, paced, resumable."""
    fmt = context.output_format(ctx, output_, json_output)
    bulk.check_rate(rate, concurrency)
    flag_values: list[tuple[str, Any]] = [
        ("first_name", _flag(first_name)),
        ("last_name", _flag(last_name)),
        ("daily_limit", _opt_number(daily_limit, "--daily-limit", nullable=True)),
        ("sending_gap", _opt_number(sending_gap, "--sending-gap")),
        ("signature", _opt_text(signature)),
        ("reply_to", _opt_text(reply_to)),
        ("tracking_domain_name", _opt_text(tracking_domain)),
        ("tracking_domain_status", _flag(tracking_domain_status)),
        ("remove_tracking_domain", True if remove_tracking_domain else _UNSET),
        ("skip_cname_check", True if skip_cname_check else _UNSET),
        ("enable_slow_ramp", _flag(slow_ramp)),
        (
            "inbox_placement_test_limit",
            _opt_number(inbox_placement_test_limit, "--inbox-placement-test-limit", nullable=True),
        ),
        ("warmup.limit", _opt_number(warmup_limit, "--warmup-limit")),
        (
            "warmup.increment",
            _flag(warmup_increment and str(WARMUP_INCREMENT.parse(warmup_increment))),
        ),
        ("warmup.reply_rate", _opt_number(warmup_reply_rate, "--warmup-reply-rate")),
        ("warmup.advanced.open_rate", _opt_number(warmup_open_rate, "--warmup-open-rate")),
        (
            "warmup.advanced.important_rate",
            _opt_number(warmup_important_rate, "--warmup-important-rate"),
        ),
        (
            "warmup.advanced.spam_save_rate",
            _opt_number(warmup_spam_save_rate, "--warmup-spam-save-rate"),
        ),
        ("warmup.advanced.weekday_only", _flag(warmup_weekdays_only)),
        ("warmup.advanced.read_emulation", _flag(warmup_read_emulation)),
        ("warmup.advanced.warm_ctd", _flag(warmup_warm_ctd)),
        ("warmup.warmup_custom_ftag", _flag(warmup_custom_ftag)),
    ]
    # Precedence: --body < --set < typed flags.
    change: dict[str, Any] = _load_body(body) if body is not None else {}
    for item in set_ or []:
        path, value = fields.parse_set(item)
        fields.set_path(change, path, value)
    for path, value in flag_values:
        if value is not _UNSET:
            fields.set_path(change, path, value)
    fields.validate(change)
    emails = read_targets(targets)
    if not dry_run:
        _bulk.confirm_many(ctx, len(emails), "update", yes)
    needs_current = dry_run or "warmup" in change

    with context.client(ctx, rate=rate) as client:

        def work(unit: list[str]) -> list[bulk.Outcome]:
            email = unit[0]
            send = change
            if needs_current:
                current = client.get_account(email)
                if "warmup" in change:
                    base = fields.patchable(current.get("warmup") or {}, "warmup")
                    send = {**change, "warmup": fields.deep_merge(base, change["warmup"])}
                changes = diff(current, send)
                if not changes:
                    return [bulk.Outcome(email, "unchanged", account=None if dry_run else current)]
                if dry_run:
                    return [bulk.Outcome(email, "would-update", extra={"changes": changes})]
            updated = client.update_account(email, send)
            warnings = not_applied(send, updated)
            if warnings and strict:
                return [
                    bulk.Outcome(
                        email,
                        FAILED,
                        error="; ".join(warnings),
                        code="not_applied",
                        account=updated,
                    )
                ]
            return [bulk.Outcome(email, "updated", account=updated, warnings=warnings)]

        label = "Checking" if dry_run else "Updating"
        result = _bulk.run([[e] for e in emails], work, concurrency=concurrency, label=label)
    if dry_run:
        _emit_dry_run(result.outcomes, fmt)
        return _bulk.finish(
            result,
            fmt=fmt,
            order=("would-update", "unchanged", FAILED),
            failures=failures,
            command="accounts update",
            emit=False,
        )
    return _bulk.finish(
        result,
        fmt=fmt,
        order=("updated", "unchanged", FAILED),
        failures=failures,
        command="accounts update",
    )


def _emit_dry_run(outcomes: list[bulk.Outcome], fmt: str) -> None:
    if fmt in ("json", "jsonl"):
        rows = [
            {
                "email": o.email,
                "result": o.result,
                "changes": o.extra.get("changes", []),
                "error": o.error,
            }
            for o in outcomes
        ]
        if fmt == "json":
            output.emit_json(rows)
        else:
            output.emit_records([rows], "jsonl", [])
        return
    flat: list[dict[str, Any]] = []
    for o in outcomes:
        changes = o.extra.get("changes") or []
        if not changes:
            flat.append({"email": o.email, "field": "", "change": o.error or o.result})
        for c in changes:
            flat.append(
                {
                    "email": o.email,
                    "field": c["field"],
                    "change": f"{_show(c['old'])} → {_show(c['new'])}",
                }
            )
    cols = [Column("email", "Email"), Column("field", "Field"), Column("change", "Old → new")]
    output.emit_records([flat], fmt, cols)


def _show(value: Any) -> str:
    return (
        "null"
        if value is None
        else json.dumps(value, ensure_ascii=False)
        if not isinstance(value, str)
        else value
    )


BulkExamples = examples(
    "instantly accounts pause ops@acme.io",
    "instantly accounts list --status sending-error -o jsonl | instantly accounts pause - --yes",
)


@app.command("pause", epilog=BulkExamples)
@handled
def pause(
    ctx: typer.Context,
    targets: TargetsArg,
    yes: YesOpt = False,
    rate: RateOpt = bulk.DEFAULT_RATE,
    concurrency: ConcurrencyOpt = bulk.DEFAULT_CONCURRENCY,
    failures: FailuresOpt = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int:
    """Pause sending from accounts (bulk endpoint, 100 per request)."""
    fmt = context.output_format(ctx, output_, json_output)
    bulk.check_rate(rate, concurrency)
    emails = read_targets(targets)
    _bulk.confirm_many(ctx, len(emails), "pause", yes)

    with context.client(ctx, rate=rate) as client:

        def work(batch: list[str]) -> list[bulk.Outcome]:
            answer = client.pause_accounts(batch)
            paused = {str(e).lower() for e in answer.get("paused_emails") or []}
            refused = {str(e).lower() for e in answer.get("failed_emails") or []}
            out = []
            for email in batch:
                if email.lower() in paused:
                    out.append(bulk.Outcome(email, "paused"))
                elif email.lower() in refused:
                    out.append(_not_paused(email, single=len(emails) == 1))
                else:
                    out.append(
                        bulk.Outcome(
                            email,
                            FAILED,
                            code="not_reported",
                            error="the API did not report this account",
                        )
                    )
            return out

        def _not_paused(email: str, single: bool) -> bulk.Outcome:
            # The bulk endpoint does not say why; for a lone target, ask, so that a missing
            # account exits 4 like every other command.
            if single:
                try:
                    client.get_account(email)
                except NotFoundError as err:
                    return bulk.failed(email, err)
            return bulk.Outcome(
                email,
                FAILED,
                code="not_paused",
                error="the API did not pause it (unknown account, or its status could not change)",
            )

        batches = bulk.batches(emails, 100)
        result = _bulk.run(batches, work, concurrency=concurrency, label="Pausing")
    return _bulk.finish(
        result, fmt=fmt, order=("paused", FAILED), failures=failures, command="accounts pause"
    )


@app.command(
    "resume",
    epilog=examples(
        "instantly accounts resume ops@acme.io",
        "instantly accounts list --status paused -o jsonl | instantly accounts resume - --yes",
    ),
)
@handled
def resume(
    ctx: typer.Context,
    targets: TargetsArg,
    yes: YesOpt = False,
    rate: RateOpt = bulk.DEFAULT_RATE,
    concurrency: ConcurrencyOpt = bulk.DEFAULT_CONCURRENCY,
    failures: FailuresOpt = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int:
    """Resume sending from paused accounts (one request per account, paced)."""
    fmt = context.output_format(ctx, output_, json_output)
    bulk.check_rate(rate, concurrency)
    emails = read_targets(targets)
    _bulk.confirm_many(ctx, len(emails), "resume", yes)

    with context.client(ctx, rate=rate) as client:

        def work(unit: list[str]) -> list[bulk.Outcome]:
            return [bulk.Outcome(unit[0], "resumed", account=client.resume_account(unit[0]))]

        result = _bulk.run([[e] for e in emails], work, concurrency=concurrency, label="Resuming")
    return _bulk.finish(
        result,
        fmt=fmt,
        order=("resumed", FAILED),
        failures=failures,
        command="accounts resume",
    )


# -- warmup ------------------------------------------------------------------------------------

warmup_app = typer.Typer(help="Turn warmup on or off (background jobs).", no_args_is_help=True)
app.add_typer(warmup_app, name="warmup")


def _warmup(
    ctx: typer.Context,
    enable: bool,
    targets: list[str],
    *,
    yes: bool,
    no_wait: bool,
    timeout: float,
    rate: float,
    concurrency: int,
    failures: Path | None,
    output_: str | None,
    json_output: bool,
) -> int:
    fmt = context.output_format(ctx, output_, json_output)
    bulk.check_rate(rate, concurrency)
    if timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds.")
    started = time.monotonic()
    verb = "enable" if enable else "disable"
    done_word = "enabled" if enable else "disabled"
    emails = read_targets(targets)
    _bulk.confirm_many(ctx, len(emails), f"{verb} warmup on", yes)

    with context.client(ctx, rate=rate) as client:

        def submit(batch: list[str]) -> list[bulk.Outcome]:
            job = client.warmup(enable, batch)
            job_id = str(job.get("id", "")) if isinstance(job, dict) else ""
            status = str(job.get("status", "")) if isinstance(job, dict) else ""
            return [
                bulk.Outcome(e, "submitted", extra={"job_id": job_id, "job_status": status})
                for e in batch
            ]

        batches = bulk.batches(emails, 100)
        label = f"Submitting warmup {verb}"
        result = _bulk.run(batches, submit, concurrency=concurrency, label=label)
        jobs = list(
            dict.fromkeys(
                str(o.extra["job_id"]) for o in result.outcomes if o.result == "submitted"
            )
        )
        if no_wait or result.interrupted:
            rows = [
                {
                    "job_id": j,
                    "emails": [o.email for o in result.outcomes if o.extra.get("job_id") == j],
                }
                for j in jobs
            ]
            if fmt == "json":
                output.emit_json(rows)
            else:
                cols = [Column("job_id", "Job"), Column("emails", "Accounts")]
                output.emit_records([rows], fmt, cols)
            return _bulk.finish(
                result,
                fmt=fmt,
                order=("submitted", FAILED),
                failures=failures,
                command=f"accounts warmup {verb}",
                emit=False,
            )
        rt = context.runtime(ctx)
        with output.progress(len(jobs), "Waiting for warmup jobs") as advance:
            done_jobs: set[str] = set()

            def seen(job_id: str, job: Any) -> None:
                if str(job.get("status")) in JOB_DONE and job_id not in done_jobs:
                    done_jobs.add(job_id)
                    advance(1, 0 if job.get("status") == "success" else 1)

            waited = wait_for_jobs(
                client, jobs, timeout=timeout, interval=rt.poll_interval,
                clock=rt.clock, sleep=rt.sleep, on_update=seen,
            )
        states: dict[str, Any] = dict(waited.states)
        result.elapsed = time.monotonic() - started
    for o in result.outcomes:
        if o.result != "submitted":
            continue
        job = states.get(str(o.extra["job_id"]), {})
        status = str(job.get("status", "unknown"))
        o.extra["job_status"] = status
        if status == "success":
            o.result = done_word
        else:
            o.result = FAILED
            o.code = "job_" + status.replace("-", "_")
            reason = ""
            data = job.get("data")
            if isinstance(data, dict) and data.get("error"):
                reason = f": {data['error']}"
            if status in ("failed", "cancelled"):
                o.error = f"background job {o.extra['job_id']} {status}{reason}"
            else:
                o.error = (
                    f"background job {o.extra['job_id']} still {status} after "
                    f"{timeout:g} s; check it later with: instantly api GET "
                    f"/api/v2/background-jobs/{o.extra['job_id']}"
                )
    return _bulk.finish(
        result,
        fmt=fmt,
        order=(done_word, FAILED),
        failures=failures,
        command=f"accounts warmup {verb}",
    )


NoWaitOpt = Annotated[
    bool, typer.Option("--no-wait", help="Print the background job ids and return at once.")
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", metavar="SECONDS", help="How long to wait for the jobs.")
]


@warmup_app.command(
    "enable",
    epilog=examples(
        "instantly accounts warmup enable ops@acme.io",
        "instantly accounts list --filter warmup-paused -o jsonl | "
        "instantly accounts warmup enable - --yes",
    ),
)
@handled
def warmup_enable(
    ctx: typer.Context,
    targets: TargetsArg,
    no_wait: NoWaitOpt = False,
    timeout: TimeoutOpt = 300.0,
    yes: YesOpt = False,
    rate: RateOpt = bulk.DEFAULT_RATE,
    concurrency: ConcurrencyOpt = bulk.DEFAULT_CONCURRENCY,
    failures: FailuresOpt = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int:
    """Turn warmup on (100 accounts per background job) and wait for the jobs."""
    return _warmup(
        ctx,
        True,
        targets,
        yes=yes,
        no_wait=no_wait,
        timeout=timeout,
        rate=rate,
        concurrency=concurrency,
        failures=failures,
        output_=output_,
        json_output=json_output,
    )


@warmup_app.command(
    "disable",
    epilog=examples(
        "instantly accounts warmup disable ops@acme.io --no-wait --json",
        "instantly accounts list --filter warmup-error -o jsonl | "
        "instantly accounts warmup disable - --yes",
    ),
)
@handled
def warmup_disable(
    ctx: typer.Context,
    targets: TargetsArg,
    no_wait: NoWaitOpt = False,
    timeout: TimeoutOpt = 300.0,
    yes: YesOpt = False,
    rate: RateOpt = bulk.DEFAULT_RATE,
    concurrency: ConcurrencyOpt = bulk.DEFAULT_CONCURRENCY,
    failures: FailuresOpt = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int:
    """Turn warmup off (100 accounts per background job) and wait for the jobs."""
    return _warmup(
        ctx,
        False,
        targets,
        yes=yes,
        no_wait=no_wait,
        timeout=timeout,
        rate=rate,
        concurrency=concurrency,
        failures=failures,
        output_=output_,
        json_output=json_output,
    )
