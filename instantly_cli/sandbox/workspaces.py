"""Workspaces of the sandbox: the key's workspace, its sub-workspaces and who may act as whom.

Every key belongs to the default workspace. In the "agency" layout (the default) it is an
admin workspace whose workspace-group members are ``seed.SUB_WORKSPACES``; ``x-as-workspace``
is allowed for the key's own workspace and its *accepted* sub-workspaces only. In the "single"
layout the default workspace has no members, so any other ``x-as-workspace`` is a 403.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import timedelta
from typing import Any

from .base import InvalidError, Page, StoreBase, page
from .seed import (
    BASE_WORKSPACES,
    DEFAULT_WORKSPACE_ID,
    DEFAULT_WORKSPACE_NAME,
    LAYOUTS,
    SUB_WORKSPACES,
    USER_ID,
    iso,
    make_account,
)

WORKSPACE_COLUMNS = {
    "name": "TEXT",
    "admin": "TEXT",
    "member_status": "TEXT",
    "member_id": "TEXT",
    "ts": "TEXT",
}


def layout_rows(layout: str) -> list[tuple[str, str, str | None, str | None, str | None, str]]:
    """Rows (id, name, admin, member_status, member_id, ts) of a workspace layout."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    rows: list[tuple[str, str, str | None, str | None, str | None, str]] = [
        (DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_NAME, None, None, None, iso(BASE_WORKSPACES))
    ]
    for k, (ws_id, name, status, member_id) in enumerate(SUB_WORKSPACES):
        stamp = iso(BASE_WORKSPACES + timedelta(days=k + 1))
        if layout == "agency":
            rows.append((ws_id, name, DEFAULT_WORKSPACE_ID, status, member_id, stamp))
        else:
            # The workspaces still exist (a state file may hold their accounts) but belong to
            # no group this key administers.
            rows.append((ws_id, name, None, None, None, stamp))
    return rows


def sub_account(workspace_index: int, i: int, rng: random.Random) -> dict[str, Any]:
    """The i-th seeded account of a sub-workspace: like the default seed, its own domains."""
    acc = make_account(i + 4, rng)  # past the fixed accounts, so every email is generated
    ws_id, name = SUB_WORKSPACES[workspace_index][:2]
    local, _, domain = acc["email"].partition("@")
    slug = name.split()[-1].lower()
    acc["email"] = f"{local}@{slug}.{domain}"
    acc["organization"] = ws_id
    return acc


class WorkspacesMixin(StoreBase):
    """Workspace rows and group membership."""

    @staticmethod
    def _migrate_workspaces(conn: sqlite3.Connection) -> None:
        """Give a workspaces table from an older sandbox its names and membership."""
        columns = {row[1] for row in conn.execute("PRAGMA table_info(workspaces)")}
        added = False
        for column, kind in WORKSPACE_COLUMNS.items():
            if column not in columns:
                conn.execute(f"ALTER TABLE workspaces ADD COLUMN {column} {kind}")
                added = True
        if added or conn.execute("SELECT COUNT(*) FROM workspaces").fetchone()[0] == 0:
            conn.executemany(
                "INSERT OR REPLACE INTO workspaces (id, name, admin, member_status, member_id, ts) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                layout_rows("agency"),
            )

    @staticmethod
    def _write_layout(conn: sqlite3.Connection, layout: str) -> None:
        conn.execute("DELETE FROM workspaces")
        conn.executemany(
            "INSERT INTO workspaces (id, name, admin, member_status, member_id, ts) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            layout_rows(layout),
        )

    def workspace_exists(self, workspace_id: str) -> bool:
        """Whether a workspace id is known (the seeded ones, or one added by a test)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM workspaces WHERE id = ?", (workspace_id,)
            ).fetchone()
        return row is not None

    def may_act_as(self, workspace_id: str, home: str = DEFAULT_WORKSPACE_ID) -> bool:
        """Whether a key of ``home`` may send ``x-as-workspace: workspace_id``."""
        if workspace_id == home:
            return self.workspace_exists(home)
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM workspaces WHERE id = ? AND admin = ? AND member_status = ?",
                (workspace_id, home, "accepted"),
            ).fetchone()
        return row is not None

    def add_workspace(
        self,
        workspace_id: str,
        name: str | None = None,
        *,
        status: str | None = "accepted",
        admin: str | None = DEFAULT_WORKSPACE_ID,
    ) -> None:
        """Make another (empty) workspace known: by default an accepted sub-workspace of the
        default workspace, named after its id unless ``name`` is given."""
        if status not in (None, "pending", "accepted", "rejected"):
            raise InvalidError(f"unknown membership status {status!r}")
        with self._tx() as conn:
            stamp = self._now()
            conn.execute(
                "INSERT OR REPLACE INTO workspaces (id, name, admin, member_status, member_id, ts) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    workspace_id,
                    name or f"Workspace {workspace_id[:8]}",
                    admin if status else None,
                    status if admin else None,
                    f"member-{workspace_id}" if status and admin else None,
                    stamp,
                ),
            )

    def _workspace_row(self, workspace_id: str) -> tuple[Any, ...] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, name, admin, member_status, member_id, ts FROM workspaces WHERE id = ?",
                (workspace_id,),
            ).fetchone()
        return None if row is None else tuple(row)

    def workspace(self, workspace_id: str) -> dict[str, Any]:
        """The Workspace object of ``GET /api/v2/workspaces/current``."""
        row = self._workspace_row(workspace_id)
        if row is None:
            raise InvalidError(f"unknown workspace {workspace_id}")
        return {
            "id": row[0],
            "timestamp_created": row[5],
            "timestamp_updated": row[5],
            "owner": USER_ID,
            "name": row[1],
            "plan_id": "pid_growth_v1",
            "plan_id_bundle": None,
            "scheduled_for_removal_at": None,
            "add_unsub_to_block": False,
            "default_opportunity_value": None,
            "plan_id_leadfinder": None,
            "org_logo_url": None,
            "org_client_domain": None,
            "plan_id_crm": None,
            "plan_id_website_visitor": None,
            "plan_id_inbox_placement": None,
        }

    def group_members(
        self, admin: str, *, limit: int = 100, starting_after: str | None = None
    ) -> Page:
        """The sub-workspaces of an admin workspace, every status, ordered by member id."""
        admin_row = self._workspace_row(admin)
        admin_name = admin_row[1] if admin_row else None
        sql = (
            "SELECT member_id, id, member_status, ts, name FROM workspaces "
            "WHERE admin = ? AND member_id IS NOT NULL"
        )
        params: list[Any] = [admin]
        if starting_after:
            sql += " AND member_id > ?"
            params.append(starting_after)
        sql += " ORDER BY member_id LIMIT ?"
        with self._lock:
            rows = self._conn.execute(sql, [*params, limit + 1]).fetchall()
        items = [
            {
                "id": r[0],
                "admin_workspace_id": admin,
                "sub_workspace_id": r[1],
                "status": r[2],
                "timestamp_created": r[3],
                "timestamp_updated": r[3],
                "sub_workspace_name": r[4],
                "admin_workspace_name": admin_name,
            }
            for r in rows
        ]
        return page(items, limit)

    def admin_of(self, workspace_id: str) -> dict[str, Any]:
        """``GET /api/v2/workspace-group-members/admin`` for a workspace."""
        row = self._workspace_row(workspace_id)
        if row is None or row[2] is None:
            return {"workspace_name": "Undefined", "has_admin_workspace": False}
        admin = self._workspace_row(row[2])
        return {
            "workspace_name": admin[1] if admin else "Undefined",
            "has_admin_workspace": True,
            "workspace_group_member_id": row[4],
        }
