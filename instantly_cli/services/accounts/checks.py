"""DNS checks: account vitals (MX/SPF/DKIM/DMARC per domain) and custom tracking domains."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from instantly_cli.errors import UsageError
from instantly_cli.services.accounts.summary import domain_of as email_domain

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.schema import CtdStatus

# POST /accounts/test/vitals documents no maximum; 100 items a call like the other bulk calls.
VITALS_BATCH = 100
VITALS_CHECKS = ("mx", "spf", "dkim", "dmarc")
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass
class DomainVitals:
    """One domain's result: the API's object, and the targets that share the domain."""

    domain: str
    result: dict[str, Any]
    accounts: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.result.get("allPass")) and not self.failures

    @property
    def failures(self) -> list[str]:
        """The checks that did not pass (the API gives flags, not reasons)."""
        return [c for c in VITALS_CHECKS if self.result.get(c) is False]

    def to_json(self) -> dict[str, Any]:
        return {**self.result, "domain": self.domain, "accounts": self.accounts}


def domain_of(text: str) -> str:
    """An email's domain, or a bare domain itself (vitals takes both), as the API names it."""
    return (email_domain(text) if "@" in text else text.strip().lower()).rstrip(".")


def by_domain(emails: Sequence[str]) -> dict[str, list[str]]:
    """Targets grouped by domain, in first-seen order."""
    groups: dict[str, list[str]] = {}
    for email in emails:
        groups.setdefault(domain_of(email), []).append(email)
    return groups


def run_vitals(
    client: InstantlyClient,
    emails: Sequence[str],
    *,
    advance: Callable[[int, int], None] = lambda done, failed: None,
) -> list[DomainVitals]:
    """Test each domain once (one account of it is sent), in batches; results by domain.

    A domain the API did not report is a failure with no flags (never silently dropped).
    """
    groups = by_domain(emails)
    representatives = [members[0] for members in groups.values()]
    seen: dict[str, dict[str, Any]] = {}
    for start in range(0, len(representatives), VITALS_BATCH):
        batch = representatives[start : start + VITALS_BATCH]
        answer = client.test_vitals(batch)
        for item in [*(answer.get("success_list") or []), *(answer.get("failure_list") or [])]:
            if isinstance(item, Mapping) and isinstance(item.get("domain"), str):
                seen[domain_of(item["domain"])] = dict(item)
        advance(len(batch), 0)
    out = []
    for domain, members in groups.items():
        result = seen.get(domain) or {"domain": domain, "allPass": False, "reported": False}
        out.append(DomainVitals(domain, result, members))
    return out


def check_host(text: str) -> str:
    """A tracking-domain host name (no scheme, no path); exit 2 otherwise."""
    host = text.strip().lower().rstrip(".")
    if "://" in host or "/" in host or not _HOST.match(host):
        raise UsageError(
            f"Not a host name: '{text}'.",
            hint="Give the tracking domain's host only, for example: track.acme.io.",
        )
    return host


def check_domain(text: str) -> str:
    """A bare domain given to ``vitals`` (``ses.tailspin.dev``): the API tests it like an
    account's; exit 2 when it is neither a domain nor an email."""
    host = text.strip().lower().rstrip(".")
    if "://" in host or "/" in host or "." not in host or not _HOST.match(host):
        raise UsageError(
            f"Not an email address or a domain: '{text}'.",
            hint="Give account emails (ops@acme.io), domains (acme.io), or - to read emails "
            "from stdin.",
        )
    return host


def tracking_domain(client: InstantlyClient, host: str) -> tuple[CtdStatus, bool]:
    """The API's status for the host and whether it is fully working (CNAME and SSL)."""
    status = client.ctd_status(host)
    ok = status.get("cname") is True and status.get("ssl") is True
    return status, ok and status.get("success") is not False
