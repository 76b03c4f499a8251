"""The patchable-field table: what a PATCH /api/v2/accounts/{email} body may hold.

A contract test keeps this table equal to the PATCH schema of the OpenAPI document. Bodies are
validated here before anything is sent, so the API's strict schema (additionalProperties: false)
never sees a malformed body.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from instantly_cli.enums import WARMUP_INCREMENT
from instantly_cli.errors import UsageError
from instantly_cli.targets import is_email


@dataclass(frozen=True)
class Field:
    path: str
    kind: str  # "string" | "number" | "boolean"
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    email: bool = False
    # Write-only flags are actions, not stored values: never compared with the returned account.
    write_only: bool = False

    def rule(self) -> str:
        parts = [self.kind + (" or null" if self.nullable else "")]
        if self.minimum is not None and self.maximum is not None:
            parts.append(f"from {_num(self.minimum)} to {_num(self.maximum)}")
        elif self.minimum is not None:
            parts.append(f"at least {_num(self.minimum)}")
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
    Field("daily_limit", "number", nullable=True),
    Field("sending_gap", "number", minimum=0, maximum=1440),
    Field("signature", "string", nullable=True),
    Field("reply_to", "string", nullable=True, email=True),
    Field("tracking_domain_name", "string", nullable=True),
    Field("tracking_domain_status", "string", nullable=True),
    Field("enable_slow_ramp", "boolean", nullable=True),
    Field("inbox_placement_test_limit", "number", nullable=True, minimum=0),
    Field("skip_cname_check", "boolean", write_only=True),
    Field("remove_tracking_domain", "boolean", write_only=True),
    Field("warmup.limit", "number"),
    Field("warmup.increment", "string", choices=tuple(str(c) for c in WARMUP_INCREMENT.names)),
    Field("warmup.reply_rate", "number"),
    Field("warmup.warmup_custom_ftag", "string"),
    Field("warmup.advanced.warm_ctd", "boolean"),
    Field("warmup.advanced.read_emulation", "boolean"),
    Field("warmup.advanced.weekday_only", "boolean"),
    Field("warmup.advanced.open_rate", "number"),
    Field("warmup.advanced.important_rate", "number"),
    Field("warmup.advanced.spam_save_rate", "number"),
)
BY_PATH = {f.path: f for f in FIELDS}
OBJECTS = ("warmup", "warmup.advanced")


def keys_at(prefix: str) -> list[str]:
    """The valid keys of one level of the body (``""`` is the top)."""
    depth = prefix.count(".") + 1 if prefix else 0
    names = {p.split(".")[depth] for p in [*BY_PATH, *OBJECTS] if _under(p, prefix)}
    return sorted(names)


def _under(path: str, prefix: str) -> bool:
    if not prefix:
        return True
    return path.startswith(prefix + ".")


def validate(body: object, prefix: str = "") -> None:
    """Raise UsageError naming the field and the rule on the first problem."""
    where = prefix or "the body"
    if not isinstance(body, dict):
        raise UsageError(
            f"{where} must be a JSON object.", hint='For example: {"daily_limit": 30}.'
        )
    if not prefix and not body:
        raise UsageError(
            "No change given.",
            hint="Use a flag such as --daily-limit 30, --set PATH=VALUE, or --body JSON.",
        )
    for key, value in body.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if path in OBJECTS:
            if not isinstance(value, dict):
                raise UsageError(f"'{path}' must be an object.")
            validate(value, path)
            continue
        field = BY_PATH.get(path)
        if field is None:
            raise UsageError(
                f"Unknown field '{path}'.",
                hint=f"Valid fields{' under ' + prefix if prefix else ''}: "
                f"{', '.join(keys_at(prefix))}.",
            )
        check(field, value)


def check(field: Field, value: Any) -> None:
    def bad() -> UsageError:
        return UsageError(
            f"Invalid value {json.dumps(value, ensure_ascii=False)} for '{field.path}'.",
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
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise bad()
        if field.minimum is not None and value < field.minimum:
            raise bad()
        if field.maximum is not None and value > field.maximum:
            raise bad()
        return
    if not isinstance(value, str):
        raise bad()
    if field.choices and value not in field.choices:
        raise bad()
    if field.email and not is_email(value):
        raise bad()


def leaves(body: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"warmup": {"limit": 5}}`` → ``[("warmup.limit", 5)]``."""
    out: list[tuple[str, Any]] = []
    for key, value in body.items():
        path = f"{prefix}.{key}" if prefix else key
        if path in OBJECTS and isinstance(value, dict):
            out.extend(leaves(value, path))
        else:
            out.append((path, value))
    return out


def set_path(body: dict[str, Any], path: str, value: Any) -> None:
    node = body
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def deep_merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_set(item: str) -> tuple[str, Any]:
    """``warmup.advanced.open_rate=0.9`` → path and value (JSON when it parses, else a string)."""
    path, sep, raw = item.partition("=")
    path = path.strip()
    if not sep or not path or any(not part for part in path.split(".")):
        raise UsageError(
            f"Invalid --set '{item}'.", hint="Use --set PATH=VALUE, e.g. --set warmup.limit=20."
        )
    known = set(BY_PATH) | set(OBJECTS)
    if path not in known:
        prefix = path.rpartition(".")[0]
        level = prefix if prefix in OBJECTS else ""
        raise UsageError(
            f"Unknown field '{path}' in --set.",
            hint=f"Valid fields{' under ' + level if level else ''}: {', '.join(keys_at(level))}.",
        )
    try:
        value: Any = json.loads(raw)
    except ValueError:
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
    return path, value


def patchable(obj: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The patchable, valid part of a stored object (e.g. the current ``warmup``), for merging.

    The API may return keys it does not accept back (or odd stored values); sending those would
    make the merged body invalid, so they are left out.
    """
    out: dict[str, Any] = {}
    for key, value in obj.items():
        path = f"{prefix}.{key}"
        if path in OBJECTS and isinstance(value, dict):
            out[key] = patchable(value, path)
        elif path in BY_PATH:
            try:
                check(BY_PATH[path], value)
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
