"""Account targets: email validation and the stdin forms (emails, JSON array, JSON lines)."""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
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

# Documented limits of what is read from stdin, --from and --input: a runaway producer
# (`yes a@b.com |`, `--input /dev/zero`) ends in a clear exit 2, never in exhausted memory.
# Target lines are streamed (only the emails are kept), so a million JSON lines of
# `accounts list -o jsonl` fit; a JSON array is parsed whole, so it has a smaller cap.
MAX_TARGET_LINES = 1_000_000
MAX_LINE_BYTES = 1024 * 1024
MAX_INPUT_BYTES = 64 * 1024 * 1024  # a JSON array on stdin, a --from file, an --input body
_MB = 1024 * 1024


def too_large(what: str, limit: int = MAX_INPUT_BYTES) -> UsageError:
    """The exit-2 error for input over one of the documented limits."""
    return UsageError(
        f"{what} is larger than the limit of {limit // _MB} MB; nothing was sent.",
        hint="Split the input into smaller pieces (targets: JSON lines, -o jsonl, are read "
        "line by line and may be longer).",
    )


def read_bounded(stream: Any, what: str, limit: int = MAX_INPUT_BYTES) -> Any:
    """All of ``stream`` (bytes or text), refused with exit 2 past ``limit``."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise too_large(what, limit)
    return data


def read_file_bounded(path: Any, what: str, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of the file at ``path`` (a FIFO or /dev/zero too), refused past ``limit``."""
    with open(path, "rb") as handle:
        data: bytes = read_bounded(handle, what, limit)
    return data


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
    return _from_lines(enumerate(text.split("\n"), start=1))


def _from_lines(lines: Iterable[tuple[int, str]]) -> list[str]:
    """The emails of numbered plain or JSON lines, deduplicated as they come (a stream of
    repeated lines holds one email, not every line)."""
    emails = _Unique()
    bad: list[int] = []
    for number, raw in lines:
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
    return emails.items


class _Unique:
    """Emails in order, the first of each (case-insensitive), appended one by one."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._seen: set[str] = set()

    def append(self, email: str) -> None:
        key = email.casefold()
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(email)


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
        data: bytes | str = read_bounded(buffer, "stdin")
        return data
    text: str = read_bounded(stream, "stdin")
    return text


def read_stdin_targets(stream: Any = None) -> list[str]:
    """The targets on stdin, read line by line within the documented limits (only the emails
    are kept); a JSON array is read whole, up to :data:`MAX_INPUT_BYTES`."""
    if stream is None:
        import sys

        stream = sys.stdin
    buffer = getattr(stream, "buffer", None)
    if buffer is None:  # a plain text stream (a test's StringIO)
        return parse_target_text(read_bounded(stream, "stdin"))
    lines = _stdin_lines(buffer)
    for number, line in lines:
        if not line.strip(_BLANK):
            continue
        if line.lstrip(_BLANK).startswith("["):
            return dedupe(_parse_target_text(_rest_of_array(line, lines)))
        return _from_lines(itertools.chain([(number, line)], lines))
    return []


def _rest_of_array(first: str, lines: Iterator[tuple[int, str]]) -> str:
    """A JSON array's text, from its first line on, within :data:`MAX_INPUT_BYTES`."""
    parts, size = [first], len(first)
    for _, line in lines:
        size += len(line) + 1
        if size > MAX_INPUT_BYTES:
            raise too_large("The JSON array on stdin")
        parts.append(line)
    return "\n".join(parts)


def _stdin_lines(buffer: Any) -> Iterator[tuple[int, str]]:
    """Numbered lines of a binary stream, decoded as strict UTF-8, within the limits on lines
    (:data:`MAX_TARGET_LINES`) and bytes per line (:data:`MAX_LINE_BYTES`)."""
    for number in itertools.count(1):
        raw: bytes = buffer.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if number > MAX_TARGET_LINES:
            raise UsageError(
                f"stdin has more than {MAX_TARGET_LINES:,} lines, the limit for targets; "
                "nothing was sent.",
                hint="Split the targets into several runs.",
            )
        if len(raw) > MAX_LINE_BYTES:
            raise UsageError(
                f"stdin line {number} is longer than {MAX_LINE_BYTES // _MB} MB, the limit "
                "for a line; nothing was sent.",
                hint=_STDIN_HINT,
            )
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(
                f"stdin line {number} is not valid UTF-8 (byte \\x{raw[exc.start]:02x} at "
                f"column {exc.start + 1}).",
                hint="Targets must be UTF-8 text: emails, or JSON / JSON lines from "
                "`instantly accounts list`.",
            ) from None
        yield number, text.removesuffix("\n")


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
                emails.extend(read_stdin_targets())
            else:
                emails.extend(parse_target_text(stdin_text))
        else:
            if hostile_char(arg) is not None:
                validate_email(arg, where=f" (argument {position})")
            emails.append(validate_email(arg))
    return dedupe(emails)
