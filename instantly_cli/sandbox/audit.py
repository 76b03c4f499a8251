"""The sandbox's own audit log: who added, deleted or changed an account, and when.

Recorded by the app after each successful write: 6 account addition, 7 account deletion,
36 account update (PATCH, pause, resume, bulk pause, mark-fixed when it changed the account;
one entry per account), 11 campaign update (PATCH). Every entry is ``from_api`` with the
sandbox's one user; ``api_key_id`` is a stable id derived from the bearer key (never the key).
``audit_metadata`` carries ``email`` (or ``campaign_id``) and ``action``. The log starts empty
at every seed and reset.

Listing: newest first; the cursor is the last item's id. ``search`` matches the user name, the
user agent and the metadata, case-insensitively. ``start_date``/``end_date`` take an ISO
timestamp or a date; both ends are inclusive and a bare ``end_date`` date covers that whole
day (UTC).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .base import InvalidError, Page, StoreBase, dumps, page
from .seed import DEFAULT_WORKSPACE_ID, USER_ID, iso

ACCOUNT_ADDED, ACCOUNT_DELETED, CAMPAIGN_UPDATED, ACCOUNT_UPDATED = 6, 7, 11, 36
AUDIT_ACTIVITY_TYPES = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
    30, 31, 32, 33, 34, 35, 36, 37, 38, 40,
)  # fmt: skip
USER_NAME = "Sandbox Owner"


@dataclass(frozen=True)
class Actor:
    """Who sent a request: the key's id (a hash, never the key), the user agent, the address."""

    api_key_id: str | None = None
    user_agent: str | None = None
    ip_address: str = "127.0.0.1"

    @classmethod
    def from_key(cls, key: str, user_agent: str | None, ip_address: str) -> Actor:
        """An actor whose key id is a stable function of the key."""
        digest = hashlib.sha256(b"sandbox-api-key|" + key.encode("utf-8", "replace")).digest()
        return cls(str(uuid.UUID(bytes=digest[:16], version=4)), user_agent, ip_address)


def parse_when(raw: str, name: str, *, end: bool = False) -> str:
    """An ISO timestamp or date as the log's timestamp format (a date's end with ``end``)."""
    text = raw.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if end:
                moment += timedelta(days=1) - timedelta(milliseconds=1)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidError(
            f"querystring/{name} must be an ISO date or timestamp, not {raw!r}"
        ) from None
    return iso(moment.astimezone(UTC))


class AuditMixin(StoreBase):
    """Writing and listing the audit log."""

    def audit(
        self,
        workspace: str,
        activity_type: int,
        actor: Actor,
        metadata: dict[str, Any],
        affected_count: int = 1,
    ) -> dict[str, Any]:
        """Record one entry; returns it."""
        with self._tx() as conn:
            entry: dict[str, Any] = {
                "id": str(uuid.uuid4()),
                "timestamp": self._now(),
                "organization_id": workspace,
                "activity_type": activity_type,
                "user_agent": actor.user_agent,
                "user_id": USER_ID,
                "ip_address": actor.ip_address,
                "from_api": True,
                "api_key_id": actor.api_key_id,
                "affected_count": affected_count,
                "campaign_id": metadata.get("campaign_id"),
                "webhook_id": None,
                "subsequence_id": None,
                "list_id": None,
                "audit_metadata": metadata,
                "user_name": USER_NAME,
            }
            search = " ".join((USER_NAME, actor.user_agent or "", dumps(metadata))).casefold()
            conn.execute(
                "INSERT INTO audit (id, workspace, ts, activity_type, search, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (entry["id"], workspace, entry["timestamp"], activity_type, search, dumps(entry)),
            )
        return entry

    def list_audit(
        self,
        workspace: str = DEFAULT_WORKSPACE_ID,
        *,
        limit: int = 100,
        starting_after: str | None = None,
        activity_type: int | None = None,
        search: str | None = None,
        start: str | None = None,
        end: str | None = None,
    ) -> Page:
        """A page of a workspace's log, newest first; the cursor is the last id."""
        clauses = ["workspace = ?"]
        params: list[Any] = [workspace]
        with self._lock:
            if starting_after:
                row = self._conn.execute(
                    "SELECT seq FROM audit WHERE id = ? AND workspace = ?",
                    (starting_after, workspace),
                ).fetchone()
                if row is None:
                    raise InvalidError(
                        f"querystring/starting_after: unknown audit log {starting_after}"
                    )
                clauses.append("seq < ?")
                params.append(row[0])
            if activity_type is not None:
                clauses.append("activity_type = ?")
                params.append(activity_type)
            if search:
                clauses.append("instr(search, ?) > 0")
                params.append(search.casefold())
            if start:
                clauses.append("ts >= ?")
                params.append(start)
            if end:
                clauses.append("ts <= ?")
                params.append(end)
            rows = self._conn.execute(
                f"SELECT data FROM audit WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT ?",
                [*params, limit + 1],
            ).fetchall()
        return page([json.loads(r[0]) for r in rows], limit)
