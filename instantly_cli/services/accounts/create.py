"""Creating IMAP/SMTP accounts: rows from flags, CSV or JSON lines, validated before anything is
sent, and a create step that is never repeated blindly.

Passwords are registered as secrets the moment they are read (no message can show them), never
put in an error message, and never kept in an outcome (so never in a failure file).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from instantly_cli import fields
from instantly_cli.enums import CREATED, EXISTS, PROVIDER, WOULD_CREATE
from instantly_cli.errors import (
    ConflictError,
    NetworkError,
    NotFoundError,
    UsageError,
    register_secret,
)
from instantly_cli.services.bulk import Outcome
from instantly_cli.targets import is_email

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


def read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(line, flat row)`` from a CSV file (header = API field names, dots for nesting) or a
    JSON-lines file (``.jsonl``/``.ndjson``, one object per line); exit 2 when unreadable."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text (byte {exc.start}).") from None
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson", ".json") or text.lstrip().startswith("{")
    rows = _jsonl_rows(text, path) if jsonl else _csv_rows(text, path)
    for _, row in rows:
        for key in ("password", *SECRETS):
            if isinstance(row.get(key), str):
                register_secret(row[key])
    if not rows:
        raise UsageError(f"{path} holds no accounts.")
    return rows


def _csv_rows(text: str, path: Path) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise UsageError(f"{path} has no header row.", hint="The header names the API fields.")
    rows: list[tuple[int, dict[str, Any]]] = []
    for row in reader:
        if None in row:
            raise UsageError(f"{path} line {reader.line_num}: more cells than header columns.")
        cells = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if any(cells.values()):
            rows.append((reader.line_num, {k: v for k, v in cells.items() if v != ""}))
    return rows


def _flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if path in fields.OBJECTS and isinstance(value, Mapping):
            out.update(_flatten(value, path))
        else:
            out[path] = value
    return out


def _jsonl_rows(text: str, path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise UsageError(f"{path} line {number} is not valid JSON.") from None
        if not isinstance(item, dict):
            raise UsageError(f"{path} line {number} must be a JSON object.")
        rows.append((number, _flatten(item)))
    return rows


# -- validating ------------------------------------------------------------------------------------


def _coerce(kind: str, value: Any, where: str, name: str) -> Any:
    """A cell (text from CSV, or typed from JSON) as the API's type; exit 2 naming the place."""
    if kind in ("number", "port"):
        number: Any = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise UsageError(f"{where}: '{name}' must be a number, not '{value}'.") from None
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
        raise UsageError(f"{where}: '{name}' must be true or false, not '{value}'.")
    if kind == "provider":
        return PROVIDER.parse(str(value))
    return value


def build_body(
    row: Mapping[str, Any], where: str, passwords: Passwords | None
) -> dict[str, Any]:
    """One validated create body from a flat row; exit 2 naming ``where`` on the first problem."""
    known = set(valid_columns())
    unknown = sorted(k for k in row if k not in known)
    if unknown:
        raise UsageError(
            f"{where}: unknown field '{unknown[0]}'.",
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
                         + (f", not '{email}'." if email else " (missing)."))
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


def build_bodies(
    rows: Sequence[tuple[int, Mapping[str, Any]]],
    source: str,
    passwords: Passwords | None,
) -> list[dict[str, Any]]:
    """Every row validated (and duplicate emails refused) before anything is sent."""
    bodies: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        where = f"{source} line {line}" if line else source
        body = build_body(row, where, passwords)
        key = body["email"].lower()
        if key in first_line:
            raise UsageError(
                f"{where}: {body['email']} is already on line {first_line[key]}.",
                hint="Each account can be created once; remove the duplicate row.",
            )
        first_line[key] = line
        bodies.append(body)
    return bodies


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
    client: InstantlyClient, bodies: Sequence[dict[str, Any]], *, dry_run: bool
) -> Work:
    """Look the email up, then create it; an existing email is ``exists``, not a failure.

    A create whose answer was lost (timeout, dropped connection) is never repeated blindly:
    the email is looked up first, and only a 404 allows one more try.
    """
    by_email = {b["email"].lower(): b for b in bodies}

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

    def work(unit: list[str]) -> list[Outcome]:
        email = unit[0]
        existing = lookup(email)
        if existing is not None:
            return [Outcome(email, EXISTS, account=public(existing))]
        if dry_run:
            return [Outcome(email, WOULD_CREATE)]
        return [create(email, by_email[email.lower()])]

    return work


def _maybe(account: Account | None) -> dict[str, Any] | None:
    return public(account) if account is not None else None
