"""SQLite-backed state for the sandbox (the seed data itself lives in ``seed.py``).

Accounts are stored as a JSON blob with the columns needed for filtering, sorting and cursor
paging copied out and indexed, so paging 100,000 accounts never scans the table per page.
Every public method takes one ``threading.RLock`` (threads of one server) and writes run inside
``BEGIN IMMEDIATE`` transactions (separate processes sharing a file DB, WAL mode).

Filter semantics chosen for ``ACC_FILTER_*`` (the API does not document them):
PAUSED status 2 · ERROR status < 0 · NO_CTD no tracking domain · PW_ACCOUNTS provider 8/11
(AirMail, sold pre-warmed) · DFY ``is_managed_account`` · DFY_SETUP_PENDING managed and
``setup_pending`` · W_ACTIVE warmup 1 · W_PAUSED warmup 0 · W_ERROR warmup < 0.
"""

from __future__ import annotations

import json
import random
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .seed import (
    BASE_MAPPINGS,
    BASE_TAGS,
    FIXED_ACCOUNTS,
    ORG_ID,
    SEED,
    SEED_CAMPAIGN_ID,
    SEED_TAGS,
    USER_ID,
    iso,
    make_account,
    seeded_uuid,
    tag_members,
)

__all__ = [
    "ACCOUNT_FILTERS",
    "FIXED_ACCOUNTS",
    "ORG_ID",
    "SEED_CAMPAIGN_ID",
    "SEED_TAGS",
    "SORT_COLUMNS",
    "USER_ID",
    "AccountQuery",
    "ConflictError",
    "InvalidError",
    "NotFoundError",
    "Store",
    "iso",
]

ACCOUNT_FILTERS: dict[str, str] = {
    "ACC_FILTER_PAUSED": "status = 2",
    "ACC_FILTER_ERROR": "status < 0",
    "ACC_FILTER_NO_CTD": "ctd IS NULL",
    "ACC_FILTER_PW_ACCOUNTS": "provider_code IN (8, 11)",
    "ACC_FILTER_DFY": "managed = 1",
    "ACC_FILTER_DFY_SETUP_PENDING": "managed = 1 AND setup_pending = 1",
    "ACC_FILTER_W_ACTIVE": "warmup_status = 1",
    "ACC_FILTER_W_PAUSED": "warmup_status = 0",
    "ACC_FILTER_W_ERROR": "warmup_status < 0",
}
SORT_COLUMNS = {
    "timestamp_created": "ts",
    "email": "email",
    "stat_warmup_score": "score",
    "status": "status",
}


class StoreError(Exception):
    """Base of the errors the app turns into envelopes."""


class NotFoundError(StoreError):
    """The addressed resource does not exist."""


class ConflictError(StoreError):
    """A uniqueness rule was violated."""


class InvalidError(StoreError):
    """The request is well-formed but cannot be applied."""


@dataclass
class AccountQuery:
    """Parameters of an account listing (already validated by the app)."""

    limit: int = 100
    starting_after: str | None = None
    search: str | None = None
    status: int | None = None
    provider_code: int | None = None
    tag_ids: Sequence[str] = ()
    tag_ids_all: Sequence[str] = ()
    filter: str | None = None
    sort_by: str | None = None
    sort_order: str | None = None
    skip: int = 0
    include_tags: bool = False


def _casefold(value: object) -> str | None:
    return value.casefold() if isinstance(value, str) else None


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _columns(acc: dict[str, Any]) -> tuple[Any, ...]:
    """Indexed columns of an account row, in table order after ``email``."""
    search = " ".join((acc["email"], acc.get("first_name") or "", acc.get("last_name") or ""))
    return (
        acc["timestamp_created"],
        acc["status"],
        acc["warmup_status"],
        acc["provider_code"],
        acc.get("stat_warmup_score"),
        acc.get("tracking_domain_name") or None,
        1 if acc.get("is_managed_account") else 0,
        1 if acc.get("setup_pending") else 0,
        search.casefold(),
        _dumps(acc),
    )


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    email TEXT PRIMARY KEY,
    ts TEXT NOT NULL,
    status INTEGER NOT NULL,
    warmup_status INTEGER NOT NULL,
    provider_code INTEGER NOT NULL,
    score REAL,
    ctd TEXT,
    managed INTEGER NOT NULL,
    setup_pending INTEGER NOT NULL,
    search TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    norm TEXT NOT NULL UNIQUE,
    description TEXT,
    ts_created TEXT NOT NULL,
    ts_updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mappings (
    id TEXT PRIMARY KEY,
    tag_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource_type INTEGER NOT NULL,
    ts_created TEXT NOT NULL,
    UNIQUE (tag_id, resource_type, resource_id)
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    emails TEXT NOT NULL,
    missing TEXT NOT NULL,
    data TEXT NOT NULL
);
"""


# Built after a bulk seed rather than maintained row by row: several times faster.
_INDEXES = {
    "accounts_cursor": "accounts (ts, email)",
    "accounts_status": "accounts (status, email)",
    "accounts_score": "accounts (score, email)",
    "mappings_resource": "mappings (resource_id, resource_type)",
}


def _norm(label: str) -> str:
    return label.strip().casefold()


class Store:
    """The sandbox's state: accounts, tags, mappings and background jobs."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._lock = threading.RLock()
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE) so that concurrent
        # processes serialise their read-modify-write cycles.
        self._conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30
        )
        # SQLite's lower() folds only ASCII; the API's search is case-insensitive for "É" too.
        self._conn.create_function("casefold", 1, _casefold, deterministic=True)
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._create_indexes(self._conn)
        self._last_stamp = ""

    # -- plumbing -----------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _now(self) -> str:
        """Wall-clock timestamp, strictly increasing so every update is visible."""
        stamp = iso(datetime.now(UTC))
        if stamp <= self._last_stamp:
            last = datetime.strptime(self._last_stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
            stamp = iso(last.replace(tzinfo=UTC) + timedelta(milliseconds=1))
        self._last_stamp = stamp
        return stamp

    @staticmethod
    def _create_indexes(conn: sqlite3.Connection) -> None:
        for name, target in _INDEXES.items():
            conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    # -- seeding ------------------------------------------------------------------------

    def ensure_seeded(self, accounts: int = 120) -> None:
        """Seed the deterministic data set unless the store was seeded before."""
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM meta WHERE key = 'seeded'").fetchone() is None:
                self._seed(conn, accounts)

    def reset(self, accounts: int = 120) -> None:
        """Wipe everything and seed again."""
        with self._tx() as conn:
            for table in ("meta", "accounts", "tags", "mappings", "jobs"):
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            self._seed(conn, accounts)

    def _seed(self, conn: sqlite3.Connection, count: int) -> None:
        for name in _INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        rng = random.Random(SEED)
        tag_rng = random.Random(SEED + 1)
        tag_ids = [seeded_uuid(tag_rng) for _ in SEED_TAGS]
        tag_rows = []
        for k, ((label, description), tag_id) in enumerate(zip(SEED_TAGS, tag_ids, strict=True)):
            stamp = iso(BASE_TAGS + timedelta(hours=k))
            tag_rows.append((tag_id, label, _norm(label), description, stamp, stamp))
        conn.executemany("INSERT INTO tags VALUES (?, ?, ?, ?, ?, ?)", tag_rows)
        rows = []
        mappings = []
        map_stamp = iso(BASE_MAPPINGS)
        for i in range(count):
            acc = make_account(i, rng)
            rows.append((acc["email"], *_columns(acc)))
            for t in tag_members(i, acc):
                mappings.append((seeded_uuid(tag_rng), tag_ids[t], acc["email"], 1, map_stamp))
        mappings.append((seeded_uuid(tag_rng), tag_ids[0], SEED_CAMPAIGN_ID, 2, map_stamp))
        conn.executemany("INSERT INTO accounts VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.executemany("INSERT INTO mappings VALUES (?, ?, ?, ?, ?)", mappings)
        conn.execute("INSERT INTO meta VALUES ('seeded', ?)", (str(count),))
        self._create_indexes(conn)

    def seed_extra_tags(self, count: int, map_to: Sequence[str] = ()) -> list[str]:
        """Create ``count`` tags ("Bulk tag 0001"…) each mapped to every email in ``map_to``."""
        rng = random.Random(f"extra-{count}-{len(map_to)}")
        ids = []
        with self._tx() as conn:
            start = conn.execute("SELECT COUNT(*) FROM tags").fetchone()[0]
            stamp = self._now()
            for k in range(count):
                tag_id = seeded_uuid(rng)
                label = f"Bulk tag {start + k:04d}"
                conn.execute(
                    "INSERT INTO tags VALUES (?, ?, ?, ?, ?, ?)",
                    (tag_id, label, _norm(label), None, stamp, stamp),
                )
                conn.executemany(
                    "INSERT INTO mappings VALUES (?, ?, ?, 1, ?)",
                    [(seeded_uuid(rng), tag_id, email, stamp) for email in map_to],
                )
                ids.append(tag_id)
        return ids

    # -- accounts -----------------------------------------------------------------------

    def _where(
        self,
        *,
        search: str | None = None,
        status: int | None = None,
        provider_code: int | None = None,
        tag_ids: Sequence[str] = (),
        tag_ids_all: Sequence[str] = (),
        no_tag: bool = False,
        filter: str | None = None,
    ) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if search:
            clauses.append("instr(search, ?) > 0")
            params.append(search.casefold())
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if provider_code is not None:
            clauses.append("provider_code = ?")
            params.append(provider_code)
        if tag_ids:
            marks = ",".join("?" * len(tag_ids))
            clauses.append(
                "email IN (SELECT resource_id FROM mappings "
                f"WHERE resource_type = 1 AND tag_id IN ({marks}))"
            )
            params.extend(tag_ids)
        if tag_ids_all:
            unique = sorted(set(tag_ids_all))
            marks = ",".join("?" * len(unique))
            clauses.append(
                "email IN (SELECT resource_id FROM mappings "
                f"WHERE resource_type = 1 AND tag_id IN ({marks}) "
                "GROUP BY resource_id HAVING COUNT(DISTINCT tag_id) = ?)"
            )
            params.extend([*unique, len(unique)])
        if no_tag:
            clauses.append(
                "email NOT IN (SELECT resource_id FROM mappings WHERE resource_type = 1)"
            )
        if filter:
            clauses.append(f"({ACCOUNT_FILTERS[filter]})")
        return clauses, params

    def list_accounts(self, q: AccountQuery) -> tuple[list[dict[str, Any]], str | None]:
        """One page of accounts and the cursor for the next page (None when none remain).

        Without ``sort_by`` the order is (timestamp_created, email), descending unless
        ``sort_order=asc``, and paging is by cursor. With ``sort_by`` paging is by ``skip``
        and no cursor is returned.
        """
        clauses, params = self._where(
            search=q.search,
            status=q.status,
            provider_code=q.provider_code,
            tag_ids=q.tag_ids,
            tag_ids_all=q.tag_ids_all,
            filter=q.filter,
        )
        direction = "ASC" if q.sort_order == "asc" else "DESC"
        if q.sort_by:
            col = SORT_COLUMNS[q.sort_by]
            order = f"{col} {direction}" + ("" if col == "email" else f", email {direction}")
        else:
            order = f"ts {direction}, email {direction}"
            if q.starting_after:
                ts, sep, email = q.starting_after.partition("&")
                op = ">" if direction == "ASC" else "<"
                if sep:
                    clauses.append(f"(ts, email) {op} (?, ?)")
                    params.extend([ts, email])
                else:
                    # Legacy cursor: a bare ISO timestamp.
                    clauses.append(f"ts {op} ?")
                    params.append(ts)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT data FROM accounts {where} ORDER BY {order} LIMIT ? OFFSET ?"
        with self._lock:
            rows = self._conn.execute(sql, [*params, q.limit + 1, q.skip]).fetchall()
            items = [json.loads(r[0]) for r in rows[: q.limit]]
            if q.include_tags:
                self._attach_tags(items)
        more = len(rows) > q.limit
        cursor = None
        if more and items and not q.sort_by:
            cursor = f"{items[-1]['timestamp_created']}&{items[-1]['email']}"
        return items, cursor

    def _attach_tags(self, items: list[dict[str, Any]]) -> None:
        emails = [it["email"] for it in items]
        by_email: dict[str, list[dict[str, Any]]] = {e: [] for e in emails}
        for chunk in range(0, len(emails), 500):
            part = emails[chunk : chunk + 500]
            marks = ",".join("?" * len(part))
            sql = (
                "SELECT m.resource_id, t.id, t.label, t.description FROM mappings m "
                "JOIN tags t ON t.id = m.tag_id "
                f"WHERE m.resource_type = 1 AND m.resource_id IN ({marks}) ORDER BY t.label"
            )
            for email, tag_id, label, description in self._conn.execute(sql, part):
                by_email[email].append({"id": tag_id, "label": label, "description": description})
        for it in items:
            it["tags"] = by_email[it["email"]]

    def select_emails(
        self,
        *,
        search: str | None = None,
        filter: str | None = None,
        tag_ids: Sequence[str] = (),
        tag_ids_all: Sequence[str] = (),
        no_tag: bool = False,
        excluded: Sequence[str] = (),
    ) -> list[str]:
        """Every email matching a bulk selection ("all accounts" minus exclusions)."""
        clauses, params = self._where(
            search=search, filter=filter, tag_ids=tag_ids, tag_ids_all=tag_ids_all, no_tag=no_tag
        )
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._conn.execute(f"SELECT email FROM accounts {where}", params).fetchall()
        skip = set(excluded)
        return [r[0] for r in rows if r[0] not in skip]

    def count_accounts(self) -> int:
        """Number of accounts."""
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0])

    def get_account(self, email: str) -> dict[str, Any] | None:
        """One account, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT data FROM accounts WHERE email = ?", (email,)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def _load(self, conn: sqlite3.Connection, email: str) -> dict[str, Any]:
        row = conn.execute("SELECT data FROM accounts WHERE email = ?", (email,)).fetchone()
        if row is None:
            raise NotFoundError(f"Account not found: {email}")
        return dict(json.loads(row[0]))

    def _save(self, conn: sqlite3.Connection, acc: dict[str, Any]) -> None:
        cols = _columns(acc)
        conn.execute(
            "UPDATE accounts SET ts=?, status=?, warmup_status=?, provider_code=?, score=?, "
            "ctd=?, managed=?, setup_pending=?, search=?, data=? WHERE email=?",
            (*cols, acc["email"]),
        )

    def patch_account(self, email: str, body: dict[str, Any]) -> dict[str, Any]:
        """Apply a validated PATCH body: top level replaces, ``warmup`` and ``advanced`` merge."""
        with self._tx() as conn:
            acc = self._load(conn, email)
            for key, value in body.items():
                if key == "warmup":
                    warmup = dict(acc.get("warmup") or {})
                    for wkey, wvalue in value.items():
                        if wkey == "advanced":
                            warmup["advanced"] = {**(warmup.get("advanced") or {}), **wvalue}
                        else:
                            warmup[wkey] = wvalue
                    acc["warmup"] = warmup
                elif key not in ("skip_cname_check", "remove_tracking_domain"):
                    acc[key] = value
            # Applied last so it wins over a tracking_domain_name sent in the same body.
            if body.get("remove_tracking_domain") is True:
                acc["tracking_domain_name"] = None
                acc["tracking_domain_status"] = None
            acc["timestamp_updated"] = self._now()
            acc["modified_by"] = USER_ID
            self._save(conn, acc)
        return acc

    def set_status(self, email: str, status: int) -> dict[str, Any]:
        """Pause (2) or resume (1) one account."""
        with self._tx() as conn:
            acc = self._load(conn, email)
            self._apply_status(acc, status)
            self._save(conn, acc)
        return acc

    def _apply_status(self, acc: dict[str, Any], status: int) -> None:
        acc["status"] = status
        acc.pop("status_message", None)
        acc["timestamp_updated"] = self._now()

    def pause_many(self, emails: Sequence[str]) -> tuple[list[str], list[str]]:
        """Bulk pause: (paused_emails, failed_emails)."""
        paused: list[str] = []
        failed: list[str] = []
        with self._tx() as conn:
            for email in emails:
                try:
                    acc = self._load(conn, email)
                except NotFoundError:
                    failed.append(email)
                    continue
                self._apply_status(acc, 2)
                self._save(conn, acc)
                paused.append(email)
        return paused, failed

    # -- background jobs ----------------------------------------------------------------

    def create_warmup_job(self, action: str, emails: Sequence[str]) -> dict[str, Any]:
        """Queue a warmup enable/disable job (``action`` is "enable" or "disable")."""
        unique = list(dict.fromkeys(emails))
        with self._tx() as conn:
            missing = [
                e
                for e in unique
                if conn.execute("SELECT 1 FROM accounts WHERE email = ?", (e,)).fetchone() is None
            ]
            now = self._now()
            job: dict[str, Any] = {
                "id": secrets.token_hex(12),
                "workspace_id": ORG_ID,
                "user_id": USER_ID,
                "type": "update-warmup-accounts",
                "entity_id": ORG_ID,
                "entity_type": "workspace",
                "data": {"action": action, "total": len(unique)},
                "progress": 0,
                "status": "pending",
                "created_at": now,
                "updated_at": now,
            }
            conn.execute(
                "INSERT INTO jobs VALUES (?, ?, ?, ?, ?)",
                (job["id"], action, _dumps(unique), _dumps(missing), _dumps(job)),
            )
        return job

    def poll_job(self, job_id: str) -> dict[str, Any]:
        """Return a job, advancing it one step: pending → in-progress → success/failed."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT action, emails, missing, data FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"Background job not found: {job_id}")
            action, emails, missing, data = row[0], json.loads(row[1]), json.loads(row[2]), row[3]
            job: dict[str, Any] = json.loads(data)
            if job["status"] == "pending":
                job.update(status="in-progress", progress=50, updated_at=self._now())
            elif job["status"] == "in-progress":
                if missing:
                    job["status"] = "failed"
                    job["data"]["error"] = "Accounts not found: " + ", ".join(missing)
                else:
                    warmup_status = 1 if action == "enable" else 0
                    now = self._now()
                    for email in emails:
                        acc = self._load(conn, email)
                        acc["warmup_status"] = warmup_status
                        if warmup_status == 1 and not acc.get("timestamp_warmup_start"):
                            acc["timestamp_warmup_start"] = now
                        acc["timestamp_updated"] = now
                        self._save(conn, acc)
                    job.update(status="success", progress=100)
                job["updated_at"] = self._now()
            else:
                return job
            conn.execute("UPDATE jobs SET data = ? WHERE id = ?", (_dumps(job), job_id))
        return job

    # -- tags -----------------------------------------------------------------------------

    @staticmethod
    def _tag(row: Sequence[Any]) -> dict[str, Any]:
        return {
            "id": row[0],
            "timestamp_created": row[1],
            "timestamp_updated": row[2],
            "organization_id": ORG_ID,
            "label": row[3],
            "description": row[4],
        }

    _TAG_COLS = "id, ts_created, ts_updated, label, description"

    def list_tags(
        self,
        *,
        limit: int = 100,
        starting_after: str | None = None,
        search: str | None = None,
        resource_ids: Sequence[str] = (),
        tag_ids: Sequence[str] = (),
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of tags ordered by id; the cursor is the last id."""
        clauses: list[str] = []
        params: list[Any] = []
        if starting_after:
            clauses.append("id > ?")
            params.append(starting_after)
        if search:
            clauses.append("instr(casefold(label), ?) > 0")
            params.append(search.casefold())
        if tag_ids:
            clauses.append(f"id IN ({','.join('?' * len(tag_ids))})")
            params.extend(tag_ids)
        if resource_ids:
            marks = ",".join("?" * len(resource_ids))
            clauses.append(f"id IN (SELECT tag_id FROM mappings WHERE resource_id IN ({marks}))")
            params.extend(resource_ids)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {self._TAG_COLS} FROM tags {where} ORDER BY id LIMIT ?"
        with self._lock:
            rows = self._conn.execute(sql, [*params, limit + 1]).fetchall()
        items = [self._tag(r) for r in rows[:limit]]
        return items, (items[-1]["id"] if len(rows) > limit and items else None)

    def get_tag(self, tag_id: str) -> dict[str, Any]:
        """One tag (NotFoundError when absent)."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {self._TAG_COLS} FROM tags WHERE id = ?", (tag_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"Custom tag not found: {tag_id}")
        return self._tag(row)

    def _check_label(self, conn: sqlite3.Connection, label: str, own_id: str | None) -> None:
        row = conn.execute("SELECT id, label FROM tags WHERE norm = ?", (_norm(label),)).fetchone()
        if row is not None and row[0] != own_id:
            raise ConflictError(f"A tag with this name already exists: '{row[1]}'")

    def create_tag(self, label: str, description: str | None = None) -> dict[str, Any]:
        """Create a tag; the trimmed label must be unique case-insensitively."""
        label = label.strip()
        if not label:
            raise InvalidError("body/label must not be blank")
        with self._tx() as conn:
            self._check_label(conn, label, None)
            tag_id, now = str(uuid.uuid4()), self._now()
            conn.execute(
                "INSERT INTO tags VALUES (?, ?, ?, ?, ?, ?)",
                (tag_id, label, _norm(label), description, now, now),
            )
        return self.get_tag(tag_id)

    def update_tag(self, tag_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Rename and/or re-describe a tag."""
        with self._tx() as conn:
            current = conn.execute(
                "SELECT label, description FROM tags WHERE id = ?", (tag_id,)
            ).fetchone()
            if current is None:
                raise NotFoundError(f"Custom tag not found: {tag_id}")
            label, description = current
            if "label" in changes:
                label = str(changes["label"]).strip()
                if not label:
                    raise InvalidError("body/label must not be blank")
                self._check_label(conn, label, tag_id)
            if "description" in changes:
                description = changes["description"]
            conn.execute(
                "UPDATE tags SET label=?, norm=?, description=?, ts_updated=? WHERE id=?",
                (label, _norm(label), description, self._now(), tag_id),
            )
        return self.get_tag(tag_id)

    def delete_tag(self, tag_id: str) -> dict[str, Any]:
        """Delete a tag and its mappings; returns the deleted tag."""
        with self._tx() as conn:
            tag = self.get_tag(tag_id)
            conn.execute("DELETE FROM mappings WHERE tag_id = ?", (tag_id,))
            conn.execute("DELETE FROM tags WHERE id = ?", (tag_id,))
        return tag

    def toggle(
        self, tag_ids: Sequence[str], resource_type: int, resource_ids: Sequence[str], assign: bool
    ) -> None:
        """Assign (create missing mappings) or unassign (delete them)."""
        with self._tx() as conn:
            for tag_id in tag_ids:
                if conn.execute("SELECT 1 FROM tags WHERE id = ?", (tag_id,)).fetchone() is None:
                    raise NotFoundError(f"Custom tag not found: {tag_id}")
            if resource_type == 1:
                for email in resource_ids:
                    found = conn.execute("SELECT 1 FROM accounts WHERE email = ?", (email,))
                    if found.fetchone() is None:
                        raise NotFoundError(f"Account not found: {email}")
            now = self._now()
            for tag_id in tag_ids:
                if assign:
                    conn.executemany(
                        "INSERT OR IGNORE INTO mappings VALUES (?, ?, ?, ?, ?)",
                        [(str(uuid.uuid4()), tag_id, r, resource_type, now) for r in resource_ids],
                    )
                else:
                    conn.executemany(
                        "DELETE FROM mappings WHERE tag_id = ? AND resource_type = ? "
                        "AND resource_id = ?",
                        [(tag_id, resource_type, r) for r in resource_ids],
                    )

    def list_mappings(
        self,
        *,
        limit: int = 100,
        starting_after: str | None = None,
        resource_ids: Sequence[str] = (),
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of tag mappings ordered by id; the cursor is the last id."""
        clauses: list[str] = []
        params: list[Any] = []
        if starting_after:
            clauses.append("id > ?")
            params.append(starting_after)
        if resource_ids:
            clauses.append(f"resource_id IN ({','.join('?' * len(resource_ids))})")
            params.extend(resource_ids)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = (
            "SELECT id, tag_id, resource_id, resource_type, ts_created FROM mappings "
            f"{where} ORDER BY id LIMIT ?"
        )
        with self._lock:
            rows = self._conn.execute(sql, [*params, limit + 1]).fetchall()
        items = [
            {
                "id": r[0],
                "tag_id": r[1],
                "resource_id": r[2],
                "resource_type": r[3],
                "timestamp_created": r[4],
                "organization_id": ORG_ID,
            }
            for r in rows[:limit]
        ]
        return items, (items[-1]["id"] if len(rows) > limit and items else None)
