"""The rows of ``accounts create``: the columns its body takes, and reading them from a CSV file
(API field names or the common names of vendors' exports), JSON lines or a JSON array, before
anything is validated or sent (services/accounts/create.py does that). Passwords are
registered as secrets the moment they are read."""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instantly_cli import fields
from instantly_cli.errors import UsageError, register_secret
from instantly_cli.targets import escape, read_file_bounded

SECRETS = ("imap_password", "smtp_password")
# Fields of the create body that PATCH does not have: kind, and bounds for numbers.
CREATE_ONLY: dict[str, str] = {
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
    return [*CREATE_ONLY, "password", *shared]


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
    exit 2 when unreadable; none for a file of no rows."""
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
    return read  # no rows: nothing to do, which the run says (not an error for a script)


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
