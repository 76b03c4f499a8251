"""Campaigns of the sandbox: the seed, listing, PATCH of the sending lists, sending status and
account-campaign mappings.

An account serves a campaign when its email is in the campaign's ``email_list`` or it carries
a tag of the campaign's ``email_tag_list`` (only accounts of the campaign's workspace count).
Deleting an account, or moving it to another workspace, takes it out of every ``email_list``;
deleting a tag takes it out of every ``email_tag_list``.

``sending-status`` is derived from the serving accounts (choices where the API is silent):
``total_connected`` counts every serving account; ``available`` the active ones (status 1)
with a daily limit other than 0; ``unavailable.disconnected`` those in an error status (< 0);
``unavailable.daily_limit_hit`` active ones whose daily limit is 0; the other reasons are 0.
Paused accounts (status 2 and 3) are neither available nor under a reason (the API has no
reason for them). ``diagnostics.status``: the campaign's own state when it does not send
(draft, paused, completed, suspended, accounts unhealthy, bounce protect), otherwise
``no_accounts_available`` when no account is available (``all_accounts_unhealthy`` when every
serving account is in error), else ``campaign_running_subsequences`` for status 4 and
``healthy`` for status 1.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .base import InvalidError, NotFoundError, Page, StoreBase, dumps, page
from .seed import (
    DEFAULT_WORKSPACE_ID,
    FIXED_ACCOUNTS,
    SEED_CAMPAIGN_ID,
    USER_ID,
    iso,
    seeded_uuid,
)

CAMPAIGN_STATUSES = (-99, -1, -2, 0, 1, 2, 3, 4)
BASE_CAMPAIGNS = datetime(2026, 1, 10, tzinfo=UTC)
BASE_EXTRA = datetime(2026, 2, 1, tzinfo=UTC)
_NOT_SENDING = {
    0: "campaign_draft",
    2: "campaign_paused",
    3: "campaign_completed",
    -99: "campaign_account_suspended",
    -1: "campaign_accounts_unhealthy",
    -2: "campaign_bounce_protect",
}
_MESSAGES = {
    "healthy": "The campaign is sending normally.",
    "campaign_running_subsequences": "The campaign is sending its subsequences.",
    "no_accounts_available": "No sending account of this campaign is available.",
    "all_accounts_unhealthy": "Every sending account of this campaign is in an error state.",
    "campaign_draft": "The campaign is a draft.",
    "campaign_paused": "The campaign is paused.",
    "campaign_completed": "The campaign is completed.",
    "campaign_account_suspended": "The workspace's account is suspended.",
    "campaign_accounts_unhealthy": "The campaign was stopped: its accounts are unhealthy.",
    "campaign_bounce_protect": "The campaign was stopped by bounce protection.",
}

Pick = Callable[[int, dict[str, Any]], bool]


def _fixed(i: int, acc: dict[str, Any]) -> bool:
    return i < len(FIXED_ACCOUNTS)


@dataclass
class CampaignSpec:
    """One seeded campaign: name, status, tags (indexes into SEED_TAGS), direct accounts."""

    name: str
    status: int
    tags: tuple[int, ...] = ()
    picks: tuple[tuple[Pick, int], ...] = ()  # (which accounts, how many at most)
    id: str | None = None
    emails: list[list[str]] = field(default_factory=list)


def _status(*values: int) -> Pick:
    return lambda i, acc: acc["status"] in values


def campaign_specs() -> list[CampaignSpec]:
    """The seeded campaigns, oldest first (each call returns fresh, empty collectors)."""
    healthy: Pick = lambda i, acc: acc["status"] == 1 and acc["warmup_status"] == 1  # noqa: E731
    return [
        CampaignSpec("Client A outreach", 1, tags=(0,), id=SEED_CAMPAIGN_ID),
        CampaignSpec(
            "Client B founders",
            1,
            tags=(1,),
            picks=((lambda i, a: a["status"] == 1 and i % 5 != 0, 2),),
        ),
        CampaignSpec("Google pool CTOs", 1, tags=(2,)),
        CampaignSpec("Warm pool follow-ups", 4, tags=(3,)),
        CampaignSpec(
            "Équipe Paris relance",
            1,
            tags=(4,),
            picks=((lambda i, a: a["status"] == 1 and a["provider_code"] == 3, 3),),
        ),
        CampaignSpec(
            "Fintech leaning on errors", 1, picks=((_status(-1, -2, -3), 5), (_status(1), 1))
        ),
        CampaignSpec("Retail all paused", 1, picks=((_status(2), 4),)),
        CampaignSpec("Legal accounts unhealthy", -1, picks=((_status(-1), 3),)),
        CampaignSpec("Insurance bounce protect", -2, picks=((_status(-2), 2), (_status(1), 2))),
        CampaignSpec("Crypto suspended", -99, picks=((_status(-3), 2),)),
        CampaignSpec("Spring launch draft", 0, picks=((healthy, 3),)),
        CampaignSpec("Holiday paused", 2, tags=(5,), picks=((_status(1), 4),)),
        CampaignSpec("Webinar completed", 3, picks=((_status(1), 5),)),
        CampaignSpec("New market no accounts", 1),
        CampaignSpec("Enterprise mixed", 1, tags=(0,), picks=((_fixed, 4), (_status(3), 1))),
        CampaignSpec("Logistics all errored", 1, picks=((_status(-1, -2, -3), 3),)),
    ]


class CampaignPicker:
    """Collects the seeded campaigns' direct accounts while the accounts are generated.

    Bounded: it keeps a few emails per campaign and stops looking once every list is full,
    so a 1,000,000-account seed pays nothing after the first few hundred accounts.
    """

    def __init__(self) -> None:
        self.specs = campaign_specs()
        for spec in self.specs:
            spec.emails = [[] for _ in spec.picks]
        self._open = sum(len(s.picks) for s in self.specs)

    def offer(self, i: int, acc: dict[str, Any]) -> None:
        """Consider the i-th seeded account."""
        if not self._open:
            return
        for spec in self.specs:
            for (pick, cap), got in zip(spec.picks, spec.emails, strict=True):
                if len(got) < cap and pick(i, acc):
                    got.append(acc["email"])
                    if len(got) == cap:
                        self._open -= 1

    def campaigns(self, tag_ids: Sequence[str], workspace: str) -> list[dict[str, Any]]:
        """The Campaign objects of the seed."""
        rng = random.Random("campaigns")
        out = []
        for k, spec in enumerate(self.specs):
            campaign_id = seeded_uuid(rng)
            created = BASE_CAMPAIGNS + timedelta(days=k, hours=k)
            emails = list(dict.fromkeys(e for group in spec.emails for e in group))
            out.append(
                new_campaign(
                    spec.id or campaign_id,
                    spec.name,
                    spec.status,
                    iso(created),
                    iso(created + timedelta(days=3)),
                    emails,
                    [tag_ids[t] for t in spec.tags],
                    workspace,
                    daily_limit=50 + 25 * (k % 4),
                )
            )
        return out


def new_campaign(
    campaign_id: str,
    name: str,
    status: int,
    created: str,
    updated: str,
    emails: list[str],
    tags: list[str],
    workspace: str,
    *,
    daily_limit: int,
) -> dict[str, Any]:
    """A Campaign with every field the schema allows (sandbox defaults for the rest)."""
    return {
        "id": campaign_id,
        "name": name,
        "status": status,
        "pl_value": 100,
        "is_evergreen": False,
        "campaign_schedule": {
            "start_date": None,
            "end_date": None,
            "schedules": [
                {
                    "name": "Weekdays",
                    "timing": {"from": "09:00", "to": "17:00"},
                    "days": {str(d): d in range(1, 6) for d in range(7)},
                    "timezone": "America/Chicago",
                }
            ],
        },
        "sequences": [
            {
                "steps": [
                    {
                        "type": "email",
                        "delay": 2,
                        "delay_unit": "days",
                        "variants": [{"subject": "Quick question", "body": "Hi {{firstName}},"}],
                    }
                ]
            }
        ],
        "timestamp_created": created,
        "timestamp_updated": updated,
        "email_gap": 10,
        "random_wait_max": 10,
        "text_only": False,
        "first_email_text_only": False,
        "email_list": emails,
        "daily_limit": daily_limit,
        "stop_on_reply": True,
        "email_tag_list": tags,
        "link_tracking": False,
        "open_tracking": False,
        "stop_on_auto_reply": True,
        "daily_max_leads": 25,
        "prioritize_new_leads": False,
        "auto_variant_select": None,
        "match_lead_esp": False,
        "stop_for_company": False,
        "core_variables": None,
        "custom_variables": None,
        "insert_unsubscribe_header": True,
        "allow_risky_contacts": False,
        "disable_bounce_protect": False,
        "limit_emails_per_company_override": None,
        "cc_list": [],
        "bcc_list": [],
        "organization": workspace,
        "owned_by": USER_ID,
        "ai_sdr_id": None,
        "provider_routing_rules": [],
    }


class CampaignsMixin(StoreBase):
    """Campaign state and what is derived from it."""

    def _insert_campaigns(
        self, conn: sqlite3.Connection, campaigns: Sequence[dict[str, Any]]
    ) -> None:
        conn.executemany(
            "INSERT INTO campaigns VALUES (?, ?, ?, ?)",
            [(c["id"], c["organization"], c["timestamp_created"], dumps(c)) for c in campaigns],
        )

    def seed_extra_campaigns(
        self, count: int, workspace: str = DEFAULT_WORKSPACE_ID, *, accounts_each: int = 20
    ) -> list[str]:
        """Add ``count`` campaigns ("Bulk campaign 0001"…) for scale tests; returns their ids.

        Deterministic: campaign k has status ``CAMPAIGN_STATUSES[k % 8]``, sends from
        ``accounts_each`` accounts of the workspace (a window that moves by k, in email
        order) and, for every third campaign, from the k-th tag as well.
        """
        rng = random.Random(f"extra-campaigns-{count}")
        with self._tx() as conn:
            emails = [
                r[0]
                for r in conn.execute(
                    "SELECT email FROM accounts WHERE workspace = ? ORDER BY email", (workspace,)
                )
            ]
            tags = [r[0] for r in conn.execute("SELECT id FROM tags ORDER BY id")]
            start = conn.execute("SELECT COUNT(*) FROM campaigns").fetchone()[0]
            made = []
            for k in range(count):
                # Distinct and fixed: the mappings' cursor is this stamp, and seeds repeat.
                stamp = iso(BASE_EXTRA + timedelta(minutes=start + k))
                first = (k * 7) % max(len(emails), 1)
                # Indexed, not sliced: a copy of every email per campaign would be quadratic.
                window = [
                    emails[(first + j) % len(emails)]
                    for j in range(min(accounts_each, len(emails)))
                ]
                made.append(
                    new_campaign(
                        seeded_uuid(rng),
                        f"Bulk campaign {start + k:04d}",
                        CAMPAIGN_STATUSES[k % len(CAMPAIGN_STATUSES)],
                        stamp,
                        stamp,
                        window,
                        [tags[k % len(tags)]] if tags and k % 3 == 0 else [],
                        workspace,
                        daily_limit=100,
                    )
                )
            self._insert_campaigns(conn, made)
        return [c["id"] for c in made]

    def list_campaigns(
        self,
        workspace: str = DEFAULT_WORKSPACE_ID,
        *,
        limit: int = 100,
        starting_after: str | None = None,
        search: str | None = None,
        tag_ids: Sequence[str] = (),
        status: int | None = None,
        exclude_status: int | None = None,
        ai_sales_agent_id: str | None = None,
    ) -> Page:
        """A page of campaigns, newest first; the cursor is the last id (unknown: InvalidError)."""
        clauses = ["workspace = ?"]
        params: list[Any] = [workspace]
        if search:
            clauses.append("instr(casefold(json_extract(data, '$.name')), ?) > 0")
            params.append(search.casefold())
        if tag_ids:
            clauses.append(
                "id IN (SELECT resource_id FROM mappings WHERE resource_type = 2 "
                "AND tag_id IN (SELECT value FROM json_each(?)))"
            )
            params.append(dumps(list(tag_ids)))
        if status is not None:
            clauses.append("json_extract(data, '$.status') = ?")
            params.append(status)
        if exclude_status is not None:
            clauses.append("json_extract(data, '$.status') != ?")
            params.append(exclude_status)
        if ai_sales_agent_id is not None:
            clauses.append("json_extract(data, '$.ai_sdr_id') = ?")
            params.append(ai_sales_agent_id)
        with self._lock:
            if starting_after:
                after = self._conn.execute(
                    "SELECT ts, id FROM campaigns WHERE id = ? AND workspace = ?",
                    (starting_after, workspace),
                ).fetchone()
                if after is None:
                    raise InvalidError(
                        f"querystring/starting_after: unknown campaign {starting_after}"
                    )
                # The cursor in SQL, on the (workspace, ts, id) index: a page reads one page.
                clauses.append("(ts, id) < (?, ?)")
                params.extend(after)
            rows = self._conn.execute(
                f"SELECT data FROM campaigns WHERE {' AND '.join(clauses)} "
                "ORDER BY ts DESC, id DESC LIMIT ?",
                [*params, limit + 1],
            ).fetchall()
        return page([json.loads(r[0]) for r in rows], limit)

    def _campaign(
        self, conn: sqlite3.Connection, campaign_id: str, workspace: str
    ) -> dict[str, Any]:
        row = conn.execute(
            "SELECT data FROM campaigns WHERE id = ? AND workspace = ?", (campaign_id, workspace)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"Campaign not found: {campaign_id}")
        return dict(json.loads(row[0]))

    def get_campaign(
        self, campaign_id: str, workspace: str = DEFAULT_WORKSPACE_ID
    ) -> dict[str, Any]:
        """One campaign of a workspace (NotFoundError)."""
        with self._lock:
            return self._campaign(self._conn, campaign_id, workspace)

    def patch_campaign(
        self, campaign_id: str, body: dict[str, Any], workspace: str = DEFAULT_WORKSPACE_ID
    ) -> dict[str, Any]:
        """Apply a validated PATCH body; ``email_list``/``email_tag_list`` replace the lists.

        Every email must be an account of the workspace (the stored spelling is the
        account's), every tag id an existing tag (InvalidError naming the item); repeats are
        dropped, the first one kept.
        """
        with self._tx() as conn:
            campaign = self._campaign(conn, campaign_id, workspace)
            for key, value in body.items():
                if key == "email_list":
                    value = self._known_emails(conn, value, workspace)
                elif key == "email_tag_list":
                    value = self._known_tags(conn, value)
                campaign[key] = value
            campaign["timestamp_updated"] = self._now()
            conn.execute(
                "UPDATE campaigns SET data = ? WHERE id = ?", (dumps(campaign), campaign_id)
            )
        return campaign

    @staticmethod
    def _known_emails(conn: sqlite3.Connection, emails: Sequence[str], workspace: str) -> list[str]:
        # Exact spellings on the primary key first; one read of the workspace's emails only
        # when some differ in case (no per-email scan: casefold() cannot use an index).
        exact = {
            r[0]
            for r in conn.execute(
                "SELECT email FROM accounts WHERE workspace = ? "
                "AND email IN (SELECT value FROM json_each(?))",
                (workspace, dumps(list(emails))),
            )
        }
        folded: dict[str, str] | None = None
        out: list[str] = []
        seen: set[str] = set()
        for n, email in enumerate(emails):
            stored: str | None = email if email in exact else None
            if stored is None:
                if folded is None:
                    folded = {
                        r[0].casefold(): r[0]
                        for r in conn.execute(
                            "SELECT email FROM accounts WHERE workspace = ?", (workspace,)
                        )
                    }
                stored = folded.get(email.casefold())
            if stored is None:
                raise InvalidError(
                    f"body/email_list/{n} is not an account of this workspace: {email}"
                )
            if stored not in seen:
                seen.add(stored)
                out.append(stored)
        return out

    @staticmethod
    def _known_tags(conn: sqlite3.Connection, tag_ids: Sequence[str]) -> list[str]:
        out: list[str] = []
        for n, tag_id in enumerate(tag_ids):
            if conn.execute("SELECT 1 FROM tags WHERE id = ?", (tag_id,)).fetchone() is None:
                raise InvalidError(f"body/email_tag_list/{n} is not a custom tag: {tag_id}")
            if tag_id not in out:
                out.append(tag_id)
        return out

    def _serving(self, conn: sqlite3.Connection, campaign: dict[str, Any]) -> list[tuple[int, Any]]:
        """(status, daily_limit) of every account that serves a campaign (list and tags)."""
        emails = list(campaign.get("email_list") or [])
        tags = list(campaign.get("email_tag_list") or [])
        clauses = []
        params: list[Any] = [campaign["organization"] or DEFAULT_WORKSPACE_ID]
        if emails:
            # One bound JSON array, whatever the list's length (no limit on host parameters).
            clauses.append("email IN (SELECT value FROM json_each(?))")
            params.append(dumps(emails))
        if tags:
            clauses.append(
                "email IN (SELECT resource_id FROM mappings WHERE resource_type = 1 "
                "AND tag_id IN (SELECT value FROM json_each(?)))"
            )
            params.append(dumps(tags))
        if not clauses:
            return []
        # Two fields, not whole accounts: a tag can hold a third of a 100,000-account seed.
        rows = conn.execute(
            "SELECT status, json_extract(data, '$.daily_limit') FROM accounts "
            f"WHERE workspace = ? AND ({' OR '.join(clauses)})",
            params,
        ).fetchall()
        return [(int(r[0]), r[1]) for r in rows]

    def sending_status(
        self, campaign_id: str, workspace: str = DEFAULT_WORKSPACE_ID, *, ai_summary: bool = False
    ) -> dict[str, Any]:
        """``GET /campaigns/{id}/sending-status``, derived from the serving accounts."""
        with self._lock:
            campaign = self._campaign(self._conn, campaign_id, workspace)
            accounts = self._serving(self._conn, campaign)
            now = self._now()
        active = [limit for status, limit in accounts if status == 1]
        limit_hit = sum(1 for limit in active if limit == 0)
        errored = sum(1 for status, _ in accounts if status < 0)
        available = len(active) - limit_hit
        status = _NOT_SENDING.get(campaign["status"])
        if status is None:
            if not available:
                status = (
                    "all_accounts_unhealthy"
                    if accounts and errored == len(accounts)
                    else "no_accounts_available"
                )
            elif campaign["status"] == 4:
                status = "campaign_running_subsequences"
            else:
                status = "healthy"
        healthy = status in ("healthy", "campaign_running_subsequences")
        last_healthy = now if healthy else campaign["timestamp_updated"]
        return {
            "diagnostics": {
                "campaign_id": campaign_id,
                "last_updated": now,
                "status": status,
                "issue_tracking": {
                    "current_status_code": status,
                    "issue_first_seen_at": None if healthy else campaign["timestamp_updated"],
                    "consecutive_loops_with_issue": 0 if healthy else 1,
                    "last_healthy_send_at": last_healthy,
                },
                "accounts_summary": {
                    "total_connected": len(accounts),
                    "available": available,
                    "unavailable": {
                        "daily_limit_hit": limit_hit,
                        "slow_ramp_limit_hit": 0,
                        "disconnected": errored,
                        "global_gap_not_met": 0,
                    },
                },
                "schedule_status": {"in_schedule": True},
            },
            "summary": {
                "status": status,
                "status_message": _MESSAGES[status],
                "issue_started_at": None if healthy else campaign["timestamp_updated"],
                "last_healthy_send_at": last_healthy,
                "ai_summary": (
                    f"{campaign['name']}: {_MESSAGES[status]} {available} of {len(accounts)} "
                    "accounts can send."
                )
                if ai_summary
                else None,
            },
        }

    def account_campaigns(
        self,
        email: str,
        workspace: str = DEFAULT_WORKSPACE_ID,
        *,
        limit: int = 100,
        starting_after: str | None = None,
    ) -> Page:
        """Campaigns an account serves, oldest first; the cursor is the last timestamp_created."""
        with self._lock:
            row = self._conn.execute(
                "SELECT email FROM accounts WHERE email = ? AND workspace = ?", (email, workspace)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"Account not found: {email}")
            tags = [
                r[0]
                for r in self._conn.execute(
                    "SELECT tag_id FROM mappings WHERE resource_type = 1 AND resource_id = ?",
                    (email,),
                )
            ]
            # Matching, cursor and limit in SQL: a page reads from the cursor on, no further.
            rows = self._conn.execute(
                "SELECT id, json_extract(data, '$.name'), ts, json_extract(data, '$.status') "
                "FROM campaigns WHERE workspace = ? AND ts > ? AND ("
                "EXISTS (SELECT 1 FROM json_each(data, '$.email_list') WHERE value = ?) OR "
                "EXISTS (SELECT 1 FROM json_each(data, '$.email_tag_list') "
                "WHERE value IN (SELECT value FROM json_each(?)))) "
                "ORDER BY ts, id LIMIT ?",
                (workspace, starting_after or "", email, dumps(tags), limit + 1),
            ).fetchall()
        items = [
            {"campaign_id": r[0], "campaign_name": r[1], "timestamp_created": r[2], "status": r[3]}
            for r in rows
        ]
        return page(items, limit, "timestamp_created")

    def _drop_from_lists(
        self, conn: sqlite3.Connection, *, emails: Sequence[str] = (), tag_id: str | None = None
    ) -> None:
        """Take deleted or moved accounts, or a deleted tag, out of every campaign."""
        gone = set(emails)
        needles = [dumps(e) for e in gone] + ([dumps(tag_id)] if tag_id else [])
        sql = "SELECT id, data FROM campaigns"
        if 0 < len(needles) <= 50:
            # Only the campaigns whose JSON mentions one of them (deletes are one at a time).
            sql += " WHERE " + " OR ".join("instr(data, ?) > 0" for _ in needles)
        else:
            needles = []
        for campaign_id, data in conn.execute(sql, needles).fetchall():
            campaign = json.loads(data)
            before = (list(campaign["email_list"]), list(campaign["email_tag_list"]))
            campaign["email_list"] = [e for e in campaign["email_list"] if e not in gone]
            campaign["email_tag_list"] = [t for t in campaign["email_tag_list"] if t != tag_id]
            if (campaign["email_list"], campaign["email_tag_list"]) != before:
                conn.execute(
                    "UPDATE campaigns SET data = ? WHERE id = ?", (dumps(campaign), campaign_id)
                )
