"""Background jobs of the sandbox: warmup enable/disable jobs, polled one step at a time.

A job advances one step per poll (``GET /api/v2/background-jobs/{id}``): pending →
in-progress → success, or failed (changing nothing) when an email does not exist. Listing
never advances a job.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

from .base import InvalidError, NotFoundError, Page, StoreBase, dumps, page
from .seed import DEFAULT_WORKSPACE_ID, USER_ID

JOB_TYPES = (
    "move-leads",
    "import-leads",
    "export-leads",
    "update-warmup-accounts",
    "rename-variable",
    "broadcast-ai-generate",
    "broadcast-website-scrape",
    "import-subscribers-from-crm",
    "resync-subscriber-crm-tags",
)
JOB_ENTITY_TYPES = (
    "list",
    "campaign",
    "workspace",
    "broadcast",
    "subscriber-group-sync",
    "subscriber-group",
)
JOB_STATUSES = ("pending", "in-progress", "success", "failed", "draining", "paused", "cancelled")


class JobsMixin(StoreBase):
    """Warmup jobs: queued, advanced by polling, listed."""

    def create_warmup_job(
        self, action: str, emails: Sequence[str], workspace: str = DEFAULT_WORKSPACE_ID
    ) -> dict[str, Any]:
        """Queue a warmup enable/disable job (``action`` is "enable" or "disable")."""
        unique = list(dict.fromkeys(emails))
        with self._tx() as conn:
            missing = [e for e in unique if self._find(conn, e, workspace) is None]
            now = self._now()
            job: dict[str, Any] = {
                "id": secrets.token_hex(12),
                "workspace_id": workspace,
                "user_id": USER_ID,
                "type": "update-warmup-accounts",
                "entity_id": workspace,
                "entity_type": "workspace",
                "data": {"action": action, "total": len(unique)},
                "progress": 0,
                "status": "pending",
                "created_at": now,
                "updated_at": now,
            }
            conn.execute(
                "INSERT INTO jobs VALUES (?, ?, ?, ?, ?)",
                (job["id"], action, dumps(unique), dumps(missing), dumps(job)),
            )
        return job

    def poll_job(self, job_id: str, workspace: str = DEFAULT_WORKSPACE_ID) -> dict[str, Any]:
        """Return a job, advancing it one step: pending → in-progress → success/failed."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT action, emails, missing, data FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None or json.loads(row[3]).get("workspace_id") != workspace:
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
                        acc = self._find(conn, email, None)
                        if acc is None:
                            continue  # deleted since the job was queued
                        acc["warmup_status"] = warmup_status
                        if warmup_status == 1 and not acc.get("timestamp_warmup_start"):
                            acc["timestamp_warmup_start"] = now
                        acc["timestamp_updated"] = now
                        self._save(conn, acc)
                    job.update(status="success", progress=100)
                job["updated_at"] = self._now()
            else:
                return job
            conn.execute("UPDATE jobs SET data = ? WHERE id = ?", (dumps(job), job_id))
        return job

    def list_jobs(
        self,
        *,
        workspace: str = DEFAULT_WORKSPACE_ID,
        limit: int = 100,
        starting_after: str | None = None,
        ids: Sequence[str] = (),
        included_ids: Sequence[str] = (),
        excluded_ids: Sequence[str] = (),
        type: str | None = None,
        entity_type: str | None = None,
        entity_ids: Sequence[str] = (),
        statuses: Sequence[str] = (),
        sort_column: str = "created_at",
        sort_order: str = "desc",
    ) -> Page:
        """A page of a workspace's jobs, (sort_column, id) in sort_order; cursor = last id.

        Listing never advances a job (only ``poll_job`` does). An unknown cursor id is an
        InvalidError.
        """
        with self._lock:
            jobs = [json.loads(r[0]) for r in self._conn.execute("SELECT data FROM jobs")]
        jobs = [j for j in jobs if j.get("workspace_id") == workspace]
        reverse = sort_order == "desc"
        jobs.sort(key=lambda j: (j[sort_column], j["id"]), reverse=reverse)
        if starting_after:
            position = next((n for n, j in enumerate(jobs) if j["id"] == starting_after), None)
            if position is None:
                raise InvalidError(f"querystring/starting_after: unknown job {starting_after}")
            jobs = jobs[position + 1 :]
        for wanted in (ids, included_ids):
            if wanted:
                jobs = [j for j in jobs if j["id"] in set(wanted)]
        if excluded_ids:
            jobs = [j for j in jobs if j["id"] not in set(excluded_ids)]
        if type:
            jobs = [j for j in jobs if j["type"] == type]
        if entity_type:
            jobs = [j for j in jobs if j.get("entity_type") == entity_type]
        if entity_ids:
            jobs = [j for j in jobs if j.get("entity_id") in set(entity_ids)]
        if statuses:
            jobs = [j for j in jobs if j["status"] in set(statuses)]
        return page(jobs, limit)
