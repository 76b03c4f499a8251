"""Creating IMAP/SMTP accounts: rows from flags, CSV or JSON lines, validated before anything is
sent, and a create step that is never repeated blindly.

Passwords are registered as secrets the moment they are read (no message can show them), never
put in an error message, and never kept in an outcome (so never in a failure file).
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
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
from instantly_cli.services.bulk import Outcome, failed
from instantly_cli.targets import escape, is_email, read_file_bounded

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.schema import Account

Work = Callable[[list[str]], list[Outcome]]

SECRETS = ("imap_password", "smtp_password")
# Fields of the create body that PATCH does not have: kind, and bounds for numbers.
_CREATE_ONLY: dict[str, str] = {
    "email": "email",
    "provider_code": "provider",
    "imap_username": "string",
    "imap_password": "secret",
    "imap_host": "string",
    "imap_port": "port",
    "smtp_username": "string",
    "smtp_password": "secret",
    "smtp_host": "string",
    "smtp_port": "port",
    "warmup_custom_ftag": "string",
}
# PATCH fields the create body does not take.
_NOT_IN_CREATE = {"remove_tracking_domain"}
REQUIRED = (
    "email",
    "first_name",
    "last_name",
    "provider_code",
    "imap_username",
    "imap_password",
    "imap_host",
    "imap_port",
    "smtp_username",
    "smtp_password",
    "smtp_host",
    "smtp_port",
)
DEFAULT_IMAP_PORT = 993
DEFAULT_SMTP_PORT = 587


def valid_columns() -> list[str]:
    shared = [f.path for f in fields.FIELDS if f.path not in _NOT_IN_CREATE]
    return [*_CREATE_ONLY, "password", *shared]


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


# -- reading rows ----------------------------------------------------------------------------------


# Columns that are steps after the create, not fields of its body.
TAGS = "tags"
WARMUP = "warmup"
# Header names of Instantly's bulk-import template and of common mailbox vendors' exports,
# each an API field (compared without case, spaces, dashes or underscores). Every API field
# name itself is accepted too. docs/lifecycle.md shows this table; keep them together.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("Email", "Email Address", "From Email", "Sender Email", "Mailbox", "Address"),
    "first_name": ("First Name", "First", "Given Name", "FName"),
    "last_name": ("Last Name", "Last", "Surname", "Family Name", "LName"),
    "name": ("Name", "From Name", "Sender Name", "Display Name", "Full Name"),
    "password": ("Password", "App Password", "Mailbox Password", "Pass"),
    "imap_password": ("IMAP Password", "IMAP Pass"),
    "smtp_password": ("SMTP Password", "SMTP Pass"),
    "imap_username": ("IMAP Username", "IMAP User", "IMAP Login"),
    "smtp_username": ("SMTP Username", "SMTP User", "SMTP Login"),
    "imap_host": ("IMAP Host", "IMAP Server", "IMAP", "Incoming Server", "IMAP Hostname"),
    "smtp_host": ("SMTP Host", "SMTP Server", "SMTP", "Outgoing Server", "SMTP Hostname"),
    "imap_port": ("IMAP Port",),
    "smtp_port": ("SMTP Port",),
    "provider_code": ("Provider", "Provider Code"),
    "daily_limit": ("Daily Limit", "Daily Sending Limit", "Sending Limit", "Daily Cap",
                    "Max Emails Per Day"),
    "sending_gap": ("Sending Gap", "Sending Gap Minutes", "Minimum Wait Time"),
    "warmup.limit": ("Warmup Limit", "Warmup Daily Limit", "Warmup Per Day"),
    "warmup.increment": ("Warmup Increment", "Increment"),
    "warmup.reply_rate": ("Warmup Reply Rate", "Reply Rate"),
    "reply_to": ("Reply To",),
    "tracking_domain_name": ("Tracking Domain", "Custom Tracking Domain"),
    TAGS: ("Tags", "Tag", "Labels"),
    WARMUP: ("Warmup", "Warmup Enabled", "Enable Warmup", "Warmup On"),
}


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def _header_names() -> dict[str, str]:
    """Normalised header name → the API field (or step column) it means."""
    names = {_norm(path): path for path in valid_columns()}
    for path, aliases in HEADER_ALIASES.items():
        names[_norm(path)] = path
        names.update((_norm(alias), path) for alias in aliases)
    return names


@dataclass
class Rows:
    """The rows of a file, and what a person should know about how it was read."""

    rows: list[tuple[int, dict[str, Any]]]
    notes: list[str] = field(default_factory=list)


def read_rows(path: Path) -> Rows:
    """``(line, flat row)`` from a CSV file (header: API field names or the common names of
    :data:`HEADER_ALIASES`), JSON lines, or a JSON array (``accounts list -o json``, or the
    results of ``accounts delete -o json``: each deleted account as the API returned it);
    exit 2 when unreadable."""
    try:
        data = read_file_bounded(path, f"--from {path}")
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UsageError(f"{path} line {line} is not valid UTF-8 (byte "
                         f"\\x{data[exc.start]:02x}).",
                         hint="Save the file as UTF-8 (in a spreadsheet: CSV UTF-8).") from None
    head = text.lstrip()
    if head.startswith("["):
        read = _json_rows(_json_array(text, path), path)
    elif path.suffix.lower() in (".jsonl", ".ndjson", ".json") or head.startswith("{"):
        read = _json_rows(_jsonl_items(text, path), path)
    else:
        read = Rows(_csv_rows(text, path))
    for _, row in read.rows:
        for key in ("password", *SECRETS):
            if isinstance(row.get(key), str):
                register_secret(row[key])
    if not read.rows:
        raise UsageError(f"{path} holds no accounts.")
    return read


def _check_header(names: Sequence[str], path: Path) -> list[str]:
    """The API field of each column; every unknown column reported at once, as line 1."""
    known = _header_names()
    fields_of: list[str] = []
    unknown: list[str] = []
    seen: dict[str, str] = {}
    for name in names:
        path_ = known.get(_norm(name))
        if path_ is None:
            close = difflib.get_close_matches(_norm(name), list(known), n=1, cutoff=0.7)
            unknown.append(f"'{escape(name)}'" + (f" (did you mean '{known[close[0]]}'?)"
                                                  if close else ""))
            fields_of.append("")
            continue
        if path_ in seen:
            raise UsageError(f"{path} line 1 (the header): '{escape(seen[path_])}' and "
                             f"'{escape(name)}' both mean {path_}.",
                             hint="Keep one of the two columns. Nothing was sent.")
        seen[path_] = name
        fields_of.append(path_)
    if unknown:
        raise UsageError(
            f"{path} line 1 (the header): unknown column" + ("s " if len(unknown) > 1 else " ")
            + ", ".join(unknown) + ".",
            hint="Name columns by API field (first_name, imap_host, warmup.limit, …) or by "
            "the common names (First Name, IMAP Host, Daily Limit, …; see docs/lifecycle.md), "
            "plus tags and warmup. Nothing was sent.",
        )
    return fields_of


def _csv_rows(text: str, path: Path) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise UsageError(f"{path} has no header row.", hint="The header names the API fields.")
    columns = _check_header([h.strip() for h in header], path)
    rows: list[tuple[int, dict[str, Any]]] = []
    for cells in reader:
        if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns):]):
            raise UsageError(f"{path} line {reader.line_num}: more cells than header columns.")
        row = {k: v.strip() for k, v in zip(columns, cells, strict=False) if v.strip() != ""}
        if row:
            rows.append((reader.line_num, _split_name(row)))
    return rows


def _split_name(row: dict[str, Any]) -> dict[str, Any]:
    """A vendor's one ``Name`` column: the first word is the first name, the rest the last."""
    name = row.pop("name", None)
    if isinstance(name, str) and name.strip():
        first, _, last = name.strip().partition(" ")
        row.setdefault("first_name", first)
        if last.strip():
            row.setdefault("last_name", last.strip())
    return row


def _flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if path in fields.OBJECTS and isinstance(value, Mapping):
            out.update(_flatten(value, path))
        else:
            out[path] = value
    return out


def _json_array(text: str, path: Path) -> list[tuple[int, Any]]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise UsageError(f"{path} starts like a JSON array but is not valid JSON.") from None
    if not isinstance(data, list):
        raise UsageError(f"{path} must be a JSON array of accounts.")
    return [(index + 1, item) for index, item in enumerate(data)]


def _jsonl_items(text: str, path: Path) -> list[tuple[int, Any]]:
    items: list[tuple[int, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((number, json.loads(line)))
        except (ValueError, RecursionError):
            raise UsageError(f"{path} line {number} is not valid JSON.") from None
    return items


def _json_rows(items: Sequence[tuple[int, Any]], path: Path) -> Rows:
    """Accounts as JSON: an item that is a bulk result (``delete -o json``) gives its
    ``account``; read-only and unknown fields are left out, with one note."""
    known = set(valid_columns())
    rows: list[tuple[int, dict[str, Any]]] = []
    ignored: set[str] = set()
    without = 0
    for number, item in items:
        if not isinstance(item, dict):
            raise UsageError(f"{path} item {number} must be a JSON object.")
        if "result" in item and "email" in item and "first_name" not in item:
            if not isinstance(item.get("account"), dict):
                without += 1  # gone, failed: nothing the API returned to recreate
                continue
            item = item["account"]
        flat = _flatten(item)
        row: dict[str, Any] = {}
        for key, value in flat.items():
            if key == TAGS and isinstance(value, list):
                row[TAGS] = [t.get("label") if isinstance(t, dict) else t for t in value]
            elif key in known or key == WARMUP:
                if value is not None:  # null: not set
                    row[key] = value
            else:
                ignored.add(key)
        rows.append((number, row))
    notes = []
    if ignored:
        names = sorted(ignored)
        notes.append(f"Ignored {len(names)} field(s) the create body does not take (read-only "
                     f"or unknown): {', '.join(names[:20])}" + (" …" if len(names) > 20 else "")
                     + ".")
    if without:
        notes.append(f"Skipped {without} result(s) without an account (gone or failed).")
    return Rows(rows, notes)


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
        kind = _CREATE_ONLY.get(path)
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
