"""The only code that writes to the terminal.

stdout carries data only (table, tsv, json, jsonl, csv); everything else goes to stderr.
Machine formats are written without rich so nothing is ever reflowed or truncated; rich is
imported lazily, only to draw tables, detail views and progress bars.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from instantly_cli.enums import OUTPUT_FORMAT, EnumTable
from instantly_cli.errors import CliError, StdoutError, UsageError, redact
from instantly_cli.fields import get_path
from instantly_cli.interrupts import sigint_deferred

if TYPE_CHECKING:
    from rich.console import Console

    from instantly_cli.client import Exchange

FORMATS = tuple(OUTPUT_FORMAT.names)
# The width of a "terminal" that is not one (a pipe, a file): nothing is cut or dropped.
UNLIMITED = 4096
_lock = threading.RLock()


# -- format and colour decisions ---------------------------------------------------------------


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()


def stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def resolve_format(output: str | None, json_output: bool = False) -> str:
    """``--json`` > ``-o`` > ``INSTANTLY_OUTPUT`` > auto (table on a TTY, TSV when piped)."""
    if json_output:
        return "json"
    chosen = (output or os.environ.get("INSTANTLY_OUTPUT") or "auto").strip().lower()
    if chosen not in FORMATS:
        raise UsageError(
            f"Unknown output format '{chosen}'.",
            hint=f"Valid -o/--output values: {', '.join(FORMATS)}.",
        )
    if chosen == "auto":
        return "table" if stdout_is_tty() else "tsv"
    return chosen


def color_enabled(stream: Any = None) -> bool:
    """NO_COLOR (any value) and CLICOLOR=0 switch colour off; CLICOLOR_FORCE=1 forces it on."""
    if "NO_COLOR" in os.environ:
        return False
    if os.environ.get("CLICOLOR_FORCE", "0") not in ("", "0"):
        return True
    if os.environ.get("CLICOLOR") == "0":
        return False
    # The two seams (stdout_is_tty/stderr_is_tty) decide for the standard streams, so one
    # monkeypatch in a test means "this is a terminal" for the format and the colour alike.
    if stream is None or stream is sys.stdout:
        return stdout_is_tty()
    if stream is sys.stderr:
        return stderr_is_tty()
    return bool(getattr(stream, "isatty", lambda: False)())


def _console(stderr: bool = False, *, unlimited: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    color = color_enabled(stream)
    # Off a terminal rich would assume 80 columns and truncate cells; tables must never lose data.
    # On one, rich reads the width from COLUMNS or the terminal.
    tty = stderr_is_tty() if stderr else stdout_is_tty()
    width = None if tty and not unlimited else UNLIMITED
    return Console(
        file=stream,
        width=width,
        force_terminal=color or None,
        # No colour means no escape codes at all (not even bold), while a terminal keeps its
        # width and spinners.
        color_system="auto" if color else None,
        no_color=not color,
        highlight=False,
        soft_wrap=False,
    )


_ANSI = {"red": "31", "bold red": "1;31", "yellow": "33", "green": "32", "cyan": "36", "dim": "2"}


def _paint(text: str, style: str) -> str:
    code = _ANSI.get(style)
    if not code or not color_enabled(sys.stderr):
        return text
    return f"\x1b[{code}m{text}\x1b[0m"


def _err_line(text: str) -> None:
    with _lock:
        sys.stderr.write(redact(text) + "\n")
        sys.stderr.flush()


# -- messages on stderr ------------------------------------------------------------------------


def notice(message: str) -> None:
    _err_line(_paint(message, "dim"))


def banner(message: str) -> None:
    """A reminder for a person at a terminal (the sandbox notice); never written into a pipe
    or a log file, so scripts' stderr holds only warnings and errors."""
    if stderr_is_tty():
        notice(message)


def info(message: str) -> None:
    _err_line(message)


def warn(message: str) -> None:
    _err_line(_paint("Warning:", "yellow") + " " + message)


def success(message: str) -> None:
    _err_line(_paint("✓", "green") + " " + message)


def print_error(err: CliError, fmt: str = "text") -> None:
    """``Error: …`` + ``Hint: …``, or the JSON error object when the output is json/jsonl."""
    if fmt == "json":
        payload = {
            "error": {
                "code": err.code,
                "message": redact(err.message),
                "status": err.status,
                "hint": redact(err.hint) if err.hint else None,
            }
        }
        _err_line(json.dumps(payload, ensure_ascii=False))
        return
    _err_line(_paint("Error:", "bold red") + " " + err.message)
    if err.hint:
        _err_line(_paint("Hint:", "dim") + " " + err.hint)


def print_error_body(body: Any) -> None:
    """The API's own error answer (``instantly api``), as one JSON line on stderr."""
    _err_line(json.dumps(body, ensure_ascii=False, separators=(",", ":")))


def print_internal_error(exc: BaseException, fmt: str = "text") -> None:
    """An unexpected exception: one line, or (INSTANTLY_DEBUG=1) a traceback without locals."""
    if os.environ.get("INSTANTLY_DEBUG", "") not in ("", "0"):
        import traceback

        _err_line("".join(traceback.format_exception(exc)).rstrip())
    err = CliError(
        f"Internal error: {type(exc).__name__}: {exc}",
        hint="This is a bug in instantly-cli; rerun with INSTANTLY_DEBUG=1 and report the "
        "traceback.",
    )
    err.code = "internal_error"
    print_error(err, fmt)


def log_exchange(ex: Exchange) -> None:
    retry = f" retry {ex.attempt - 1}" if ex.attempt > 1 else ""
    _err_line(_paint(f"* {ex.method} {ex.target} → {ex.status} {ex.ms:.0f} ms{retry}", "dim"))


@contextmanager
def stdout_writes() -> Iterator[None]:
    """Around every write of data to stdout: a failure other than a reader that left (EPIPE)
    becomes :class:`StdoutError`, and stdout is pointed at devnull, so the bytes still buffered
    cannot fail again when the process exits (Python's "Exception ignored … OSError" trailer)."""
    try:
        yield
    except (BrokenPipeError, StdoutError):
        raise
    except OSError as exc:
        silence_broken_pipe()
        raise StdoutError(exc.errno, exc.strerror or str(exc)) from exc


def flush_stdout() -> None:
    """Push out what is still buffered: the command's output counts only once it is written."""
    _flush()


def silence_broken_pipe() -> None:
    """The reader went away (``| head``): point stdout at devnull so the exit flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# -- values ------------------------------------------------------------------------------------


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


def cell(column: Column, obj: Mapping[str, Any], short: bool = False) -> str:
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


# -- data on stdout ------------------------------------------------------------------------------


def _write(text: str) -> None:
    with _lock, sigint_deferred(), stdout_writes():
        sys.stdout.write(text)
        sys.stdout.flush()


def _flush() -> None:
    with _lock, sigint_deferred(), stdout_writes():
        sys.stdout.flush()


def _dumps_compact(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def emit_json(obj: Any) -> None:
    """One JSON document: pretty on a TTY, compact when piped."""
    if stdout_is_tty():
        _write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
    else:
        _write(_dumps_compact(obj) + "\n")
    _flush()


def emit_records(
    pages: Iterable[Sequence[Mapping[str, Any]]],
    fmt: str,
    columns: Sequence[Column],
    *,
    fields: Sequence[str] | None = None,
    title: str | None = None,
    empty_message: str | None = None,
    wide: bool = False,
) -> int:
    """Write records page by page in ``fmt``; streams every format but the table. Returns count.

    A table fits the terminal (see :class:`Column`) unless ``wide``. ``fields`` are checked
    against the first page (:func:`check_fields`) before anything is written.
    """
    cols = columns_for(fields, columns)
    count = 0
    if fmt == "table" or (fmt == "json" and stdout_is_tty()):
        rows: list[Mapping[str, Any]] = []
        for page in pages:
            rows.extend(page)
        check_fields(fields, rows[:100], columns)
        if fmt == "json":
            emit_json([pick(r, fields) if fields else r for r in rows])
            return len(rows)
        if rows:
            _table(rows, cols, title, wide=wide)
        elif empty_message:
            info(empty_message)
        return len(rows)
    # The opening ("[" or the CSV header) waits for the first page, so a request that fails
    # up front leaves stdout empty rather than holding half a document.
    opening = ""
    if fmt == "csv":
        buffer, writer = _csv_writer()
        writer.writerow([c.key for c in cols])
        opening = buffer.getvalue()
    elif fmt == "json":
        opening = "["
    first = True
    checked = False
    for page in pages:
        if not checked and (page or not fields):
            check_fields(fields, page[:100], columns)
            checked = True
        chunk: list[str] = [opening]
        opening = ""
        if fmt in ("json", "jsonl"):
            for record in page:
                line = _dumps_compact(pick(record, fields) if fields else record)
                if fmt == "json":
                    chunk.append(line if first else "," + line)
                    first = False
                else:
                    chunk.append(line + "\n")
        elif fmt == "csv":
            buffer, writer = _csv_writer()
            writer.writerows([cell(c, r) for c in cols] for r in page)
            chunk.append(buffer.getvalue())
        else:  # tsv: no header, tabs and newlines inside values escaped so columns never shift
            for record in page:
                chunk.append("\t".join(_tsv(cell(c, record)) for c in cols) + "\n")
        count += len(page)
        _write("".join(chunk))
        _flush()
    if not checked:
        check_fields(fields, [], columns)
    _write(opening + ("]\n" if fmt == "json" else ""))
    return count


def _csv_writer() -> tuple[Any, Any]:
    import csv
    import io

    buffer = io.StringIO()
    return buffer, csv.writer(buffer, lineterminator="\n")


def _tsv(value: str) -> str:
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        value = value.replace(raw, escaped)
    return value


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


def _build_table(
    rows: Sequence[Mapping[str, Any]],
    cols: Sequence[Column],
    title: str | None,
    width: int | None,
) -> Any:
    from rich.table import Table
    from rich.text import Text

    shown = [(c, False) for c in cols] if width is None else fit_columns(rows, cols, width)
    table = Table(title=title, header_style="bold", show_edge=False, pad_edge=False, box=None)
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
    previews, through the same code as :func:`emit_records`."""
    import io

    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, color_system=None, no_color=True, highlight=False,
        soft_wrap=False,
    )
    console.print(_build_table(rows, cols, title, width))
    return buffer.getvalue()


def _table(
    rows: Sequence[Mapping[str, Any]],
    cols: Sequence[Column],
    title: str | None,
    *,
    wide: bool = False,
) -> None:
    console = _console(unlimited=wide)
    fit = console.width < UNLIMITED
    with stdout_writes():
        console.print(_build_table(rows, cols, title, console.width if fit else None))


DetailRow = tuple[str, str, str]  # label, value, style


def emit_detail(title: str, sections: Sequence[tuple[str, Sequence[DetailRow]]]) -> None:
    """A key/value view of one object, in titled sections (for ``accounts get EMAIL``)."""
    from rich.table import Table
    from rich.text import Text

    # One grid for every section, so the values line up down the whole view.
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for heading, rows in sections:
        shown = [r for r in rows if r[1] != ""]
        if not shown:
            continue
        grid.add_row(Text(heading, style="bold cyan"), "")
        for label, value, style in shown:
            grid.add_row("  " + label, Text(value, style=style))
    console = _console()
    with stdout_writes():
        console.print(Text(title, style="bold"))
        console.print(grid)


def emit_kv(rows: Sequence[tuple[str, str]], fmt: str) -> None:
    """Simple key/value listing (``config show``): aligned on a TTY, CSV or TSV otherwise."""
    if fmt == "table":
        width = max((len(k) for k, _ in rows), default=0)
        for key, value in rows:
            _write(f"{key.ljust(width)}  {value}\n")
    elif fmt == "csv":
        buffer, writer = _csv_writer()
        writer.writerow(["key", "value"])
        writer.writerows(rows)
        _write(buffer.getvalue())
    else:
        for key, value in rows:
            _write(f"{_tsv(key)}\t{_tsv(value)}\n")
    _flush()


def emit_text(text: str) -> None:
    _write(text if text.endswith("\n") else text + "\n")
    _flush()


# -- interaction -------------------------------------------------------------------------------


def prompt_secret(text: str) -> str:
    """Read a secret without echo; the prompt goes to stderr."""
    import getpass

    return getpass.getpass(text + ": ", stream=sys.stderr)


def confirm(text: str) -> bool:
    with _lock:
        sys.stderr.write(f"{text} [y/N] ")
        sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


# -- bulk work ---------------------------------------------------------------------------------

OUTCOME_COLUMNS = [Column("email", "Email"), Column("result", "Result"), Column("error", "Error")]


def emit_outcomes(rows: Sequence[dict[str, Any]], fmt: str) -> None:
    """Per-target results of a bulk run: JSON/JSONL objects, or email/result/error rows."""
    if fmt == "json":
        emit_json(list(rows))
    else:
        emit_records([rows], fmt, OUTCOME_COLUMNS)


@contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (done/total, rate, failures, ETA) on a TTY; nothing otherwise.

    Yields ``advance(done, failed)``, safe to call from worker threads.
    """
    if total <= 1 or not sys.stderr.isatty():
        yield lambda done, failed: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    failures = [0]
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}/s"),
        TextColumn("[red]{task.fields[failed]} failed"),
        TimeRemainingColumn(),
    )
    started = time.monotonic()
    with Progress(*columns, console=_console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total, rate="0", failed=0)

        def advance(done: int, failed: int) -> None:
            with _lock:
                failures[0] += failed
                elapsed = max(time.monotonic() - started, 1e-6)
                completed = bar.tasks[0].completed + done
                bar.update(task, advance=done, failed=failures[0],
                           rate=f"{completed / elapsed:.0f}")

        yield advance


# -- dashboards (accounts summary) -----------------------------------------------------------------

DASHBOARD_MAX_WIDTH = 100


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
        eighths = round(self.fraction * width * 8)
        full, part = divmod(eighths, 8)
        text = "█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")
        if not text and self.fraction > 0:
            text = "▏"
        yield Segment(text.ljust(width), Style.parse(self.style) if self.style else None)


def _dashboard_console() -> Console:
    import shutil

    console = _console()
    # Panels fill the width: use the terminal's (COLUMNS wins), never the 4096 of pipes.
    console.width = min(shutil.get_terminal_size((80, 24)).columns, DASHBOARD_MAX_WIDTH)
    return console


def _section(section: Section) -> Any:
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
                Text(bar.label, style=bar.style),
                bar.value,
                Text(bar.note, style="dim"),
                _BarCell(bar.fraction, bar.style or "cyan"),
            )
        parts.append(grid)
    if section.rows:
        table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold",
                      expand=True)
        for i, c in enumerate(section.columns):
            table.add_column(c.header, justify=c.justify, no_wrap=True,  # type: ignore[arg-type]
                             overflow="ellipsis", ratio=1 if i == 0 else None)
        for n, row in enumerate(section.rows):
            style = section.styles[n] if n < len(section.styles) else ""
            table.add_row(*(Text(cell(c, row)) for c in section.columns), style=style)
        parts.append(table)
    for text, style in section.lines:
        parts.append(Text(text, style=style, no_wrap=True, overflow="ellipsis"))
    return Panel(Group(*parts), title=Text(section.title, style="bold"), title_align="left",
                 expand=True)


def emit_dashboard(title: str, sections: Sequence[Section]) -> None:
    """Panels with bars and small tables, one under the other, at most 100 columns wide."""
    from rich.text import Text

    console = _dashboard_console()
    with _lock, sigint_deferred(), stdout_writes():
        console.print(Text(title, style="bold", no_wrap=True, overflow="ellipsis"))
        for section in sections:
            console.print(_section(section))
    _flush()
