"""Fleet history: snapshots of a workspace's accounts in a local SQLite database. The only code
that touches the history database (the transitions between two states are
services/accounts/diff.py's).

One database per workspace the data came from (base URL + workspace, or the key's workspace
when none is set), in ``<state folder>/history/``. Changes are stored, not copies: a snapshot
row says when and how many; an account gets a ``changes`` row only when one of its tracked
fields differs from its previous row (``present = 0`` marks a removal). An account's state at a
snapshot is its newest row at or before that snapshot. ``current`` holds each account's newest
row, so recording compares against it without reading the history.

Every write is one transaction: a run either records its whole snapshot or nothing.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from instantly_cli.errors import CliError, UsageError, redact
from instantly_cli.services.accounts.summary import reason_text

SCHEMA_VERSION = 1
# Error texts are kept whole up to this length; longer ones are cut (the reason is in the head).
MAX_MESSAGE = 500
LOCK_TIMEOUT = 5.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY,
    taken_at TEXT NOT NULL,
    source TEXT NOT NULL,
    accounts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS emails (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS changes (
    email_id INTEGER NOT NULL,
    snapshot_id INTEGER NOT NULL,
    present INTEGER NOT NULL,
    status INTEGER, warmup_status INTEGER, score REAL, daily_limit REAL, warmup_limit REAL,
    provider INTEGER, tags TEXT, error_code TEXT, error_message TEXT,
    PRIMARY KEY (email_id, snapshot_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS current (
    email_id INTEGER PRIMARY KEY,
    snapshot_id INTEGER NOT NULL,
    present INTEGER NOT NULL,
    status INTEGER, warmup_status INTEGER, score REAL, daily_limit REAL, warmup_limit REAL,
    provider INTEGER, tags TEXT, error_code TEXT, error_message TEXT
);
"""
_FIELDS = ("status", "warmup_status", "score", "daily_limit", "warmup_limit", "provider", "tags",
           "error_code", "error_message")
_COLUMNS = ", ".join(_FIELDS)


class State(NamedTuple):
    """The tracked fields of one account (``tags`` is a sorted, comma-joined label list, or
    None when the listing did not include tags)."""

    status: Any
    warmup_status: Any
    score: float | None
    daily_limit: float | None
    warmup_limit: float | None
    provider: Any
    tags: str | None
    error_code: str | None
    error_message: str | None


class Snapshot(NamedTuple):
    id: int
    taken_at: str
    source: str
    accounts: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "taken_at": self.taken_at, "source": self.source,
                "accounts": self.accounts}


class HistoryError(CliError):
    """The history database cannot be read or written (exit 1; the run's output stands)."""

    code = "history_error"


# -- what is tracked ------------------------------------------------------------------------------


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _code(value: object) -> Any:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int | str) else None


# NamedTuple's own __new__ is a Python function; tuple's is not (10,000 states a pass).
_make_state: Any = functools.partial(tuple.__new__, State)


def state_of(account: Mapping[str, Any]) -> State:
    """The tracked fields of an account object as the API returns it. (The hot path of
    recording: exact type checks first, since JSON gives ints and dicts; the Mapping ABC's
    isinstance costs microseconds.)"""
    get = account.get
    status, warmup_status, provider = get("status"), get("warmup_status"), get("provider_code")
    score, limit, warmup = get("stat_warmup_score"), get("daily_limit"), get("warmup")
    wlimit = warmup.get("limit") if type(warmup) is dict else None
    tags = get("tags")
    labels: str | None = None
    if tags is not None and isinstance(tags, list):
        labels = ",".join(sorted(
            str(t.get("label") or t.get("id") or "") for t in tags if isinstance(t, dict)
        ))
    message = get("status_message")
    code: str | None = None
    text: str | None = None
    if message is not None:
        body, code = reason_text(message)
        # A server may echo a key or password in its error: history never stores it.
        text = redact(body)[:MAX_MESSAGE] if body else None
    state: State = _make_state((
        status if type(status) is int else _code(status),
        warmup_status if type(warmup_status) is int else _code(warmup_status),
        score if type(score) is int else _num(score),
        limit if type(limit) is int else _num(limit),
        wlimit if type(wlimit) is int else _num(wlimit),
        provider if type(provider) is int else _code(provider),
        labels,
        code,
        text,
    ))
    return state


_Page = TypeVar("_Page", bound=Sequence[Mapping[str, Any]])


class Recorder:
    """Collects the tracked state of every account of a full pass as it streams by: in
    ``states`` (in memory: what ``accounts diff`` compares), or, given a database ``path``,
    staged into it a batch at a time (memory stays flat however big the fleet). A database
    error while staging is kept and raised by :meth:`commit`, so the pass itself finishes."""

    def __init__(self, path: Path | None = None, batch: int = 1000) -> None:
        self.states: dict[str, State] = {}
        self.path = path
        self.batch = batch
        self.error: HistoryError | None = None
        # The snapshot this pass was recorded as (None: not recorded).
        self.recorded: Snapshot | None = None
        self._history: History | None = None
        self._buffer: list[tuple[Any, ...]] = []

    def watch_pages(self, pages: Iterable[_Page]) -> Iterator[_Page]:
        """Pages, each seen whole."""
        staging = self.path is not None
        for page in pages:
            rows = [(e.lower(), state_of(a)) for a in page
                    if isinstance(e := a.get("email"), str) and e]
            if staging:
                self._buffer.extend((e, *st) for e, st in rows)
                if len(self._buffer) >= self.batch:
                    self._flush()
            else:
                self.states.update(rows)
            yield page

    def _flush(self) -> None:
        if self.error is None and self.path is not None:
            try:
                if self._history is None:
                    self._history = History(self.path)
                self._history.stage(self._buffer)
            except HistoryError as exc:
                self.error = exc
        self._buffer.clear()

    def commit(self, source: str, now: datetime | None = None) -> Snapshot:
        """Record what was staged (one transaction); raises the first database error."""
        try:
            self._flush()
            if self.error is not None:
                raise self.error
            if self._history is None:
                raise HistoryError("Nothing was staged.")  # pragma: no cover - a caller's bug
            self.recorded = self._history.record_staged(source, now or datetime.now(UTC))
            return self.recorded
        finally:
            self.close()

    def close(self) -> None:
        if self._history is not None:
            self._history.close()
            self._history = None


# -- where ----------------------------------------------------------------------------------------


def history_path(
    state_dir: Path, base_url: str, workspace: str | None, api_key: str | None
) -> Path:
    """The database of one workspace. Without a workspace id the key's own workspace is meant:
    a one-way digest of the key stands for it (the file name never carries the key)."""
    who = f"workspace:{workspace}" if workspace else (
        "key:" + hashlib.sha256((api_key or "").encode()).hexdigest()
    )
    identity = f"{base_url.rstrip('/').lower()}|{who}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    host = re.sub(r"[^a-z0-9.-]+", "-", base_url.split("://", 1)[-1].lower()).strip("-.")
    return state_dir / "history" / f"{host[:60] or 'api'}-{digest}.sqlite3"


# -- --since and --keep ---------------------------------------------------------------------------

_AGE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.I)
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_age(text: str, option: str) -> timedelta:
    match = _AGE.match(text)
    if not match:
        raise UsageError(f"Invalid {option} '{text}'.",
                         hint=f"Give an age such as 12h, 1d, 7d or 4w: {option} 90d.")
    return int(match[1]) * _UNITS[match[2].lower()]


class Since(NamedTuple):
    """A parsed --since: a point in time, or a snapshot id (None and None: the previous one)."""

    at: datetime | None = None
    snapshot: int | None = None


def parse_since(text: str | None, now: datetime) -> Since:
    if text is None or not text.strip():
        return Since()
    text = text.strip()
    if text.isdigit():
        return Since(snapshot=int(text))
    if _AGE.match(text):
        return Since(at=now - parse_age(text, "--since"))
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"Invalid --since '{text}'.",
            hint="Give an age (1d, 7d, 12h), a date (2026-12-01, the start of that day in UTC) "
            "or a snapshot id from `instantly history list`.",
        ) from None
    return Since(at=datetime(day.year, day.month, day.day, tzinfo=UTC))


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- the database ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _guard(path: Path) -> Iterator[None]:
    """SQLite's errors as one clear message naming the file and the fix."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise HistoryError(
                f"The history database {path} is locked by another instantly process.",
                hint="Wait for it to finish and run again, or add --no-record to skip history.",
            ) from None
        raise _corrupt(path, exc) from None
    except sqlite3.DatabaseError as exc:
        raise _corrupt(path, exc) from None


def _corrupt(path: Path, exc: Exception) -> HistoryError:
    return HistoryError(
        f"The history database {path} cannot be used ({exc}).",
        hint=f"Move it aside (mv '{path}' '{path}.bad') and run again: a new history starts; "
        "or add --no-record to skip history.",
    )


class History:
    """One workspace's history. Use as a context manager; every method is one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: tuple[int | None, dict[str, tuple[Any, ...]]] | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Emails and error texts: readable by the user only (SQLite gives its -wal and
            # -shm files the database's mode).
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        except OSError as exc:
            raise HistoryError(f"Cannot create the history folder {path.parent}: {exc}.",
                               hint="Check the folder's permissions (instantly config path "
                               "--state).") from None
        with _guard(path):
            self.db = sqlite3.connect(path, timeout=LOCK_TIMEOUT, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL").fetchone()
            self.db.execute("PRAGMA synchronous=NORMAL")
            # The staged pass is a temporary table: in a file it spills past SQLite's page
            # cache (memory stays flat); in memory it held every account (+25 MiB at 100,000).
            self.db.execute("PRAGMA temp_store=FILE")
            self._migrate()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with _guard(self.path):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def _migrate(self) -> None:
        row = None
        with contextlib.suppress(sqlite3.OperationalError):
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is not None:
            if int(row[0]) > SCHEMA_VERSION:
                raise HistoryError(
                    f"The history database {self.path} was written by a newer instantly-cli.",
                    hint="Upgrade instantly-cli, or move the file aside to start a new history.",
                )
            return
        # CREATE ... IF NOT EXISTS: two processes creating the file at once both succeed.
        self.db.executescript(_SCHEMA)
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    # -- reading

    def snapshots(self) -> list[Snapshot]:
        with _guard(self.path):
            rows = self.db.execute(
                "SELECT id, taken_at, source, accounts FROM snapshots ORDER BY id"
            ).fetchall()
        return [Snapshot(*r) for r in rows]

    def base(self, since: Since) -> tuple[Snapshot | None, str | None]:
        """The snapshot to compare with, and a note when it is not the one asked for."""
        snaps = self.snapshots()
        if not snaps:
            return None, None
        if since.snapshot is not None:
            for snap in snaps:
                if snap.id == since.snapshot:
                    return snap, None
            raise UsageError(
                f"No snapshot {since.snapshot} in {self.path}.",
                hint="List them with `instantly history list`.",
            )
        if since.at is None:
            return snaps[-1], None
        limit = stamp(since.at)
        older = [s for s in snaps if s.taken_at <= limit]
        if older:
            return older[-1], None
        return snaps[0], (f"No snapshot is that old; comparing with the oldest, "
                          f"{snaps[0].id} of {snaps[0].taken_at}.")

    def states_at(self, snapshot_id: int) -> dict[str, State]:
        """Every account present at a snapshot: its newest row at or before it."""
        with _guard(self.path):
            newest = self.db.execute("SELECT MAX(id) FROM snapshots").fetchone()[0]
            if newest == snapshot_id:
                # The usual base (the previous run): each account's newest row, kept apart
                # (and kept here: recording this run compares with the same rows).
                current = self._current(newest)
                return {e: _make_state(r[3:]) for e, r in current.items() if r[2]}
            rows = self.db.execute(
                f"SELECT e.email, c.present, {', '.join('c.' + f for f in _FIELDS)} "
                "FROM changes c JOIN emails e ON e.id = c.email_id "
                "WHERE c.snapshot_id = (SELECT MAX(snapshot_id) FROM changes "
                "WHERE email_id = c.email_id AND snapshot_id <= ?)",
                (snapshot_id,),
            ).fetchall()
        return {r[0]: _make_state(r[2:]) for r in rows if r[1]}

    def _current(self, newest: int | None) -> dict[str, tuple[Any, ...]]:
        """Each account's newest row ``(email, id, present, *fields)`` as of snapshot
        ``newest``; read once per process unless another one recorded since."""
        if self._cache is not None and self._cache[0] == newest:
            return self._cache[1]
        rows = {
            r[0]: r
            for r in self.db.execute(
                f"SELECT e.email, e.id, c.present, {_COLUMNS} FROM current c "
                "JOIN emails e ON e.id = c.email_id"
            )
        }
        self._cache = (newest, rows)
        return rows

    def timeline(self, email: str) -> list[tuple[Snapshot, State | None]]:
        """One account's rows: the snapshot of each change and its state (None: removed)."""
        with _guard(self.path):
            rows = self.db.execute(
                f"SELECT s.id, s.taken_at, s.source, s.accounts, c.present, "
                f"{', '.join('c.' + f for f in _FIELDS)} FROM changes c "
                "JOIN emails e ON e.id = c.email_id JOIN snapshots s ON s.id = c.snapshot_id "
                "WHERE e.email = ? ORDER BY s.id",
                (email.strip().lower(),),
            ).fetchall()
        return [(Snapshot(*r[:4]), State(*r[5:]) if r[4] else None) for r in rows]

    # -- writing

    def stage(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Add ``(email, *fields)`` rows of the pass being read to a temporary table of this
        connection (no lock on the history: other processes go on reading and writing). No
        index while rows arrive: :meth:`record_staged` builds it once."""
        with _guard(self.path):
            self.db.execute(
                "CREATE TEMP TABLE IF NOT EXISTS staged (email TEXT, "
                "status INTEGER, warmup_status INTEGER, score REAL, daily_limit REAL, "
                "warmup_limit REAL, provider INTEGER, tags TEXT, error_code TEXT, "
                "error_message TEXT)"
            )
            marks = ", ".join("?" * (1 + len(_FIELDS)))
            # One transaction per batch (autocommit would be one per row); it touches only
            # the temporary database, so the history itself is not locked.
            self.db.execute("BEGIN")
            try:
                self.db.executemany(f"INSERT INTO temp.staged VALUES ({marks})", rows)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def record(self, states: Mapping[str, State], source: str, now: datetime) -> Snapshot:
        """Record a full pass held in memory (see :meth:`record_staged`)."""
        self.stage((email, *state) for email, state in states.items())
        return self.record_staged(source, now)

    def record_staged(self, source: str, now: datetime) -> Snapshot:
        """Record the staged pass in one transaction: a snapshot row, and a change row per
        account whose tracked fields differ from its newest row, or that appeared or
        disappeared. The comparison is SQL's, so memory does not grow with the fleet."""
        self.stage(())
        # A pass that did not list tags (NULL): they are unknown, not removed.
        staged = {f: f"s.{f}" for f in _FIELDS} | {"tags": "COALESCE(s.tags, c.tags)"}
        differs = " OR ".join(f"c.{f} IS NOT {staged[f]}" for f in _FIELDS)
        fields = ", ".join(staged.values())
        self._cache = None
        with self._tx() as db:
            # An account listed twice (merged streams) counts once: its last row wins.
            db.execute("CREATE INDEX IF NOT EXISTS temp.staged_email ON staged (email)")
            db.execute("DELETE FROM temp.staged WHERE EXISTS (SELECT 1 FROM temp.staged s2 "
                       "WHERE s2.email = staged.email AND s2.rowid > staged.rowid)")
            count = db.execute("SELECT COUNT(*) FROM temp.staged").fetchone()[0]
            cur = db.execute(
                "INSERT INTO snapshots (taken_at, source, accounts) VALUES (?, ?, ?)",
                (stamp(now), source, count),
            )
            snap_id = int(cur.lastrowid or 0)
            db.execute("INSERT OR IGNORE INTO emails (email) SELECT email FROM temp.staged")
            db.execute(
                f"INSERT INTO changes SELECT e.id, ?, 1, {fields} FROM temp.staged s "
                "JOIN emails e ON e.email = s.email LEFT JOIN current c ON c.email_id = e.id "
                f"WHERE c.email_id IS NULL OR c.present = 0 OR {differs}",
                (snap_id,),
            )
            db.execute(
                f"INSERT INTO changes SELECT c.email_id, ?, 0, {_COLUMNS} FROM current c "
                "JOIN emails e ON e.id = c.email_id WHERE c.present = 1 AND NOT EXISTS "
                "(SELECT 1 FROM temp.staged s WHERE s.email = e.email)",
                (snap_id,),
            )
            db.execute("INSERT OR REPLACE INTO current SELECT * FROM changes "
                       "WHERE snapshot_id = ?", (snap_id,))
            db.execute("DROP TABLE temp.staged")
            return Snapshot(snap_id, stamp(now), source, int(count))

    def prune(self, keep: timedelta, now: datetime) -> tuple[int, int]:
        """Forget snapshots older than ``keep``; each account's state at the oldest kept
        snapshot stays whole. Returns (snapshots removed, change rows removed)."""
        limit = stamp(now - keep)
        self._cache = None
        with self._tx() as db:
            kept = db.execute(
                "SELECT MIN(id) FROM snapshots WHERE taken_at >= ?", (limit,)
            ).fetchone()[0]
            if kept is None:
                # Nothing that recent: keep the newest snapshot, the base of the next diff.
                kept = db.execute("SELECT MAX(id) FROM snapshots").fetchone()[0]
            if kept is None:
                return 0, 0
            gone = db.execute("SELECT COUNT(*) FROM snapshots WHERE id < ?", (kept,)).fetchone()[0]
            before = db.execute("SELECT COUNT(*) FROM changes").fetchone()[0]
            # Each account's newest row before the kept snapshot becomes its row at it...
            db.execute(
                "UPDATE changes SET snapshot_id = ? WHERE snapshot_id < ? AND snapshot_id = "
                "(SELECT MAX(c2.snapshot_id) FROM changes c2 WHERE c2.email_id = changes.email_id "
                "AND c2.snapshot_id < ?) AND NOT EXISTS (SELECT 1 FROM changes c3 WHERE "
                "c3.email_id = changes.email_id AND c3.snapshot_id = ?)",
                (kept, kept, kept, kept),
            )
            # ... the older rows go, and so do accounts already removed by then.
            db.execute("DELETE FROM changes WHERE snapshot_id < ?", (kept,))
            db.execute("DELETE FROM changes WHERE snapshot_id = ? AND present = 0", (kept,))
            db.execute("DELETE FROM snapshots WHERE id < ?", (kept,))
            db.execute("DELETE FROM current WHERE email_id NOT IN "
                       "(SELECT DISTINCT email_id FROM changes)")
            db.execute("DELETE FROM emails WHERE id NOT IN (SELECT email_id FROM current)")
            after = db.execute("SELECT COUNT(*) FROM changes").fetchone()[0]
        with _guard(self.path):
            self.db.execute("VACUUM")
        return int(gone), int(before - after)


def record_pass(
    path: Path, states: Mapping[str, State], source: str, now: datetime | None = None
) -> Snapshot:
    with History(path) as history:
        return history.record(states, source, now or datetime.now(UTC))


# -- as JSON --------------------------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A stored number as JSON gives it: whole numbers as integers."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def state_json(state: State | None) -> dict[str, Any] | None:
    """A state as JSON (whole numbers as integers)."""
    if state is None:
        return None
    return {f: json_value(getattr(state, f)) for f in _FIELDS}
