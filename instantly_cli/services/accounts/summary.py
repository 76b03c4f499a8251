"""Fleet health: the health class of an account, one streamed pass that tallies a summary, and
the ``--fail-if`` gate grammar.

Health classes (first match wins; thresholds settable, defaults 70 and 90). Instantly's warmup
score is the share of warmup emails that reached the inbox over the last 7 days; it says to aim
above 90, and the score falls to 0 after 7 days without warmup, so a paused warmup's score says
nothing:

- **at-risk**: status connection/soft-bounce/sending error, or warmup banned/spam folder
  unknown/permanent suspension;
- **no-data**: warmup paused, or no score;
- **at-risk**: a warmup score below ``at_risk_below``;
- **watch**: status paused, or a score below ``watch_below``;
- **healthy**: the rest.

The tally keeps counters only: per-code counts, a 101-slot histogram of integer scores (so the
median and p10 cost no memory per account), capacity sums, error groups keyed by a normalised
message, and one small counter set per ``--by`` group. Memory grows with the number of groups
and distinct error reasons, never with the number of accounts.

No terminal imports: the command renders what :meth:`Tally.to_json` returns.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from instantly_cli.enums import (
    ACCOUNT_STATUS,
    ACTIVE_STATUS,
    AT_RISK,
    AT_RISK_BELOW,
    ERROR_STATUSES,
    GATE_METRIC,
    HEALTH,
    HEALTHY,
    NO_DATA,
    PROVIDER,
    SUMMARY_BY,
    WARMUP_PROBLEMS,
    WARMUP_STATUS,
    WARMUP_WATCH,
    WATCH,
    WATCH_BELOW,
    WATCH_STATUSES,
    EnumTable,
)
from instantly_cli.errors import UsageError

DEFAULT_AT_RISK_BELOW = AT_RISK_BELOW
DEFAULT_WATCH_BELOW = WATCH_BELOW
# Score buckets of the distribution: 0-9, 10-19, ... 80-89, 90-100.
BUCKET_WIDTH = 10
EXAMPLES = 3
NO_TAG = "(no tag)"
NO_MESSAGE = "(no message)"


# -- health class ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    at_risk_below: float = DEFAULT_AT_RISK_BELOW
    watch_below: float = DEFAULT_WATCH_BELOW

    def __post_init__(self) -> None:
        for name, value in (("--at-risk-below", self.at_risk_below),
                            ("--watch-below", self.watch_below)):
            if not (math.isfinite(value) and 0 <= value <= 101):
                raise UsageError(
                    f"{name} must be a score from 0 to 101 (got {value:g}).",
                    hint="Scores run from 0 to 100; 101 puts every score below the line.",
                )
        if self.at_risk_below > self.watch_below:
            raise UsageError(
                f"--at-risk-below ({self.at_risk_below:g}) is above --watch-below "
                f"({self.watch_below:g}).",
                hint="At risk is the lower band: for example --at-risk-below 50 --watch-below 80.",
            )


def score_of(account: Mapping[str, Any]) -> float | None:
    """The warmup score as a number, or None when the account has none (or a non-number)."""
    value = account.get("stat_warmup_score")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def health_class(account: Mapping[str, Any], thresholds: Thresholds) -> str:
    return _classify(
        account.get("status"), account.get("warmup_status"), score_of(account), thresholds
    )


def _classify(status: object, warmup: object, score: float | None, thresholds: Thresholds) -> str:
    if status in ERROR_STATUSES or warmup in WARMUP_PROBLEMS:
        return AT_RISK
    if score is None or warmup in WARMUP_WATCH:
        return NO_DATA
    if score < thresholds.at_risk_below:
        return AT_RISK
    if status in WATCH_STATUSES or score < thresholds.watch_below:
        return WATCH
    return HEALTHY



def score_class(score: float, thresholds: Thresholds) -> str:
    """The class a score alone puts an account in (what `accounts diff` calls crossing)."""
    if score < thresholds.at_risk_below:
        return AT_RISK
    return WATCH if score < thresholds.watch_below else HEALTHY


def with_health(
    pages: Iterable[Sequence[Mapping[str, Any]]], thresholds: Thresholds
) -> Iterator[list[dict[str, Any]]]:
    """Pages of accounts, each with a computed ``health`` key (``--fields health``)."""
    for page in pages:
        yield [{**account, "health": health_class(account, thresholds)} for account in page]


def domain_of(email: object) -> str:
    """The domain of an email, lowercased ('' for something that is not an email)."""
    if not isinstance(email, str) or "@" not in email:
        return ""
    return email.rpartition("@")[2].strip().lower()


# -- error reasons --------------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b")
_IPV6 = re.compile(r"\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}\b", re.I)
# Hex or base-64-ish ids: 8+ characters mixing digits and letters (message ids, queue ids).
_ID = re.compile(r"\b(?=[0-9A-Za-z_-]*\d)(?=[0-9A-Za-z_-]*[A-Za-z])[0-9A-Za-z_-]{8,}\b")
# SMTP reply codes carry the meaning of an error (535, 5.7.8): they are kept, other numbers are
# counters, sizes or times and become <n>.
_SMTP = re.compile(r"\b[245]\d\d(?=[- ][245]\.\d{1,3}\.\d{1,3}\b)|\b[245]\.\d{1,3}\.\d{1,3}\b"
                   r"|^[245]\d\d\b|(?<=: )[245]\d\d\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SPACE = re.compile(r"\s+")
# Kept codes wait in private-use characters (no digits, so the number pass leaves them alone).
_MARK = 0xF0000


def reason_text(message: object) -> tuple[str, str | None]:
    """The raw text and code of a ``status_message`` (e_message, else response, else code)."""
    if isinstance(message, str):
        return message, None
    if not isinstance(message, Mapping):
        return "", None
    code = message.get("code")
    text = message.get("e_message") or message.get("response") or ""
    return (str(text), str(code) if code else None)


def error_reason(message: object) -> tuple[str, str | None]:
    """The reason an account in an error status is grouped under (its normalised message, else
    its code), and its code: what the summary shows and ``--error`` matches."""
    text, code = reason_text(message)
    return (normalise_reason(text) if text else (code or NO_MESSAGE)), code


@functools.lru_cache(maxsize=4096)
def normalise_reason(text: str) -> str:
    """The same error on many accounts → one text: emails, ids, IPs, counters → placeholders."""
    text = _SPACE.sub(" ", text).strip()
    text = _EMAIL.sub("<email>", text)
    text = _UUID.sub("<id>", text)
    text = _IPV4.sub("<ip>", text)
    text = _IPV6.sub("<ip>", text)
    kept: list[str] = []

    def keep(match: re.Match[str]) -> str:
        kept.append(match.group(0))
        return chr(_MARK + len(kept) - 1)

    text = _SMTP.sub(keep, text)
    text = _ID.sub("<id>", text)
    text = _NUMBER.sub("<n>", text)
    text = "".join(kept[ord(ch) - _MARK] if ord(ch) >= _MARK else ch for ch in text)
    return text.rstrip(".").strip() or NO_MESSAGE


@dataclass
class ErrorGroup:
    reason: str
    code: str | None
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, email: str, count: int = 1) -> None:
        self.count += count
        if len(self.examples) < EXAMPLES and email and email not in self.examples:
            self.examples.append(email)


# -- the tally ------------------------------------------------------------------------------------


@dataclass
class Counts:
    """The numbers of one group (or of the whole fleet)."""

    total: int = 0
    at_risk: int = 0
    watch: int = 0
    healthy: int = 0
    no_data: int = 0
    errors: int = 0
    unscored: int = 0
    active: int = 0
    capacity: float = 0
    active_without_limit: int = 0

    def add(self, other: Counts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "at_risk": self.at_risk,
            "at_risk_share": share(self.at_risk, self.total),
            "watch": self.watch,
            "healthy": self.healthy,
            "no_data": self.no_data,
            "errors": self.errors,
            "unscored": self.unscored,
            "active": self.active,
            "capacity": number(self.capacity),
            "active_without_limit": self.active_without_limit,
        }


def share(part: float, whole: float) -> float:
    """A percentage with two decimals (0 of nothing is 0)."""
    return round(100.0 * part / whole, 2) if whole else 0.0


def number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _count(
    c: Counts, klass: str, error: bool, unscored: bool, active: bool, limit: float | None
) -> None:
    c.total += 1
    if klass == AT_RISK:
        c.at_risk += 1
    elif klass == WATCH:
        c.watch += 1
    elif klass == NO_DATA:
        c.no_data += 1
    else:
        c.healthy += 1
    if error:
        c.errors += 1
    if unscored:
        c.unscored += 1
    if active:
        c.active += 1
        if limit is None:
            c.active_without_limit += 1
        else:
            c.capacity += limit


def _daily_limit(account: Mapping[str, Any]) -> float | None:
    value = account.get("daily_limit")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


class Tally:
    """Every number of ``accounts summary``, accumulated one account at a time."""

    def __init__(self, thresholds: Thresholds | None = None, by: str | None = None) -> None:
        if by is not None:
            SUMMARY_BY.parse(by)
        self.thresholds = thresholds or Thresholds()
        self.by = by
        self.counts = Counts()
        self.status: dict[object, int] = {}
        self.warmup: dict[object, int] = {}
        self.provider: dict[object, int] = {}
        self.histogram = [0] * 101
        self.errors: dict[str, ErrorGroup] = {}
        self.groups: dict[str, Counts] = {}
        # Why the pass that fed this tally ended early (None: it read everything).
        self.anomaly: str | None = None

    # -- accumulation

    def add(self, account: Mapping[str, Any]) -> str:
        """Count one account; returns its health class. (The hot loop of the summary: plain
        attribute updates, one score lookup, cached reason normalisation.)"""
        get = account.get
        status = get("status")
        warmup = get("warmup_status")
        score = score_of(account)
        klass = _classify(status, warmup, score, self.thresholds)
        error = status in ERROR_STATUSES
        active = status == ACTIVE_STATUS
        limit = _daily_limit(account) if active else None
        _count(self.counts, klass, error, score is None, active, limit)
        self.status[status] = self.status.get(status, 0) + 1
        self.warmup[warmup] = self.warmup.get(warmup, 0) + 1
        provider = get("provider_code")
        self.provider[provider] = self.provider.get(provider, 0) + 1
        if score is not None:
            self.histogram[min(100, max(0, math.floor(score)))] += 1
        if error:
            reason, code = error_reason(get("status_message"))
            group = self.errors.get(reason)
            if group is None:
                group = self.errors[reason] = ErrorGroup(reason, code)
            group.add(str(get("email") or ""))
        if self.by is not None:
            for key in self._group_keys(account):
                counts = self.groups.get(key)
                if counts is None:
                    counts = self.groups[key] = Counts()
                _count(counts, klass, error, score is None, active, limit)
        return klass

    def add_all(self, accounts: Iterable[Mapping[str, Any]]) -> Tally:
        add = self.add
        for account in accounts:
            add(account)
        return self

    def _group_keys(self, account: Mapping[str, Any]) -> list[str]:
        if self.by == "domain":
            return [domain_of(account.get("email"))]
        if self.by == "provider":
            return [PROVIDER.label(account.get("provider_code"))]
        if self.by == "status":
            return [ACCOUNT_STATUS.label(account.get("status"))]
        tags = account.get("tags")
        labels = []
        if isinstance(tags, list):
            for tag in tags:
                label = tag.get("label") if isinstance(tag, Mapping) else None
                if isinstance(label, str) and label not in labels:
                    labels.append(label)
        return labels or [NO_TAG]

    def merge(self, other: Tally) -> None:
        """Add another tally's numbers (the --all-profiles total)."""
        self.counts.add(other.counts)
        for mine, theirs in ((self.status, other.status), (self.warmup, other.warmup),
                             (self.provider, other.provider)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        self.histogram = [a + b for a, b in zip(self.histogram, other.histogram, strict=True)]
        for reason, group in other.errors.items():
            mine_group = self.errors.get(reason)
            if mine_group is None:
                mine_group = self.errors[reason] = ErrorGroup(reason, group.code)
            mine_group.count += group.count
            for email in group.examples:
                mine_group.add(email, 0)
        for key, counts in other.groups.items():
            self.groups.setdefault(key, Counts()).add(counts)

    # -- results

    def percentile(self, p: float) -> int | None:
        """Nearest-rank percentile of the integer scores (None without any score)."""
        scored = sum(self.histogram)
        if not scored:
            return None
        rank = max(1, math.ceil(p / 100.0 * scored))
        seen = 0
        for value, count in enumerate(self.histogram):
            seen += count
            if seen >= rank:
                return value
        return 100  # pragma: no cover - the ranks always fall inside the histogram

    def buckets(self) -> list[dict[str, int]]:
        out = []
        for start in range(0, 100, BUCKET_WIDTH):
            end = start + BUCKET_WIDTH - 1 if start + BUCKET_WIDTH < 100 else 100
            out.append({"from": start, "to": end, "count": sum(self.histogram[start:end + 1])})
        return out

    def metrics(self) -> dict[str, int | float]:
        """The gate's metrics, by their --fail-if names."""
        c = self.counts
        return {
            "at-risk": c.at_risk,
            "watch": c.watch,
            "healthy": c.healthy,
            "no-data": c.no_data,
            "errors": c.errors,
            "capacity": number(c.capacity),
            "unscored": c.unscored,
            "total": c.total,
        }

    def group_rows(self) -> list[dict[str, Any]]:
        """``--by`` rows, worst first: at-risk share, then at-risk count, then size, then key."""
        rows = [{"key": key, **counts.to_json()} for key, counts in self.groups.items()]
        rows.sort(key=lambda r: (-r["at_risk_share"], -r["at_risk"], -r["total"], r["key"]))
        return rows

    def error_rows(self) -> list[dict[str, Any]]:
        groups = sorted(self.errors.values(), key=lambda g: (-g.count, g.reason))
        return [
            {"reason": g.reason, "code": g.code, "count": g.count, "examples": list(g.examples)}
            for g in groups
        ]

    def to_json(self) -> dict[str, Any]:
        c = self.counts
        scored = c.total - c.unscored
        return {
            "total": c.total,
            "thresholds": {
                "at_risk_below": number(self.thresholds.at_risk_below),
                "watch_below": number(self.thresholds.watch_below),
            },
            "metrics": self.metrics(),
            "health": _enum_counts(
                HEALTH, {k: getattr(c, k.replace("-", "_")) for k in HEALTH.names}, c.total
            ),
            "status": _enum_counts(ACCOUNT_STATUS, self.status, c.total),
            "warmup_status": _enum_counts(WARMUP_STATUS, self.warmup, c.total),
            "provider": _enum_counts(PROVIDER, self.provider, c.total),
            "score": {
                "scored": scored,
                "unscored": c.unscored,
                "median": self.percentile(50),
                "p10": self.percentile(10),
                "buckets": self.buckets(),
            },
            "capacity": {
                "daily_limit_total": number(c.capacity),
                "active": c.active,
                "active_without_limit": c.active_without_limit,
            },
            "errors": {"count": c.errors, "reasons": self.error_rows()},
            "groups": {"by": self.by, "rows": self.group_rows()} if self.by else None,
        }


def _enum_counts(
    table: EnumTable, counts: Mapping[object, int], total: int
) -> list[dict[str, Any]]:
    """Every known value in table order (zeros included), then unknown codes as the API sent
    them."""
    rows: list[dict[str, Any]] = []
    for value in table.values:
        n = counts.get(value.code, 0)
        rows.append({"code": value.code, "name": value.name, "label": value.label, "count": n,
                     "share": share(n, total)})
    for code, n in counts.items():
        if table.get(code) is None:
            rows.append({"code": code, "name": None, "label": table.label(code), "count": n,
                         "share": share(n, total)})
    return rows


def summarize(
    accounts: Iterable[Mapping[str, Any]],
    *,
    thresholds: Thresholds | None = None,
    by: str | None = None,
) -> Tally:
    """One pass over ``accounts`` (any iterator: a pager, a concurrent lister, a file)."""
    return Tally(thresholds, by).add_all(accounts)


# -- the gate -------------------------------------------------------------------------------------

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_CONDITION = re.compile(
    r"^\s*(?P<metric>[a-z][a-z-]*)\s*(?P<op>>=|<=|==|!=|>|<)\s*"
    r"(?P<value>\d+(?:\.\d+)?)\s*(?P<percent>%)?\s*$"
)
GATE_HINT = (
    "Write METRIC OP VALUE[%], e.g. at-risk>0, at-risk>5%, errors>=3, capacity<20000; metrics: "
    + ", ".join(GATE_METRIC.names) + "; operators: > >= < <= == !=."
)


@dataclass(frozen=True)
class Condition:
    text: str
    metric: str
    op: str
    value: float
    percent: bool

    @property
    def base(self) -> str:
        """What a percentage is a share of: the accounts compared for a transition count."""
        return "compared" if self.metric in TRANSITION_METRICS else "total"

    def actual(self, metrics: Mapping[str, float]) -> float:
        raw = float(metrics[self.metric])
        return share(raw, float(metrics[self.base])) if self.percent else raw

    def breached(self, metrics: Mapping[str, float]) -> bool:
        return OPERATORS[self.op](self.actual(metrics), self.value)

    def describe(self, metrics: Mapping[str, float]) -> str:
        """One stderr line for a breached condition."""
        raw = number(float(metrics[self.metric]))
        if self.percent:
            return (f"{self.text}: {self.metric} is {self.actual(metrics):g}% "
                    f"({raw:,} of {int(metrics[self.base]):,} accounts)")
        return f"{self.text}: {self.metric} is {raw:,}"


def parse_condition(text: str, table: EnumTable = GATE_METRIC) -> Condition:
    """``at-risk>5%`` → a Condition; anything else is a usage error (exit 2). ``table``: the
    metrics the command knows (the summary's, or the diff's with transition counts)."""
    hint = GATE_HINT if table is GATE_METRIC else GATE_HINT.replace(
        ", ".join(GATE_METRIC.names), ", ".join(table.names))
    match = _CONDITION.match(text.lower())
    if not match:
        raise UsageError(f"Invalid --fail-if condition '{text}'.", hint=hint)
    metric = match["metric"]
    if table.get(metric) is None:
        raise UsageError(f"Unknown --fail-if metric '{metric}' in '{text}'.", hint=hint)
    percent = match["percent"] is not None
    if percent and metric in ("capacity", "total", "compared", "campaigns-at-risk"):
        raise UsageError(
            f"--fail-if {text}: {metric} is not a share of the accounts, so it takes no %.",
            hint=f"Compare it with a number, e.g. {metric}<20000.",
        )
    compact = f"{metric}{match['op']}{match['value']}{'%' if percent else ''}"
    return Condition(compact, metric, match["op"], float(match["value"]), percent)


def parse_conditions(
    texts: Sequence[str] | None, table: EnumTable = GATE_METRIC
) -> list[Condition]:
    return [parse_condition(t, table) for t in texts or []]


# The diff's metrics whose percentage is a share of the accounts compared.
TRANSITION_METRICS = frozenset(
    {"new-errors", "recovered", "score-drops", "removed", "added", "transitions"}
)


def breaches(conditions: Sequence[Condition], metrics: Mapping[str, float]) -> list[str]:
    """One line per breached condition, in the order given."""
    return [c.describe(metrics) for c in conditions if c.breached(metrics)]


def gate(conditions: Sequence[Condition], metrics: Mapping[str, float]) -> list[dict[str, Any]]:
    """The ``gate`` of a JSON document: each condition, its value now, whether it holds."""
    return [
        {"condition": c.text, "value": c.actual(metrics), "percent": c.percent,
         "breached": c.breached(metrics)}
        for c in conditions
    ]
