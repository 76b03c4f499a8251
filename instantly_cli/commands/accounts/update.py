"""``instantly accounts update``: change fields of one account or thousands."""

from typing import Annotated, Any

import typer

from instantly_cli import context, output
from instantly_cli.commands import _bulk, handled
from instantly_cli.commands.accounts import app
from instantly_cli.enums import FAILED, UNCHANGED, UPDATED, WARMUP_INCREMENT, WOULD_UPDATE
from instantly_cli.errors import UsageError
from instantly_cli.options import (
    BulkOpts,
    BulkTargetsArg,
    bulk_options,
    complete_enum,
    examples,
)


def _text(value: str | None) -> Any:
    """``none`` (or ``null``) clears a nullable field."""
    return None if value is None or value.strip().lower() in ("none", "null") else value


def _number(flag: str, *, nullable: bool = False) -> Any:
    def parse(value: str) -> Any:
        text = value.strip().lower()
        if nullable and text in ("none", "null"):
            return None
        try:
            number = float(text)
        except ValueError:
            raise UsageError(
                f"{flag} takes a number{' or none' if nullable else ''}, not '{value}'."
            ) from None
        # nan/inf parse as floats; the field table refuses them with the field's rule.
        exact = number.is_integer() and "." not in text and "e" not in text
        return int(number) if exact else number

    return parse


def _same(value: Any) -> Any:
    return value


def _increment(value: str) -> Any:
    return str(WARMUP_INCREMENT.parse(value))


# Typed flag → body path and how its text becomes a value (None = the flag was not given).
FLAGS: dict[str, tuple[str, Any]] = {
    "first_name": ("first_name", _same),
    "last_name": ("last_name", _same),
    "daily_limit": ("daily_limit", _number("--daily-limit", nullable=True)),
    "sending_gap": ("sending_gap", _number("--sending-gap")),
    "signature": ("signature", _text),
    "reply_to": ("reply_to", _text),
    "tracking_domain": ("tracking_domain_name", _text),
    "tracking_domain_status": ("tracking_domain_status", _same),
    "remove_tracking_domain": ("remove_tracking_domain", _same),
    "skip_cname_check": ("skip_cname_check", _same),
    "slow_ramp": ("enable_slow_ramp", _same),
    "inbox_placement_test_limit": (
        "inbox_placement_test_limit",
        _number("--inbox-placement-test-limit", nullable=True),
    ),
    "warmup_limit": ("warmup.limit", _number("--warmup-limit")),
    "warmup_increment": ("warmup.increment", _increment),
    "warmup_reply_rate": ("warmup.reply_rate", _number("--warmup-reply-rate")),
    "warmup_open_rate": ("warmup.advanced.open_rate", _number("--warmup-open-rate")),
    "warmup_important_rate": (
        "warmup.advanced.important_rate",
        _number("--warmup-important-rate"),
    ),
    "warmup_spam_save_rate": (
        "warmup.advanced.spam_save_rate",
        _number("--warmup-spam-save-rate"),
    ),
    "warmup_weekdays_only": ("warmup.advanced.weekday_only", _same),
    "warmup_read_emulation": ("warmup.advanced.read_emulation", _same),
    "warmup_warm_ctd": ("warmup.advanced.warm_ctd", _same),
    "warmup_custom_ftag": ("warmup.warmup_custom_ftag", _same),
}


# Plain switches (not --x/--no-x pairs): off means "not given".
SWITCHES = ("remove_tracking_domain", "skip_cname_check")


def flag_values(given: dict[str, Any]) -> list[tuple[str, Any]]:
    """The typed flags that were given, as (body path, value)."""
    out = []
    for name, (path, parse) in FLAGS.items():
        value = given.get(name)
        if value is None or (value is False and name in SWITCHES):
            continue
        out.append((path, parse(value)))
    return out


UpdateExamples = examples(
    "instantly accounts update ops@acme.io --daily-limit 40 --warmup-limit 20",
    "instantly accounts list --provider google -o jsonl \\",
    "  | instantly accounts update - --daily-limit 30 --yes",
    "instantly accounts update a@acme.io b@acme.io --set warmup.advanced.open_rate=0.9 --dry-run",
    "instantly accounts update --resume --yes  # finish the newest run that stopped",
)


@app.command("update", epilog=UpdateExamples)
@handled
@bulk_options()
def update(
    ctx: typer.Context,
    targets: BulkTargetsArg,
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
    strict: Annotated[
        bool, typer.Option("--strict", help="Count a field the API did not apply as a failure.")
    ] = False,
    *,
    opts: BulkOpts,
) -> int:
    """Change fields of one account or thousands.

    Validated before sending, previewable with --dry-run, paced, resumable.

    TARGET is an account email, or - to read emails / JSON / JSON lines from stdin.
    """
    from instantly_cli import views
    from instantly_cli.services.accounts import update as service

    fmt = context.output_format(ctx, opts.output_, opts.json_output)
    dry_run = opts.dry_run
    # Every typed flag is a parameter named as in FLAGS (a test checks it).
    given = {name: value for name, value in locals().items() if name in FLAGS}

    def plan(emails: list[str]) -> _bulk.Plan:
        change = service.build_change(body, set_ or [], flag_values(given))
        return _bulk.Plan({"change": change, "strict": strict}, service.describe_change(change),
                          service.change_keys(change))

    session = _bulk.open_session(
        ctx, "accounts update", targets, plan, verb="update", fmt=fmt, opts=opts)
    with session, session.client() as client:
        change, strict = dict(session.what.get("change") or {}), bool(session.what.get("strict"))
        work = service.update_work(client, change, dry_run=dry_run, strict=strict)
        result = session.run([[e] for e in session.emails], work, client=client,
                             label="Checking" if dry_run else "Updating")
        show = None
        if dry_run:
            records = views.dry_run_records([o.to_json() for o in result.outcomes])
            for line in service.diff_summary(records):
                output.info(line)

            def show() -> None:
                if fmt == "json":
                    output.emit_json(records)
                elif fmt == "jsonl":
                    output.emit_records([records], "jsonl", [])
                else:
                    output.emit_records([views.dry_run_rows(records)], fmt, views.DIFF_COLUMNS)

        order = (WOULD_UPDATE, UNCHANGED, FAILED) if dry_run else (UPDATED, UNCHANGED, FAILED)
        return session.finish(result, order=order, show=show)
