"""Account targets: email validation and the stdin forms (emails, JSON array, JSON lines)."""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

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


def too_large(
    what: str,
    limit: int = MAX_INPUT_BYTES,
    hint: str = "Split the input into smaller pieces.",
) -> UsageError:
    """The exit-2 error for input over one of the documented limits."""
    return UsageError(
        f"{what} is larger than the limit of {limit // _MB} MB; nothing was sent.", hint=hint
    )


Refuse = Callable[[str, int], UsageError]


def read_bounded(
    stream: Any, what: str, limit: int = MAX_INPUT_BYTES, refuse: Refuse = too_large
) -> Any:
    """All of ``stream`` (bytes or text), refused with exit 2 (``refuse(what, limit)``) past
    ``limit``; reading stops one byte past it (``/dev/zero`` ends too)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise refuse(what, limit)
    return data


def read_file_bounded(
    path: Any, what: str, limit: int = MAX_INPUT_BYTES, refuse: Refuse = too_large
) -> bytes:
    """The bytes of the file at ``path`` (a FIFO or /dev/zero too), refused past ``limit``."""
    with open(path, "rb") as handle:
        data: bytes = read_bounded(handle, what, limit, refuse)
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
            if surrogate(text) is not None
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


_SURROGATE = re.compile("[\ud800-\udfff]")


def surrogate(text: str) -> str | None:
    """The first lone surrogate of ``text``: a byte that was not UTF-8 (surrogateescape) or a
    ``\\ud800`` JSON escape with no partner. No UTF-8 text can carry one."""
    found = _SURROGATE.search(text)
    return found.group() if found else None


class Kind(NamedTuple):
    """What stdin lists, one per line or one per JSON item: account emails (:data:`EMAILS`), or
    another kind of id (``jobs wait -`` reads job ids). The forms, the limits, strict UTF-8 and
    the refusal of control characters are the same for every kind; only these differ."""

    fields: tuple[str, ...]  # the JSON object's field holding one; the first present counts
    valid: Callable[[str], bool]  # whether a (stripped) text is one
    noun: str  # "an email": for "neither an email nor an account JSON object"
    record: str  # "an account JSON object"
    source: str  # the command whose JSON output to pipe
    line_hint: str  # what a line may be
    text_hint: str  # what the text must be (for bytes that are not UTF-8)
    first_column: bool = False  # a plain line's value is its first column (a TSV row)

    def label(self) -> str:
        return " or ".join(f'"{name}"' for name in self.fields)


EMAILS = Kind(
    fields=("email",),
    valid=is_email,
    noun="an email",
    record="an account JSON object",
    source="`instantly accounts list -o json`",
    line_hint=_STDIN_HINT,
    text_hint="Targets must be UTF-8 text: emails, or JSON / JSON lines from "
    "`instantly accounts list`.",
)

_BOM = b"\xef\xbb\xbf"


def _decode(data: bytes, kind: Kind, first_line: int = 1) -> str:
    """Strict UTF-8; the first undecodable byte is named with its line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + data.count(b"\n", 0, exc.start)
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UsageError(
            f"stdin line {line} is not valid UTF-8 (byte \\x{data[exc.start]:02x} at "
            f"column {column}).",
            hint=kind.text_hint,
        ) from None


def decode_stdin(data: bytes, kind: Kind = EMAILS) -> str:
    """Strict UTF-8 (a leading BOM is dropped); the first undecodable line is named."""
    return _decode(data.removeprefix(_BOM), kind)


def _check_line(number: int, line: str, kind: Kind) -> None:
    """Refuse a plain (non-JSON) line holding a hostile character; CR only ends a line."""
    found = _HOSTILE.search(line.removesuffix("\r"))
    if found is None:
        return
    bad = escape(found.group())
    if surrogate(found.group()) is not None:
        raise UsageError(
            f"stdin line {number} is not valid UTF-8 (byte {bad}).", hint=kind.line_hint
        )
    raise UsageError(
        f"stdin line {number} contains a control or invisible character: {_describe(bad)}.",
        hint=kind.line_hint + " Nothing was sent.",
    )


# Only these count as white space around a line: Python's str.strip() would also drop (and so
# hide) controls such as \x1c-\x1f and \x85.
_BLANK = " \t\r\n"
_BLANK_BYTES = _BLANK.encode()


def parse_target_text(text: str | bytes, kind: Kind = EMAILS) -> list[str]:
    """Emails from stdin: one per line, or the JSON array / JSON lines of ``accounts list``.

    Input that holds no target at all (blank, only comments, ``[]``) gives none: an upstream
    step that found nothing leaves nothing to do (the caller says so). Bytes are decoded
    as strict UTF-8; a control character in a plain line, or in the ``email`` of a JSON line or
    item, is refused with its line number (or item index). ``kind`` reads other ids the same way.
    """
    if isinstance(text, bytes):
        text = decode_stdin(text, kind)
    else:
        text = text.removeprefix("\ufeff")
    if text.lstrip(_BLANK).startswith("["):
        return dedupe(_from_items(_load_array(text, kind), kind))
    return dedupe(_from_lines(enumerate(text.split("\n"), start=1), kind))


def _load_array(text: str, kind: Kind) -> list[Any]:
    """The items of stdin's JSON array (text that starts with ``[`` and parses is one)."""
    try:
        data: list[Any] = json.loads(text)
    except (ValueError, RecursionError) as exc:
        reason = exc if isinstance(exc, ValueError) else "nested too deeply"
        one = kind.noun.partition(" ")[2]
        raise UsageError(
            f"stdin looks like a JSON array but is not valid JSON: {reason}.",
            hint=f"Pipe {kind.source}, JSON lines, or one {one} per line.",
        ) from None
    return data


def _pick(item: object, kind: Kind) -> tuple[str, object]:
    """The field that holds a JSON item's value (its first present one), and the value; an item
    that is not an object is the value itself."""
    if isinstance(item, dict):
        name = next((f for f in kind.fields if f in item), kind.fields[0])
        return name, item.get(name)
    return kind.fields[0], item


def _value(item: object, kind: Kind, where: str, hint: str) -> str | None:
    """The checked value of a JSON item, or None when it holds none; a control character in it
    is refused (JSON may carry anything elsewhere: a name with a bidi mark)."""
    name, value = _pick(item, kind)
    if not isinstance(value, str):
        return None
    if _HOSTILE.search(value):
        raise UsageError(
            f'stdin {where}: the "{name}" holds a control or invisible character: '
            f"{_describe(hostile_char(value) or '')}.",
            hint=hint + " Nothing was sent.",
        )
    value = value.strip()
    return value if kind.valid(value) else None


def _from_lines(lines: Iterable[tuple[int, str]], kind: Kind) -> Iterator[str]:
    """The values of numbered plain or JSON lines, as they come (the caller deduplicates, so a
    stream of repeated lines holds one value, not every line). Lines that hold none are named
    together at the end."""
    bad: list[int] = []
    count = 0
    for number, raw in lines:
        line = raw.strip(_BLANK)
        if not line.startswith("{"):
            # JSON text may carry any character inside its strings (a name with a bidi mark):
            # only its value is checked, below. Everything else must be plain.
            _check_line(number, raw, kind)
        if not line or line.startswith("#"):
            continue
        value: str | None
        if line.startswith("{"):
            try:
                item = json.loads(line)
            except (ValueError, RecursionError):
                item = None
            value = _value(item, kind, f"line {number}", kind.line_hint)
        else:
            value = (line.split() or [line])[0] if kind.first_column else line
            value = value if kind.valid(value) else None
        if value is not None:
            yield value
            continue
        count += 1
        if len(bad) < 10:
            bad.append(number)
    if count:
        shown = ", ".join(str(n) for n in bad) + (" …" if count > len(bad) else "")
        raise UsageError(
            f"stdin has {count} line(s) that are neither {kind.noun} nor {kind.record}: "
            f"line {shown}.",
            hint=kind.line_hint,
        )


def _from_items(items: Iterable[object], kind: Kind) -> Iterator[str]:
    hint = f"Pipe the output of {kind.source}."
    for index, item in enumerate(items):
        value = _value(item, kind, f"item {index}", hint)
        if value is None:
            raise UsageError(f"stdin item {index} has no valid {kind.label()}.", hint=hint)
        yield value


def dedupe(values: Iterable[str]) -> list[str]:
    """Keep the first of each value (case-insensitive: ``A@x.io`` and ``a@X.io`` are one
    account), in order. ``values`` is consumed as it comes, so only the kept ones are held."""
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        key = value.casefold()
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def read_stdin_targets(stream: Any = None, kind: Kind = EMAILS) -> list[str]:
    """The targets on stdin (or ids of another ``kind``), deduplicated, within the documented
    limits: lines are streamed (only the values are kept), each up to :data:`MAX_LINE_BYTES`; a
    JSON array (``-o json`` writes it on one line) is read whole, up to :data:`MAX_INPUT_BYTES`."""
    if stream is None:
        import sys

        stream = sys.stdin
    buffer = getattr(stream, "buffer", None)
    if buffer is None:  # a plain text stream (a test's StringIO)
        return parse_target_text(read_bounded(stream, "stdin"), kind)
    return dedupe(_stream_values(buffer, kind))


def _stream_values(buffer: Any, kind: Kind) -> Iterator[str]:
    """The values of a binary stream: its first non-blank line decides the form."""
    lines = _raw_lines(buffer)
    for number, raw in lines:
        head = raw.lstrip(_BLANK_BYTES)
        if head.startswith(b"["):
            text = _decode(_rest_of_array(raw, buffer), kind, number)
            return _from_items(_load_array(text, kind), kind)
        if head:
            return _from_lines(_decoded(itertools.chain([(number, raw)], lines), kind), kind)
        _line_text(number, raw, kind)  # a blank line, but it too must end within the limit
    return iter(())


def _rest_of_array(first: bytes, buffer: Any) -> bytes:
    """A JSON array's bytes, from its first line (perhaps cut at the line limit) on, within
    :data:`MAX_INPUT_BYTES`."""
    rest: bytes = buffer.read(MAX_INPUT_BYTES + 1 - len(first))
    if len(first) + len(rest) > MAX_INPUT_BYTES:
        raise too_large(
            "The JSON array on stdin",
            hint="Pipe JSON lines (-o jsonl) instead: they are read line by line, and only "
            "the values are kept.",
        )
    return first + rest


def _raw_lines(buffer: Any) -> Iterator[tuple[int, bytes]]:
    """Numbered lines of a binary stream (a leading BOM dropped), within the limit on lines
    (:data:`MAX_TARGET_LINES`); each read is one byte past :data:`MAX_LINE_BYTES` at most."""
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
        yield number, raw.removeprefix(_BOM) if number == 1 else raw


def _decoded(lines: Iterable[tuple[int, bytes]], kind: Kind) -> Iterator[tuple[int, str]]:
    for number, raw in lines:
        yield number, _line_text(number, raw, kind)


def _line_text(number: int, raw: bytes, kind: Kind) -> str:
    """One line's text, refused past :data:`MAX_LINE_BYTES` or when it is not UTF-8."""
    if len(raw) > MAX_LINE_BYTES:
        raise UsageError(
            f"stdin line {number} is longer than {MAX_LINE_BYTES // _MB} MB, the limit "
            "for a line; nothing was sent.",
            hint=f"A line ({kind.noun} or a JSON object, as -o jsonl writes) may be up to "
            f"{MAX_LINE_BYTES // _MB} MB; a JSON array (-o json) may be up to "
            f"{MAX_INPUT_BYTES // _MB} MB.",
        )
    return _decode(raw, kind, number).removesuffix("\n")


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
