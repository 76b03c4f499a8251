"""The patchable-field table: what a PATCH /api/v2/accounts/{email} body may hold.

A contract test keeps this table equal to the PATCH schema of the OpenAPI document. Bodies are
validated here before anything is sent, so the API's strict schema (additionalProperties: false)
never sees a malformed body.

Paths are built from lists of keys, never by joining keys with dots: a body key that itself
contains a dot (``{"warmup.limit": 0}``) is an unknown field, not a path in disguise. Only
``--set PATH=VALUE`` reads dots, because there the dotted text is a path by definition.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from instantly_cli.enums import WARMUP_INCREMENT
from instantly_cli.errors import UsageError
from instantly_cli.targets import (
    escape,
    is_email,
    read_bounded,
    read_file_bounded,
    surrogate,
)

Keys = tuple[str, ...]


class Field(NamedTuple):
    path: str
    kind: str  # "string" | "number" | "boolean"
    nullable: bool = False
    # The spec's own range (the contract test compares these with the OpenAPI document).
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    email: bool = False
    # Write-only flags are actions, not stored values: never compared with the returned account.
    write_only: bool = False
    # A stricter range the spec leaves unsaid: counts and limits are never negative, rates are
    # fractions (the spec's examples: 0.95, 0.8, 0.02, 0.1).
    floor: float | None = None
    ceiling: float | None = None

    @property
    def keys(self) -> Keys:
        return tuple(self.path.split("."))

    @property
    def low(self) -> float | None:
        bounds = [b for b in (self.minimum, self.floor) if b is not None]
        return max(bounds) if bounds else None

    @property
    def high(self) -> float | None:
        bounds = [b for b in (self.maximum, self.ceiling) if b is not None]
        return min(bounds) if bounds else None

    def range_text(self) -> str:
        low, high = self.low, self.high
        if low is not None and high is not None:
            return f"from {_num(low)} to {_num(high)}"
        if low is not None:
            return f"at least {_num(low)}"
        if high is not None:
            return f"at most {_num(high)}"
        return ""

    def rule(self) -> str:
        parts = [self.kind + (" or null" if self.nullable else "")]
        if self.range_text():
            parts.append(self.range_text())
        if self.choices:
            parts.append("one of " + ", ".join(self.choices))
        if self.email:
            parts.append("an email address")
        return ", ".join(parts)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


FIELDS: tuple[Field, ...] = (
    Field("first_name", "string"),
    Field("last_name", "string"),
    Field("daily_limit", "number", nullable=True, floor=0),
    Field("sending_gap", "number", minimum=0, maximum=1440),
    Field("signature", "string", nullable=True),
    Field("reply_to", "string", nullable=True, email=True),
    Field("tracking_domain_name", "string", nullable=True),
    Field("tracking_domain_status", "string", nullable=True),
    Field("enable_slow_ramp", "boolean", nullable=True),
    Field("inbox_placement_test_limit", "number", nullable=True, minimum=0),
    Field("skip_cname_check", "boolean", write_only=True),
    Field("remove_tracking_domain", "boolean", write_only=True),
    Field("warmup.limit", "number", floor=0),
    Field("warmup.increment", "string", choices=tuple(str(c) for c in WARMUP_INCREMENT.names)),
    Field("warmup.reply_rate", "number", floor=0, ceiling=1),
    Field("warmup.warmup_custom_ftag", "string"),
    Field("warmup.advanced.warm_ctd", "boolean"),
    Field("warmup.advanced.read_emulation", "boolean"),
    Field("warmup.advanced.weekday_only", "boolean"),
    Field("warmup.advanced.open_rate", "number", floor=0, ceiling=1),
    Field("warmup.advanced.important_rate", "number", floor=0, ceiling=1),
    Field("warmup.advanced.spam_save_rate", "number", floor=0, ceiling=1),
)
BY_PATH = {f.path: f for f in FIELDS}
OBJECTS = ("warmup", "warmup.advanced")
BY_KEYS: dict[Keys, Field] = {f.keys: f for f in FIELDS}
OBJECT_KEYS: frozenset[Keys] = frozenset(tuple(p.split(".")) for p in OBJECTS)


def _as_keys(prefix: str | Sequence[str]) -> Keys:
    if isinstance(prefix, str):
        return tuple(prefix.split(".")) if prefix else ()
    return tuple(prefix)


def _dotted(keys: Keys) -> str:
    return ".".join(keys)


def keys_at(prefix: str | Sequence[str]) -> list[str]:
    """The valid keys of one level of the body (``""`` or ``()`` is the top)."""
    at = _as_keys(prefix)
    names = {
        k[len(at)] for k in [*BY_KEYS, *OBJECT_KEYS] if len(k) > len(at) and k[: len(at)] == at
    }
    return sorted(names)


def _unknown(key: object, at: Keys, what: str = "") -> UsageError:
    """An unknown key at one level, named exactly as given (escaped), with the level's fields."""
    level = _dotted(at)
    valid = f"Valid fields{' under ' + level if level else ''}: {', '.join(keys_at(at))}."
    if not isinstance(key, str):
        return UsageError(f"Unknown field {key!r}{what}.", hint=valid)
    shown = escape(key)
    if "." in key:
        where = f" under '{level}'" if level else ""
        nested = '{"warmup": {"limit": 20}}'
        return UsageError(
            f"Unknown field '{shown}'{where}{what}: a field name never contains a dot.",
            hint=f"Nest objects instead, e.g. {nested}. {valid}",
        )
    return UsageError(f"Unknown field '{_dotted((*at, shown))}'{what}.", hint=valid)


def validate(body: object, prefix: str | Sequence[str] = "") -> None:
    """Raise UsageError naming the field and the rule on the first problem."""
    at = _as_keys(prefix)
    where = _dotted(at) or "the body"
    if not isinstance(body, dict):
        raise UsageError(
            f"{where} must be a JSON object.", hint='For example: {"daily_limit": 30}.'
        )
    if not at and not body:
        raise UsageError(
            "No change given.",
            hint="Use a flag such as --daily-limit 30, --set PATH=VALUE, or --body JSON.",
        )
    for key, value in body.items():
        if not isinstance(key, str) or "." in key:
            raise _unknown(key, at)
        keys = (*at, key)
        if keys in OBJECT_KEYS:
            if not isinstance(value, dict):
                raise UsageError(f"'{_dotted(keys)}' must be an object.")
            validate(value, keys)
            continue
        field = BY_KEYS.get(keys)
        if field is None:
            raise _unknown(key, at)
        check(field, value)
    if not at:
        check_conflicts(body)


def check_conflicts(body: dict[str, Any]) -> None:
    """Combinations the API cannot honour together."""
    if body.get("remove_tracking_domain") is True and body.get("tracking_domain_name") is not None:
        raise UsageError(
            "Removing the tracking domain and setting one in the same change contradict "
            "each other.",
            hint="Use --remove-tracking-domain alone, or --tracking-domain HOST alone.",
        )


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def check(field: Field, value: Any) -> None:
    def bad(why: str = "") -> UsageError:
        try:
            shown = json.dumps(value, ensure_ascii=False)
        except (ValueError, OverflowError):
            shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return UsageError(
            f"Invalid value {escape(shown)} for '{field.path}'{why}.",
            hint=f"'{field.path}' takes {field.rule()}.",
        )

    if value is None:
        if not field.nullable:
            raise bad()
        return
    if field.kind == "boolean":
        if not isinstance(value, bool):
            raise bad()
        return
    if field.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad()
        if not _finite(value):
            why = (
                "too large"
                if isinstance(value, int)
                else "not a number (NaN)"
                if math.isnan(value)
                else "infinite"
            )
            raise bad(f": {why}, numbers must be finite")
        low, high = field.low, field.high
        if (low is not None and value < low) or (high is not None and value > high):
            raise bad(f": must be {field.range_text()}")
        return
    if not isinstance(value, str):
        raise bad()
    if surrogate(value) is not None:
        raise bad(": a lone surrogate is not a character")
    if field.choices and value not in field.choices:
        raise bad()
    if field.email and not is_email(value):
        raise bad()


def leaf_keys(body: dict[str, Any], at: Keys = ()) -> list[tuple[Keys, Any]]:
    """``{"warmup": {"limit": 5}}`` → ``[(("warmup", "limit"), 5)]``; a dotted key is refused."""
    out: list[tuple[Keys, Any]] = []
    for key, value in body.items():
        if not isinstance(key, str) or "." in key:
            raise _unknown(key, at)
        keys = (*at, key)
        if keys in OBJECT_KEYS and isinstance(value, dict):
            out.extend(leaf_keys(value, keys))
        else:
            out.append((keys, value))
    return out


def leaves(body: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"warmup": {"limit": 5}}`` → ``[("warmup.limit", 5)]``.

    The dotted form is safe to split again because no key of a leaf may hold a dot.
    """
    return [(_dotted(keys), value) for keys, value in leaf_keys(body, _as_keys(prefix))]


def set_path(body: dict[str, Any], path: str | Sequence[str], value: Any) -> None:
    """Set ``value`` at ``path``: dotted text (from --set or a flag) or a list of keys."""
    parts = _as_keys(path)
    if not parts or any(not part or "." in part for part in parts):
        raise _unknown(next((p for p in parts if not p or "." in p), ""), ())
    node = body
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def deep_merge(
    base: dict[str, Any], change: dict[str, Any], _at: Keys = ()
) -> dict[str, Any]:
    """``base`` with ``change`` laid over it, object by object; a dotted key is refused."""
    out = dict(base)
    for key, value in change.items():
        if not isinstance(key, str) or "." in key:
            raise _unknown(key, _at)
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value, (*_at, key))
        else:
            out[key] = value
    return out


def parse_set(item: str) -> tuple[str, Any]:
    """``warmup.advanced.open_rate=0.9`` → path and value (JSON when it parses, else a string)."""
    if _over_limit(item):
        raise _too_large("--set")
    path, sep, raw = item.partition("=")
    path = path.strip()
    if not sep or not path or any(not part for part in path.split(".")):
        raise UsageError(
            f"Invalid --set '{escape(item)}'.",
            hint="Use --set PATH=VALUE, e.g. --set warmup.limit=20.",
        )
    known = set(BY_PATH) | set(OBJECTS)
    if path not in known:
        prefix = path.rpartition(".")[0]
        level = prefix if prefix in OBJECTS else ""
        raise UsageError(
            f"Unknown field '{escape(path)}' in --set.",
            hint=f"Valid fields{' under ' + level if level else ''}: {', '.join(keys_at(level))}.",
        )
    try:
        value: Any = json.loads(raw)
    except (ValueError, RecursionError):
        value = raw
    field = BY_PATH.get(path)
    # "--set first_name=123" means the text "123", not a number.
    if (
        field is not None
        and field.kind == "string"
        and not isinstance(value, str)
        and value is not None
    ):
        value = raw
    refuse_lone_surrogates([path, value], "--set")
    return path, value


def patchable(obj: dict[str, Any], prefix: str | Sequence[str]) -> dict[str, Any]:
    """The patchable, valid part of a stored object (e.g. the current ``warmup``), for merging.

    The API may return keys it does not accept back (or odd stored values, junk keys with dots
    in them); sending those would make the merged body invalid, so they are left out.
    """
    at = _as_keys(prefix)
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if not isinstance(key, str) or "." in key:
            continue
        keys = (*at, key)
        if keys in OBJECT_KEYS and isinstance(value, dict):
            out[key] = patchable(value, keys)
        elif keys in BY_KEYS:
            try:
                check(BY_KEYS[keys], value)
            except UsageError:
                continue
            out[key] = value
    return out


def get_path(obj: Any, path: str) -> Any:
    """``warmup.advanced.open_rate`` → the nested value, or None."""
    for part in path.split("."):
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


# The largest ``--body`` (inline, @FILE or @-) and ``--set`` value read: a PATCH body is a few
# hundred bytes, so 1 MiB is generous, and reading stops one byte past it (``@/dev/zero`` once
# grew until the system killed the process, deaf to Ctrl-C).
BODY_LIMIT = 1 << 20
BODY_LIMIT_TEXT = "1 MiB"


def _too_large(source: str, limit: int = BODY_LIMIT) -> UsageError:
    """The body's own wording of :func:`targets.too_large` (``limit`` is always the body's)."""
    return UsageError(
        f"{source} is larger than the {BODY_LIMIT_TEXT} limit.",
        hint="A PATCH body is a small JSON object; pass only the fields to change.",
    )


def _over_limit(text: str) -> bool:
    """Whether ``text`` is more than :data:`BODY_LIMIT` bytes as UTF-8 (encoded only when its
    length in characters leaves the question open)."""
    return len(text) > BODY_LIMIT // 4 and len(text.encode("utf-8", "surrogatepass")) > BODY_LIMIT


def load_body_file(path: str | Path) -> str:
    """The text of a ``--body @FILE``: strict UTF-8 (a leading BOM is dropped), read errors and
    undecodable bytes reported with the file's name, line and byte; ``-`` reads stdin. At most
    :data:`BODY_LIMIT` bytes are read; a longer input is refused."""
    name = str(path)
    source = "--body from stdin" if name == "-" else f"--body file {name}"
    try:
        if name == "-":
            import sys

            buffer = getattr(sys.stdin, "buffer", None)
            stream = sys.stdin if buffer is None else buffer
            raw: bytes | str = read_bounded(stream, source, BODY_LIMIT, _too_large)
            if isinstance(raw, str):  # a text stream without a buffer (a test's StringIO)
                if _over_limit(raw):
                    raise _too_large(source)
                return raw
            name = "stdin"
        else:
            raw = read_file_bounded(path, source, BODY_LIMIT, _too_large)
    except OSError as exc:
        raise UsageError(f"Cannot read {name}: {exc.strerror or exc}.") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UsageError(
            f"--body file {name} is not valid UTF-8 (byte \\x{raw[exc.start]:02x} on "
            f"line {line}).",
            hint="Save the file as UTF-8 JSON.",
        ) from None


def _lone_surrogate(value: Any) -> tuple[str, str] | None:
    """The first string (key or value) in ``value`` holding a lone surrogate, and that
    character escaped. JSON's ``"\\ud800"`` and bytes that were not UTF-8 in an argument both
    decode to one; no UTF-8 request can carry it, so the API would answer 500 every time."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            char = surrogate(item)
            if char is not None:
                return item, f"\\u{ord(char):04x}"
    return None


def refuse_lone_surrogates(value: Any, source: str) -> None:
    """Raise a usage error if ``value`` holds a lone surrogate anywhere (see above)."""
    found = _lone_surrogate(value)
    if found is not None:
        text, char = found
        shown = escape(text if len(text) <= 40 else text[:37] + "...")
        raise UsageError(
            f"{source} holds a lone surrogate ({char}) in '{shown}': not a character, "
            "and not sendable as UTF-8.",
            hint="Fix the text (a broken \\uD8xx escape, or bytes that are not UTF-8); "
            "nothing was sent.",
        )


def load_body(text: str) -> dict[str, Any]:
    """``--body JSON|@FILE|@-`` → the object (not yet validated: :func:`validate` does that)."""
    source = "--body"
    if text.startswith("@"):
        name = text[1:]
        text = load_body_file(name)
        source = "--body from stdin" if name == "-" else f"--body file {name}"
    elif _over_limit(text):
        raise _too_large(source)
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise UsageError(
            f"{source} is not valid JSON: {exc}.",
            hint="For example: --body '{\"daily_limit\": 30}'.",
        ) from None
    except RecursionError:
        raise UsageError(
            f"{source} is nested too deeply to be a PATCH body.",
            hint="For example: --body '{\"daily_limit\": 30}'.",
        ) from None
    if not isinstance(body, dict):
        raise UsageError(
            f"{source} must be a JSON object.", hint='For example: {"daily_limit": 30}.'
        )
    refuse_lone_surrogates(body, source)
    return body
