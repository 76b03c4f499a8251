"""Fleet history hooks shared by the full passes (summary, list --all, diff): which database,
whether a pass is full, recording it. The database itself is services/history.py's."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from instantly_cli import context, output
from instantly_cli.columns import Column

if TYPE_CHECKING:
    from instantly_cli.services.accounts.list import ListQuery
    from instantly_cli.services.history import Recorder
    from instantly_cli.settings import Settings

# The sandbox's client talks to this base URL (context.client): its history is its own.
SANDBOX_BASE_URL = "http://sandbox.invalid"


def history_file(ctx: typer.Context, resolved: Settings | None = None) -> Path:
    """The history database of the workspace the command reads (base URL + workspace).

    Keyed by the workspace's id, the one the client sends: `--workspace "Client North"`, its
    id and a roll-up's row of that workspace share one history. The key's own workspace is
    keyed by the key, named or not."""
    from instantly_cli.services.history import history_path
    from instantly_cli.settings import state_dir

    s = resolved or context.settings(ctx)
    # A name or the own workspace's id costs no request once cached (the workspaces are read
    # once per key, then kept in the state folder).
    workspace = context.workspace_id(ctx, s.workspace, s) if s.workspace else None
    if workspace is not None and workspace == context.own_workspace_id(ctx, s):
        workspace = None
    if s.sandbox:
        return history_path(state_dir(), SANDBOX_BASE_URL, workspace, "sandbox")
    return history_path(state_dir(), s.base_url, workspace, s.require_key())


def is_full(query: ListQuery) -> bool:
    """A pass over every account of the workspace: no filter narrows it."""
    return not query.narrows()


def recorder(enabled: bool, ctx: typer.Context | None = None) -> Recorder | None:
    """A recorder of the pass when ``enabled``: staged into the workspace's history (``ctx``
    given: flat memory), else kept in memory."""
    from instantly_cli.services.history import Recorder

    if not enabled:
        return None
    return Recorder(history_file(ctx) if ctx is not None else None)


def commit(ctx: typer.Context, rec: Recorder | None, source: str, listing: Any) -> None:
    """Record the pass (one transaction), unless the listing ended early: a partial pass
    would read as accounts removed."""
    if rec is None:
        return
    if getattr(listing, "anomaly", None):
        rec.close()
        output.warn("The listing ended early: no snapshot recorded.")
        return
    if rec.path is not None:
        rec.commit(source)
        return
    from instantly_cli.services.history import record_pass

    rec.recorded = record_pass(history_file(ctx), rec.states, source)


def watch(pages: Any, enabled: bool, query: ListQuery, ctx: typer.Context
          ) -> tuple[Iterable[Any], Recorder | None]:
    """The pages to consume (watched when the pass is full and recording is wanted)."""
    rec = recorder(enabled and is_full(query), ctx)
    return (rec.watch_pages(pages) if rec else pages), rec


def finish(ctx: typer.Context, rec: Recorder | None, source: str, listing: Any,
           report: Callable[[], None]) -> None:
    """The command's own end of listing report, then the recording."""
    report()
    commit(ctx, rec, source, listing)


# -- summary --since ------------------------------------------------------------------------------


def as_account(email: str, state: Any) -> dict[str, Any]:
    """A recorded state as the account fields the summary counts."""
    return {
        "email": email, "status": state.status, "warmup_status": state.warmup_status,
        "stat_warmup_score": state.score, "daily_limit": state.daily_limit,
        "provider_code": state.provider,
        "status_message": {"code": state.error_code, "e_message": state.error_message}
        if state.error_code or state.error_message else None,
        "tags": [{"label": t} for t in state.tags.split(",") if t] if state.tags else None,
    }


def base_tally(ctx: typer.Context, since: str | None, thresholds: Any, by: str | None,
               query: ListQuery, all_profiles: bool, notify: list[str] | None = None
               ) -> tuple[Any, Any] | None:
    """The snapshot ``--since`` selects and its summary (read before this run records);
    checks ``--since`` and ``--notify`` before anything is fetched."""
    from instantly_cli.errors import UsageError

    if (since is not None or notify_urls(notify)) and (all_profiles or not is_full(query)):
        raise UsageError("--since and --notify compare whole workspaces: they take no filters "
                         "and no --all-profiles.", hint="Run them per profile, without filters.")
    if since is None:
        return None
    from datetime import UTC, datetime

    from instantly_cli.services.accounts import summary as health
    from instantly_cli.services.history import History, parse_since

    wanted = parse_since(since, datetime.now(UTC))
    path = history_file(ctx)
    with History(path) as db:
        snap, note = db.base(wanted)
        if snap is None:
            output.info(f"No snapshot yet in {path}: nothing to compare with.")
            return None
        states = db.states_at(snap.id)
    if note:
        output.info(note)
    accounts = (as_account(e, s) for e, s in states.items())
    return snap, health.summarize(accounts, thresholds=thresholds, by=by)


def changes(base: tuple[Any, Any] | None, tally: Any) -> dict[str, Any]:
    """``{"since": …}``: each summary number now, then and its change (nothing without a
    base, so the JSON of a plain summary keeps its shape)."""
    if base is None:
        return {}
    snap, then_tally = base
    now, then = tally.metrics(), then_tally.metrics()
    doc: dict[str, Any] = {
        "snapshot": snap.to_json(),
        "metrics": {k: {"now": v, "then": then.get(k, 0), "change": v - then.get(k, 0)}
                    for k, v in now.items()},
    }
    if tally.by:
        # --by: each group's numbers at the snapshot, by group key (a group new since: none).
        doc["groups"] = {row["key"]: {k: v for k, v in row.items() if k != "key"}
                         for row in then_tally.group_rows()}
    return {"since": doc}


# `summary --since -o tsv|csv` without --by: the number, its change, its value at the snapshot.
CHANGE_FIELDS = [Column(k, k) for k in ("key", "value", "change", "then")]


def _delta(change: float) -> float:
    # Shares are floats: 12.3 - 12.1 is not 0.2 in binary; the change is shown as computed.
    return round(change, 2) if isinstance(change, float) else change


def change_records(since: dict[str, Any]) -> list[dict[str, Any]]:
    """``summary --since -o tsv|csv`` without --by: one row per number, its change beside it."""
    return [{"key": k, "value": m["now"], "change": _delta(m["change"]), "then": m["then"]}
            for k, m in since["metrics"].items()]


def change_rows(since: dict[str, Any], rows: list[dict[str, Any]], fields: list[str]
                ) -> list[dict[str, Any]]:
    """``summary --by … --since -o tsv|csv``: each group's numbers, each followed by
    ``<number>_change`` (the group absent from the snapshot: its whole value)."""
    out = []
    for row in rows:
        then = since.get("groups", {}).get(row["key"], {})
        new = {"key": row["key"]}
        for k in fields:
            if k == "key":
                continue
            new[k] = row.get(k)
            if isinstance(row.get(k), int | float):
                new[k + "_change"] = _delta(row[k] - then.get(k, 0))
        out.append(new)
    return out


def arrow(change: float) -> str:
    """▲3, ▼12, or = for no change."""
    if not change:
        return "="
    n = f"{abs(change):,g}" if isinstance(change, float) else f"{abs(change):,}"
    return ("▲" if change > 0 else "▼") + n


def since_section(since: dict[str, Any]) -> Any:
    """The dashboard panel of ``summary --since``: every number with its change."""
    from instantly_cli.columns import Column
    from instantly_cli.dashboard import Section

    snap = since["snapshot"]
    rows = [{"metric": k, "now": f"{m['now']:,}", "change": arrow(m["change"]),
             "then": f"{m['then']:,}"} for k, m in since["metrics"].items()]
    return Section(
        f"Change since snapshot {snap['id']} ({snap['taken_at'][:16].replace('T', ' ')} UTC)",
        columns=[Column("metric", "Metric"), Column("now", "Now", justify="right"),
                 Column("change", "Change", justify="right"),
                 Column("then", "Then", justify="right")],
        rows=rows,
    )


# -- the profile's defaults -----------------------------------------------------------------------


def thresholds(ctx: typer.Context, at_risk_below: float | None, watch_below: float | None
               ) -> Any:
    """The health thresholds: each flag given, else the profile's, else the default."""
    from instantly_cli.enums import AT_RISK_BELOW, WATCH_BELOW
    from instantly_cli.errors import UsageError
    from instantly_cli.services.accounts.summary import Thresholds

    given = (at_risk_below, watch_below)
    if at_risk_below is None or watch_below is None:
        s = context.settings(ctx)
        if at_risk_below is None:
            at_risk_below = AT_RISK_BELOW if s.at_risk_below is None else s.at_risk_below
        if watch_below is None:
            watch_below = WATCH_BELOW if s.watch_below is None else s.watch_below
        if at_risk_below > watch_below:
            # One side is the profile's: say so, rather than name a flag not given.
            low = "--at-risk-below" if given[0] is not None else "the profile's at_risk_below"
            high = "--watch-below" if given[1] is not None else "the profile's watch_below"
            raise UsageError(
                f"{low} ({at_risk_below:g}) is above {high} ({watch_below:g}).",
                hint="At risk is the lower band: give both flags, or change the profile's in "
                "the config file (`instantly config path`).",
            )
    return Thresholds(at_risk_below, watch_below)


def notify_or_profile(ctx: typer.Context, notify: list[str] | None, applies: bool
                      ) -> list[str] | None:
    """``--notify`` as given (it replaces the profile's list), else the profile's ``notify``
    URLs when ``applies`` (a full pass over one workspace: a filtered run or a roll-up has no
    transitions to send, so the profile's list is not an error there, just unused)."""
    if notify is not None or not applies:
        return notify
    return context.settings(ctx).notify or None


# -- alerts ---------------------------------------------------------------------------------------


def notify_urls(urls: list[str] | None) -> list[str]:
    """Validated webhook URLs (exit 2 before anything is fetched)."""
    from instantly_cli.errors import UsageError

    for url in urls or []:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"Invalid --notify URL '{url}'.",
                             hint="Give a full http(s) URL, e.g. a Slack incoming webhook.")
    return list(urls or [])


def send(ctx: typer.Context, urls: list[str], records: list[dict[str, Any]], base: Any,
         breached: list[str]) -> int:
    """POST the transitions to each webhook; the outcome on stderr. Returns how many failed."""
    from instantly_cli.errors import redact
    from instantly_cli.services.accounts import diff
    from instantly_cli.webhooks import post_webhook

    payload = diff.notify_payload(records, base, breached, redact)
    failed = 0
    for url in urls:
        error = post_webhook(url, payload, sleep=context.runtime(ctx).sleep)
        if error:
            failed += 1
            output.warn(f"Webhook {diff.safe_url(url)} failed: {error}")
        else:
            output.info(f"Webhook {diff.safe_url(url)}: sent {len(records)} transitions.")
    return failed


def alert(ctx: typer.Context, urls: list[str] | None, rec: Recorder | None,
          base: tuple[Any, Any] | None, thresholds: Any, breached: list[str],
          gated: bool) -> int:
    """``summary --notify``: the transitions since ``--since``'s snapshot (else the one before
    this pass), posted when there are any (with ``--fail-if``: only when breached)."""
    if not urls or rec is None or (gated and not breached):
        return 0
    from instantly_cli.services.accounts.diff import DEFAULT_SCORE_DROP, transitions
    from instantly_cli.services.history import History

    with History(history_file(ctx)) as db:
        if base is not None:
            snap = base[0]
        else:
            older = [s for s in db.snapshots()
                     if rec.recorded is None or s.id < rec.recorded.id]
            snap = older[-1] if older else None
        if snap is None:
            return 0
        old = db.states_at(snap.id)
    records = transitions(old, rec.states, score_drop=DEFAULT_SCORE_DROP, thresholds=thresholds)
    for record in records:
        record["since"], record["snapshot"] = snap.taken_at, snap.id
    return send(ctx, urls, records, snap, breached) if records else 0
