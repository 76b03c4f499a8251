"""An independent reading of the sandbox's campaigns, for the campaign tests to compare with.

Written from docs/campaigns.md, over raw HTTP (no code of the CLI): an account serves a
campaign when its email is in ``email_list`` or it carries a tag of ``email_tag_list``; an
*active* campaign has status 1 or 4; capacity is the ``daily_limit`` of accounts whose status
is 1; at risk: an error status (< 0), a warmup problem (< 0), or (scored, warmup not paused) a
score below the default --at-risk-below; healthy: no error, not paused (2), warmup active, a
score of at least the default --watch-below. Only those two numbers come from the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from instantly_cli.enums import AT_RISK_BELOW, WATCH_BELOW
from instantly_cli.sandbox.app import SandboxApp
from tests.conftest import TEST_KEY
from tests.sandbox_client import walk


@dataclass
class Truth:
    accounts: dict[str, dict[str, Any]]
    campaigns: list[dict[str, Any]]

    def serving(self, campaign: dict[str, Any]) -> set[str]:
        tags = set(campaign["email_tag_list"])
        listed = set(campaign["email_list"])
        return {
            email
            for email, acc in self.accounts.items()
            if email in listed or tags & {t["id"] for t in acc.get("tags") or []}
        } | (listed - set(self.accounts))

    def active(self) -> list[dict[str, Any]]:
        return [c for c in self.campaigns if c["status"] in (1, 4)]

    def capacity(self, emails: set[str]) -> float:
        return sum(
            float(self.accounts[e].get("daily_limit") or 0)
            for e in emails
            if e in self.accounts and self.accounts[e]["status"] == 1
        )

    def available(self, emails: set[str]) -> int:
        return sum(1 for e in emails if e in self.accounts and self.accounts[e]["status"] == 1)

    def idle(self) -> set[str]:
        busy = {e for c in self.active() for e in self.serving(c)}
        return {
            e for e, a in self.accounts.items()
            if healthy(a) and a.get("warmup_status") == 1 and e not in busy
        }


def at_risk(acc: dict[str, Any] | None) -> bool:
    if acc is None:
        return False
    score = acc.get("stat_warmup_score")
    if acc["status"] < 0 or (acc.get("warmup_status") or 0) < 0:
        return True
    # No score, or warmup paused: no data, not at risk.
    return score is not None and acc.get("warmup_status") != 0 and score < AT_RISK_BELOW


def healthy(acc: dict[str, Any]) -> bool:
    score = acc.get("stat_warmup_score")
    return (
        acc["status"] >= 0 and acc["status"] != 2
        and (acc.get("warmup_status") or 0) > 0
        and score is not None and score >= WATCH_BELOW
    )


def read(app: SandboxApp) -> Truth:
    with httpx.Client(
        transport=httpx.WSGITransport(app=app),
        base_url="http://sandbox.test",
        headers={"Authorization": f"Bearer {TEST_KEY}"},
    ) as client:
        accounts = walk(client, "/api/v2/accounts", 100, include_tags="true")
        campaigns = walk(client, "/api/v2/campaigns", 100)
    return Truth({a["email"]: a for a in accounts}, campaigns)
