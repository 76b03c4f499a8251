"""SQLite-backed state for the sandbox, plus deterministic seed data.

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
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

ORG_ID = "0b6b2c1e-5f0a-4d2e-9c3b-7a1d2e3f4a5b"
USER_ID = "7e2d4c6a-1b3f-4e5d-8a9b-0c1d2e3f4a5b"
SEED = 20260101
BASE_CREATED = datetime(2026, 1, 1, tzinfo=UTC)
BASE_TAGS = datetime(2025, 12, 1, tzinfo=UTC)
BASE_MAPPINGS = datetime(2025, 12, 15, tzinfo=UTC)

STATUSES = (1, 2, 3, -1, -2, -3)
WARMUP_STATUSES = (0, 1, -1, -2, -3)
PROVIDERS = (1, 2, 3, 4, 8, 11)
INCREMENTS = ("disabled", "0", "1", "2", "3", "4")

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

# Fixed tags the seed always creates (label, description); tests and docs rely on them.
SEED_TAGS: tuple[tuple[str, str | None], ...] = (
    ("Client A", "Mailboxes sending for client A"),
    ("Client B", "Mailboxes sending for client B"),
    ("Pool: Google", "Google Workspace sending pool"),
    ("Warm pool", None),
    ("Équipe Paris", "Boîtes de l'équipe de Paris"),
    ("Do not touch", "Production mailboxes: ask ops first"),
)
SEED_CAMPAIGN_ID = "3f0c9a52-8d71-4b6e-a2c4-5e9d1f7b3a60"

_FIRST = (
    "Alice",
    "Ben",
    "Chloé",
    "Daniel",
    "Emma",
    "François",
    "Grace",
    "Hannah",
    "Ivan",
    "Jürgen",
    "Kate",
    "Liam",
    "Maya",
    "Noah",
    "Olivia",
    "Paul",
    "Quinn",
    "Rosa",
    "Sam",
    "Tomás",
    "Uma",
    "Victor",
    "Wendy",
    "Xavier",
    "Yara",
    "Zoë",
)
_LAST = (
    "Smith",
    "Müller",
    "García",
    "Jones",
    "Brown",
    "Novák",
    "Dubois",
    "Rossi",
    "Kowalski",
    "Nguyen",
    "Öberg",
    "Silva",
    "Taylor",
    "Wilson",
    "Ibáñez",
)
_DOMAINS = {
    1: ("mail.northwind-imap.com", "smtp.contoso-mail.net"),
    2: ("acme-outreach.com", "getacme.io"),
    3: ("fabrikam-sales.com", "fabrikam.onmicrosoft.com"),
    4: ("ses.tailspin.dev",),
    8: ("airmail-lumen.com",),
    11: ("instant-airmail.co",),
}
# Accounts every seed starts with: (email, first, last).
FIXED_ACCOUNTS = (
    ("ops+eu@acme-outreach.com", "Ops", "Europe"),
    ("zoe.muller@acme-outreach.com", "Zoë", "Müller"),
    ("jose.garcia@fabrikam-sales.com", "José", "García"),
    ("sales+us@getacme.io", "Sales", "Team"),
)
_STATUS_MESSAGES: dict[int, dict[str, Any]] = {
    -1: {
        "code": "EAUTH",
        "command": "AUTH PLAIN",
        "response": "535-5.7.8 Username and Password not accepted.",
        "e_message": "Invalid login: 535-5.7.8 Username and Password not accepted.",
        "responseCode": 535,
    },
    -2: {
        "code": "EENVELOPE",
        "command": "DATA",
        "response": "550-5.4.5 Daily user sending limit exceeded. For more information on Gmai",
        "e_message": "error: data command failed: 550-5.4.5 daily user sending limit exceeded",
        "responseCode": 550,
    },
    -3: {
        "code": "EMESSAGE",
        "command": "DATA",
        "response": "554 5.2.0 Transaction failed: message rejected",
        "e_message": "error: message failed: 554 5.2.0 transaction failed",
        "responseCode": 554,
    },
}


def _pool(values: Sequence[int], weights: Sequence[int]) -> tuple[int, ...]:
    # A weighted pool picked with one random() call: rng.choices was a seed hot spot.
    return tuple(v for v, w in zip(values, weights, strict=True) for _ in range(w))


_STATUS_POOL = _pool(STATUSES, (70, 12, 3, 6, 4, 5))
_WARMUP_POOL = _pool(WARMUP_STATUSES, (25, 60, 5, 5, 5))
_PROVIDER_POOL = _pool(PROVIDERS, (12, 45, 30, 5, 5, 3))


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


def iso(dt: datetime) -> str:
    """Format like the API: ``2026-01-01T00:00:00.000Z``."""
    # Hand-formatted: strftime dominated the 100,000-account seed.
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
        f"{dt.second:02d}.{dt.microsecond // 1000:03d}Z"
    )


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


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


def _make_account(i: int, rng: random.Random) -> dict[str, Any]:
    rnd = rng.random

    def pick(seq: Sequence[Any]) -> Any:
        # Cheaper than rng.choice, which dominated the 100,000-account seed.
        return seq[int(rnd() * len(seq))]

    if i < 36:
        # The first 36 accounts walk every enum value so any seed >= 36 covers them all.
        status, warmup_status = STATUSES[i % 6], WARMUP_STATUSES[i % 5]
        provider = PROVIDERS[(i // 6) % 6]
    else:
        status, warmup_status = pick(_STATUS_POOL), pick(_WARMUP_POOL)
        provider = pick(_PROVIDER_POOL)
    first, last = pick(_FIRST), pick(_LAST)
    domain = pick(_DOMAINS[provider])
    if i < len(FIXED_ACCOUNTS):
        email, first, last = FIXED_ACCOUNTS[i]
    elif i % 25 == 7:
        email = f"{_ascii(first)}+team{i}@{domain}"
    else:
        email = f"{_ascii(first)}.{_ascii(last)}{i}@{domain}"
    created = BASE_CREATED + timedelta(seconds=600 * i, milliseconds=int(rnd() * 600_000))
    updated = created + timedelta(days=1 + int(rnd() * 29), seconds=int(rnd() * 86_400))
    started = i % 19 != 3
    managed = provider in (8, 11) or (provider == 2 and i % 11 == 0)
    has_ctd = i % 4 != 1
    acc: dict[str, Any] = {
        "email": email,
        "timestamp_created": iso(created),
        "timestamp_updated": iso(updated),
        "first_name": first,
        "last_name": last,
        "warmup": {
            "limit": pick((10, 20, 30, 40)),
            "advanced": {
                "warm_ctd": rnd() < 0.3,
                "open_rate": pick((0.8, 0.9, 0.95, 1)),
                "important_rate": pick((0.5, 0.8, 1)),
                "read_emulation": rnd() < 0.7,
                "spam_save_rate": pick((0.02, 0.05, 0.1)),
                "weekday_only": rnd() < 0.5,
            },
            "warmup_custom_ftag": f"wrm{int(rnd() * 65536):04x}",
            "increment": pick(INCREMENTS),
            "reply_rate": pick((0, 0.1, 0.2, 0.3)),
        },
        "added_by": USER_ID,
        "daily_limit": None if i % 13 == 5 else pick((20, 30, 40, 50, 75, 100)),
        "daily_limit_max": 50 if provider in (8, 11) else None,
        "warmup_limit_max": 40 if provider in (8, 11) else None,
        "modified_by": USER_ID if i % 3 else None,
        "tracking_domain_name": f"track.{domain}" if has_ctd else None,
        "tracking_domain_status": pick(("active", "active", "pending")) if has_ctd else None,
        "status": status,
        "enable_slow_ramp": pick((True, False, None)),
        "inbox_placement_test_limit": pick((None, 0, 5, 10)),
        "organization": ORG_ID,
        "warmup_status": warmup_status,
        "timestamp_warmup_start": iso(created + timedelta(hours=1)) if started else None,
        "provider_code": provider,
        "setup_pending": managed and i % 3 == 0,
        "is_managed_account": managed,
        "stat_warmup_score": 40 + int(rnd() * 61) if started else None,
        "sending_gap": pick((0, 5, 10, 15, 30)),
        "signature": f"Best regards,\n{first} {last}" if i % 5 else None,
        "reply_to": f"replies@{domain}" if i % 9 == 2 else None,
        "autofix_failed": pick((None, True, False)) if status < 0 else False,
    }
    if status < 0:
        acc["status_message"] = dict(_STATUS_MESSAGES[status])
    return acc


def _tag_members(i: int, acc: dict[str, Any]) -> list[int]:
    """Indexes into SEED_TAGS an account is mapped to."""
    out = []
    if i % 3 == 0:
        out.append(0)
    if i % 5 == 0:
        out.append(1)
    if acc["provider_code"] == 2:
        out.append(2)
    if acc["warmup_status"] == 1 and i % 2 == 0:
        out.append(3)
    if i % 10 == 4 or i == 1:
        out.append(4)
    return out


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
        tag_ids = [_uuid(tag_rng) for _ in SEED_TAGS]
        tag_rows = []
        for k, ((label, description), tag_id) in enumerate(zip(SEED_TAGS, tag_ids, strict=True)):
            stamp = iso(BASE_TAGS + timedelta(hours=k))
            tag_rows.append((tag_id, label, _norm(label), description, stamp, stamp))
        conn.executemany("INSERT INTO tags VALUES (?, ?, ?, ?, ?, ?)", tag_rows)
        rows = []
        mappings = []
        map_stamp = iso(BASE_MAPPINGS)
        for i in range(count):
            acc = _make_account(i, rng)
            rows.append((acc["email"], *_columns(acc)))
            for t in _tag_members(i, acc):
                mappings.append((_uuid(tag_rng), tag_ids[t], acc["email"], 1, map_stamp))
        mappings.append((_uuid(tag_rng), tag_ids[0], SEED_CAMPAIGN_ID, 2, map_stamp))
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
                tag_id = _uuid(rng)
                label = f"Bulk tag {start + k:04d}"
                conn.execute(
                    "INSERT INTO tags VALUES (?, ?, ?, ?, ?, ?)",
                    (tag_id, label, _norm(label), None, stamp, stamp),
                )
                conn.executemany(
                    "INSERT INTO mappings VALUES (?, ?, ?, 1, ?)",
                    [(_uuid(rng), tag_id, email, stamp) for email in map_to],
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
                if acc.get("status") == 2:  # like the real API: a repeated pause is "failed"
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
