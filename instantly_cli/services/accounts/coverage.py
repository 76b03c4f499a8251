"""``accounts coverage``: one workspace's findings (idle accounts, risky and stopped
campaigns) with the numbers its gate judges, and a roll-up's total over many workspaces."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from instantly_cli.services.accounts.summary import Tally, Thresholds, number, summarize

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient

# The findings of a coverage document: lists of records.
FINDINGS = ("idle", "campaigns_at_risk", "not_sending")
# Its numbers that add up over workspaces.
SUMS = ("idle_capacity", "accounts", "campaigns")


@dataclass
class Coverage:
    """One coverage document (the JSON of `accounts coverage`) and the summary tally of the
    accounts it swept (``anomaly``: why the listing ended early, if it did)."""

    doc: dict[str, Any]
    tally: Tally
    anomaly: str | None = None

    def metrics(self) -> dict[str, Any]:
        """What ``--fail-if`` judges: the summary's numbers, idle and campaigns-at-risk."""
        metrics: dict[str, Any] = self.tally.metrics()
        return metrics | {"idle": len(self.doc["idle"]),
                          "campaigns-at-risk": len(self.doc["campaigns_at_risk"])}


def coverage(
    client: InstantlyClient,
    thresholds: Thresholds,
    at_risk_share: float,
    *,
    parallel: bool = True,
    warn: Callable[[str], None] = lambda message: None,
) -> Coverage:
    """One sweep of the client's workspace (its accounts and campaigns) and its findings."""
    from instantly_cli.services import campaigns
    from instantly_cli.services.accounts import list as fleet

    sw = fleet.campaign_sweep(client, thresholds, parallel=parallel, warn=warn)
    doc = campaigns.coverage(client, sw, at_risk_share, warn)
    return Coverage(doc, summarize(sw.accounts.values(), thresholds=thresholds), sw.anomaly)


def labelled(doc: Mapping[str, Any], labels: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` with ``labels`` (profile, workspace name and id) on every finding."""
    return {**doc, **{key: [{**labels, **r} for r in doc[key]] for key in FINDINGS}}


def total(parts: Iterable[Coverage], thresholds: Thresholds, at_risk_share: float) -> Coverage:
    """The workspaces' coverage as one document: the findings one after another (already
    labelled, in the order given), the numbers and the tallies added up."""
    # The keys in the order of one workspace's document.
    doc: dict[str, Any] = {"idle": [], "idle_capacity": 0, "campaigns_at_risk": [],
                           "not_sending": [], "at_risk_share": at_risk_share, "accounts": 0,
                           "campaigns": 0}
    tally = Tally(thresholds)
    for part in parts:
        tally.merge(part.tally)
        for key in FINDINGS:
            doc[key] += part.doc[key]
        for key in SUMS:
            doc[key] = number(doc[key] + part.doc[key])
    return Coverage(doc, tally)
