"""``instantly accounts update``: change fields of one account or thousands."""

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from instantly_cli import context, output
from instantly_cli.commands import _bulk, handled
from instantly_cli.commands.accounts import app
from instantly_cli.enums import FAILED, UNCHANGED, UPDATED, WARMUP_INCREMENT, WOULD_UPDATE
from instantly_cli.errors import UsageError
from instantly_cli.options import TargetsArg, complete_enum, examples
from instantly_cli.options_bundles import BulkOpts, bulk_options, expand

R = TypeVar("R")


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


def _value(flag: str, metavar: str, help_text: str, **more: Any) -> Any:
    return Annotated[str | None, typer.Option(flag, metavar=metavar, help=help_text, **more)]


def _switch(flag: str, help_text: str) -> Any:
    return Annotated[bool, typer.Option(flag, help=help_text)]


def _toggle(flags: str, help_text: str) -> Any:
    return Annotated[bool | None, typer.Option(flags, help=help_text, show_default=False)]


# The typed flags, in help order: (parameter, option, body path, how its text becomes a value).
# A value option not given is None; a plain switch (not an --x/--no-x pair) off is not given.
FIELD_OPTIONS: list[tuple[str, Any, str, Any]] = [
    ("first_name", _value("--first-name", "TEXT", "First name."), "first_name", _same),
    ("last_name", _value("--last-name", "TEXT", "Last name."), "last_name", _same),
    ("daily_limit", _value("--daily-limit", "N|none", "Daily sending limit."), "daily_limit",
     _number("--daily-limit", nullable=True)),
    ("sending_gap", _value("--sending-gap", "MINUTES", "Gap between emails, 0-1440."),
     "sending_gap", _number("--sending-gap")),
    ("signature", _value("--signature", "TEXT|none", "Email signature."), "signature", _text),
    ("reply_to", _value("--reply-to", "EMAIL|none", "Reply-to address."), "reply_to", _text),
    ("tracking_domain", _value("--tracking-domain", "NAME|none", "Custom tracking domain."),
     "tracking_domain_name", _text),
    ("tracking_domain_status",
     _value("--tracking-domain-status", "TEXT", "Tracking domain status."),
     "tracking_domain_status", _same),
    ("remove_tracking_domain",
     _switch("--remove-tracking-domain", "Remove the tracking domain."),
     "remove_tracking_domain", _same),
    ("skip_cname_check", _switch("--skip-cname-check", "Skip the tracking domain CNAME check."),
     "skip_cname_check", _same),
    ("slow_ramp", _toggle("--slow-ramp/--no-slow-ramp", "Slow ramp-up of limits."),
     "enable_slow_ramp", _same),
    ("inbox_placement_test_limit",
     _value("--inbox-placement-test-limit", "N|none", "Inbox placement test limit."),
     "inbox_placement_test_limit", _number("--inbox-placement-test-limit", nullable=True)),
    ("warmup_limit", _value("--warmup-limit", "N", "Warmup emails per day."), "warmup.limit",
     _number("--warmup-limit")),
    ("warmup_increment",
     _value("--warmup-increment", "disabled|0-4", "Daily warmup increment.",
            autocompletion=complete_enum(WARMUP_INCREMENT)),
     "warmup.increment", _increment),
    ("warmup_reply_rate", _value("--warmup-reply-rate", "R", "Warmup reply rate."),
     "warmup.reply_rate", _number("--warmup-reply-rate")),
    ("warmup_open_rate", _value("--warmup-open-rate", "R", "Warmup open rate."),
     "warmup.advanced.open_rate", _number("--warmup-open-rate")),
    ("warmup_important_rate", _value("--warmup-important-rate", "R", "Warmup important rate."),
     "warmup.advanced.important_rate", _number("--warmup-important-rate")),
    ("warmup_spam_save_rate", _value("--warmup-spam-save-rate", "R", "Warmup spam save rate."),
     "warmup.advanced.spam_save_rate", _number("--warmup-spam-save-rate")),
    ("warmup_weekdays_only",
     _toggle("--warmup-weekdays-only/--warmup-every-day", "Warm up on weekdays only."),
     "warmup.advanced.weekday_only", _same),
    ("warmup_read_emulation",
     _toggle("--warmup-read-emulation/--no-warmup-read-emulation", "Read emulation."),
     "warmup.advanced.read_emulation", _same),
    ("warmup_warm_ctd",
     _toggle("--warmup-warm-ctd/--no-warmup-warm-ctd", "Warm the custom tracking domain."),
     "warmup.advanced.warm_ctd", _same),
    ("warmup_custom_ftag", _value("--warmup-custom-ftag", "TEXT", "Warmup custom tag."),
     "warmup.warmup_custom_ftag", _same),
]
# Typed flag → body path and how its text becomes a value (None = the flag was not given).
FLAGS: dict[str, tuple[str, Any]] = {n: (path, parse) for n, _, path, parse in FIELD_OPTIONS}
SWITCHES = ("remove_tracking_domain", "skip_cname_check")


def _with_fields(func: Callable[..., R]) -> Callable[..., R]:
    """The typed flags in the command's place of ``given``, handed to it as one dict."""
    params = [(n, alias, False if n in SWITCHES else None) for n, alias, _, _ in FIELD_OPTIONS]
    return expand(func, "given", params, dict)


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
@_with_fields
def update(
    ctx: typer.Context,
    targets: TargetsArg,
    given: dict[str, Any] | None = None,
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

    def plan(emails: list[str]) -> _bulk.Plan:
        change = service.build_change(body, set_ or [], flag_values(given or {}))
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
                if fmt in ("json", "jsonl"):
                    output.emit_records([records], fmt, [])
                else:
                    output.emit_records([views.dry_run_rows(records)], fmt, views.DIFF_COLUMNS)

        order = (WOULD_UPDATE, UNCHANGED, FAILED) if dry_run else (UPDATED, UNCHANGED, FAILED)
        return session.finish(result, order=order, show=show)
