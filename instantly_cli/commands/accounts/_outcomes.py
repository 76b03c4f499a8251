"""Per-target results of the lifecycle bulk commands, with ``--fields``.

What ``Session.finish`` shows (``show=``) after the summary and the retry line: the results in
the chosen format, keeping only ``--fields`` when given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from instantly_cli import output
from instantly_cli.columns import OUTCOME_COLUMNS, Column, pick
from instantly_cli.services.bulk import RunResult


def emit(
    result: RunResult,
    fmt: str,
    fields: Sequence[str] | None,
    columns: Sequence[Column] = OUTCOME_COLUMNS,
    *,
    table_rows: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """JSON/JSONL: the outcome objects; TSV/CSV: ``columns``; a table shows ``table_rows`` (or
    nothing: the summary on stderr says it all)."""
    rows = [o.to_json() for o in result.outcomes]
    if fmt == "json":
        output.emit_json([pick(r, fields) if fields else r for r in rows])
    elif fmt == "table":
        if table_rows is not None:
            output.emit_records([list(table_rows)], fmt, columns, fields=fields)
    else:
        output.emit_records([rows], fmt, columns, fields=fields)
