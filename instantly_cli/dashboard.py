"""Dashboards (``accounts summary``): panels of bars and small tables, as rich renderables.

Building them is here; :func:`instantly_cli.output.emit_dashboard` prints them. rich is imported
inside the functions, so loading this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from instantly_cli.columns import Column, cell, fit_columns, safe


class Bar(NamedTuple):
    """One bar of a dashboard panel: label, count text, share text and a bar of ``fraction``."""

    label: str
    value: str
    fraction: float
    style: str = ""
    note: str = ""


class Section(NamedTuple):
    """A dashboard panel: bars, then lines of (text, style), or a table of rows."""

    title: str
    bars: Sequence[Bar] = ()
    lines: Sequence[tuple[str, str]] = ()
    columns: Sequence[Column] = ()
    rows: Sequence[Mapping[str, Any]] = ()
    styles: Sequence[str] = ()  # one style per row (empty: none)


def bar_text(fraction: float, width: int) -> str:
    """A bar ``fraction`` of ``width`` cells long, to an eighth of a cell (empty for 0)."""
    full, part = divmod(round(max(0.0, min(1.0, fraction)) * width * 8), 8)
    return "█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")


class _BarCell:
    """A horizontal bar that fills the width its table column gets (eighth blocks)."""

    def __init__(self, fraction: float, style: str) -> None:
        self.fraction = max(0.0, min(1.0, fraction))
        self.style = style

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        return Measurement(4, options.max_width)

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.segment import Segment
        from rich.style import Style

        width = options.max_width
        # Any share above nothing shows at least a sliver.
        text = bar_text(self.fraction, width) or ("▏" if self.fraction > 0 else "")
        yield Segment(text.ljust(width), Style.parse(self.style) if self.style else None)


def render_section(section: Section, width: int = 100) -> Any:
    """One panel ``width`` cells wide; a table too wide for it shows its columns' short forms."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = []
    if section.bars:
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(no_wrap=True, overflow="ellipsis", max_width=24)
        grid.add_column(justify="right", no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
        grid.add_column(ratio=1, no_wrap=True)
        for bar in section.bars:
            grid.add_row(
                Text(safe(bar.label), style=bar.style),
                bar.value,
                Text(safe(bar.note), style="dim"),
                _BarCell(bar.fraction, bar.style or "cyan"),
            )
        parts.append(grid)
    if section.rows:
        table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold",
                      expand=True)
        # The panel's border and padding take four cells. Columns that have a short form use
        # it when the table would not fit; what still does not fit is cut with an ellipsis
        # (a long domain loses its end, no number column disappears).
        fitted = fit_columns(section.rows, section.columns, width - 4)
        squeezed = len(fitted) < len(section.columns)
        short_ones = {id(c) for c, short in fitted if short}
        shown = [(c, c.shortens and (squeezed or id(c) in short_ones)) for c in section.columns]
        for i, (c, short) in enumerate(shown):
            header = (c.short_header or c.header) if short else c.header
            table.add_column(header, justify=c.justify, no_wrap=True,  # type: ignore[arg-type]
                             overflow="ellipsis", ratio=1 if i == 0 else None)
        for n, row in enumerate(section.rows):
            style = section.styles[n] if n < len(section.styles) else ""
            table.add_row(*(Text(cell(c, row, short)) for c, short in shown), style=style)
        parts.append(table)
    for text, style in section.lines:
        parts.append(Text(safe(text), style=style, no_wrap=True, overflow="ellipsis"))
    return Panel(Group(*parts), title=Text(safe(section.title), style="bold"), title_align="left",
                 expand=True)
