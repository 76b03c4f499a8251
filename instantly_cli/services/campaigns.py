"""Campaigns seen from the accounts: which campaigns each account serves, what they can send,
idle and risky capacity, and what a write would take away.

One sweep per run (:func:`sweep`): every campaign (one cursor walk) and every account with its
tags (one listing), joined here. An account serves a campaign when its email is in the
campaign's ``email_list`` or it carries a tag of ``email_tag_list``.

Words: an *active* campaign sends (status 1 or 4); an account is *available*
when its status is active (1), and the *capacity* it gives is its ``daily_limit``; a campaign's
*at-risk share* is the share of its capacity on at-risk accounts (the summary's health class);
an *idle* account is healthy, has warmup active and serves no active campaign.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from instantly_cli.enums import (
    ACTIVE_CAMPAIGN_STATUSES,
    AT_RISK,
    CAMPAIGN_STATUS,
    HEALTHY,
    NOT_SENDING_STATUS,
    VIA_LIST,
    WARMUP_ACTIVE,
)
from instantly_cli.errors import NotFoundError, UsageError
from instantly_cli.services import bulk
from instantly_cli.services.accounts.lifecycle import is_active as account_active
from instantly_cli.services.accounts.summary import Thresholds, health_class, number, share
from instantly_cli.services.names import close_hint
from instantly_cli.services.tags import all_items, norm

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.schema import Campaign

Warn = Callable[[str], None]
# Sending-status requests in flight at once (one per campaign, read side by side).
STATUS_WORKERS = 8
NO_ACCOUNT = "no available account"


def _ignore(message: str) -> None:
    """The default ``warn``."""


def daily_limit(account: Mapping[str, Any]) -> float:
    value = account.get("daily_limit")
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return 0.0
    return float(value)


def is_available(account: Mapping[str, Any] | None) -> bool:
    return account is not None and account_active(account)


def is_active(campaign: Mapping[str, Any]) -> bool:
    status = campaign.get("status")
    if isinstance(status, float) and status.is_integer():
        status = int(status)
    return status in ACTIVE_CAMPAIGN_STATUSES


@dataclass
class Serving:
    """How one account serves one campaign: listed directly, and/or through these tags."""

    direct: bool = False
    tags: list[str] = field(default_factory=list)  # labels

    def via(self) -> list[str]:
        return ([VIA_LIST] if self.direct else []) + [f"tag:{t}" for t in self.tags]


@dataclass
class CampaignStats:
    total: int = 0
    available: int = 0
    capacity: float = 0.0
    at_risk_capacity: float = 0.0

    @property
    def at_risk_share(self) -> float:
        return share(self.at_risk_capacity, self.capacity)


@dataclass
class Sweep:
    """Every campaign, every account (with tags) and who serves what."""

    campaigns: list[Campaign]
    accounts: dict[str, Mapping[str, Any]]
    thresholds: Thresholds
    # campaign id → email → how it serves
    serving: dict[str, dict[str, Serving]] = field(default_factory=dict)
    # email → ids of the campaigns it serves (in campaign order)
    serves: dict[str, list[str]] = field(default_factory=dict)
    tag_labels: dict[str, str] = field(default_factory=dict)
    anomaly: str | None = None

    def __post_init__(self) -> None:
        self.by_id: dict[str, Campaign] = {str(c.get("id")): c for c in self.campaigns}

    def health(self, email: str) -> str | None:
        account = self.accounts.get(email)
        return None if account is None else health_class(account, self.thresholds)

    def stats(self, campaign_id: str, without: Iterable[str] = ()) -> CampaignStats:
        """The campaign's numbers; ``without``: as if these accounts no longer served it."""
        gone = set(without)
        out = CampaignStats()
        for email in self.serving.get(campaign_id, {}):
            if email in gone:
                continue
            out.total += 1
            account = self.accounts.get(email)
            if account is None or not is_available(account):
                continue
            out.available += 1
            limit = daily_limit(account)
            out.capacity += limit
            if health_class(account, self.thresholds) == AT_RISK:
                out.at_risk_capacity += limit
        return out

    def campaigns_of(self, email: str) -> list[dict[str, Any]]:
        """The campaigns one account serves, for ``accounts get`` (JSON-ready)."""
        rows = []
        for cid in self.serves.get(email, []):
            campaign = self.by_id[cid]
            how = self.serving[cid][email]
            rows.append({
                "id": cid,
                "name": campaign.get("name"),
                "status": campaign.get("status"),
                "direct": how.direct,
                "tags": list(how.tags),
            })
        return rows

    def resolve(self, spec: str) -> Campaign:
        """A campaign id or name (trimmed, case-insensitive) → the campaign; exit 2 if unclear."""
        return resolve_campaign(self.campaigns, spec)


def resolve_campaign(campaigns: Sequence[Campaign], spec: str) -> Campaign:
    """A campaign by id, else by name (trimmed, case-insensitive exact match; names resolve like
    tag labels); exit 2 with close names if none or several match."""
    text = spec.strip()
    for campaign in campaigns:
        if str(campaign.get("id")) == text:
            return campaign
    matches = [c for c in campaigns if norm(str(c.get("name", ""))) == norm(text)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = ", ".join(f"{c.get('id')} ({c.get('name')})" for c in matches)
        raise UsageError(
            f"Campaign name '{spec}' matches {len(matches)} campaigns.",
            hint=f"Use one of the ids: {ids}.",
        )
    names = [str(c.get("name", "")) for c in campaigns]
    hint = close_hint(text, names, "`instantly campaigns list` shows every campaign.")
    raise UsageError(f"No campaign is named '{spec}'.", hint=hint)


def list_all(client: InstantlyClient, warn: Warn = _ignore) -> list[Campaign]:
    return cast("list[Campaign]", all_items(client.list_campaigns(), "campaigns", warn))


def sweep(
    client: InstantlyClient,
    accounts: Iterable[Mapping[str, Any]],
    thresholds: Thresholds | None = None,
    *,
    warn: Warn = _ignore,
) -> Sweep:
    """Every campaign (one walk) joined with ``accounts`` (each with ``tags``: tag-served
    campaigns are found through them). ``fleet.campaign_sweep`` walks the accounts for it.
    """
    thresholds = thresholds or Thresholds()
    campaigns = list_all(client, warn)
    found = {str(a.get("email")): a for a in accounts}
    result = Sweep(campaigns, found, thresholds)
    wanted = {str(t) for c in campaigns for t in c.get("email_tag_list") or []}
    by_tag: dict[str, list[str]] = {t: [] for t in wanted}
    for email, account in found.items():
        for tag in account.get("tags") or []:
            tag_id = str(tag.get("id"))
            if tag_id in by_tag:
                by_tag[tag_id].append(email)
                result.tag_labels.setdefault(tag_id, str(tag.get("label") or tag_id))
    for campaign in campaigns:
        cid = str(campaign.get("id"))
        serving: dict[str, Serving] = {}
        for email in campaign.get("email_list") or []:
            serving.setdefault(str(email), Serving()).direct = True
        for tag_id in campaign.get("email_tag_list") or []:
            label = result.tag_labels.get(str(tag_id), str(tag_id))
            for email in by_tag.get(str(tag_id), []):
                serving.setdefault(email, Serving()).tags.append(label)
        result.serving[cid] = serving
        for email in serving:
            result.serves.setdefault(email, []).append(cid)
    return result


# -- sending status -------------------------------------------------------------------------


def diagnoses(
    client: InstantlyClient, campaign_ids: Sequence[str], warn: Warn = _ignore
) -> dict[str, dict[str, Any] | None]:
    """``sending-status`` of each campaign, read side by side; a failed read is warned and None."""

    def one(cid: str) -> dict[str, Any] | None:
        try:
            return dict(client.sending_status(cid))
        except NotFoundError:
            return None
        except Exception as exc:  # one campaign's status must not sink the whole view
            warn(f"Sending status of campaign {cid}: {exc}")
            return None

    if not campaign_ids:
        return {}
    with ThreadPoolExecutor(max_workers=min(STATUS_WORKERS, len(campaign_ids))) as pool:
        return dict(zip(campaign_ids, pool.map(one, campaign_ids), strict=True))


def reason(campaign: Mapping[str, Any], status: Mapping[str, Any] | None,
           stats: CampaignStats | None = None) -> str:
    """Why a campaign is not sending (or how it sends): the diagnosis, else what we know."""
    diagnostics = (status or {}).get("diagnostics") or {}
    if isinstance(diagnostics, dict) and diagnostics.get("status"):
        return str(diagnostics["status"])
    code = campaign.get("not_sending_status")
    if code is not None:
        return NOT_SENDING_STATUS.label(code)
    if not is_active(campaign):
        return CAMPAIGN_STATUS.label(campaign.get("status"))
    if stats is not None and stats.available == 0:
        return NO_ACCOUNT
    return ""


# -- rows -----------------------------------------------------------------------------------


def campaign_row(
    sw: Sweep, campaign: Campaign, status: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One campaign with its numbers (``campaigns list``; JSON keeps the API's fields)."""
    cid = str(campaign.get("id"))
    st = sw.stats(cid)
    return {
        **campaign,
        "accounts_total": st.total,
        "accounts_available": st.available,
        "capacity": number(st.capacity),
        "at_risk_share": st.at_risk_share,
        "sending_status": dict(status) if status is not None else None,
        "reason": reason(campaign, status, st),
    }


def list_rows(client: InstantlyClient, sw: Sweep, warn: Warn = _ignore) -> list[dict[str, Any]]:
    statuses = diagnoses(client, [str(c.get("id")) for c in sw.campaigns], warn)
    return [campaign_row(sw, c, statuses.get(str(c.get("id")))) for c in sw.campaigns]


def account_rows(sw: Sweep, campaign_id: str) -> list[dict[str, Any]]:
    """The accounts of one campaign, with health and how each serves it."""
    rows = []
    for email, how in sorted(sw.serving.get(campaign_id, {}).items()):
        account = sw.accounts.get(email)
        rows.append({
            "email": email,
            "status": account.get("status") if account else None,
            "health": sw.health(email) if account else None,
            "daily_limit": account.get("daily_limit") if account else None,
            "available": is_available(account),
            "via": how.via(),
        })
    return rows


# -- coverage -------------------------------------------------------------------------------


def is_idle(sw: Sweep, email: str) -> bool:
    account = sw.accounts[email]
    if account.get("warmup_status") != WARMUP_ACTIVE:
        return False
    if health_class(account, sw.thresholds) != HEALTHY:
        return False
    return not any(is_active(sw.by_id[cid]) for cid in sw.serves.get(email, []))


def idle_accounts(sw: Sweep) -> list[str]:
    return [email for email in sw.accounts if is_idle(sw, email)]


def in_campaign(sw: Sweep, spec: str) -> set[str]:
    """The emails that serve one campaign (id or name)."""
    campaign = sw.resolve(spec)
    return set(sw.serving.get(str(campaign.get("id")), {}))


def selected_emails(sw: Sweep, specs: Sequence[str], idle: bool) -> frozenset[str]:
    """``accounts list --campaign … --idle``: the emails serving any of ``specs`` (all when
    none), idle ones only with ``idle``."""
    chosen: set[str] = set()
    for spec in specs:
        chosen |= in_campaign(sw, spec)
    if not specs:
        chosen = set(sw.accounts)
    if idle:
        chosen &= set(idle_accounts(sw))
    return frozenset(chosen)


def coverage(
    client: InstantlyClient, sw: Sweep, at_risk_share: float, warn: Warn = _ignore
) -> dict[str, Any]:
    """Idle accounts, active campaigns over ``at_risk_share`` percent, campaigns not sending.

    Sending status is read only for active campaigns without an available account (the others'
    own status says why they do not send): one request per such campaign, not per campaign.
    """
    idle = idle_accounts(sw)
    risky: list[dict[str, Any]] = []
    stopped: list[tuple[Campaign, CampaignStats]] = []
    for campaign in sw.campaigns:
        cid = str(campaign.get("id"))
        st = sw.stats(cid)
        if not is_active(campaign) or st.available == 0:
            stopped.append((campaign, st))
        if is_active(campaign) and st.capacity and st.at_risk_share > at_risk_share:
            risky.append(_brief(campaign, st))
    asked = [str(c.get("id")) for c, st in stopped if is_active(c)]
    statuses = diagnoses(client, asked, warn)
    not_sending = [
        {**_brief(c, st), "reason": reason(c, statuses.get(str(c.get("id"))), st)}
        for c, st in stopped
    ]
    return {
        "idle": [
            {"email": e, "daily_limit": sw.accounts[e].get("daily_limit"),
             "stat_warmup_score": sw.accounts[e].get("stat_warmup_score")}
            for e in idle
        ],
        "idle_capacity": number(sum(daily_limit(sw.accounts[e]) for e in idle)),
        "campaigns_at_risk": risky,
        "not_sending": not_sending,
        "at_risk_share": at_risk_share,
        "accounts": len(sw.accounts),
        "campaigns": len(sw.campaigns),
    }


def _brief(campaign: Mapping[str, Any], st: CampaignStats) -> dict[str, Any]:
    return {
        "id": campaign.get("id"),
        "name": campaign.get("name"),
        "status": campaign.get("status"),
        "accounts_total": st.total,
        "accounts_available": st.available,
        "capacity": number(st.capacity),
        "at_risk_share": st.at_risk_share,
    }


# -- impact of a write ----------------------------------------------------------------------


def impact(sw: Sweep, emails: Iterable[str]) -> list[dict[str, Any]]:
    """What taking ``emails`` out of service does to each active campaign they serve: the
    capacity it loses per day and whether any available account is left (``stranded``)."""
    targets = set(emails)
    rows = []
    for campaign in sw.campaigns:
        if not is_active(campaign):
            continue
        cid = str(campaign.get("id"))
        # Only available accounts give capacity: a paused target takes nothing away.
        hit = [e for e in sw.serving.get(cid, {})
               if e in targets and is_available(sw.accounts.get(e))]
        if not hit:
            continue
        before = sw.stats(cid)
        after = sw.stats(cid, without=hit)
        rows.append({
            "id": cid,
            "name": campaign.get("name"),
            "accounts": len(hit),
            "capacity_lost": number(before.capacity - after.capacity),
            "capacity_left": number(after.capacity),
            "available_left": after.available,
            # Flagged when this run takes its last available account (not when it had none).
            "stranded": after.available == 0 and before.available > 0,
        })
    return rows


def served_by(
    client: InstantlyClient, accounts: Sequence[Mapping[str, Any]], warn: Warn = _ignore
) -> dict[str, list[dict[str, Any]]]:
    """``accounts get``: the campaigns each account serves (one campaign walk; the accounts'
    tags are read when they do not carry them)."""
    from instantly_cli.services.tags import attach_tags

    copies = [dict(a) for a in accounts]
    if any("tags" not in a for a in copies):
        attach_tags(client, cast("list[Any]", copies), warn=warn)
    sw = sweep(client, copies, warn=warn)
    return {str(a.get("email")): sw.campaigns_of(str(a.get("email"))) for a in copies}


# -- attach / detach: who a campaign sends from ----------------------------------------------

# Emails per read-modify-write of email_list: one GET and one PATCH a unit.
MEMBERSHIP_BATCH = 100


def find_campaign(client: InstantlyClient, spec: str, warn: Warn = _ignore) -> Campaign:
    """A campaign by id or name (see :func:`resolve_campaign`)."""
    return resolve_campaign(list_all(client, warn), spec)


def tag_served(
    client: InstantlyClient, campaign: Mapping[str, Any], emails: Sequence[str],
    warn: Warn = _ignore,
) -> dict[str, list[str]]:
    """The targets that serve ``campaign`` through a tag: email → tag labels."""
    from instantly_cli.services.tags import attach_tags

    wanted = {str(t) for t in campaign.get("email_tag_list") or []}
    if not wanted or not emails:
        return {}
    accounts: list[Any] = [{"email": e} for e in emails]
    attach_tags(client, accounts, warn=warn)
    out = {}
    for account in accounts:
        labels = [str(t.get("label")) for t in account["tags"] if str(t.get("id")) in wanted]
        if labels:
            out[str(account["email"])] = labels
    return out


def _lower(emails: Iterable[object]) -> set[str]:
    return {str(e).lower() for e in emails}


def membership_work(
    client: InstantlyClient, campaign_id: str, attach: bool
) -> Callable[[list[str]], list[bulk.Outcome]]:
    """One unit: read the campaign's ``email_list``, add or remove the batch, PATCH the whole
    list back. Units run one at a time (a lock): two read-modify-writes of one list at once
    would lose one's change. A target already as asked is ``unchanged``."""
    import threading

    from instantly_cli.enums import ATTACHED, DETACHED, UNCHANGED

    lock = threading.Lock()
    done = ATTACHED if attach else DETACHED

    def work(batch: list[str]) -> list[bulk.Outcome]:
        with lock:
            current = [str(e) for e in client.get_campaign(campaign_id).get("email_list") or []]
            have = _lower(current)
            if attach:
                change = [e for e in batch if e.lower() not in have]
                new = current + change
            else:
                gone = _lower(batch)
                change = [e for e in batch if e.lower() in have]
                new = [e for e in current if e.lower() not in gone]
            if change:
                client.set_campaign_accounts(campaign_id, new)
        changed = _lower(change)
        return [bulk.Outcome(e, done if e.lower() in changed else UNCHANGED) for e in batch]

    return work


def plan_membership(
    client: InstantlyClient, campaign: Campaign, emails: Sequence[str], attach: bool,
    *, clock: Callable[[], float],
) -> bulk.RunResult:
    """The dry run: the email_list diff, one outcome per target; nothing is sent."""
    from instantly_cli.enums import UNCHANGED, WOULD_ATTACH, WOULD_DETACH

    started = clock()
    fresh = client.get_campaign(str(campaign.get("id")))
    have = _lower(fresh.get("email_list") or [])
    would = WOULD_ATTACH if attach else WOULD_DETACH
    outcomes = [
        bulk.Outcome(e, would if (e.lower() in have) != attach else UNCHANGED,
                     extra={"campaign_id": fresh.get("id")})
        for e in emails
    ]
    return bulk.RunResult(outcomes, False, clock() - started)
