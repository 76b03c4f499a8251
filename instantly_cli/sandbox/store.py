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
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .audit import AuditMixin
from .base import ConflictError, InvalidError, NotFoundError, Page, dumps
from .campaigns import CampaignPicker, CampaignsMixin
from .jobs import JobsMixin
from .seed import (
    BASE_MAPPINGS,
    BASE_TAGS,
    DEFAULT_WORKSPACE_ID,
    FIXED_ACCOUNTS,
    ORG_ID,
    SEED,
    SEED_CAMPAIGN_ID,
    SEED_TAGS,
    SEED_WORKSPACES,
    SUB_WORKSPACES,
    USER_ID,
    daily_counts,
    health_label,
    iso,
    make_account,
    seeded_uuid,
    status_message,
    tag_members,
    warmup_day,
)
from .tags import TagsMixin, norm_label
from .workspaces import WorkspacesMixin, sub_account

__all__ = [
    "ACCOUNT_FILTERS",
    "FIXED_ACCOUNTS",
    "ORG_ID",
    "SEED_CAMPAIGN_ID",
    "SEED_TAGS",
    "SORT_COLUMNS",
    "USER_ID",
    "AccountQuery",
    "DEFAULT_WORKSPACE_ID",
    "SEED_WORKSPACES",
    "ConflictError",
    "InvalidError",
    "NotFoundError",
    "Store",
    "SUB_WORKSPACES",
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
    workspace: str = DEFAULT_WORKSPACE_ID


def _casefold(value: object) -> str | None:
    return value.casefold() if isinstance(value, str) else None


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
        dumps(acc),
        acc["organization"],
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
    data TEXT NOT NULL,
    workspace TEXT NOT NULL DEFAULT '{DEFAULT}'
);
CREATE TABLE IF NOT EXISTS workspaces (
    id TEXT PRIMARY KEY,
    name TEXT,
    admin TEXT,
    member_status TEXT,
    member_id TEXT,
    ts TEXT
);
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    ts TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    workspace TEXT NOT NULL,
    ts TEXT NOT NULL,
    activity_type INTEGER NOT NULL,
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
""".replace("{DEFAULT}", DEFAULT_WORKSPACE_ID)


_TABLES = ("meta", "accounts", "tags", "mappings", "jobs", "workspaces", "campaigns", "audit")
# Built after a bulk seed rather than maintained row by row: several times faster.
_INDEXES = {
    "accounts_cursor": "accounts (ts, email)",
    "accounts_status": "accounts (status, email)",
    "accounts_score": "accounts (score, email)",
    "accounts_workspace": "accounts (workspace, ts, email)",
    "mappings_resource": "mappings (resource_id, resource_type)",
    "campaigns_workspace": "campaigns (workspace, ts, id)",
}


class Store(TagsMixin, CampaignsMixin, WorkspacesMixin, AuditMixin, JobsMixin):
    """The sandbox's state: accounts here; tags and mappings, campaigns, workspaces, the audit
    log and background jobs in ``tags.py``, ``campaigns.py``, ``workspaces.py``, ``audit.py``
    and ``jobs.py``."""

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
        self._migrate(self._conn)
        self._migrate_workspaces(self._conn)
        self._create_indexes(self._conn)
        self._last_stamp = ""
        # The clock behind every timestamp and "today"; tests may replace it.
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

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

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        """Bring a state file written by an older sandbox up to the current tables."""
        columns = {row[1] for row in conn.execute("PRAGMA table_info(accounts)")}
        if "workspace" not in columns:
            conn.execute(
                "ALTER TABLE accounts ADD COLUMN workspace TEXT NOT NULL "
                f"DEFAULT '{DEFAULT_WORKSPACE_ID}'"
            )

    def today(self) -> date:
        """The current UTC date (by ``clock``)."""
        return self.clock().astimezone(UTC).date()

    def _now(self) -> str:
        """Wall-clock timestamp, strictly increasing so every update is visible."""
        stamp = iso(self.clock().astimezone(UTC))
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

    def ensure_seeded(
        self, accounts: int = 120, *, layout: str = "agency", sub_accounts: int = 0
    ) -> None:
        """Seed the deterministic data set unless the store was seeded before.

        ``layout`` "agency" (default) makes the default workspace an admin workspace with the
        sub-workspaces of ``seed.SUB_WORKSPACES``; "single" gives it none. ``sub_accounts``
        accounts are seeded into each sub-workspace (default none).
        """
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM meta WHERE key = 'seeded'").fetchone() is None:
                self._seed(conn, accounts, layout, sub_accounts)
            elif conn.execute("SELECT 1 FROM meta WHERE key = 'campaigns'").fetchone() is None:
                self._backfill_campaigns(conn)

    def reset(self, accounts: int = 120, *, layout: str = "agency", sub_accounts: int = 0) -> None:
        """Wipe everything and seed again (options as for ``ensure_seeded``)."""
        with self._tx() as conn:
            for table in _TABLES:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            self._seed(conn, accounts, layout, sub_accounts)

    def _seed(self, conn: sqlite3.Connection, count: int, layout: str, sub_accounts: int) -> None:
        for name in _INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        self._write_layout(conn, layout)
        rng = random.Random(SEED)
        tag_rng = random.Random(SEED + 1)
        tag_ids = [seeded_uuid(tag_rng) for _ in SEED_TAGS]
        tag_rows = []
        for k, ((label, description), tag_id) in enumerate(zip(SEED_TAGS, tag_ids, strict=True)):
            stamp = iso(BASE_TAGS + timedelta(hours=k))
            tag_rows.append((tag_id, label, norm_label(label), description, stamp, stamp))
        conn.executemany("INSERT INTO tags VALUES (?, ?, ?, ?, ?, ?)", tag_rows)
        rows = []
        mappings = []
        map_stamp = iso(BASE_MAPPINGS)
        picker = CampaignPicker()
        for i in range(count):
            acc = make_account(i, rng)
            picker.offer(i, acc)
            rows.append((acc["email"], *_columns(acc)))
            for t in tag_members(i, acc):
                mappings.append((seeded_uuid(tag_rng), tag_ids[t], acc["email"], 1, map_stamp))
        mappings.append((seeded_uuid(tag_rng), tag_ids[0], SEED_CAMPAIGN_ID, 2, map_stamp))
        for k in range(len(SUB_WORKSPACES)):
            sub_rng = random.Random(f"{SEED}-sub-{k}")
            for i in range(sub_accounts):
                acc = sub_account(k, i, sub_rng)
                rows.append((acc["email"], *_columns(acc)))
        conn.executemany("INSERT INTO accounts VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.executemany("INSERT INTO mappings VALUES (?, ?, ?, ?, ?)", mappings)
        self._insert_campaigns(conn, picker.campaigns(tag_ids, DEFAULT_WORKSPACE_ID))
        conn.execute("INSERT INTO meta VALUES ('seeded', ?)", (str(count),))
        conn.execute("INSERT INTO meta VALUES ('campaigns', '1')")
        self._create_indexes(conn)

    def _backfill_campaigns(self, conn: sqlite3.Connection) -> None:
        """Give a state file seeded by an older sandbox (no campaigns yet) the seeded campaigns,
        picked from its default-workspace accounts in creation order, as a new seed would."""
        picker = CampaignPicker()
        rows = conn.execute(
            "SELECT data FROM accounts WHERE workspace = ? ORDER BY ts, email",
            (DEFAULT_WORKSPACE_ID,),
        )
        for i, (data,) in enumerate(rows):
            picker.offer(i, json.loads(data))
        labels = dict(conn.execute("SELECT norm, id FROM tags").fetchall())
        tag_ids = [labels.get(norm_label(label), "") for label, _ in SEED_TAGS]
        campaigns = picker.campaigns(tag_ids, DEFAULT_WORKSPACE_ID)
        for campaign in campaigns:  # a seeded tag renamed or deleted since: not sent from
            campaign["email_tag_list"] = [t for t in campaign["email_tag_list"] if t]
        self._insert_campaigns(conn, campaigns)
        conn.execute("INSERT INTO meta VALUES ('campaigns', '1')")

    # -- accounts -----------------------------------------------------------------------

    def _where(
        self,
        *,
        workspace: str | None = DEFAULT_WORKSPACE_ID,
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
        if workspace is not None:
            clauses.append("workspace = ?")
            params.append(workspace)
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

    def list_accounts(self, q: AccountQuery) -> Page:
        """One page of accounts and the cursor for the next page (None when none remain).

        Without ``sort_by`` the order is (timestamp_created, email), descending unless
        ``sort_order=asc``, and paging is by cursor (``skip`` still applies, after the
        cursor). With ``sort_by`` the order is (column, email) in the one direction, paging
        is by ``skip``, ``starting_after`` is ignored and no cursor is returned.
        """
        clauses, params = self._where(
            workspace=q.workspace,
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
        workspace: str | None = DEFAULT_WORKSPACE_ID,
        search: str | None = None,
        filter: str | None = None,
        tag_ids: Sequence[str] = (),
        tag_ids_all: Sequence[str] = (),
        no_tag: bool = False,
        excluded: Sequence[str] = (),
    ) -> list[str]:
        """Every email matching a bulk selection ("all accounts" minus exclusions)."""
        clauses, params = self._where(
            workspace=workspace,
            search=search,
            filter=filter,
            tag_ids=tag_ids,
            tag_ids_all=tag_ids_all,
            no_tag=no_tag,
        )
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT email FROM accounts {where} ORDER BY email", params
            ).fetchall()
        skip = set(excluded)
        return [r[0] for r in rows if r[0] not in skip]

    def count_accounts(self, workspace: str | None = None) -> int:
        """Number of accounts (in one workspace, or in all of them)."""
        clauses, params = self._where(workspace=workspace)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            return int(
                self._conn.execute(f"SELECT COUNT(*) FROM accounts {where}", params).fetchone()[0]
            )

    def get_account(
        self, email: str, workspace: str | None = DEFAULT_WORKSPACE_ID
    ) -> dict[str, Any] | None:
        """One account of a workspace (``None``: of any workspace), or None."""
        with self._lock:
            return self._find(self._conn, email, workspace)

    @staticmethod
    def _find(conn: sqlite3.Connection, email: str, workspace: str | None) -> dict[str, Any] | None:
        sql = "SELECT data FROM accounts WHERE email = ?"
        params: list[Any] = [email]
        if workspace is not None:
            sql += " AND workspace = ?"
            params.append(workspace)
        row = conn.execute(sql, params).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def _load(
        self, conn: sqlite3.Connection, email: str, workspace: str | None = DEFAULT_WORKSPACE_ID
    ) -> dict[str, Any]:
        acc = self._find(conn, email, workspace)
        if acc is None:
            raise NotFoundError(f"Account not found: {email}")
        return acc

    def _save(self, conn: sqlite3.Connection, acc: dict[str, Any]) -> None:
        cols = _columns(acc)
        conn.execute(
            "UPDATE accounts SET ts=?, status=?, warmup_status=?, provider_code=?, score=?, "
            "ctd=?, managed=?, setup_pending=?, search=?, data=?, workspace=? WHERE email=?",
            (*cols, acc["email"]),
        )

    def create_account(
        self, body: dict[str, Any], workspace: str = DEFAULT_WORKSPACE_ID
    ) -> dict[str, Any]:
        """Create an account from a validated createAccount body; returns the Account.

        Connection settings (IMAP/SMTP hosts, ports, user names and passwords) are not part of
        the Account and are not kept at all. The email is unique across workspaces,
        case-insensitively (ConflictError).
        """
        email = body["email"]
        provider = body["provider_code"]
        warmup_in = body.get("warmup") or {}
        warmup = {
            "limit": warmup_in.get("limit", 10),
            "advanced": {
                "warm_ctd": False,
                "open_rate": 0.95,
                "important_rate": 0.8,
                "read_emulation": True,
                "spam_save_rate": 0.02,
                "weekday_only": False,
                **(warmup_in.get("advanced") or {}),
            },
            "warmup_custom_ftag": warmup_in.get(
                "warmup_custom_ftag", body.get("warmup_custom_ftag", "warmup")
            ),
            "increment": warmup_in.get("increment", "disabled"),
            "reply_rate": warmup_in.get("reply_rate", 0.1),
        }
        with self._tx() as conn:
            clash = conn.execute(
                "SELECT email FROM accounts WHERE casefold(email) = ?", (email.casefold(),)
            ).fetchone()
            if clash is not None:
                raise ConflictError(f"An account with this email already exists: {clash[0]}")
            now = self._now()
            tracking = body.get("tracking_domain_name")
            airmail = provider in (8, 11)
            acc: dict[str, Any] = {
                "email": email,
                "timestamp_created": now,
                "timestamp_updated": now,
                "first_name": body["first_name"],
                "last_name": body["last_name"],
                "warmup": warmup,
                "added_by": USER_ID,
                "daily_limit": body.get("daily_limit"),
                "daily_limit_max": 50 if airmail else None,
                "warmup_limit_max": 40 if airmail else None,
                "modified_by": None,
                "tracking_domain_name": tracking,
                "tracking_domain_status": body.get(
                    "tracking_domain_status", "pending" if tracking else None
                ),
                "status": 1,
                "enable_slow_ramp": body.get("enable_slow_ramp"),
                "inbox_placement_test_limit": body.get("inbox_placement_test_limit"),
                "organization": workspace,
                "warmup_status": 0,
                "timestamp_warmup_start": None,
                "provider_code": provider,
                "setup_pending": False,
                "is_managed_account": False,
                "stat_warmup_score": None,
                "sending_gap": body.get("sending_gap", 0),
                "signature": body.get("signature"),
                "reply_to": body.get("reply_to"),
                "autofix_failed": False,
            }
            conn.execute(
                "INSERT INTO accounts VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (email, *_columns(acc)),
            )
        return acc

    def delete_account(self, email: str, workspace: str = DEFAULT_WORKSPACE_ID) -> dict[str, Any]:
        """Delete an account and its tag mappings; returns the deleted Account."""
        with self._tx() as conn:
            acc = self._load(conn, email, workspace)
            conn.execute("DELETE FROM accounts WHERE email = ?", (email,))
            conn.execute(
                "DELETE FROM mappings WHERE resource_type = 1 AND resource_id = ?", (email,)
            )
            self._drop_from_lists(conn, emails=[email])
        return acc

    def mark_fixed(
        self, email: str, workspace: str = DEFAULT_WORKSPACE_ID
    ) -> tuple[dict[str, Any], bool]:
        """An account in an error status (< 0) goes back to active (1), its error cleared;
        returns the account and whether it changed.

        An account not in an error status is returned unchanged (not even timestamp_updated).
        """
        with self._tx() as conn:
            acc = self._load(conn, email, workspace)
            changed = acc["status"] < 0
            if changed:
                self._apply_status(acc, 1)
                acc["autofix_failed"] = False
                self._save(conn, acc)
        return acc, changed

    def move_accounts(self, emails: Sequence[str], source: str, destination: str) -> None:
        """Move accounts between workspaces, all or none (NotFoundError / InvalidError)."""
        unique = list(dict.fromkeys(emails))
        with self._tx() as conn:
            for workspace in (source, destination):
                found = conn.execute("SELECT 1 FROM workspaces WHERE id = ?", (workspace,))
                if found.fetchone() is None:
                    raise NotFoundError(f"Workspace not found: {workspace}")
            if source == destination:
                raise InvalidError("source_workspace_id and destination_workspace_id are equal")
            accounts = []
            for email in unique:
                acc = self._find(conn, email, source)
                if acc is None:
                    raise NotFoundError(f"Account not found in workspace {source}: {email}")
                accounts.append(acc)
            now = self._now()
            for acc in accounts:
                acc["organization"] = destination
                acc["timestamp_updated"] = now
                self._save(conn, acc)
            self._drop_from_lists(conn, emails=unique)

    def patch_account(
        self, email: str, body: dict[str, Any], workspace: str = DEFAULT_WORKSPACE_ID
    ) -> dict[str, Any]:
        """Apply a validated PATCH body: top level replaces, ``warmup`` and ``advanced`` merge."""
        with self._tx() as conn:
            acc = self._load(conn, email, workspace)
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

    def set_status(
        self, email: str, status: int, workspace: str = DEFAULT_WORKSPACE_ID
    ) -> dict[str, Any]:
        """Pause (2) or resume (1) one account."""
        with self._tx() as conn:
            acc = self._load(conn, email, workspace)
            self._apply_status(acc, status)
            self._save(conn, acc)
        return acc

    _UNSET: Any = object()

    def simulate(
        self,
        email: str,
        *,
        status: int | None = None,
        warmup_status: int | None = None,
        score: Any = _UNSET,
        workspace: str | None = None,
    ) -> dict[str, Any]:
        """What the provider or Instantly itself does to an account (for tests and demos; no
        API call does this): a new status (an error status < 0 brings a ``status_message``
        like the seed's), warmup status, or warmup score (None removes it). Not audited: no
        user did it. ``workspace`` None: the account wherever it is.
        """
        with self._tx() as conn:
            acc = self._load(conn, email, workspace)
            if status is not None:
                self._apply_status(acc, status)
                if status < 0:
                    acc["status_message"] = status_message(status, 1000 + len(email))
            if warmup_status is not None:
                acc["warmup_status"] = warmup_status
            if score is not self._UNSET:
                acc["stat_warmup_score"] = score
            acc["timestamp_updated"] = self._now()
            self._save(conn, acc)
        return acc

    def _apply_status(self, acc: dict[str, Any], status: int) -> None:
        acc["status"] = status
        acc.pop("status_message", None)
        acc["timestamp_updated"] = self._now()

    def pause_many(
        self, emails: Sequence[str], workspace: str = DEFAULT_WORKSPACE_ID
    ) -> tuple[list[str], list[str]]:
        """Bulk pause: (paused_emails, failed_emails), each unique email in one of them.

        Failed: unknown (in this workspace), or already paused (its status did not change).
        """
        paused: list[str] = []
        failed: list[str] = []
        with self._tx() as conn:
            for email in dict.fromkeys(emails):
                acc = self._find(conn, email, workspace)
                if acc is None or acc["status"] == 2:  # like the API: a repeated pause fails
                    failed.append(email)
                    continue
                self._apply_status(acc, 2)
                self._save(conn, acc)
                paused.append(email)
        return paused, failed

    # -- analytics ----------------------------------------------------------------------

    def _created_dates(
        self, emails: Sequence[str] | None, workspace: str
    ) -> dict[str, tuple[str, str | None, float | None]]:
        """email → (created date, warmup start date, warmup score), for this workspace."""
        clauses, params = self._where(workspace=workspace)
        if emails is not None:
            if not emails:
                return {}
            clauses.append(f"email IN ({','.join('?' * len(emails))})")
            params.extend(emails)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT data FROM accounts WHERE {' AND '.join(clauses)} ORDER BY email", params
            ).fetchall()
        out = {}
        for (data,) in rows:
            acc = json.loads(data)
            start = acc.get("timestamp_warmup_start")
            out[acc["email"]] = (
                acc["timestamp_created"][:10],
                start[:10] if start else None,
                acc.get("stat_warmup_score"),
            )
        return out

    def daily_analytics(
        self, emails: Sequence[str] | None, days: Sequence[date], workspace: str
    ) -> list[dict[str, Any]]:
        """Rows of getDailyAccountAnalytics, by date then email; unknown emails have none.

        Counts are a pure function of (email, date); zero before the account was created and
        after today.
        """
        known = self._created_dates(emails, workspace)
        today = self.today().isoformat()
        rows = []
        for day in days:
            stamp = day.isoformat()
            for email, (created, _, _) in known.items():
                active = created <= stamp <= today
                rows.append(
                    {"date": stamp, "email_account": email, **daily_counts(email, stamp, active)}
                )
        return rows

    def warmup_analytics(
        self, emails: Sequence[str], days: Sequence[date], workspace: str
    ) -> dict[str, Any]:
        """The getWarmupAnalytics answer for emails over days; unknown emails are left out.

        Per day counts are a pure function of (email, date, warmup score); zero before warmup
        started (or when it never did) and after today.
        """
        known = self._created_dates(list(dict.fromkeys(emails)), workspace)
        today = self.today().isoformat()
        by_date: dict[str, Any] = {}
        aggregate: dict[str, Any] = {}
        for email, (_, started, score) in known.items():
            per_day = {}
            totals = {"sent": 0, "received": 0, "landed_inbox": 0, "landed_spam": 0}
            for day in days:
                stamp = day.isoformat()
                active = started is not None and started <= stamp <= today
                counts = warmup_day(email, stamp, score, active)
                per_day[stamp] = counts
                for key in totals:
                    totals[key] += counts[key]
            health = round(100 * totals["landed_inbox"] / totals["sent"]) if totals["sent"] else 0
            by_date[email] = per_day
            aggregate[email] = {
                **totals,
                "health_score_label": health_label(health, totals["sent"]),
                "health_score": health,
            }
        return {"email_date_data": by_date, "aggregate_data": aggregate}
