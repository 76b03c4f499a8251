"""Account targets: email validation and the stdin forms (emails, JSON array, JSON lines)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from instantly_cli.errors import UsageError

# Deliberately simple: one @, no spaces, a dot in the domain. The API is the final judge.
_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+$")

# Characters that are never part of an address and can act on a terminal or hide text:
# C0 controls (tab is white space and allowed), DEL, C1 controls, the bidi embeddings,
# overrides and isolates, the marks that flip direction, line/paragraph separators, the BOM
# and the surrogates Python uses for bytes that were not UTF-8.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_HOSTILE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f" + _BIDI + "\u2028\u2029\ufeff\ud800-\udfff"
    "\u00ad\u200b-\u200d\u2060-\u2064]"  # invisible: soft hyphen, zero-width, word joiner
)
_STDIN_HINT = "Each line must be an email or a JSON object with an \"email\" field."


def escape(text: str) -> str:
    """``text`` with every hostile character written as an escape, safe to show anywhere."""

    def one(match: re.Match[str]) -> str:
        char = match.group()
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            return f"\\x{code - 0xDC00:02x}"
        if code <= 0xFF:
            return f"\\x{code:02x}"
        return f"\\u{code:04x}"

    return _HOSTILE.sub(one, text)


def hostile_char(text: str) -> str | None:
    """The first control, bidi or undecodable character of ``text`` (escaped), if any."""
    found = _HOSTILE.search(text)
    return escape(found.group()) if found else None


def _describe(char: str) -> str:
    """``\\x1b`` → ``\\x1b (ESC)``: the escape plus a name a user can look up."""
    names = {"\\x00": "NUL", "\\x1b": "ESC", "\\x7f": "DEL", "\\x0d": "CR", "\\ufeff": "BOM"}
    if char in names:
        return f"{char} ({names[char]})"
    if char.startswith("\\u"):
        name = unicodedata.name(chr(int(char[2:], 16)), "")
        return f"{char} ({name})" if name else char
    return char


def is_email(text: str) -> bool:
    return bool(_EMAIL.match(text)) and _HOSTILE.search(text) is None


def validate_email(text: str, *, where: str = "") -> str:
    bad = hostile_char(text)
    if bad is not None:
        kind = (
            "bytes that are not UTF-8"
            if _undecodable(text)
            else "a control or invisible character"
        )
        raise UsageError(
            f"Target '{escape(text)}'{where} contains {kind}: {_describe(bad)}.",
            hint="Targets are plain account emails such as ops@acme.io; retype the address "
            "or clean the input that produced it. Nothing was sent.",
        )
    value = text.strip()
    if not is_email(value):
        raise UsageError(
            f"Not an email address: '{text}'{where}.",
            hint="Targets are account emails such as ops@acme.io, or - to read them from stdin.",
        )
    return value


def _undecodable(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def decode_stdin(data: bytes) -> str:
    """Strict UTF-8 (a leading BOM is dropped); the first undecodable line is named."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UsageError(
            f"stdin line {line} is not valid UTF-8 (byte \\x{data[exc.start]:02x} at "
            f"column {column}).",
            hint="Targets must be UTF-8 text: emails, or JSON / JSON lines from "
            "`instantly accounts list`.",
        ) from None


def _check_line(number: int, line: str) -> None:
    """Refuse a plain (non-JSON) line holding a hostile character; CR only ends a line."""
    found = _HOSTILE.search(line.removesuffix("\r"))
    if found is None:
        return
    bad = escape(found.group())
    if _undecodable(found.group()):
        raise UsageError(f"stdin line {number} is not valid UTF-8 (byte {bad}).", hint=_STDIN_HINT)
    raise UsageError(
        f"stdin line {number} contains a control or invisible character: {_describe(bad)}.",
        hint=_STDIN_HINT + " Nothing was sent.",
    )


# Only these count as white space around a line: Python's str.strip() would also drop (and so
# hide) controls such as \x1c-\x1f and \x85.
_BLANK = " \t\r\n"


def parse_target_text(text: str | bytes) -> list[str]:
    """Emails from stdin: one per line, or the JSON array / JSON lines of ``accounts list``.

    Input that holds no target at all (blank, only comments, ``[]``) gives none: an upstream
    step that found nothing leaves nothing to do (the caller says so). Bytes are decoded
    as strict UTF-8; a control character in a plain line, or in the ``email`` of a JSON line or
    item, is refused with its line number (or item index).
    """
    if isinstance(text, bytes):
        text = decode_stdin(text)
    else:
        text = text.removeprefix("\ufeff")
    return _parse_target_text(text)


def _parse_target_text(text: str) -> list[str]:
    stripped = text.strip(_BLANK)
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError) as exc:
            reason = exc if isinstance(exc, ValueError) else "nested too deeply"
            raise UsageError(
                f"stdin looks like a JSON array but is not valid JSON: {reason}.",
                hint="Pipe `instantly accounts list -o json`, JSON lines, or one email per line.",
            ) from None
        if not isinstance(data, list):
            raise UsageError("stdin JSON must be an array of accounts.")
        return _from_items(data)
    emails: list[str] = []
    bad: list[int] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip(_BLANK)
        if not line.startswith("{"):
            # JSON text may carry any character inside its strings (a name with a bidi mark):
            # only its "email" is checked, below. Everything else must be plain.
            _check_line(number, raw)
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            try:
                item = json.loads(line)
            except (ValueError, RecursionError):
                bad.append(number)
                continue
            email = item.get("email") if isinstance(item, dict) else None
            if isinstance(email, str) and _HOSTILE.search(email):
                raise UsageError(
                    f'stdin line {number}: the "email" holds a control or invisible character: '
                    f"{_describe(hostile_char(email) or '')}.",
                    hint=_STDIN_HINT + " Nothing was sent.",
                )
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
            hint=_STDIN_HINT,
        )
    return emails


def _from_items(items: Iterable[object]) -> list[str]:
    emails: list[str] = []
    for index, item in enumerate(items):
        email = item.get("email") if isinstance(item, dict) else item
        if isinstance(email, str) and _HOSTILE.search(email):
            raise UsageError(
                f'stdin item {index}: the "email" holds a control or invisible character: '
                f"{_describe(hostile_char(email) or '')}.",
                hint="Pipe the output of `instantly accounts list -o json`. Nothing was sent.",
            )
        if not isinstance(email, str) or not is_email(email.strip()):
            raise UsageError(
                f'stdin item {index} has no valid "email".',
                hint="Pipe the output of `instantly accounts list -o json`.",
            )
        emails.append(email.strip())
    return emails


def dedupe(emails: Iterable[str]) -> list[str]:
    """Keep the first of each email (case-insensitive: ``A@x.io`` and ``a@X.io`` are one
    account), in order."""
    seen: set[str] = set()
    out: list[str] = []
    for email in emails:
        key = email.casefold()
        if key not in seen:
            seen.add(key)
            out.append(email)
    return out


def read_stdin(stream: Any = None) -> bytes | str:
    """All of stdin as bytes when the stream has a binary buffer (a real pipe, the test
    runner's stream), else as text (a stream replaced by a plain StringIO)."""
    if stream is None:
        import sys

        stream = sys.stdin
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        data: bytes | str = buffer.read()
        return data
    text: str = stream.read()
    return text


def read_targets(args: list[str], stdin_text: str | bytes | None = None) -> list[str]:
    """Emails from arguments, ``-`` meaning stdin; validated and deduplicated before any request.
    Empty stdin gives no targets (not an error: the caller says there is nothing to do).

    ``stdin_text`` may be bytes (decoded as strict UTF-8); when omitted, stdin is read as bytes.
    """
    if not args:
        raise UsageError(
            "No targets given.", hint="Name account emails, or - to read them from stdin."
        )
    emails: list[str] = []
    for position, arg in enumerate(args, start=1):
        if arg == "-":
            if stdin_text is None:
                stdin_text = read_stdin()
            emails.extend(parse_target_text(stdin_text))
        else:
            if hostile_char(arg) is not None:
                validate_email(arg, where=f" (argument {position})")
            emails.append(validate_email(arg))
    return dedupe(emails)
