"""Account targets: email validation and the stdin forms (emails, JSON array, JSON lines)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from instantly_cli.errors import UsageError

# Deliberately simple: one @, no spaces, a dot in the domain. The API is the final judge.
_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+$")


def is_email(text: str) -> bool:
    return bool(_EMAIL.match(text))


def validate_email(text: str, *, where: str = "") -> str:
    value = text.strip()
    if not is_email(value):
        raise UsageError(
            f"Not an email address: '{text}'{where}.",
            hint="Targets are account emails such as ops@acme.io, or - to read them from stdin.",
        )
    return value


def _no_targets() -> UsageError:
    return UsageError(
        "No targets on stdin.",
        hint="Pipe emails (one per line) or `instantly accounts list -o jsonl`.",
    )


def parse_target_text(text: str) -> list[str]:
    """Emails from stdin: one per line, or the JSON array / JSON lines of ``accounts list``.

    Input that holds no target at all (blank, only comments, ``[]``) is an error, not a run over
    zero accounts: a script whose upstream step found nothing should notice.
    """
    emails = _parse_target_text(text)
    if not emails:
        raise _no_targets()
    return emails


def _parse_target_text(text: str) -> list[str]:
    stripped = text.strip()
    if not stripped:
        raise _no_targets()
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise UsageError(
                f"stdin looks like a JSON array but is not valid JSON: {exc}.",
                hint="Pipe `instantly accounts list -o json`, JSON lines, or one email per line.",
            ) from None
        if not isinstance(data, list):
            raise UsageError("stdin JSON must be an array of accounts.")
        return _from_items(data)
    emails: list[str] = []
    bad: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            try:
                item = json.loads(line)
            except ValueError:
                bad.append(number)
                continue
            email = item.get("email") if isinstance(item, dict) else None
            if isinstance(email, str) and is_email(email.strip()):
                emails.append(email.strip())
            else:
                bad.append(number)
        elif is_email(line):
            emails.append(line)
        else:
            bad.append(number)
    if bad:
        shown = ", ".join(str(n) for n in bad[:10]) + (" …" if len(bad) > 10 else "")
        raise UsageError(
            f"stdin has {len(bad)} line(s) that are neither an email nor an account JSON object: "
            f"line {shown}.",
            hint='Each line must be an email or a JSON object with an "email" field.',
        )
    return emails


def _from_items(items: Iterable[object]) -> list[str]:
    emails: list[str] = []
    for index, item in enumerate(items):
        email = item.get("email") if isinstance(item, dict) else item
        if not isinstance(email, str) or not is_email(email.strip()):
            raise UsageError(
                f'stdin item {index} has no valid "email".',
                hint="Pipe the output of `instantly accounts list -o json`.",
            )
        emails.append(email.strip())
    return emails


def dedupe(emails: Iterable[str]) -> list[str]:
    """Keep the first of each email (case-insensitive), in order."""
    seen: set[str] = set()
    out: list[str] = []
    for email in emails:
        key = email.lower()
        if key not in seen:
            seen.add(key)
            out.append(email)
    return out


def read_targets(args: list[str], stdin_text: str | None = None) -> list[str]:
    """Emails from arguments, ``-`` meaning stdin; validated and deduplicated before any request."""
    if not args:
        raise UsageError(
            "No targets given.", hint="Name account emails, or - to read them from stdin."
        )
    emails: list[str] = []
    for arg in args:
        if arg == "-":
            if stdin_text is None:
                import sys

                stdin_text = sys.stdin.read()
            emails.extend(parse_target_text(stdin_text))
        else:
            emails.append(validate_email(arg))
    return dedupe(emails)
