"""Pure functions from data to what output.py renders: columns, rows, detail sections, diffs.

Nothing here prints or fetches; commands hand the results to ``output``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from instantly_cli.enums import RESOURCE_TYPE, UNCHANGED
from instantly_cli.output import Column, text_value


def short_time(value: Any) -> str:
    """``2026-01-05T10:00:00.000Z`` → ``2026-01-05 10:00`` for tables (TSV keeps it exact)."""
    if not isinstance(value, str) or "T" not in value:
        return text_value(value)
    return value.replace("T", " ")[:16]


def time_column(key: str, header: str, fmt: str) -> Column:
    """A timestamp column: shortened in tables, exact in every machine format."""
    return Column(key, header, fmt=short_time if fmt == "table" else None)


# -- tags --------------------------------------------------------------------------------------


def tag_columns(fmt: str) -> list[Column]:
    """`tags list` (and a tag after create/rename/delete in the machine formats)."""
    return [
        Column("label", "Label"),
        Column("id", "ID"),
        Column("description", "Description"),
        time_column("timestamp_created", "Created", fmt),
    ]


def describe_tag(tag: Mapping[str, Any]) -> str:
    """``'Client A' (id …)``: how confirmation lines name a tag."""
    return f"'{tag.get('label')}' (id {tag.get('id')})"


def _resource_header(resource_type: int | None) -> str:
    value = RESOURCE_TYPE.get(resource_type) if resource_type is not None else None
    return value.label if value else "Resource"


def _without_type(cols: list[Column], fmt: str, resource_type: int | None) -> list[Column]:
    # One type asked for: its name is the header already, so a table drops the Type column.
    if resource_type is not None and fmt == "table":
        return [c for c in cols if c.key != "resource_type"]
    return cols


def tag_map_columns(fmt: str, resource_type: int | None) -> list[Column]:
    """`tags map`: one row per mapping (rows from ``services.tags.map_rows``)."""
    cols = [
        Column("tag_label", "Tag"),
        Column("resource_id", _resource_header(resource_type)),
        Column("resource_type", "Type", enum=RESOURCE_TYPE),
        time_column("timestamp_created", "Mapped at", fmt),
        Column("tag_id", "Tag ID"),
    ]
    return _without_type(cols, fmt, resource_type)


def tag_groups_columns(fmt: str, resource_type: int | None) -> list[Column]:
    """`tags map --by account`: one row per resource with its tags."""
    cols = [
        Column("resource_id", _resource_header(resource_type)),
        Column("resource_type", "Type", enum=RESOURCE_TYPE),
        Column("tags", "Tags"),
    ]
    return _without_type(cols, fmt, resource_type)


TAG_PLAN_COLUMNS = [Column("email", "Email"), Column("tag", "Tag"), Column("change", "Change")]


def tag_change_text(result: str, assign: bool) -> str:
    if result == UNCHANGED:
        return "unchanged (already has it)" if assign else "unchanged (does not have it)"
    return "would gain" if assign else "would lose"


def tag_plan_rows(plan: Iterable[Mapping[str, Any]], assign: bool) -> list[dict[str, Any]]:
    """The dry run of `tags assign/unassign` (its outcomes as JSON, each with ``changes``) as a
    table: one row per account and tag."""
    return [
        {"email": o["email"], "tag": c["tag_label"], "change": tag_change_text(c["result"], assign)}
        for o in plan
        for c in o["changes"]
    ]
