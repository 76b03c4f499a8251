"""Pure functions from data to what output.py renders: columns, rows, detail sections, diffs.

Nothing here prints or fetches; commands hand the results to ``output``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from instantly_cli.columns import Column, DetailRow, text_value
from instantly_cli.enums import (
    ACCOUNT_STATUS,
    ATTACHED,
    CAMPAIGN_STATUS,
    DETACHED,
    HEALTH,
    JOB_STATUS,
    JOB_TYPE,
    PROVIDER,
    RESOURCE_TYPE,
    UNCHANGED,
    WARMUP_STATUS,
    WOULD_ATTACH,
    WOULD_DETACH,
)


def short_time(value: Any) -> str:
    """``2026-01-05T10:00:00.000Z`` → ``2026-01-05 10:00`` for tables (TSV keeps it exact)."""
    if not isinstance(value, str) or "T" not in value:
        return text_value(value)
    return value.replace("T", " ")[:16]


def short_date(value: Any) -> str:
    """``2026-01-05T10:00:00.000Z`` → ``2026-01-05``: a timestamp on a narrow terminal."""
    if not isinstance(value, str) or "T" not in value:
        return text_value(value)
    return value.split("T", 1)[0]


def time_column(key: str, header: str, fmt: str, priority: int = 0) -> Column:
    """A timestamp column: shortened in tables (to the date on a narrow terminal), exact in
    every machine format."""
    table = fmt == "table"
    return Column(
        key,
        header,
        fmt=short_time if table else None,
        priority=priority,
        short=short_date if table else None,
    )


# -- accounts ------------------------------------------------------------------------------------

# Priorities decide what a narrow terminal keeps (the email and the status, first of all);
# enum columns shorten their labels, the date loses its time, then names and tags go.
ACCOUNT_COLUMNS = [
    Column("email", "Email", priority=100),
    Column("first_name", "First", priority=20),
    Column("last_name", "Last", priority=10),
    Column("status", "Status", enum=ACCOUNT_STATUS, priority=90),
    # Not "Warmup": that name is the warmup settings object to --fields.
    Column("warmup_status", "Warmup status", enum=WARMUP_STATUS, priority=70),
    Column("provider_code", "Provider", enum=PROVIDER, priority=40),
    Column("daily_limit", "Daily limit", justify="right", priority=60, short_header="Limit"),
    Column("stat_warmup_score", "Score", justify="right", priority=80),
    Column("timestamp_created", "Created", priority=30),
]
TAGS_COLUMN = Column("tags", "Tags", priority=5)


def account_columns(fmt: str, include_tags: bool) -> list[Column]:
    cols = [time_column(c.key, c.header, fmt, c.priority) if c.key.startswith("timestamp")
            else c for c in ACCOUNT_COLUMNS]
    return [*cols, TAGS_COLUMN] if include_tags else cols


def status_text(account: Mapping[str, Any]) -> str:
    """``Connection error — Invalid login (535)``: the status with its last error."""
    text = ACCOUNT_STATUS.label(account.get("status"))
    message = account.get("status_message")
    if isinstance(message, dict) and (message.get("e_message") or message.get("response")):
        detail = message.get("e_message") or message.get("response")
        code = message.get("responseCode") or message.get("code")
        text += f" — {detail}" + (f" ({code})" if code else "")
    return text


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _row(label: str, value: Any, style: str = "") -> DetailRow:
    return (label, text_value(value), style)


def account_detail(account: Mapping[str, Any]) -> list[tuple[str, list[DetailRow]]]:
    """The sections of ``accounts get EMAIL``: account, warmup settings, timestamps."""
    warmup = _obj(account.get("warmup"))
    advanced = _obj(warmup.get("advanced"))
    name = " ".join(p for p in (account.get("first_name"), account.get("last_name")) if p)
    limit = account.get("daily_limit")
    gap = account.get("sending_gap")
    return [
        (
            "Account",
            [
                _row("Name", name),
                _row("Provider", PROVIDER.label(account.get("provider_code"))),
                _row("Status", status_text(account), ACCOUNT_STATUS.style(account.get("status"))),
                _row("Daily limit", limit if limit is not None else "none"),
                _row("Sending gap", f"{text_value(gap)} min" if gap is not None else ""),
                _row("Reply-to", account.get("reply_to")),
                _row("Tracking domain", account.get("tracking_domain_name")),
                _row("Tracking status", account.get("tracking_domain_status")),
                _row("Slow ramp", account.get("enable_slow_ramp")),
                _row("Tags", account.get("tags")),
                *campaign_detail_rows(account),
            ],
        ),
        (
            "Warmup",
            [
                _row(
                    "Status",
                    WARMUP_STATUS.label(account.get("warmup_status")),
                    WARMUP_STATUS.style(account.get("warmup_status")),
                ),
                _row("Score", account.get("stat_warmup_score")),
                _row("Limit", warmup.get("limit")),
                _row("Increment", warmup.get("increment")),
                _row("Reply rate", warmup.get("reply_rate")),
                _row("Custom tag", warmup.get("warmup_custom_ftag")),
                _row("Open rate", advanced.get("open_rate")),
                _row("Important rate", advanced.get("important_rate")),
                _row("Spam save rate", advanced.get("spam_save_rate")),
                _row("Read emulation", advanced.get("read_emulation")),
                _row("Warm CTD", advanced.get("warm_ctd")),
                _row("Weekdays only", advanced.get("weekday_only")),
                _row("Started", account.get("timestamp_warmup_start")),
            ],
        ),
        (
            "Timestamps",
            [
                _row("Created", account.get("timestamp_created")),
                _row("Updated", account.get("timestamp_updated")),
            ],
        ),
    ]


def show_value(value: Any) -> str:
    """A value in a diff: text as it is, everything else as JSON (``null`` for None)."""
    if value is None:
        return "null"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


DIFF_COLUMNS = [Column("email", "Email"), Column("field", "Field"), Column("change", "Old → new")]


def dry_run_records(outcomes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``accounts update --dry-run`` as JSON: one object per target (outcome JSON) with its
    changes."""
    return [
        {
            "email": o["email"],
            "result": o["result"],
            "changes": o.get("changes", []),
            "error": o.get("error"),
        }
        for o in outcomes
    ]


def dry_run_rows(outcomes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The same as rows: one per changed field (``old → new``), or the result when none."""
    flat: list[dict[str, Any]] = []
    for o in outcomes:
        changes = o.get("changes") or []
        if not changes:
            flat.append({"email": o["email"], "field": "", "change": o.get("error") or o["result"]})
        for c in changes:
            flat.append(
                {
                    "email": o["email"],
                    "field": c["field"],
                    "change": f"{show_value(c['old'])} → {show_value(c['new'])}",
                }
            )
    return flat


JOB_COLUMNS = [Column("job_id", "Job"), Column("emails", "Accounts")]


# -- tags --------------------------------------------------------------------------------------


def tag_columns(fmt: str, counts: bool = False) -> list[Column]:
    """`tags list` (and a tag after create/rename/delete in the machine formats); ``counts``
    adds the number of accounts carrying each tag."""
    cols = [
        Column("label", "Label", priority=100),
        Column("id", "ID", priority=50),
        Column("description", "Description", priority=20),
        time_column("timestamp_created", "Created", fmt, priority=30),
    ]
    if counts:
        count = Column("account_count", "Accounts", justify="right", priority=90)
        # Next to the label in a table; last in TSV/CSV, so scripts' column numbers hold.
        cols.insert(1 if fmt == "table" else len(cols), count)
    return cols


def describe_tag(tag: Mapping[str, Any]) -> str:
    """``'Client A' (id …)``: how confirmation lines name a tag."""
    return f"'{tag.get('label')}' (id {tag.get('id')})"


def _resource_header(resource_type: int | None) -> str:
    value = RESOURCE_TYPE.get(resource_type) if resource_type is not None else None
    return value.label if value else "Resource"


def _without_type(cols: list[Column], fmt: str, resource_type: int | None) -> list[Column]:
    # One type asked for: its name is the header already, so a table drops the Type column.
    if resource_type is not None and fmt == "table":
        return [c for c in cols if c.key != "resource_type"]
    return cols


def tag_map_columns(fmt: str, resource_type: int | None) -> list[Column]:
    """`tags map`: one row per mapping (rows from ``services.tags.map_rows``)."""
    cols = [
        Column("tag_label", "Tag", priority=90),
        Column("resource_id", _resource_header(resource_type), priority=100),
        Column("resource_type", "Type", enum=RESOURCE_TYPE, priority=50),
        time_column("timestamp_created", "Mapped at", fmt, priority=30),
        Column("tag_id", "Tag ID", priority=20),
    ]
    return _without_type(cols, fmt, resource_type)


def tag_groups_columns(fmt: str, resource_type: int | None) -> list[Column]:
    """`tags map --by account`: one row per resource with its tags."""
    cols = [
        Column("resource_id", _resource_header(resource_type), priority=100),
        Column("resource_type", "Type", enum=RESOURCE_TYPE, priority=50),
        Column("tags", "Tags", priority=90),
    ]
    return _without_type(cols, fmt, resource_type)


TAG_PLAN_COLUMNS = [Column("email", "Email"), Column("tag", "Tag"), Column("change", "Change")]


def tag_change_text(result: str, assign: bool) -> str:
    if result == UNCHANGED:
        return "unchanged (already has it)" if assign else "unchanged (does not have it)"
    return "would gain" if assign else "would lose"


def tag_plan_rows(plan: Iterable[Mapping[str, Any]], assign: bool) -> list[dict[str, Any]]:
    """The dry run of `tags assign/unassign` (its outcomes as JSON, each with ``changes``) as a
    table: one row per account and tag."""
    return [
        {"email": o["email"], "tag": c["tag_label"], "change": tag_change_text(c["result"], assign)}
        for o in plan
        for c in o["changes"]
    ]


# -- account lifecycle -------------------------------------------------------------------------

STATUS_CHANGE_COLUMNS = [
    Column("email", "Email"),
    Column("status_before", "Before", enum=ACCOUNT_STATUS),
    Column("status_after", "After", enum=ACCOUNT_STATUS),
    Column("result", "Result"),
    Column("error", "Error"),
]


# -- background jobs ---------------------------------------------------------------------------


def _percent(value: Any) -> str:
    return f"{text_value(value)}%" if isinstance(value, int | float) else text_value(value)


def job_columns(fmt: str) -> list[Column]:
    return [
        Column("id", "Job"),
        Column("type", "Type", enum=JOB_TYPE),
        Column("status", "Status", enum=JOB_STATUS),
        Column("progress", "Progress", fmt=_percent if fmt == "table" else None, justify="right"),
        time_column("created_at", "Created", fmt),
        time_column("updated_at", "Updated", fmt),
    ]


def job_detail(job: Mapping[str, Any]) -> list[tuple[str, list[DetailRow]]]:
    data = _obj(job.get("data"))
    return [
        (
            "Job",
            [
                _row("Type", JOB_TYPE.label(job.get("type"))),
                _row("Status", JOB_STATUS.label(job.get("status")),
                     JOB_STATUS.style(job.get("status"))),
                _row("Progress", _percent(job.get("progress"))),
                _row("Entity", " ".join(str(p) for p in (job.get("entity_type"),
                                                        job.get("entity_id")) if p)),
                _row("Workspace", job.get("workspace_id")),
                _row("Created", job.get("created_at")),
                _row("Updated", job.get("updated_at")),
            ],
        ),
        ("Data", [_row(str(k), v) for k, v in data.items()]),
    ]


def job_line(job: Mapping[str, Any]) -> str:
    """``65f… in-progress 50%``: one job's state while waiting."""
    status = JOB_STATUS.label(job.get("status"))
    return f"job {job.get('id')}: {status} {_percent(job.get('progress'))}"


# -- campaigns (campaigns list/get, accounts coverage, impact lines) ---------------------------


def _share_text(value: Any) -> str:
    return f"{value:g}%" if isinstance(value, int | float) else ""


def _via_text(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else text_value(value)


def cut(value: Any, limit: int) -> str:
    """``value`` as text of at most ``limit`` characters, ending in ``…`` when cut."""
    text = text_value(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason_short(value: Any) -> str:
    """``campaign_accounts_unhealthy`` → ``accounts unhealthy`` (a narrow terminal)."""
    return cut(text_value(value).removeprefix("campaign_").replace("_", " "), 18)


def _whole_share(value: Any) -> str:
    return f"{value:.0f}%" if isinstance(value, int | float) else ""


def campaign_columns() -> list[Column]:
    # 80 columns: names and reasons are cut, shares rounded, before anything is dropped.
    return [
        Column("name", "Campaign", priority=100, short=lambda value: cut(value, 24)),
        Column("status", "Status", enum=CAMPAIGN_STATUS, priority=90),
        Column("accounts", "Accounts", justify="right", priority=80, short_header="Acc."),
        Column("capacity", "Per day", justify="right", priority=70),
        Column("at_risk_share", "At risk", fmt=_share_text, justify="right", priority=60,
               short=_whole_share),
        Column("reason", "Sending status", priority=65, short=_reason_short, short_header="Why"),
    ]


def campaign_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**r, "accounts": f"{r.get('accounts_available', 0)}/{r.get('accounts_total', 0)}"}
        for r in rows
    ]


def campaign_account_columns() -> list[Column]:
    return [
        Column("email", "Email", priority=100),
        Column("status", "Status", enum=ACCOUNT_STATUS, priority=90),
        Column("health", "Health", enum=HEALTH, priority=80),
        Column("daily_limit", "Per day", justify="right", priority=70),
        Column("via", "Via", fmt=_via_text, priority=60),
    ]


def campaign_title(row: Mapping[str, Any]) -> str:
    return (
        f"{row.get('name')} · {CAMPAIGN_STATUS.label(row.get('status'))} · "
        f"{row.get('accounts_available', 0)}/{row.get('accounts_total', 0)} accounts available · "
        f"{text_value(row.get('capacity'))}/day · at risk {_share_text(row.get('at_risk_share'))}"
    )


def sending_status_lines(status: Mapping[str, Any] | None) -> list[str]:
    """The diagnosis of ``sending-status``, as lines (empty when the API has none)."""
    if not status:
        return []
    lines = []
    diagnostics = _obj(status.get("diagnostics"))
    if diagnostics.get("status"):
        message = diagnostics.get("message") or diagnostics.get("summary") or ""
        lines.append(f"Diagnosis: {diagnostics['status']}" + (f" ({message})" if message else ""))
    summary = _obj(status.get("accounts_summary"))
    if summary:
        unavailable = _obj(summary.get("unavailable"))
        reasons = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in unavailable.items() if v)
        lines.append(
            f"Accounts: {text_value(summary.get('available'))} available of "
            f"{text_value(summary.get('total_connected'))} connected"
            + (f"; unavailable: {reasons}" if reasons else "")
        )
    return lines


def campaign_detail_rows(account: Mapping[str, Any]) -> list[DetailRow]:
    """``accounts get``: the campaigns an account serves, one row each (none: no rows when
    they were not read)."""
    if "campaigns" not in account:
        return []
    out = []
    for i, r in enumerate(account.get("campaigns") or []):
        via = (["listed"] if r.get("direct") else []) + [f"tag {t}" for t in r.get("tags") or []]
        text = f"{r.get('name')} ({CAMPAIGN_STATUS.label(r.get('status'))}; {', '.join(via)})"
        out.append(_row("Campaigns" if i == 0 else "", text))
    return out or [_row("Campaigns", "none")]


def impact_lines(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The impact of a write on active campaigns: one line each (dry run and confirmation)."""
    lines = []
    for r in rows:
        lost, left = text_value(r.get("capacity_lost")), text_value(r.get("capacity_left"))
        line = f"{r.get('name')}: {r.get('accounts')} account(s), -{lost}/day ({left}/day left)"
        if r.get("stranded"):
            line += ": NO AVAILABLE ACCOUNT LEFT"
        lines.append(line)
    return lines


COVERAGE_COLUMNS = [
    Column("kind", "Kind"), Column("subject", "Subject"), Column("detail", "Detail"),
]


def _campaign_numbers(r: Mapping[str, Any]) -> str:
    return (f"{r.get('accounts_available')}/{r.get('accounts_total')} available, "
            f"{text_value(r.get('capacity'))}/day, at risk {_share_text(r.get('at_risk_share'))}")


def coverage_records(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``accounts coverage`` for a pipe: one line per finding (kind, subject, detail), after
    its workspace's labels in a roll-up."""
    def labels(r: Mapping[str, Any]) -> dict[str, Any]:
        return {k: r[k] for k in ("profile", "workspace_name", "workspace_id") if k in r}

    rows: list[dict[str, Any]] = [
        {**labels(a), "kind": "idle", "subject": a["email"],
         "detail": f"{text_value(a.get('daily_limit'))}/day"}
        for a in doc["idle"]
    ]
    rows += [{**labels(c), "kind": "at-risk", "subject": c["name"],
              "detail": _campaign_numbers(c)} for c in doc["campaigns_at_risk"]]
    rows += [{**labels(c), "kind": "not-sending", "subject": c["name"],
              "detail": c.get("reason", "")} for c in doc["not_sending"]]
    return rows


def coverage_tables(
    doc: Mapping[str, Any],
) -> list[tuple[str, list[dict[str, Any]], list[Column], str]]:
    """The three tables of ``accounts coverage``: (title, rows, columns, empty message)."""
    idle_cols = [Column("email", "Email", priority=100),
                 Column("daily_limit", "Per day", justify="right", priority=50),
                 Column("stat_warmup_score", "Score", justify="right", priority=40)]
    share = text_value(doc.get("at_risk_share"))
    cols = campaign_columns()
    risky = campaign_rows(doc["campaigns_at_risk"])
    stopped = campaign_rows(doc["not_sending"])
    return [
        (f"Idle accounts: {len(doc['idle'])} ({text_value(doc.get('idle_capacity'))}/day unused)",
         list(doc["idle"]), idle_cols, "No idle account."),
        (f"Active campaigns over {share}% at risk: {len(risky)}", risky, cols[:5],
         f"No active campaign has more than {share}% of its capacity at risk."),
        (f"Campaigns not sending: {len(stopped)}", stopped,
         [cols[0], Column("status", "Status", enum=CAMPAIGN_STATUS, priority=90),
          cols[2], cols[5]],
         "Every campaign is sending."),
    ]


def tag_served_lines(served: Mapping[str, Sequence[str]], attach: bool) -> list[str]:
    """Accounts that serve a campaign through a tag, for attach/detach (reported, not kept
    silently)."""
    if not served:
        return []
    what = ("already serve this campaign through a tag" if attach
            else "serve this campaign through a tag: a detach leaves them sending for it")
    lines = [f"{len(served):,} account(s) {what}:"]
    lines += [f"  {email} (tag {', '.join(labels)})" for email, labels in sorted(served.items())]
    return lines


def would_word(attach: bool) -> str:
    return WOULD_ATTACH if attach else WOULD_DETACH


def done_word(attach: bool) -> str:
    return ATTACHED if attach else DETACHED


OUTCOME_ROWS = [Column("email", "Email"), Column("result", "Result")]
