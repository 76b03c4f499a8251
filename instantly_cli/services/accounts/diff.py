"""``accounts diff``'s domain: the transitions between two states of a fleet (grouping, score
drops, the ``--fail-if`` metrics), who did them (the audit log), and the ``--notify`` payload.
The states themselves are read and recorded by services/history.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from instantly_cli.services.history import (
    History,
    Recorder,
    Since,
    Snapshot,
    State,
    json_value,
    stamp,
)

# Points a score must fall to be a transition (accounts diff --score-drop).
DEFAULT_SCORE_DROP = 10.0


def _error_reason(state: State) -> str:
    from instantly_cli.services.accounts.summary import NO_MESSAGE, normalise_reason

    if state.error_message:
        return normalise_reason(state.error_message)
    return state.error_code or NO_MESSAGE


def transitions(
    old: Mapping[str, State],
    new: Mapping[str, State],
    *,
    score_drop: float,
    thresholds: Any,
) -> list[dict[str, Any]]:
    """Every transition between two states of a fleet, worst kind first (the order of
    :data:`instantly_cli.enums.TRANSITION`), then by reason and email.

    One record per account and kind: ``{kind, email, field, from, to, reason, health}``;
    ``field``/``from``/``to`` name what changed, ``reason`` is the normalised error of a new
    error, ``health`` the score's class before and after for score moves.
    """
    from instantly_cli.enums import (
        ERROR_STATUSES,
        TRANSITION,
        WARMUP_ACTIVE,
        WARMUP_BANNED,
        WARMUP_PAUSED,
        WARMUP_PROBLEMS,
    )
    from instantly_cli.services.accounts.summary import score_class

    out: list[dict[str, Any]] = []

    def add(kind: str, email: str, field: str | None, before: Any, after: Any,
            reason: str | None = None, health: dict[str, str] | None = None) -> None:
        out.append({"kind": kind, "email": email, "field": field, "from": json_value(before),
                    "to": json_value(after), "reason": reason, "health": health, "actor": None})

    for email, after in new.items():
        before = old.get(email)
        if before is None:
            add("added", email, None, None, None)
            continue
        if before == after:
            continue
        was_error = before.status in ERROR_STATUSES
        is_error = after.status in ERROR_STATUSES
        if is_error and not was_error:
            add("new-error", email, "status", before.status, after.status, _error_reason(after))
        elif was_error and not is_error:
            add("recovered", email, "status", before.status, after.status,
                _error_reason(before))
        elif before.status != after.status and not is_error:
            add("status-changed", email, "status", before.status, after.status)
        if before.warmup_status != after.warmup_status:
            w = after.warmup_status
            if w == WARMUP_BANNED:
                add("warmup-banned", email, "warmup_status", before.warmup_status, w)
            elif w in WARMUP_PROBLEMS:
                add("warmup-suspended", email, "warmup_status", before.warmup_status, w)
            elif w == WARMUP_ACTIVE:
                add("warmup-resumed", email, "warmup_status", before.warmup_status, w)
            elif w == WARMUP_PAUSED:
                add("warmup-paused", email, "warmup_status", before.warmup_status, w)
        if before.score is not None and after.score is not None and before.score != after.score:
            then = score_class(before.score, thresholds)
            now = score_class(after.score, thresholds)
            rank = TRANSITION_HEALTH_RANK
            health = {"from": then, "to": now}
            if before.score - after.score >= score_drop or rank[now] < rank[then]:
                add("score-drop", email, "score", before.score, after.score, None, health)
            elif rank[now] > rank[then]:
                add("score-rise", email, "score", before.score, after.score, None, health)
        for field in ("daily_limit", "warmup_limit"):
            if getattr(before, field) != getattr(after, field):
                add("limit-changed", email, field, getattr(before, field), getattr(after, field))
    for email in old:
        if email not in new:
            add("removed", email, None, None, None)
    order = {v.name: i for i, v in enumerate(TRANSITION.values)}
    out.sort(key=lambda t: (order[t["kind"]], t["reason"] or "", t["field"] or "", t["email"]))
    return out


# Worst class first: a move to a lower rank is a drop.
TRANSITION_HEALTH_RANK = {"at-risk": 0, "watch": 1, "healthy": 2}


def transition_metrics(records: Iterable[Mapping[str, Any]], compared: int) -> dict[str, int]:
    """The transition counts of ``--fail-if`` (``compared``: accounts then or now)."""
    from instantly_cli.enums import TRANSITION

    counts = dict.fromkeys(TRANSITION.names, 0)
    for record in records:
        counts[record["kind"]] += 1
    return {
        "new-errors": counts["new-error"],
        "recovered": counts["recovered"],
        "score-drops": counts["score-drop"],
        "removed": counts["removed"],
        "added": counts["added"],
        "transitions": sum(counts.values()),
        "compared": compared,
    }


# -- one diff run ---------------------------------------------------------------------------------


@dataclass
class DiffResult:
    """What `accounts diff` found: the base snapshot (None: the first run), a note about it,
    the transitions, their metrics, the live tally, and the snapshot this run recorded."""

    base: Snapshot | None
    note: str | None
    records: list[dict[str, Any]]
    metrics: dict[str, int | float]
    states: dict[str, State]
    recorded: Snapshot | None = None
    anomaly: str | None = None


def diff(
    history: History,
    pages: Iterable[Sequence[Mapping[str, Any]]],
    *,
    since: Since,
    score_drop: float,
    thresholds: Any,
    tally: Any,
    partial: Callable[[], Any] = lambda: None,
) -> DiffResult:
    """Compare the live accounts (pages of one pass, counted into ``tally`` too) with the snapshot
    ``since`` selects. The base is chosen before this run records anything. When ``partial()``
    is true after the pass (the listing ended early), accounts not seen are not "removed"."""
    base, note = history.base(since)
    rec = Recorder()
    add = tally.add
    for page in rec.watch_pages(pages):
        for account in page:
            add(account)
    new = rec.states
    old = history.states_at(base.id) if base else {}
    records = transitions(old, new, score_drop=score_drop, thresholds=thresholds) if base else []
    if partial():
        records = [r for r in records if r["kind"] != "removed"]
    for record in records:
        record["since"] = base.taken_at if base else None
        record["snapshot"] = base.id if base else None
    compared = len(new.keys() | old.keys())
    metrics: dict[str, int | float] = {**tally.metrics(),
                                       **transition_metrics(records, compared)}
    return DiffResult(base, note, records, metrics, new)


def describe(record: Mapping[str, Any]) -> str:
    """The change of one transition in words: ``Active → Connection error: reason``."""
    from instantly_cli.enums import ACCOUNT_STATUS, WARMUP_STATUS

    field, before, after = record["field"], record["from"], record["to"]
    if field is None:
        return ""
    table = {"status": ACCOUNT_STATUS, "warmup_status": WARMUP_STATUS}.get(field)
    if table is not None:
        text = f"{table.label(before)} → {table.label(after)}"
    else:
        name = {"daily_limit": "daily limit", "warmup_limit": "warmup limit"}.get(field, field)

        def show(v: Any) -> str:
            return "–" if v is None else f"{json_value(v)}"

        text = f"{name} {show(before)} → {show(after)}"
    if record.get("reason"):
        text += f": {record['reason']}"
    return text


# -- who did it -----------------------------------------------------------------------------------

# At most this many audit entries per activity type are read for one window.
MAX_AUDIT_ENTRIES = 5000


def annotate(client: Any, records: list[dict[str, Any]], start: str, end: datetime) -> str | None:
    """Set each transition's ``actor`` from the audit log of the window compared (activity 6
    for added, 7 for removed, 36 for the rest). Returns a one-line note when the log cannot
    be read (a key without the scope: never a failure). ``audit_metadata`` is free-form, so an
    entry belongs to an account when its metadata mentions the email."""
    from instantly_cli.enums import ACTIVITY_ADDED, ACTIVITY_DELETED, ACTIVITY_UPDATED
    from instantly_cli.errors import AuthError, CliError
    from instantly_cli.webhooks import list_audit_logs

    wanted = {"added": ACTIVITY_ADDED, "removed": ACTIVITY_DELETED}
    by_type: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for activity in sorted({wanted.get(r["kind"], ACTIVITY_UPDATED) for r in records}):
        params = {"activity_type": activity, "start_date": start, "end_date": stamp(end),
                  "limit": 100}
        entries: list[tuple[str, dict[str, Any]]] = []
        try:
            for page in list_audit_logs(client, params, limit=MAX_AUDIT_ENTRIES):
                for entry in page:
                    text = json.dumps(entry.get("audit_metadata"), default=str).lower()
                    entries.append((text, entry))
        except AuthError:
            return ("Who did it: this key may not read the audit log (scope audit_logs:read); "
                    "transitions are not annotated.")
        except CliError as exc:
            return f"Who did it: the audit log could not be read ({exc.message})."
        by_type[activity] = entries
    for record in records:
        activity = wanted.get(record["kind"], ACTIVITY_UPDATED)
        email = record["email"].lower()
        found = [e for text, e in by_type.get(activity, []) if email in text]
        if found:
            entry = max(found, key=lambda e: str(e.get("timestamp") or ""))
            record["actor"] = {
                "user_id": entry.get("user_id"),
                "name": entry.get("user_name"),
                "api_key_id": entry.get("api_key_id"),
                "from_api": entry.get("from_api"),
                "at": entry.get("timestamp"),
                "activity": activity,
            }
    return None


# -- alerts ---------------------------------------------------------------------------------------

MAX_TEXT_LINES = 20
PAYLOAD_FIELDS = ("kind", "email", "field", "from", "to", "reason", "health", "since",
                  "snapshot", "actor")


def notify_payload(
    records: list[dict[str, Any]], base: Snapshot | None, breached: list[str], redact: Any
) -> bytes:
    """The webhook body: Slack-compatible ``text`` and the structured ``transitions``;
    every secret the run knows (keys, passwords) scrubbed from the whole body."""
    import json

    from instantly_cli.enums import TRANSITION

    counts: dict[str, int] = {}
    for r in records:
        counts[r["kind"]] = counts.get(r["kind"], 0) + 1
    head = ", ".join(f"{n} {TRANSITION.label(k).lower()}" for k, n in counts.items())
    when = f" since {base.taken_at[:16].replace('T', ' ')} UTC" if base else ""
    lines = [f"instantly: {len(records)} account transitions{when}: {head}"]
    lines += [f"• Gate breached: {b}" for b in breached]
    for r in records[:MAX_TEXT_LINES]:
        change = describe(r)
        lines.append(f"• {TRANSITION.label(r['kind'])}: {r['email']}"
                     + (f" ({change})" if change else ""))
    if len(records) > MAX_TEXT_LINES:
        lines.append(f"… and {len(records) - MAX_TEXT_LINES} more")
    doc = {
        "text": "\n".join(lines),
        "transitions": [{k: r.get(k) for k in PAYLOAD_FIELDS} for r in records],
        "counts": counts,
        "breached": breached,
        "since": base.to_json() if base else None,
    }
    return str(redact(json.dumps(doc, ensure_ascii=False))).encode()


def safe_url(url: str) -> str:
    """A webhook URL without its path and query (Slack's carry a secret token)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/…"
