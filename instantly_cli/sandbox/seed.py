"""Deterministic seed data for the sandbox: the accounts, tags and mappings a fresh store holds.

Everything here is a pure function of its arguments (and a fixed random seed), so two stores
seeded with the same count hold identical data.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

ORG_ID = "0b6b2c1e-5f0a-4d2e-9c3b-7a1d2e3f4a5b"
# Workspaces. The default one (the key's workspace, where every seeded account lives) is, in the
# default "agency" layout, an admin workspace with five named sub-workspaces: three accepted
# (reachable with ``x-as-workspace``), one pending and one rejected (403). The first two
# accepted ones are the workspaces earlier sandboxes seeded for ``POST /accounts/move``.
DEFAULT_WORKSPACE_ID = ORG_ID
DEFAULT_WORKSPACE_NAME = "Acme Agency"
LAYOUTS = ("agency", "single")
# (id, name, membership status, workspace-group-member id)
SUB_WORKSPACES: tuple[tuple[str, str, str, str], ...] = (
    (
        "5a4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c",
        "Client North",
        "accepted",
        "1f6e2a90-3b4c-4d5e-8f60-718293a4b5c1",
    ),
    (
        "9c8b7a6f-5e4d-4c3b-a2f1-0e9d8c7b6a5f",
        "Client South",
        "accepted",
        "2a7f3b01-4c5d-4e6f-9071-8293a4b5c6d2",
    ),
    (
        "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f",
        "Client East",
        "accepted",
        "3b804c12-5d6e-4f70-8182-93a4b5c6d7e3",
    ),
    (
        "d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70",
        "Client West",
        "pending",
        "4c915d23-6e7f-4081-9293-a4b5c6d7e8f4",
    ),
    (
        "e5f6a7b8-c9d0-4e1f-a02b-3c4d5e6f7081",
        "Client Legacy",
        "rejected",
        "5da26e34-7f80-4192-a3a4-b5c6d7e8f905",
    ),
)
# The default workspace and the sub-workspaces reachable from it in the default layout.
SEED_WORKSPACES = (
    DEFAULT_WORKSPACE_ID,
    *(ws[0] for ws in SUB_WORKSPACES if ws[2] == "accepted"),
)
BASE_WORKSPACES = datetime(2025, 11, 1, tzinfo=UTC)
USER_ID = "7e2d4c6a-1b3f-4e5d-8a9b-0c1d2e3f4a5b"
SEED = 20260101
BASE_CREATED = datetime(2026, 1, 1, tzinfo=UTC)
BASE_TAGS = datetime(2025, 12, 1, tzinfo=UTC)
BASE_MAPPINGS = datetime(2025, 12, 15, tzinfo=UTC)

STATUSES = (1, 2, 3, -1, -2, -3)
WARMUP_STATUSES = (0, 1, -1, -2, -3)
PROVIDERS = (1, 2, 3, 4, 8, 11)
INCREMENTS = ("disabled", "0", "1", "2", "3", "4")

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


def _pool(values: Sequence[int], weights: Sequence[int]) -> tuple[int, ...]:
    # A weighted pool picked with one random() call: rng.choices was a seed hot spot.
    return tuple(v for v, w in zip(values, weights, strict=True) for _ in range(w))


_STATUS_POOL = _pool(STATUSES, (70, 12, 3, 6, 4, 5))
_WARMUP_POOL = _pool(WARMUP_STATUSES, (25, 60, 5, 5, 5))
_PROVIDER_POOL = _pool(PROVIDERS, (12, 45, 30, 5, 5, 3))


def iso(dt: datetime) -> str:
    """Format like the API: ``2026-01-01T00:00:00.000Z``."""
    # Hand-formatted: strftime dominated the 100,000-account seed.
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
        f"{dt.second:02d}.{dt.microsecond // 1000:03d}Z"
    )


def ascii_name(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def seeded_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def make_account(i: int, rng: random.Random) -> dict[str, Any]:
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
        email = f"{ascii_name(first)}+team{i}@{domain}"
    else:
        email = f"{ascii_name(first)}.{ascii_name(last)}{i}@{domain}"
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
        "stat_warmup_score": warmup_score(rnd(), warmup_status) if started else None,
        "sending_gap": pick((0, 5, 10, 15, 30)),
        "signature": f"Best regards,\n{first} {last}" if i % 5 else None,
        "reply_to": f"replies@{domain}" if i % 9 == 2 else None,
        "autofix_failed": pick((None, True, False)) if status < 0 else False,
    }
    if status < 0:
        acc["status_message"] = status_message(status, i)
    if started and i % 40 == 21:
        # A few accounts carry no score at all (the key absent, which the schema allows too).
        del acc["stat_warmup_score"]
    return acc


def tag_members(i: int, acc: dict[str, Any]) -> list[int]:
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


def _hash(*parts: str) -> int:
    """A stable 64-bit number for the parts (unlike hash(), the same in every process)."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def warmup_score(u: float, warmup_status: int) -> int:
    """A warmup score from one uniform draw: mostly high, some middling, a low tail.

    Accounts whose warmup is in an error state (banned, spam folder unknown, suspended) score
    low, like they do in the app.
    """
    if warmup_status < 0:
        return 5 + int(u * 40)
    if u < 0.1:
        return 20 + int(u * 10 * 30)
    if u < 0.3:
        return 50 + int((u - 0.1) * 5 * 30)
    return 80 + int((u - 0.3) / 0.7 * 21)


# SMTP/IMAP errors seen in the field: a few reasons shared by many accounts, each with a
# per-account detail (an IP, a session id) so that grouping them needs normalising.
# (code, command, response, e_message prefix, responseCode, weight)
_ERRORS: dict[int, tuple[tuple[str, str, str, str, int, int], ...]] = {
    -1: (
        (
            "EAUTH",
            "AUTH PLAIN",
            "535-5.7.8 Username and Password not accepted. For more information, go to\n"
            "535 5.7.8  https://support.google.com/mail/?p=BadCredentials {sid} - gsmtp",
            "Invalid login: ",
            535,
            5,
        ),
        (
            "ETIMEDOUT",
            "CONN",
            "421 4.4.2 Connection timed out",
            "Connection timed out: connect ETIMEDOUT 203.0.113.{ip}:587 ",
            421,
            4,
        ),
        (
            "EAUTH",
            "AUTH LOGIN",
            "535 5.7.139 Authentication unsuccessful, the user credentials were incorrect. "
            "[{sid}.prod.protection.outlook.com]",
            "Invalid login: ",
            535,
            2,
        ),
    ),
    -2: (
        (
            "EENVELOPE",
            "DATA",
            "550-5.4.5 Daily user sending limit exceeded. For more information on Gmail\n"
            "550 5.4.5  https://support.google.com/a/answer/166852 {sid} - gsmtp",
            "error: data command failed: ",
            550,
            3,
        ),
        (
            "EENVELOPE",
            "RCPT TO",
            "421 4.7.0 [203.0.113.{ip}] Our system has detected an unusual rate of unsolicited "
            "mail originating from your IP address.",
            "Mail command failed: ",
            421,
            2,
        ),
    ),
    -3: (
        (
            "EMESSAGE",
            "DATA",
            "550 5.7.1 Service unavailable, Client host [198.51.100.{ip}] blocked using "
            "Spamhaus. To request removal from this list see "
            "https://www.spamhaus.org/query/ip/198.51.100.{ip}",
            "Message failed: ",
            550,
            4,
        ),
        (
            "EMESSAGE",
            "DATA",
            "554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException."
            "MapiExceptionSendAsDenied; Cannot submit message. [{sid}]",
            "Message failed: ",
            554,
            1,
        ),
    ),
}


def status_message(status: int, i: int) -> dict[str, Any]:
    """The ``status_message`` of the i-th seeded account in an error status (status < 0)."""
    choices = _ERRORS[status]
    pool = [k for k, c in enumerate(choices) for _ in range(c[5])]
    # The first error account of each status (i = 3, 4, 5) gets the most common reason.
    code, command, response, prefix, number, _ = choices[
        0 if i < 6 else pool[_hash("error", str(i)) % len(pool)]
    ]
    sid = f"{_hash('sid', str(i)):016x}"
    ip = str(2 + _hash("ip", str(i)) % 250)
    text = response.format(sid=sid, ip=ip)
    return {
        "code": code,
        "command": command,
        "response": text,
        "e_message": prefix.format(sid=sid, ip=ip) + text,
        "responseCode": number,
    }


# -- deterministic measurements (vitals, tracking domains, analytics) -----------------------


# Salts picked so that a few of the seeded domains fail a check, as in a real fleet.
_VITALS_SALT = "vitals/20"
_CTD_SALT = "ctd/25"


def vitals(domain: str) -> dict[str, Any]:
    """DNS checks of a domain, decided by a stable hash: about one domain in five fails one."""
    bucket = _hash(_VITALS_SALT, domain) % 100
    checks = {"mx": True, "spf": True, "dkim": True, "dmarc": True}
    if bucket < 6:
        checks["dmarc"] = False
    elif bucket < 11:
        checks["spf"] = False
    elif bucket < 15:
        checks["dkim"] = False
    elif bucket < 17:
        checks["mx"] = False
    elif bucket < 20:
        checks["spf"] = checks["dmarc"] = False
    return {"domain": domain, "allPass": all(checks.values()), **checks}


def ctd_status(host: str) -> dict[str, Any]:
    """Custom tracking domain check, by a stable hash: ~12% no CNAME, ~8% CNAME but no SSL."""
    bucket = _hash(_CTD_SALT, host) % 100
    cname = bucket >= 12
    ssl = bucket >= 20
    return {"success": cname and ssl, "ssl": ssl, "cname": cname, "host": host}


DAILY_FIELDS = (
    "sent",
    "bounced",
    "contacted",
    "new_leads_contacted",
    "opened",
    "unique_opened",
    "replies",
    "unique_replies",
    "replies_automatic",
    "unique_replies_automatic",
    "clicks",
    "unique_clicks",
)


def daily_counts(email: str, day: str, active: bool) -> dict[str, int]:
    """Campaign counts of one account on one day (all zero when ``active`` is false).

    Consistent like real numbers: bounced, contacted <= sent; new leads <= contacted; every
    unique count <= its total.
    """
    if not active:
        return dict.fromkeys(DAILY_FIELDS, 0)
    rng = random.Random(_hash("daily", email, day))
    weekend = datetime.strptime(day, "%Y-%m-%d").weekday() >= 5
    sent = rng.randint(0, 60) // (3 if weekend else 1)
    contacted = sent - int(sent * rng.random() * 0.3)
    unique_opened = int(contacted * (0.2 + rng.random() * 0.4))
    unique_replies = int(contacted * rng.random() * 0.08)
    unique_auto = int(contacted * rng.random() * 0.05)
    unique_clicks = int(unique_opened * rng.random() * 0.2)
    return {
        "sent": sent,
        "bounced": int(sent * rng.random() * 0.05),
        "contacted": contacted,
        "new_leads_contacted": contacted - int(contacted * rng.random() * 0.5),
        "opened": unique_opened + int(unique_opened * rng.random() * 0.8),
        "unique_opened": unique_opened,
        "replies": unique_replies + (1 if unique_replies and rng.random() < 0.3 else 0),
        "unique_replies": unique_replies,
        "replies_automatic": unique_auto + (1 if unique_auto and rng.random() < 0.2 else 0),
        "unique_replies_automatic": unique_auto,
        "clicks": unique_clicks + int(unique_clicks * rng.random()),
        "unique_clicks": unique_clicks,
    }


def warmup_day(email: str, day: str, score: float | None, active: bool) -> dict[str, int]:
    """Warmup counts of one account on one day; the spam share follows its warmup score."""
    if not active:
        return {"sent": 0, "landed_inbox": 0, "landed_spam": 0, "received": 0}
    rng = random.Random(_hash("warmup", email, day))
    sent = rng.randint(5, 40)
    spam = min(sent, round(sent * (100 - (95 if score is None else score)) / 100))
    return {
        "sent": sent,
        "landed_inbox": sent - spam,
        "landed_spam": spam,
        "received": rng.randint(sent * 3 // 5, sent + 5),
    }


def health_label(score: int, sent: int) -> str:
    """The sandbox's wording of a warmup health score (the API's own labels are undocumented)."""
    if sent == 0:
        return "no data"
    if score >= 90:
        return "excellent"
    if score >= 75:
        return "good"
    if score >= 50:
        return "fair"
    return "poor"
