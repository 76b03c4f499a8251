"""Column and field data: what a table, TSV or CSV shows of an object, and ``--fields``.

Data, not printing: :mod:`~instantly_cli.output` renders these. A :class:`Column` names a dotted
path and how to show its value; :func:`fit_columns` decides, by the columns' priorities, what a
table keeps on a terminal too narrow for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from instantly_cli.enums import EnumTable
from instantly_cli.errors import UsageError
from instantly_cli.fields import get_path
from instantly_cli.targets import escape


def pick(obj: Mapping[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """Keep only ``paths`` of ``obj`` (nested structure preserved) for ``--fields`` with JSON."""
    out: dict[str, Any] = {}
    for path in paths:
        parts = path.split(".")
        value = get_path(obj, path)
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


class Column(NamedTuple):
    """A column of table/TSV/CSV output: a dotted path into the object and how to show it.

    ``priority`` and ``short`` only matter to a table on a terminal too narrow for it: columns
    are shortened first (``short`` formats the value, ``short_header`` replaces the header; an
    enum column with short labels shortens by itself), then dropped, lowest priority first
    (ties: the rightmost first). ``--wide`` and every machine format ignore both.
    """

    key: str
    header: str
    enum: EnumTable | None = None
    fmt: Callable[[Any], str] | None = None
    justify: str = "left"
    priority: int = 0
    short: Callable[[Any], str] | None = None
    short_header: str | None = None

    @property
    def shortens(self) -> bool:
        return (
            self.short is not None
            or self.short_header is not None
            or (self.enum is not None and self.enum.has_short)
        )


def safe(text: str) -> str:
    """``text`` from data made safe for a human format: C0/C1 controls, ESC, DEL, bidi and
    invisible characters written as ``\\x1b`` / ``\\u202e`` escapes, so a field from the
    server can neither drive the terminal (links, titles, clearing, hidden text) nor reorder what
    is shown. The one escaping function of every table, TSV, CSV and detail cell; JSON keeps the
    data exact."""
    return escape(text)


def safe_message(text: str) -> str:
    """:func:`safe` for a message on stderr, keeping its own line breaks."""
    return "\n".join(escape(line) for line in text.split("\n"))


def cell(column: Column, obj: Mapping[str, Any], short: bool = False) -> str:
    """The value of ``column`` in ``obj`` as shown in a human format (escaped by :func:`safe`)."""
    return safe(raw_cell(column, obj, short))


def tsv_text(value: str) -> str:
    """A TSV cell: ``\\\\ \\t \\n \\r`` (columns never shift), then :func:`safe`."""
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        value = value.replace(raw, escaped)
    return safe(value)


# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(…), @SUM(…),
# -2+3+cmd|…); tab and CR are the OWASP list's other two.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(text: str, value: Any = None) -> str:
    """``text`` (already :func:`safe`) for a CSV cell: a text starting like a formula gets a
    leading ``'`` so a spreadsheet shows it instead of running it. A number (``value`` an int
    or float: a negative count) is left as it is, so numeric columns stay numbers."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return text
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_cell(column: Column, obj: Mapping[str, Any]) -> str:
    """The value of ``column`` in ``obj`` for ``-o csv``: :func:`cell`, then :func:`csv_text`."""
    return csv_text(cell(column, obj), get_path(obj, column.key))


def raw_cell(column: Column, obj: Mapping[str, Any], short: bool = False) -> str:
    """The value as text, unescaped (TSV escapes tabs and line breaks its own way first)."""
    value = get_path(obj, column.key)
    if short and column.short is not None:
        return column.short(value)
    if column.fmt is not None:
        return column.fmt(value)
    if column.enum is not None:
        return column.enum.short(value) if short else column.enum.label(value)
    return text_value(value)


def text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        if all(isinstance(v, dict) and "label" in v for v in value):
            return ", ".join(str(v["label"]) for v in value)
        return ", ".join(text_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def header_name(header: str) -> str:
    """The name ``--fields`` takes for a column's header: lower case, spaces as ``_``
    ("Daily limit" → daily_limit, "Score" → score)."""
    return "_".join(header.casefold().split())


def field_names(
    fields: Sequence[str] | None, columns: Sequence[Column]
) -> list[str] | None:
    """``--fields`` with each column's header name replaced by its field path (``score`` →
    stat_warmup_score), so every header a table shows is a name ``--fields`` takes. A field
    path always means itself: headers never name another field (a test holds every column to
    that)."""
    if not fields:
        return None if fields is None else list(fields)
    keys = {c.key for c in columns}
    by_header = {header_name(c.header): c.key for c in columns}
    return [f if f in keys else by_header.get(f.casefold(), f) for f in fields]


def columns_for(fields: Sequence[str] | None, defaults: Sequence[Column]) -> list[Column]:
    """``--fields`` picks columns by path; a path with no column definition shows raw values."""
    if not fields:
        return list(defaults)
    known = {c.key: c for c in defaults}
    return [known.get(f, Column(f, f)) for f in fields]


def _paths(obj: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            path = f"{prefix}{key}"
            yield path
            yield from _paths(value, path + ".")


def check_fields(
    fields: Sequence[str] | None,
    objects: Sequence[Mapping[str, Any]],
    columns: Sequence[Column] = (),
) -> None:
    """Refuse (exit 2) a ``--fields`` name that is neither a field of the printed object's
    schema, nor a column, nor present in any of ``objects``; suggest close names.

    Called on the first objects before anything is written, so a typo prints nothing. A field
    the API added since this version is in the data, so it keeps working.
    """
    if not fields:
        return
    from instantly_cli import schema

    known: set[str] = {c.key for c in columns}
    for obj in objects:
        known.update(_paths(obj))
    kind = schema.guess_object(set(objects[0])) if objects else None
    if kind is not None:
        known |= schema.fields_of(kind)
    elif not objects:
        # Nothing to print: only a name no object of the API has at all is refused.
        for name in schema.OBJECT_FIELDS:
            known |= schema.fields_of(name)
    unknown = [f for f in fields if f not in known]
    if not unknown:
        return
    import difflib

    bad = unknown[0]
    close = difflib.get_close_matches(bad, sorted(known), n=3, cutoff=0.6)
    if not close:
        close = sorted(k for k in known if bad.casefold() in k.casefold())[:3]
    hint = "Did you mean: " + ", ".join(close) + "?" if close else None
    tops = sorted(k for k in known if "." not in k)
    listing = "Fields: " + ", ".join(tops) + " (dots for nesting)."
    raise UsageError(
        f"Unknown field '{bad}' in --fields"
        + (f" (and {len(unknown) - 1} more)." if len(unknown) > 1 else "."),
        hint=f"{hint} {listing}" if hint else listing,
    )


def parse_fields(text: str | None) -> list[str] | None:
    if not text:
        return None
    fields = [f.strip() for f in text.split(",") if f.strip()]
    for field in fields:
        if not all(part and part.replace("_", "").isalnum() for part in field.split(".")):
            raise UsageError(
                f"Invalid field path '{field}'.",
                hint="Use names separated by commas, dots for nesting: email,warmup.limit.",
            )
    for field in fields:
        clash = next((f for f in fields if f.startswith(field + ".")), None)
        if clash:
            raise UsageError(
                f"--fields names both '{field}' and '{clash}', which is inside it.",
                hint=f"Keep one of them: '{field}' already includes '{clash}'.",
            )
    return fields or None


# Between two columns of a table (rich: one space of padding on each side, none at the edges).
GAP = 2


def fit_columns(
    rows: Sequence[Mapping[str, Any]], cols: Sequence[Column], width: int
) -> list[tuple[Column, bool]]:
    """The columns a table of ``width`` cells shows, each with whether it is shortened.

    Shorten (lowest priority first, rightmost first on ties) until the rows fit, then drop in
    the same order; the last column is never dropped. What still does not fit is cut with an
    ellipsis by the renderer, never wrapped.
    """
    from rich.cells import cell_len

    def measure(c: Column, short: bool) -> int:
        header = (c.short_header or c.header) if short else c.header
        return max([cell_len(header), *(cell_len(cell(c, r, short)) for r in rows)])

    full = [measure(c, False) for c in cols]
    short = [measure(c, True) if c.shortens else full[i] for i, c in enumerate(cols)]
    shortened: set[int] = set()
    dropped: set[int] = set()

    def total() -> int:
        kept = [i for i in range(len(cols)) if i not in dropped]
        widths = [short[i] if i in shortened else full[i] for i in kept]
        return sum(widths) + GAP * max(len(kept) - 1, 0)

    order = sorted(range(len(cols)), key=lambda i: (cols[i].priority, -i))
    for i in order:
        if total() <= width:
            break
        if cols[i].shortens:
            shortened.add(i)
    for i in order:
        if total() <= width or len(dropped) == len(cols) - 1:
            break
        dropped.add(i)
    return [(c, i in shortened) for i, c in enumerate(cols) if i not in dropped]


def hidden_note(
    cols: Sequence[Column], shown: Sequence[tuple[Column, bool]], width: int,
    *, has_wide: bool = True,
) -> str | None:
    """The line that says a fitted table hides columns (never silently), or None. It names
    ``--wide`` only for a command that has it (``has_wide``), else TSV, which every one has."""
    kept = {id(c) for c, _ in shown}
    hidden = [c.key for c in cols if id(c) not in kept]
    if not hidden:
        return None
    remedy = "--wide" if has_wide else "-o tsv"
    return (f"{len(hidden)} of {len(cols)} columns hidden to fit {width} columns "
            f"({', '.join(hidden)}); {remedy} shows them all.")


DetailRow = tuple[str, str, str]  # label, value, style


OUTCOME_COLUMNS = [Column("email", "Email"), Column("result", "Result"), Column("error", "Error")]


def build_table(
    rows: Sequence[Mapping[str, Any]],
    cols: Sequence[Column],
    title: str | None,
    width: int | None,
    shown: Sequence[tuple[Column, bool]] | None = None,
) -> Any:
    """The rich table of ``rows`` in ``cols``, fitted to ``width`` (None: every column whole),
    or in the columns ``shown`` when the caller fitted them already."""
    from rich.table import Table
    from rich.text import Text

    if shown is None:
        shown = [(c, False) for c in cols] if width is None else fit_columns(rows, cols, width)
    table = Table(title=safe(title) if title else title, header_style="bold", show_edge=False,
                  pad_edge=False, box=None)
    for c, short in shown:
        header = (c.short_header or c.header) if short else c.header
        # A row is one line: what does not fit is cut with an ellipsis, never wrapped.
        table.add_column(header, justify=c.justify, no_wrap=True, overflow="ellipsis")  # type: ignore[arg-type]
    for row in rows:
        cells = []
        for c, short in shown:
            text = cell(c, row, short)
            style = c.enum.style(get_path(row, c.key)) if c.enum and text else ""
            cells.append(Text(text, style=style, no_wrap=True, overflow="ellipsis"))
        table.add_row(*cells)
    return table


def render_table(
    rows: Sequence[Mapping[str, Any]],
    cols: Sequence[Column],
    width: int,
    title: str | None = None,
) -> str:
    """The table as a terminal ``width`` columns wide shows it (no colour): for tests and
    previews, through the same code as :func:`instantly_cli.output.emit_records`."""
    import io

    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, color_system=None, no_color=True, highlight=False,
        soft_wrap=False,
    )
    console.print(build_table(rows, cols, title, width))
    return buffer.getvalue()
