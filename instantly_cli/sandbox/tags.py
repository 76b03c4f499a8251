"""Custom tags and tag mappings of the sandbox (shared by every workspace).

Tags and mappings are ordered by id; their cursor is the last id of the page. A label is
trimmed and unique case-insensitively (409 otherwise).
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from .base import ConflictError, InvalidError, NotFoundError, Page, StoreBase, page
from .seed import DEFAULT_WORKSPACE_ID, ORG_ID, seeded_uuid


def norm_label(label: str) -> str:
    """A label as compared for uniqueness."""
    return label.strip().casefold()


class TagsMixin(StoreBase):
    """Tags, and which resources carry them."""

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
    ) -> Page:
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
        return page([self._tag(r) for r in rows], limit)

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
        row = conn.execute(
            "SELECT id, label FROM tags WHERE norm = ?", (norm_label(label),)
        ).fetchone()
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
                (tag_id, label, norm_label(label), description, now, now),
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
                (label, norm_label(label), description, self._now(), tag_id),
            )
        return self.get_tag(tag_id)

    def delete_tag(self, tag_id: str) -> dict[str, Any]:
        """Delete a tag and its mappings; returns the deleted tag."""
        with self._tx() as conn:
            tag = self.get_tag(tag_id)
            conn.execute("DELETE FROM mappings WHERE tag_id = ?", (tag_id,))
            conn.execute("DELETE FROM tags WHERE id = ?", (tag_id,))
            self._drop_from_lists(conn, tag_id=tag_id)
        return tag

    def toggle(
        self,
        tag_ids: Sequence[str],
        resource_type: int,
        resource_ids: Sequence[str],
        assign: bool,
        workspace: str = DEFAULT_WORKSPACE_ID,
    ) -> None:
        """Assign (create missing mappings) or unassign (delete them)."""
        with self._tx() as conn:
            for tag_id in tag_ids:
                if conn.execute("SELECT 1 FROM tags WHERE id = ?", (tag_id,)).fetchone() is None:
                    raise NotFoundError(f"Custom tag not found: {tag_id}")
            if resource_type == 1:
                for email in resource_ids:
                    found = conn.execute(
                        "SELECT 1 FROM accounts WHERE email = ? AND workspace = ?",
                        (email, workspace),
                    )
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
    ) -> Page:
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
            for r in rows
        ]
        return page(items, limit)

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
                    (tag_id, label, norm_label(label), None, stamp, stamp),
                )
                conn.executemany(
                    "INSERT INTO mappings VALUES (?, ?, ?, 1, ?)",
                    [(seeded_uuid(rng), tag_id, email, stamp) for email in map_to],
                )
                ids.append(tag_id)
        return ids
