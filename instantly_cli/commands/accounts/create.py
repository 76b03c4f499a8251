"""``instantly accounts create``: add IMAP/SMTP accounts from flags or a CSV/JSONL file."""

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from instantly_cli import context, output
from instantly_cli.columns import parse_fields
from instantly_cli.commands import _bulk, handled
from instantly_cli.commands._argv import command_text
from instantly_cli.commands.accounts import _outcomes, app
from instantly_cli.enums import CREATED, EXISTS, FAILED, PROVIDER, WOULD_CREATE
from instantly_cli.errors import UsageError
from instantly_cli.options import FieldsOpt, arguments, complete_enum, examples
from instantly_cli.options_bundles import BulkOpts, bulk_options


def _opt(flag: str, help_: str, metavar: str = "TEXT") -> Any:
    return typer.Option(flag, metavar=metavar, help=help_, show_default=False)



CreateExamples = examples(
    "printf %s \"$PW\" | instantly accounts create --email ops@acme.io --first-name Ops "
    "--last-name Team --imap-host imap.acme.io --smtp-host smtp.acme.io --password-stdin",
    "instantly accounts create --from boxes.csv --dry-run",
    "instantly accounts create --resume --yes  # finish the newest run that stopped",
)


@app.command("create", epilog=CreateExamples)
@handled
@bulk_options()
def create(
    ctx: typer.Context,
    targets: Annotated[list[str], arguments("TARGET")],
    from_file: Annotated[
        Path | None,
        _opt("--from", "CSV (header: API field names or common names such as 'IMAP Host'; "
             "optional tags and warmup columns), JSON lines, or a JSON array such as the "
             "output of `accounts delete -o json`. Flags apply to every row without the "
             "column.", "FILE"),
    ] = None,
    email: Annotated[str | None, _opt("--email", "The account's email address.", "EMAIL")] = None,
    first_name: Annotated[str | None, _opt("--first-name", "First name.")] = None,
    last_name: Annotated[str | None, _opt("--last-name", "Last name.")] = None,
    provider: Annotated[
        str | None,
        typer.Option("--provider", metavar="PROVIDER",
                     help="Provider: " + ", ".join(PROVIDER.names) + " [default: imap].",
                     autocompletion=complete_enum(PROVIDER)),
    ] = None,
    imap_host: Annotated[str | None, _opt("--imap-host", "IMAP server.", "HOST")] = None,
    imap_port: Annotated[
        int | None, _opt("--imap-port", "IMAP port [default: 993].", "PORT")
    ] = None,
    imap_username: Annotated[
        str | None, _opt("--imap-username", "IMAP user [default: the email].")
    ] = None,
    smtp_host: Annotated[str | None, _opt("--smtp-host", "SMTP server.", "HOST")] = None,
    smtp_port: Annotated[
        int | None, _opt("--smtp-port", "SMTP port [default: 587].", "PORT")
    ] = None,
    smtp_username: Annotated[
        str | None, _opt("--smtp-username", "SMTP user [default: the email].")
    ] = None,
    daily_limit: Annotated[
        float | None, _opt("--daily-limit", "Emails per day.", "N")
    ] = None,
    sending_gap: Annotated[
        float | None, _opt("--sending-gap", "Minutes between emails (0-1440).", "MINUTES")
    ] = None,
    warmup_limit: Annotated[
        float | None, _opt("--warmup-limit", "Warmup emails per day.", "N")
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from stdin (one line for both "
                     "servers, or two: IMAP then SMTP)."),
    ] = False,
    fields: FieldsOpt = None,
    *,
    opts: BulkOpts,
) -> int:
    """Add IMAP/SMTP accounts.

    One from flags, or many from --from FILE.

    Passwords never go on the command line: --password-stdin, a password column in the file,
    or a hidden prompt on a terminal. Every row is checked before anything is sent; an email
    that exists already is reported as "exists".
    """
    from instantly_cli.services.accounts import create as service
    from instantly_cli.services.accounts.create_rows import read_rows
    from instantly_cli.targets import read_targets

    fmt = context.output_format(ctx, opts.output_, opts.json_output)
    dry_run, resume = opts.dry_run, opts.resume
    field_list = parse_fields(fields)
    flags = {
        "email": email, "first_name": first_name, "last_name": last_name,
        "provider_code": provider, "imap_host": imap_host, "imap_port": imap_port,
        "imap_username": imap_username, "smtp_host": smtp_host, "smtp_port": smtp_port,
        "smtp_username": smtp_username, "daily_limit": daily_limit,
        "sending_gap": sending_gap, "warmup.limit": warmup_limit,
    }
    given = {k: v for k, v in flags.items() if v is not None}
    _check(targets, from_file, email=email, password_stdin=password_stdin, resume=resume)
    passwords = service.Passwords.from_text(_stdin_passwords()) if password_stdin else None

    def build(what: dict[str, Any]) -> service.Built:
        """Every row validated (passwords never journaled: read again on --resume)."""
        nonlocal passwords
        source = what.get("from_file")
        flat = dict(what.get("flags") or {})
        if source is not None:
            read = read_rows(Path(source))
            source = from_file or source  # named as typed, when it was typed
            for note in read.notes:
                output.info(note)
            if passwords is None and output.stdin_is_tty() and _lacks_password(read.rows):
                passwords = _prompt(f"rows of {source} without one")
            return service.build_bodies(read.rows, str(source), passwords, defaults=flat)
        if passwords is None and output.stdin_is_tty() and flat.get("email"):
            passwords = _prompt(str(flat["email"]))
        return service.build_bodies([(0, flat)], "the flags", passwords)

    # The journal keeps the file's absolute path: a --resume from another folder reads it too.
    what = {"from_file": str(from_file.resolve()) if from_file else None, "flags": given}
    built = service.Built([]) if resume else build(what)
    if targets and not resume:
        built = built.select(read_targets(targets), str(from_file))
    tag_ids = {} if resume else _tag_ids(ctx, built.labels)
    session = _bulk.open_session(
        ctx, "accounts create", targets if resume else [],
        lambda emails: _bulk.Plan(what, built.change, ["account"]), verb="create", fmt=fmt,
        opts=opts, read=lambda _: [b["email"] for b in built.bodies])
    with session:
        if resume:
            built = build(session.what).select(session.emails, "the run's rows")
            tag_ids = _tag_ids(ctx, built.labels)
        with session.client() as client:
            work = service.create_work(client, built.bodies, dry_run=dry_run, then=built.then,
                                       tag_ids=tag_ids)
            result = session.run([[b["email"]] for b in built.bodies], work, client=client,
                                 respell=False, label="Checking" if dry_run else "Creating")
        order = (WOULD_CREATE, EXISTS) if dry_run else (CREATED, EXISTS, FAILED)
        return session.finish(result, order=order,
                              show=lambda: _outcomes.emit(result, fmt, field_list))


def _check(targets: list[str], from_file: Path | None, *, email: str | None,
           password_stdin: bool, resume: bool) -> None:
    if password_stdin and targets and "-" in targets:
        raise UsageError("stdin cannot carry both the targets and the password.",
                         hint="Put the password in the file, or name the targets.")
    if from_file is not None and email is not None:
        raise UsageError("--from FILE cannot be combined with --email.",
                         hint="Each row of the file names its account; flags such as "
                         "--imap-host apply to every row.")
    if from_file is None and targets and not resume:
        raise UsageError("Targets pick rows of --from FILE; there is no file.",
                         hint="Use --email for one account.")


def _tag_ids(ctx: typer.Context, labels: list[str]) -> dict[str, str]:
    """The id of each label of the tags column; an unknown one stops the run before any
    account is created (exit 2), naming the command that creates it."""
    if not labels:
        return {}
    from instantly_cli.services import tags
    from instantly_cli.targets import escape

    with context.client(ctx) as client:
        index = tags.TagIndex.fetch(client, output.warn)
    ids: dict[str, str] = {}
    for label in labels:
        if label.strip() not in index.by_id and not index.find_label(label):
            raise UsageError(f"No tag is labelled '{escape(label)}' (the tags column).",
                             hint="Create it first: " + command_text(
                                 ["tags", "create", label]) + ". Nothing was sent.")
        ids[label] = index.resolve(label)
    return ids


def _lacks_password(rows: list[tuple[int, dict[str, Any]]]) -> bool:
    return any(
        not (r.get("password") or (r.get("imap_password") and r.get("smtp_password")))
        for _, r in rows
    )


def _prompt(whom: str) -> Any:
    from instantly_cli.services.accounts.create import Passwords

    imap = output.prompt_secret(f"IMAP password for {whom}")
    smtp = output.prompt_secret("SMTP password (Enter: the same)") or imap
    return Passwords.from_text(f"{imap}\n{smtp}")


def _stdin_passwords() -> str:
    """The passwords on stdin, refused past 1 MB (a runaway producer, not passwords)."""
    from instantly_cli.targets import read_bounded

    text: str = read_bounded(sys.stdin, "The passwords on standard input", 1024 * 1024)
    return text
