"""Creating IMAP/SMTP accounts: rows from flags, CSV or JSON lines, validated before anything is
sent, and a create step that is never repeated blindly.

Passwords are registered as secrets the moment they are read (no message can show them), never
put in an error message, and never kept in an outcome (so never in a failure file).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from instantly_cli import fields
from instantly_cli.enums import CREATED, EXISTS, PROVIDER, WOULD_CREATE
from instantly_cli.errors import (
    CliError,
    ConflictError,
    NetworkError,
    NotFoundError,
    UsageError,
    register_secret,
)
from instantly_cli.services.accounts.create_rows import (
    CREATE_ONLY,
    DEFAULT_IMAP_PORT,
    DEFAULT_SMTP_PORT,
    REQUIRED,
    SECRETS,
    TAGS,
    WARMUP,
    valid_columns,
)
from instantly_cli.services.bulk import Outcome, Work, failed
from instantly_cli.targets import escape, is_email

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.schema import Account


@dataclass
class Passwords:
    """The passwords for rows that carry none (``--password-stdin`` or the prompt)."""

    imap: str
    smtp: str

    @classmethod
    def from_text(cls, text: str) -> Passwords:
        """One line: the password of both servers; two lines: IMAP, then SMTP."""
        lines = [line.rstrip("\r") for line in text.split("\n")]
        lines = [line for line in lines if line]
        if not lines:
            raise UsageError("--password-stdin read no password.",
                             hint="Pipe the password: printf %s \"$PW\" | instantly ….")
        if len(lines) > 2:
            raise UsageError("--password-stdin takes one line (both servers) or two (IMAP, SMTP).")
        imap = lines[0]
        smtp = lines[1] if len(lines) == 2 else imap
        register_secret(imap)
        register_secret(smtp)
        return cls(imap, smtp)


# -- validating ------------------------------------------------------------------------------------


def _coerce(kind: str, value: Any, where: str, name: str) -> Any:
    """A cell (text from CSV, or typed from JSON) as the API's type; exit 2 naming the place."""
    if kind in ("number", "port"):
        number: Any = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise UsageError(f"{where}: '{name}' must be a number, not "
                                 f"'{escape(value)}'.") from None
            if number.is_integer():
                number = int(number)
        if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(
            number
        ):
            raise UsageError(f"{where}: '{name}' must be a number.")
        if kind == "port" and not (isinstance(number, int) and 1 <= number <= 65535):
            raise UsageError(f"{where}: '{name}' must be a port from 1 to 65535.")
        return number
    if kind == "boolean" and isinstance(value, str):
        text = value.lower()
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
        raise UsageError(f"{where}: '{name}' must be true or false, not '{escape(value)}'.")
    if kind == "provider":
        try:
            return PROVIDER.parse(str(value))
        except UsageError:
            raise UsageError(f"{where}: '{name}' must be one of {', '.join(PROVIDER.names)}, "
                             f"not '{escape(str(value))}'.") from None
    return value


def build_body(
    row: Mapping[str, Any], where: str, passwords: Passwords | None
) -> dict[str, Any]:
    """One validated create body from a flat row; exit 2 naming ``where`` on the first problem."""
    known = set(valid_columns())
    unknown = sorted(k for k in row if k not in known)
    if unknown:
        raise UsageError(
            f"{where}: unknown field '{escape(unknown[0])}'.",
            hint=f"Valid fields: {', '.join(valid_columns())}.",
        )
    flat = dict(row)
    shared = flat.pop("password", None)
    for key in SECRETS:
        if flat.get(key) in (None, "") and shared not in (None, ""):
            flat[key] = shared
    if passwords is not None:
        flat.setdefault("imap_password", passwords.imap)
        flat.setdefault("smtp_password", passwords.smtp)
    email = flat.get("email")
    if not isinstance(email, str) or not is_email(email.strip()):
        raise UsageError(f"{where}: 'email' must be an email address"
                         + (f", not '{escape(str(email))}'." if email else " (missing)."))
    email = flat["email"] = email.strip()
    flat.setdefault("provider_code", 1)
    flat.setdefault("imap_username", email)
    flat.setdefault("smtp_username", email)
    flat.setdefault("imap_port", DEFAULT_IMAP_PORT)
    flat.setdefault("smtp_port", DEFAULT_SMTP_PORT)
    missing = [k for k in REQUIRED if flat.get(k) in (None, "")]
    if missing:
        secret = [k for k in missing if k in SECRETS]
        hint = (
            "Add a password (or imap_password/smtp_password) column, or use --password-stdin."
            if secret
            else "Each account needs first_name, last_name, imap_host and smtp_host."
        )
        raise UsageError(f"{where}: missing {', '.join(missing)}.", hint=hint)
    body: dict[str, Any] = {}
    for path, value in flat.items():
        kind = CREATE_ONLY.get(path)
        if kind == "secret":
            if not isinstance(value, str):
                raise UsageError(f"{where}: '{path}' must be text.")  # never echo the value
            register_secret(value)
            body[path] = value
            continue
        if kind is not None:
            value = _coerce(kind, value, where, path)
            if kind in ("string", "email") and not isinstance(value, str):
                raise UsageError(f"{where}: '{path}' must be text.")
        else:
            spec = fields.BY_PATH[path]
            value = _coerce(spec.kind, value, where, path)
            if path == "reply_to" and value is None:
                raise UsageError(f"{where}: 'reply_to' must be an email address.")
            try:
                fields.check(spec, value)
            except UsageError as err:
                raise UsageError(f"{where}: {err.message}", hint=err.hint) from None
        fields.set_path(body, path, value)
    return body


@dataclass
class Then:
    """What follows the create of one row: tags to assign (labels or ids), warmup on/off."""

    tags: list[str] = field(default_factory=list)
    warmup: bool | None = None


@dataclass
class Built:
    """Validated create bodies, and the steps after each create (by lower-cased email)."""

    bodies: list[dict[str, Any]]
    then: dict[str, Then] = field(default_factory=dict)

    def select(self, emails: Sequence[str], source: str) -> Built:
        chosen = select(self.bodies, emails, source)
        return Built(chosen, {k: v for k, v in self.then.items()
                              if k in {b["email"].lower() for b in chosen}})

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(t for then in self.then.values() for t in then.tags))

    @property
    def change(self) -> str:
        """``create, then tag 12, then switch warmup of 50``: the run's change in words."""
        tagged = sum(1 for then in self.then.values() if then.tags)
        warmups = sum(1 for then in self.then.values() if then.warmup is not None)
        steps = [f"tag {tagged:,}" if tagged else "",
                 f"switch warmup of {warmups:,}" if warmups else ""]
        return ", then ".join(["create", *[s for s in steps if s]])


_ON = {"on": True, "yes": True, "true": True, "1": True, "enabled": True,
       "off": False, "no": False, "false": False, "0": False, "disabled": False}


def _then(row: dict[str, Any], where: str) -> Then | None:
    """Pop the step columns (``tags``: labels split on ``;``; ``warmup``: on/off) of a row."""
    tags = row.pop(TAGS, None)
    warmup = row.pop(WARMUP, None)
    if tags is None and warmup is None:
        return None
    labels: list[str] = []
    if isinstance(tags, str):
        labels = [t.strip() for t in tags.split(";") if t.strip()]
    elif isinstance(tags, list) and all(isinstance(t, str) for t in tags):
        labels = [t.strip() for t in tags if t.strip()]
    elif tags is not None:
        raise UsageError(f"{where}: 'tags' must be labels separated by ';'.")
    on: bool | None = None
    if warmup is not None:
        key = str(warmup).strip().casefold() if not isinstance(warmup, bool) else str(warmup
                                                                                     ).casefold()
        if key not in _ON:
            raise UsageError(f"{where}: 'warmup' must be on or off, not '{escape(str(warmup))}'.")
        on = _ON[key]
    return Then(labels, on)


def build_bodies(
    rows: Sequence[tuple[int, Mapping[str, Any]]],
    source: str,
    passwords: Passwords | None,
    defaults: Mapping[str, Any] | None = None,
) -> Built:
    """Every row validated (and duplicate emails refused) before anything is sent.
    ``defaults`` (flags such as --imap-host) apply to every row that has no such cell."""
    built = Built([])
    first_line: dict[str, int] = {}
    for line, row in rows:
        where = f"{source} line {line}" if line else source
        flat = {**(defaults or {}), **row}
        then = _then(flat, where)
        body = build_body(flat, where, passwords)
        key = body["email"].lower()
        if key in first_line:
            raise UsageError(
                f"{where}: {body['email']} is already on line {first_line[key]}.",
                hint="Each account can be created once; remove the duplicate row.",
            )
        first_line[key] = line
        built.bodies.append(body)
        if then is not None:
            built.then[key] = then
    return built


def select(bodies: Sequence[dict[str, Any]], emails: Sequence[str], source: str
           ) -> list[dict[str, Any]]:
    """Only the rows of these emails (rerunning a failure file); exit 2 for one not in the file."""
    by_email = {b["email"].lower(): b for b in bodies}
    absent = [e for e in emails if e.lower() not in by_email]
    if absent:
        raise UsageError(f"Not in {source}: {', '.join(absent[:10])}.",
                         hint="Targets pick rows of --from FILE; give the file they came from.")
    return [by_email[e.lower()] for e in emails]


# -- creating --------------------------------------------------------------------------------------


def public(account: Account | Mapping[str, Any]) -> dict[str, Any]:
    """The account without anything that looks like a password (never printed)."""
    return {k: v for k, v in account.items() if "password" not in k.lower()}


def create_work(
    client: InstantlyClient, bodies: Sequence[dict[str, Any]], *, dry_run: bool,
    then: Mapping[str, Then] | None = None, tag_ids: Mapping[str, str] | None = None,
) -> Work:
    """Look the email up, then create it; an existing email is ``exists``, not a failure.
    Then the row's steps: its tags assigned, its warmup switched on or off (the job is
    submitted, not waited for). A step that fails fails the target, so ``--resume`` runs it
    again: the create is then ``exists`` and the steps are repeated (both are idempotent).

    A create whose answer was lost (timeout, dropped connection) is never repeated blindly:
    the email is looked up first, and only a 404 allows one more try.
    """
    by_email = {b["email"].lower(): b for b in bodies}
    steps = then or {}
    ids = tag_ids or {}

    def lookup(email: str) -> Account | None:
        try:
            return client.get_account(email)
        except NotFoundError:
            return None

    def create(email: str, body: dict[str, Any]) -> Outcome:
        lost: NetworkError | None = None
        for _ in range(2):
            try:
                return Outcome(email, CREATED, account=public(client.create_account(body)))
            except ConflictError:
                return Outcome(email, EXISTS, account=_maybe(lookup(email)))
            except NetworkError as err:
                lost = err
            found = lookup(email)
            if found is not None:
                note = (f"the answer was lost ({lost.message.rstrip('.')}); "
                        "the account exists now, so it was not sent again")
                return Outcome(email, CREATED, account=public(found), warnings=[note])
        assert lost is not None
        raise lost

    def follow(outcome: Outcome) -> Outcome:
        step = steps.get(outcome.email.lower())
        if step is None:
            return outcome
        if step.tags:
            outcome.extra["tags"] = list(step.tags)
        if step.warmup is not None:
            outcome.extra["warmup"] = "on" if step.warmup else "off"
        if dry_run:
            return outcome
        stage = "tagging"
        try:
            if step.tags and not client.toggle_tags([ids[t] for t in step.tags],
                                                    [outcome.email], True):
                raise CliError("the API answered success: false to the tag assignment")
            stage = "warmup"
            if step.warmup is not None:
                job = client.warmup(step.warmup, [outcome.email])
                outcome.extra["warmup_job"] = job.get("id")
        except CliError as err:
            done = failed(outcome.email, err)
            done.error = f"{outcome.result}, then {stage} failed: {done.error}"
            done.extra = outcome.extra
            return done
        return outcome

    def work(unit: list[str]) -> list[Outcome]:
        email = unit[0]
        existing = lookup(email)
        if existing is not None:
            return [follow(Outcome(email, EXISTS, account=public(existing)))]
        if dry_run:
            return [follow(Outcome(email, WOULD_CREATE))]
        return [follow(create(email, by_email[email.lower()]))]

    return work


def _maybe(account: Account | None) -> dict[str, Any] | None:
    return public(account) if account is not None else None
