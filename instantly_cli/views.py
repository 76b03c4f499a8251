"""Pure functions from data to what output.py renders: columns, rows, detail sections, diffs.

Nothing here prints or fetches; commands hand the results to ``output``.
"""

from __future__ import annotations

from typing import Any

from instantly_cli.output import Column, text_value


def short_time(value: Any) -> str:
    """``2026-01-05T10:00:00.000Z`` → ``2026-01-05 10:00`` for tables (TSV keeps it exact)."""
    if not isinstance(value, str) or "T" not in value:
        return text_value(value)
    return value.replace("T", " ")[:16]


def time_column(key: str, header: str, fmt: str) -> Column:
    """A timestamp column: shortened in tables, exact in every machine format."""
    return Column(key, header, fmt=short_time if fmt == "table" else None)
