"""Deterministic seed data for the sandbox: the accounts, tags and mappings a fresh store holds.

Everything here is a pure function of its arguments (and a fixed random seed), so two stores
seeded with the same count hold identical data.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

ORG_ID = "0b6b2c1e-5f0a-4d2e-9c3b-7a1d2e3f4a5b"
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
_STATUS_MESSAGES: dict[int, dict[str, Any]] = {
    -1: {
        "code": "EAUTH",
        "command": "AUTH PLAIN",
        "response": "535-5.7.8 Username and Password not accepted.",
        "e_message": "Invalid login: 535-5.7.8 Username and Password not accepted.",
        "responseCode": 535,
    },
    -2: {
        "code": "EENVELOPE",
        "command": "DATA",
        "response": "550-5.4.5 Daily user sending limit exceeded. For more information on Gmai",
        "e_message": "error: data command failed: 550-5.4.5 daily user sending limit exceeded",
        "responseCode": 550,
    },
    -3: {
        "code": "EMESSAGE",
        "command": "DATA",
        "response": "554 5.2.0 Transaction failed: message rejected",
        "e_message": "error: message failed: 554 5.2.0 transaction failed",
        "responseCode": 554,
    },
}


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
        "stat_warmup_score": 40 + int(rnd() * 61) if started else None,
        "sending_gap": pick((0, 5, 10, 15, 30)),
        "signature": f"Best regards,\n{first} {last}" if i % 5 else None,
        "reply_to": f"replies@{domain}" if i % 9 == 2 else None,
        "autofix_failed": pick((None, True, False)) if status < 0 else False,
    }
    if status < 0:
        acc["status_message"] = dict(_STATUS_MESSAGES[status])
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
