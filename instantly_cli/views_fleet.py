"""The fleet's health as rows and panels: the ``accounts summary`` dashboard and roll-up, DNS
checks, sending analytics and warmup stats. Pure functions like views.py's: nothing here prints
or fetches."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from instantly_cli.columns import Column, text_value
from instantly_cli.dashboard import Bar, Section, bar_text
from instantly_cli.enums import (
    ACCOUNT_STATUS,
    AT_RISK,
    CHECK,
    FAILED,
    HEALTH,
    HEALTHY,
    PROVIDER,
    WARMUP_HEALTH,
    WARMUP_STATUS,
    WATCH,
    EnumTable,
)

# -- fleet health ----------------------------------------------------------------------------------

HEALTH_COLUMN = Column("health", "Health", enum=HEALTH)


def _count(n: Any) -> str:
    return f"{n:,}" if isinstance(n, int | float) else text_value(n)


def _outcome_word(result: Any) -> str:
    """A roll-up row's result without its error message (which stderr carries in full)."""
    return text_value(result).split(":", 1)[0]


# A workspace's result: "ok", or "failed: <why>", shortened to "failed" on a narrow terminal
# (the message is on stderr); number columns are hidden before it is.
ROLLUP_RESULT = Column("result", "Result", priority=50, short=_outcome_word)


def _bars(rows: Sequence[Mapping[str, Any]], total: int, styles: EnumTable) -> list[Bar]:
    return [
        Bar(
            r["label"],
            _count(r["count"]),
            r["count"] / total if total else 0.0,
            styles.style(r["code"]),
            f"{r['share']:.1f}%",
        )
        for r in rows
        if r["count"]
    ]


GROUP_COLUMNS = [
    Column("key", "Group"),
    Column("total", "Total", fmt=_count, justify="right"),
    Column("at_risk", "At risk", fmt=_count, justify="right"),
    Column("at_risk_share", "Risk %", fmt=lambda v: f"{v:.1f}", justify="right"),
    Column("watch", "Watch", fmt=_count, justify="right"),
    Column("healthy", "Healthy", fmt=_count, justify="right"),
    Column("errors", "Errors", fmt=_count, justify="right"),
    Column("capacity", "Capacity", fmt=_count, justify="right"),
]
# Machine formats carry every number of a group row, raw.
GROUP_FIELDS = [
    Column(k, k)
    for k in ("key", "total", "at_risk", "at_risk_share", "watch", "healthy", "errors",
              "unscored", "active", "capacity", "active_without_limit")
]
PROFILE_COLUMNS = [
    Column("profile", "Profile"),
    Column("workspace_name", "Workspace"),
    Column("total", "Total", fmt=_count, justify="right"),
    Column("at_risk", "At risk", fmt=_count, justify="right"),
    Column("watch", "Watch", fmt=_count, justify="right"),
    Column("healthy", "Healthy", fmt=_count, justify="right"),
    Column("errors", "Errors", fmt=_count, justify="right"),
    # "Cap.": with the profile and the workspace, the row is two cells too wide for 80 columns.
    Column("capacity", "Capacity", fmt=_count, justify="right", short_header="Cap."),
    ROLLUP_RESULT,
]
PROFILE_FIELDS = [
    Column(k, k)
    for k in ("profile", "workspace", "workspace_name", "total", "at_risk", "watch", "healthy",
              "errors", "unscored", "capacity", "result")
]
ERROR_COLUMNS = [
    Column("reason", "Reason and examples"),
    Column("count", "Accounts", fmt=_count, justify="right"),
]
DASHBOARD_GROUPS = 20
DASHBOARD_REASONS = 10


def summary_title(doc: Mapping[str, Any]) -> str:
    t = doc["thresholds"]
    return (f"Fleet health: {doc['total']:,} accounts "
            f"(at risk below {t['at_risk_below']:g}, watch below {t['watch_below']:g})")


def summary_sections(doc: Mapping[str, Any]) -> list[Section]:
    """The dashboard of ``accounts summary``, from its JSON document (the same numbers)."""
    total = doc["total"]
    t = doc["thresholds"]
    sections = [
        Section("Health", bars=_bars(doc["health"], total, HEALTH) or [Bar("No accounts", "0", 0)]),
    ]
    for title, key, table in (("Status", "status", ACCOUNT_STATUS),
                              ("Warmup", "warmup_status", WARMUP_STATUS),
                              ("Provider", "provider", PROVIDER)):
        bars = _bars(doc[key], total, table)
        if bars:
            sections.append(Section(title, bars=bars))
    score = doc["score"]
    scored = score["scored"]

    def bucket_style(end: int) -> str:
        if end < t["at_risk_below"]:
            return HEALTH.style(AT_RISK)
        return HEALTH.style(WATCH if end < t["watch_below"] else HEALTHY)

    bars = [
        Bar(f"{b['from']}–{b['to']}", _count(b["count"]), b["count"] / scored if scored else 0.0,
            bucket_style(b["to"]), f"{100 * b['count'] / scored:.1f}%" if scored else "")
        for b in score["buckets"]
    ]
    median = "–" if score["median"] is None else str(score["median"])
    p10 = "–" if score["p10"] is None else str(score["p10"])
    sections.append(Section(
        "Warmup score",
        bars=bars if scored else (),
        lines=[(f"median {median} · p10 {p10} · no score {score['unscored']:,}", "")],
    ))
    cap = doc["capacity"]
    lines = [(f"{_count(cap['daily_limit_total'])} emails a day from {cap['active']:,} active "
              "accounts", "")]
    if cap["active_without_limit"]:
        lines.append((f"{cap['active_without_limit']:,} active accounts have no daily limit",
                      "yellow"))
    sections.append(Section("Capacity", lines=lines))
    errors = doc["errors"]
    reasons = errors["reasons"]
    # The examples get a row of their own under their reason: a table cell is one line (a
    # newline would be escaped), and a long reason would cut them off.
    rows: list[Mapping[str, Any]] = []
    styles: list[str] = []
    for n, r in enumerate(reasons[:DASHBOARD_REASONS], 1):
        rows.append({"reason": (f"[{n}] " if r.get("list_command") else "")
                     + (f"{r['code']}: " if r["code"] else "") + r["reason"],
                     "count": r["count"]})
        styles.append("")
        if r["examples"]:
            rows.append({"reason": "    e.g. " + ", ".join(r["examples"]), "count": ""})
            styles.append("dim")
    more = [(f"… {len(reasons) - DASHBOARD_REASONS:,} more reasons (--json lists them all)",
             "dim")] if len(reasons) > DASHBOARD_REASONS else []
    sections.append(Section(
        f"Errors: {errors['count']:,} accounts",
        columns=ERROR_COLUMNS,
        rows=rows,
        styles=styles,
        lines=more or ([] if rows else [("No accounts in an error status.", "green")]),
    ))
    groups = doc.get("groups")
    if groups:
        rows = groups["rows"]
        shown = rows[:DASHBOARD_GROUPS]
        sections.append(Section(
            f"By {groups['by']} (worst first)",
            columns=GROUP_COLUMNS,
            rows=shown,
            styles=[HEALTH.style(AT_RISK) if r["at_risk"] else "" for r in shown],
            lines=[(f"… {len(rows) - len(shown):,} more groups (-o tsv lists them all)", "dim")]
            if len(rows) > len(shown) else [],
        ))
    return sections


def error_commands(doc: Mapping[str, Any]) -> str:
    """Under the dashboard, in full (a panel would cut them): the command that lists each
    error group shown, numbered as in the Errors panel."""
    lines = [
        f"[{n}] {r['list_command']}"
        for n, r in enumerate(doc["errors"]["reasons"][:DASHBOARD_REASONS], 1)
        if r.get("list_command")
    ]
    return "\n".join(["List the accounts of an error group:", *lines]) if lines else ""


def profile_row(name: str, workspace: str | None, doc: Mapping[str, Any] | None,
                error: str | None) -> dict[str, Any]:
    """One row of the ``--all-profiles`` roll-up."""
    metrics = doc["metrics"] if doc else {}
    return {
        "profile": name,
        "workspace": workspace,
        "total": metrics.get("total"),
        "at_risk": metrics.get("at-risk"),
        "watch": metrics.get("watch"),
        "healthy": metrics.get("healthy"),
        "errors": metrics.get("errors"),
        "unscored": metrics.get("unscored"),
        "capacity": metrics.get("capacity"),
        "result": f"{FAILED}: {error}" if error else "ok",
    }


# `accounts coverage --all-workspaces|--all-profiles`: one row per workspace and a total.
COVERAGE_ROLLUP_COLUMNS = [
    Column("profile", "Profile"),
    Column("workspace_name", "Workspace"),
    Column("accounts", "Accounts", fmt=_count, justify="right"),
    Column("idle_count", "Idle", fmt=_count, justify="right"),
    Column("idle_capacity", "Idle/day", fmt=_count, justify="right"),
    Column("campaigns_at_risk_count", "At risk", fmt=_count, justify="right"),
    Column("not_sending_count", "Not sending", fmt=_count, justify="right"),
    ROLLUP_RESULT,
]


def coverage_row(name: str, doc: Mapping[str, Any] | None, error: str | None
                 ) -> dict[str, Any]:
    """One workspace's row of the coverage roll-up: its counts (none when it failed), named
    ``*_count``: the same names in a coverage document are the lists."""
    def size(key: str) -> int | None:
        return len(doc[key]) if doc else None

    return {
        "profile": name,
        "accounts": doc["accounts"] if doc else None,
        "campaigns": doc["campaigns"] if doc else None,
        "idle_count": size("idle"),
        "idle_capacity": doc["idle_capacity"] if doc else None,
        "campaigns_at_risk_count": size("campaigns_at_risk"),
        "not_sending_count": size("not_sending"),
        "result": f"{FAILED}: {error}" if error else "ok",
    }


def metric_rows(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``accounts summary -o tsv`` without --by: the gate metrics as key/value lines."""
    return [(k, text_value(v)) for k, v in doc["metrics"].items()]


# -- DNS checks --------------------------------------------------------------------------------


def _check(value: Any) -> str:
    return "pass" if value is True else "fail"


VITALS_COLUMNS = [
    Column("domain", "Domain"),
    Column("account_count", "Accounts", justify="right"),
    Column("mx", "MX", enum=CHECK),
    Column("spf", "SPF", enum=CHECK),
    Column("dkim", "DKIM", enum=CHECK),
    Column("dmarc", "DMARC", enum=CHECK),
    Column("reasons", "Failures"),
]


def vitals_rows(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per domain (from ``DomainVitals.to_json``): checks as pass/fail, the reasons."""
    rows = []
    for r in results:
        failed = [c.upper() for c in ("mx", "spf", "dkim", "dmarc") if r.get(c) is not True]
        if r.get("reported") is False:
            reasons = "not reported by the API"
        elif failed:
            reasons = ", ".join(failed) + " failed"
        else:
            reasons = ""
        rows.append(
            {
                "domain": r.get("domain"),
                "account_count": len(r.get("accounts") or []),
                **{c: _check(r.get(c)) for c in ("mx", "spf", "dkim", "dmarc")},
                "reasons": reasons,
            }
        )
    return rows


CTD_COLUMNS = [
    Column("host", "Host"),
    Column("cname", "CNAME", enum=CHECK),
    Column("ssl", "SSL", enum=CHECK),
]


def ctd_row(status: Mapping[str, Any], host: str) -> dict[str, Any]:
    return {
        "host": status.get("host") or host,
        "cname": _check(status.get("cname")),
        "ssl": _check(status.get("ssl")),
    }


# -- analytics ---------------------------------------------------------------------------------


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def analytics_columns(by: str, metrics: Sequence[str]) -> list[Column]:
    first = Column("email_account", "Account") if by == "account" else Column("date", "Date")
    return [first, *(Column(m, _title(m), justify="right") for m in metrics)]


def bar_chart(days: Sequence[Mapping[str, Any]], key: str = "sent", width: int = 40) -> str:
    """Daily volume as text bars: ``2026-03-09  ██████▌ 1,234``."""
    values = [(str(d.get("date", "")), d.get(key)) for d in days]
    numbers = [v for _, v in values if isinstance(v, int | float)]
    top = max(numbers, default=0)
    lines = [f"{_title(key)} per day"]
    for day, value in values:
        amount = value if isinstance(value, int | float) else 0
        bar = bar_text(amount / top if top else 0.0, width)
        lines.append(f"{day}  {bar} {amount:,.0f}")
    return "\n".join(lines)


def _rate_text(value: Any) -> str:
    return f"{value:.1f}%" if isinstance(value, int | float) else ""


def warmup_stats_columns(fmt: str) -> list[Column]:
    rate = Column("inbox_rate", "Inbox rate", fmt=_rate_text if fmt == "table" else None,
                  justify="right")
    return [
        Column("email", "Email"),
        Column("landed_inbox", "Inbox", justify="right"),
        Column("landed_spam", "Spam", justify="right"),
        Column("sent", "Sent", justify="right"),
        Column("received", "Received", justify="right"),
        rate,
        Column("health", "Health", enum=WARMUP_HEALTH),
    ]


def warmup_total_row(aggregate: Mapping[str, Any]) -> dict[str, Any]:
    """The aggregate as the last table row."""
    return {**aggregate, "email": f"All {aggregate.get('accounts', 0)} accounts"}
