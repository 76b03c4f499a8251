"""`accounts update`: building and validating a change, the dry-run diff, write verification
and the warmup merge; the per-account work for the bulk engine."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from instantly_cli import fields
from instantly_cli.enums import (
    FAILED,
    UNCHANGED,
    UPDATED,
    WOULD_UPDATE,
)
from instantly_cli.errors import CliError
from instantly_cli.fields import get_path
from instantly_cli.services.bulk import Outcome, Work

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient




def build_change(
    body: str | None, sets: Sequence[str], flags: Sequence[tuple[str, Any]]
) -> dict[str, Any]:
    """The PATCH body: ``--body JSON|@FILE|@-`` (lowest), then ``--set``, then typed flags;
    validated before anything is sent."""
    change: dict[str, Any] = fields.load_body(body) if body is not None else {}
    for item in sets:
        path, value = fields.parse_set(item)
        fields.set_path(change, path, value)
    for path, value in flags:
        fields.set_path(change, path, value)
    fields.validate(change)
    return change


def change_keys(change: Mapping[str, Any]) -> list[str]:
    """The fields a change sets (dotted paths): what the stale-change guard compares."""
    return [path for path, _ in fields.leaves(dict(change))]


def describe_change(change: Mapping[str, Any]) -> str:
    """``daily_limit = 20, warmup.limit = 10``: a change in words (secrets never reach it)."""
    return ", ".join(f"{path} = {json.dumps(value, ensure_ascii=False)}"
                     for path, value in fields.leaves(dict(change))) or "(nothing)"


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    if isinstance(old, int | float) and isinstance(new, int | float):
        return float(old) == float(new)
    return bool(old == new)


def diff(current: Mapping[str, Any], body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The fields ``body`` would change on ``current``: ``[{field, old, new}]``."""
    changes = []
    for path, new in fields.leaves(dict(body)):
        spec = fields.BY_PATH.get(path)
        if spec is not None and spec.write_only:
            if new:
                changes.append({"field": path, "old": None, "new": new})
            continue
        old = get_path(current, path)
        if not _same(old, new):
            changes.append({"field": path, "old": old, "new": new})
    return changes


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def diff_summary(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per field of a dry run: how many values go up, down, from empty, to empty, or change.

    ``daily_limit: 146 accounts — raised 12, lowered 134`` makes a "lower the limit" that in fact
    raises some accounts visible at a glance."""
    from collections import Counter

    kinds = ("raised", "lowered", "set from empty", "cleared", "changed")
    per_field: dict[str, Counter[str]] = {}
    for record in records:
        for change in record.get("changes") or []:
            old, new = change.get("old"), change.get("new")
            if _empty(old) and not _empty(new):
                kind = "set from empty"
            elif _empty(new) and not _empty(old):
                kind = "cleared"
            elif _number(old) and _number(new):
                kind = "raised" if new > old else "lowered"
            else:
                kind = "changed"
            per_field.setdefault(str(change.get("field")), Counter())[kind] += 1
    lines = []
    for name, counts in per_field.items():
        total = sum(counts.values())
        parts = ", ".join(f"{kind} {counts[kind]:,}" for kind in kinds if counts[kind])
        lines.append(f"{name}: {total:,} account{'s' if total != 1 else ''} — {parts}")
    return lines


def not_applied(sent: Mapping[str, Any], returned: Mapping[str, Any]) -> list[str]:
    """Fields the API answered with a different value than was sent."""
    problems = []
    for path, value in fields.leaves(dict(sent)):
        spec = fields.BY_PATH.get(path)
        if spec is not None and spec.write_only:
            continue
        got = get_path(returned, path)
        if not _same(got, value):
            problems.append(
                f"{path} not applied (sent {json.dumps(value)}, the API has {json.dumps(got)})"
            )
    return problems


def merged_warmup(current: Mapping[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """A partial ``warmup`` change sent as the current settings plus the change (the API does
    not document whether it merges)."""
    if "warmup" not in change:
        return change
    base = fields.patchable(dict(current.get("warmup") or {}), "warmup")
    return {**change, "warmup": fields.deep_merge(base, change["warmup"])}


def update_work(
    client: InstantlyClient, change: dict[str, Any], *, dry_run: bool, strict: bool
) -> Work:
    """The per-account step of ``accounts update``: fetch when needed, diff, patch, verify."""
    needs_current = dry_run or "warmup" in change

    def work(unit: list[str]) -> list[Outcome]:
        email = unit[0]
        send = change
        if needs_current:
            current = client.get_account(email)
            send = merged_warmup(current, change)
            changes = diff(current, send)
            if not changes:
                return [Outcome(email, UNCHANGED, account=None if dry_run else current)]
            if dry_run:
                return [Outcome(email, WOULD_UPDATE, extra={"changes": changes})]
        try:
            updated = client.update_account(email, send)
        except CliError as err:
            if err.code != "network_error":
                raise
            # The answer was lost (the connection broke): the change may have landed. Read the
            # account back and call it updated only if it holds the change.
            try:
                landed = client.get_account(email)
            except CliError:
                raise err from None
            if diff(landed, send):
                raise
            updated = landed
        warnings = not_applied(send, updated)
        if warnings and strict:
            return [
                Outcome(
                    email, FAILED, error="; ".join(warnings), code="not_applied", account=updated
                )
            ]
        return [Outcome(email, UPDATED, account=updated, warnings=warnings)]

    return work
