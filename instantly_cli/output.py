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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from instantly_cli.columns import (
    OUTCOME_COLUMNS,
    Column,
    DetailRow,
    build_table,
    check_fields,
    columns_for,
    csv_cell,
    csv_text,
    field_names,
    fit_columns,
    hidden_note,
    pick,
    raw_cell,
    safe,
    safe_message,
    tsv_text,
)
from instantly_cli.enums import OUTPUT_FORMAT
from instantly_cli.errors import CliError, StdoutError, UsageError, redact
from instantly_cli.interrupts import sigint_deferred
from instantly_cli.terminal import Terminal, isatty, wants_color

if TYPE_CHECKING:
    from rich.console import Console

    from instantly_cli.asking import Tty
    from instantly_cli.dashboard import Section
    from instantly_cli.schema import Exchange

FORMATS = tuple(OUTPUT_FORMAT.names)
# The width of a "terminal" that is not one (a pipe, a file): nothing is cut or dropped.
UNLIMITED = 4096
_lock = threading.RLock()


# -- the output object: streams, terminal facts, width and colour, resolved once -----------------


# eq/repr: never compared or printed; skipping them keeps start-up cheap.
@dataclass(repr=False, eq=False)
class Output:
    """What one command writes to and how: resolved once, when the command starts.

    ``columns`` is the terminal's width (``COLUMNS`` wins); a table that is not on a terminal is
    never cut. The format the command chose (:meth:`choose`) is kept on the context's
    ``Runtime``, where the error handler reads it.
    """

    stdin: Any
    stdout: Any
    stderr: Any
    stdin_tty: bool
    stdout_tty: bool
    stderr_tty: bool
    color: bool
    err_color: bool
    columns: int
    open_tty: Callable[[], Tty | None] | None = None

    @classmethod
    def resolve(cls, terminal: Terminal | None = None) -> Output:
        import shutil

        term = terminal or Terminal()
        stdin = term.stdin if term.stdin is not None else sys.stdin
        stdout = term.stdout if term.stdout is not None else sys.stdout
        stderr = term.stderr if term.stderr is not None else sys.stderr
        stdout_tty = isatty(stdout, term.stdout_isatty)
        stderr_tty = isatty(stderr, term.stderr_isatty)
        return cls(
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            stdin_tty=isatty(stdin, term.stdin_isatty),
            stdout_tty=stdout_tty,
            stderr_tty=stderr_tty,
            color=wants_color(stdout_tty),
            err_color=wants_color(stderr_tty),
            columns=shutil.get_terminal_size((80, 24)).columns,
            open_tty=term.open_tty,
        )

    def choose(self, output: str | None, json_output: bool = False) -> str:
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
            chosen = "table" if self.stdout_tty else "tsv"
        return chosen


# The output of the command running now (installed by the context, one per invocation); a
# function called outside a command resolves the process's streams.
_installed: list[Output] = []


def current() -> Output:
    return _installed[-1] if _installed else Output.resolve()


def install(out: Output) -> Callable[[], None]:
    """Make ``out`` the output of the command starting now; returns what removes it."""
    _installed.append(out)
    return lambda: _installed.remove(out) if out in _installed else None


def stdout_is_tty() -> bool:
    return current().stdout_tty


def stderr_is_tty() -> bool:
    return current().stderr_tty


def stdin_is_tty() -> bool:
    return current().stdin_tty


def _console(stderr: bool = False, *, unlimited: bool = False) -> Console:
    from rich.console import Console

    out = current()
    stream, color, tty = (
        (out.stderr, out.err_color, out.stderr_tty)
        if stderr
        else (out.stdout, out.color, out.stdout_tty)
    )
    # Off a terminal rich would assume 80 columns and truncate cells; tables must never lose data.
    width = out.columns if tty and not unlimited else UNLIMITED
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
    if not code or not current().err_color:
        return text
    return f"\x1b[{code}m{text}\x1b[0m"


def _err_line(text: str) -> None:
    stderr = current().stderr
    with _lock:
        stderr.write(redact(text) + "\n")
        stderr.flush()


# -- messages on stderr ------------------------------------------------------------------------


# Messages are escaped (safe_message) before painting: only the tool's colours reach a terminal.
def notice(message: str) -> None:
    _err_line(_paint(safe_message(message), "dim"))


def banner(message: str) -> None:
    """A reminder for a person at a terminal (the sandbox notice); never written into a pipe
    or a log file, so scripts' stderr holds only warnings and errors."""
    if stderr_is_tty():
        notice(message)


def info(message: str) -> None:
    _err_line(safe_message(message))


def warn(message: str) -> None:
    _err_line(_paint("Warning:", "yellow") + " " + safe_message(message))


def success(message: str) -> None:
    _err_line(_paint("✓", "green") + " " + safe_message(message))


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
    _err_line(_paint("Error:", "bold red") + " " + safe_message(err.message))
    if err.hint:
        _err_line(_paint("Hint:", "dim") + " " + safe_message(err.hint))


def print_error_body(body: Any) -> None:
    """The API's own error answer (``instantly api``), as one JSON line on stderr."""
    _err_line(json.dumps(body, ensure_ascii=False, separators=(",", ":")))


def print_internal_error(exc: BaseException, fmt: str = "text") -> None:
    """An unexpected exception: one line, or (INSTANTLY_DEBUG=1) a traceback without locals."""
    if os.environ.get("INSTANTLY_DEBUG", "") not in ("", "0"):
        import traceback

        _err_line(safe_message("".join(traceback.format_exception(exc)).rstrip()))
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


# -- data on stdout ------------------------------------------------------------------------------


def _write(text: str) -> None:
    stdout = current().stdout
    with _lock, sigint_deferred(), stdout_writes():
        stdout.write(text)
        stdout.flush()


def _flush() -> None:
    stdout = current().stdout
    with _lock, sigint_deferred(), stdout_writes():
        stdout.flush()


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
    wide: bool | None = None,
) -> int:
    """Write records page by page in ``fmt``; streams every format but the table. Returns count.

    A table fits the terminal (see :class:`Column`) unless ``wide``; None: the command has no
    ``--wide`` (the note on hidden columns then points to ``-o tsv``). ``fields`` are checked
    against the first page (:func:`check_fields`) before anything is written.
    """
    fields = field_names(fields, columns)
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
            writer.writerows([csv_cell(c, r) for c in cols] for r in page)
            chunk.append(buffer.getvalue())
        else:  # tsv: no header, tabs and newlines inside values escaped so columns never shift
            for record in page:
                chunk.append("\t".join(tsv_text(raw_cell(c, record)) for c in cols) + "\n")
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


def _table(
    rows: Sequence[Mapping[str, Any]],
    cols: Sequence[Column],
    title: str | None,
    *,
    wide: bool | None = None,
) -> None:
    console = _console(unlimited=bool(wide))
    fit = console.width < UNLIMITED
    shown = fit_columns(rows, cols, console.width) if fit else None
    with stdout_writes():
        console.print(build_table(rows, cols, title, console.width if fit else None, shown))
    if shown is not None and (
        note := hidden_note(cols, shown, console.width, has_wide=wide is not None)
    ):
        notice(note)


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
        grid.add_row(Text(safe(heading), style="bold cyan"), "")
        for label, value, style in shown:
            grid.add_row("  " + safe(label), Text(safe(value), style=style))
    console = _console()
    with stdout_writes():
        console.print(Text(safe(title), style="bold"))
        console.print(grid)


def emit_kv(rows: Sequence[tuple[str, str]], fmt: str) -> None:
    """Simple key/value listing (``config show``): aligned on a TTY, CSV or TSV otherwise."""
    if fmt == "table":
        width = max((len(k) for k, _ in rows), default=0)
        for key, value in rows:
            _write(f"{safe(key).ljust(width)}  {safe(value)}\n")
    elif fmt == "csv":
        buffer, writer = _csv_writer()
        writer.writerow(["key", "value"])
        writer.writerows([csv_text(safe(k)), csv_text(safe(v))] for k, v in rows)
        _write(buffer.getvalue())
    else:
        for key, value in rows:
            _write(f"{tsv_text(key)}\t{tsv_text(value)}\n")
    _flush()


def emit_text(text: str) -> None:
    _write(text if text.endswith("\n") else text + "\n")
    _flush()


# -- interaction -------------------------------------------------------------------------------


def prompt_secret(text: str) -> str:
    """Read a secret without echo; the prompt goes to stderr."""
    out = current()
    if not isatty(out.stdin, None):
        # A terminal only by the facts handed in (a test): nothing to hide the input from.
        with _lock:
            out.stderr.write(text + ": ")
            out.stderr.flush()
        return str(out.stdin.readline()).rstrip("\r\n")
    import getpass

    return getpass.getpass(text + ": ", stream=out.stderr)


# -- bulk work ---------------------------------------------------------------------------------


def emit_outcomes(rows: Sequence[dict[str, Any]], fmt: str) -> None:
    """Per-target results of a bulk run: JSON/JSONL objects, or email/result/error rows."""
    emit_records([rows], fmt, OUTCOME_COLUMNS)


@contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (done/total, rate, failures, ETA) on a TTY; nothing otherwise.

    Yields ``advance(done, failed)``, safe to call from worker threads.
    """
    if total <= 1 or not current().stderr_tty:
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


def _dashboard_console() -> Console:
    console = _console()
    # Panels fill the width: use the terminal's (COLUMNS wins), never the 4096 of pipes.
    console.width = min(current().columns, DASHBOARD_MAX_WIDTH)
    return console


def emit_dashboard(title: str, sections: Sequence[Section]) -> None:
    """Panels with bars and small tables, one under the other, at most 100 columns wide."""
    from rich.text import Text

    from instantly_cli.dashboard import render_section

    console = _dashboard_console()
    with _lock, sigint_deferred(), stdout_writes():
        console.print(Text(safe(title), style="bold", no_wrap=True, overflow="ellipsis"))
        for section in sections:
            console.print(render_section(section, console.width))
    _flush()
