"""Sending and warmup numbers: daily analytics (split to fit the API's bounds) and warmup health.

``GET /accounts/analytics/daily`` takes at most 200 emails and 31 days a call and answers 413
when a request is too large for the workspace (a proxy may answer 414, URI too long, for the same
reason: the emails travel in the query): requests are cut to fit up front, and a 413 or 414 is
answered by splitting again (the email chunk first, then the date range), never by failing. The
size that was refused is remembered for the rest of the run, so later requests are cut to what
works at once instead of each being refused and split in turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from instantly_cli.enums import HEALTH_FAIR, HEALTH_GOOD
from instantly_cli.errors import CliError, UsageError

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient

MAX_EMAILS = 200
MAX_DAYS = 31
DEFAULT_DAYS = 7
# POST /accounts/warmup-analytics takes at most 100 emails a call.
WARMUP_BATCH = 100
# Fields of a daily row that are not counts.
KEY_FIELDS = ("date", "email_account")


# Answers that mean "this request is too large": split it and try again.
TOO_LARGE = (413, 414)


@dataclass
class Targets:
    """The emails to report on; ``anomaly`` says why listing every account stopped early."""

    emails: list[str]
    anomaly: str | None = None


def account_emails(client: InstantlyClient, emails: Sequence[str] | None) -> Targets:
    """The emails asked for, or (None: ``--all``) every account's email, listed as
    ``accounts list --all`` lists them (its walk, its loop guard)."""
    if emails is not None:
        return Targets(list(emails))
    from instantly_cli.services.accounts.list import ListQuery, list_accounts

    listing = list_accounts(client, ListQuery(), limit=None)
    found = [str(a["email"]) for a in listing.items() if a.get("email")]
    return Targets(found, listing.anomaly)


def parse_date(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{flag} takes a date as YYYY-MM-DD, not '{text}'.",
            hint=f"For example: {flag} 2026-03-01.",
        ) from None


def date_range(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """``--from``/``--to`` (default: the last 7 days, today included); exit 2 when reversed."""
    last = parse_date(end, "--to") if end else today
    first = parse_date(start, "--from") if start else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise UsageError(
            f"--from {first} is after --to {last}.", hint="Give the earlier date to --from."
        )
    return first, last


def windows(first: date, last: date, days: int = MAX_DAYS) -> list[tuple[date, date]]:
    """The range cut into windows of at most ``days`` days."""
    out = []
    while first <= last:
        end = min(last, first + timedelta(days=days - 1))
        out.append((first, end))
        first = end + timedelta(days=1)
    return out


@dataclass
class Daily:
    rows: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    splits: int = 0


def daily(
    client: InstantlyClient,
    emails: Sequence[str],
    first: date,
    last: date,
    *,
    on_split: Callable[[str], None] = lambda message: None,
) -> Daily:
    """Every daily row for ``emails`` over [first, last], however many requests it takes."""
    out = Daily()
    queue: list[tuple[list[str], date, date]] = [
        (list(emails[i : i + MAX_EMAILS]), a, b)
        for i in range(0, len(emails), MAX_EMAILS)
        for a, b in windows(first, last)
    ]
    # The most emails and days a request may carry: lowered by each refusal, for the whole run.
    most_emails, most_days = MAX_EMAILS, MAX_DAYS
    while queue:
        chunk, a, b = queue.pop(0)
        if len(chunk) > most_emails:
            queue[:0] = [(chunk[i : i + most_emails], a, b)
                         for i in range(0, len(chunk), most_emails)]
            continue
        if (b - a).days + 1 > most_days:
            queue[:0] = [(chunk, x, y) for x, y in windows(a, b, most_days)]
            continue
        out.requests += 1
        try:
            out.rows.extend(client.daily_analytics(chunk, a.isoformat(), b.isoformat()))
            continue
        except CliError as err:
            if err.status not in TOO_LARGE:
                raise
            too_large = err
        out.splits += 1
        queue.insert(0, (chunk, a, b))
        if len(chunk) > 1:
            most_emails = (len(chunk) + 1) // 2
            on_split(f"request too large ({too_large.status}); splitting: at most "
                     f"{most_emails} accounts a request from now on")
        elif a < b:
            most_days = ((b - a).days + 2) // 2
            on_split(f"request too large ({too_large.status}); splitting: at most "
                     f"{most_days} days a request from now on")
        else:
            raise CliError(
                f"The API refuses even one account for one day as too large: {too_large.message}",
                status=too_large.status,
            )
    return out


def metrics(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The count fields the rows carry (whatever the API sends), in first-seen order."""
    names: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key not in KEY_FIELDS and isinstance(value, int | float) and not isinstance(
                value, bool
            ):
                names.setdefault(key, None)
    return list(names)


def totals(
    rows: Sequence[Mapping[str, Any]], by: str, order: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Sum every count per account (``email_account``) or per day (``date``)."""
    key = "email_account" if by == "account" else "date"
    names = metrics(rows)
    groups: dict[str, dict[str, Any]] = {}
    for email in order if by == "account" else ():
        groups.setdefault(email.lower(), {key: email, **dict.fromkeys(names, 0)})
    for row in rows:
        value = str(row.get(key, ""))
        if by == "day":
            value = value[:10]
        group = groups.setdefault(value.lower(), {key: value, **dict.fromkeys(names, 0)})
        for name in names:
            number = row.get(name)
            if isinstance(number, int | float) and not isinstance(number, bool):
                group[name] += number
    out = list(groups.values())
    return sorted(out, key=lambda g: str(g[key])) if by == "day" else out


def missing(emails: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Targets the API sent no row for (not accounts of this workspace)."""
    seen = {str(r.get("email_account", "")).lower() for r in rows}
    return [e for e in emails if e.lower() not in seen]


# -- warmup --------------------------------------------------------------------------------------

WARMUP_COUNTS = ("sent", "landed_inbox", "landed_spam", "received")


def health(inbox_rate: float | None) -> str:
    if inbox_rate is None:
        return "no-data"
    if inbox_rate >= HEALTH_GOOD:
        return "good"
    if inbox_rate >= HEALTH_FAIR:
        return "fair"
    return "poor"


def _rate(inbox: float, sent: float) -> float | None:
    return round(100.0 * inbox / sent, 1) if sent else None


@dataclass
class WarmupStats:
    accounts: list[dict[str, Any]]
    aggregate: dict[str, Any]
    missing: list[str]


def warmup_stats(
    client: InstantlyClient,
    emails: Sequence[str],
    *,
    advance: Callable[[int, int], None] = lambda done, failed: None,
) -> WarmupStats:
    """Per account: the API's aggregate numbers plus ``inbox_rate`` (%) and ``health``."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(emails), WARMUP_BATCH):
        batch = list(emails[start : start + WARMUP_BATCH])
        answer = client.warmup_analytics(batch)
        data = answer.get("aggregate_data")
        for email, numbers in (data if isinstance(data, Mapping) else {}).items():
            if isinstance(numbers, Mapping):
                found[str(email).lower()] = dict(numbers)
        advance(len(batch), 0)
    rows = []
    for email in emails:
        numbers = found.get(email.lower())
        if numbers is None:
            continue
        counts = {k: numbers.get(k) or 0 for k in WARMUP_COUNTS}
        rate = _rate(counts["landed_inbox"], counts["sent"])
        rows.append({"email": email, **numbers, **counts, "inbox_rate": rate,
                     "health": health(rate)})
    sums = {k: sum(r[k] for r in rows) for k in WARMUP_COUNTS}
    rate = _rate(sums["landed_inbox"], sums["sent"])
    aggregate = {"accounts": len(rows), **sums, "inbox_rate": rate, "health": health(rate)}
    return WarmupStats(rows, aggregate, [e for e in emails if e.lower() not in found])
