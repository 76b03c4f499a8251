"""Fleet history hooks shared by the full passes (summary, list --all, diff): which database,
whether a pass is full, recording it. The database itself is services/history.py's."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from instantly_cli import context, output

if TYPE_CHECKING:
    from instantly_cli.services.fleet import ListQuery
    from instantly_cli.services.history import Recorder
    from instantly_cli.settings import Settings

# The sandbox's client talks to this base URL (context.client): its history is its own.
SANDBOX_BASE_URL = "http://sandbox.invalid"


def history_file(ctx: typer.Context, resolved: Settings | None = None) -> Path:
    """The history database of the workspace the command reads (base URL + workspace)."""
    from instantly_cli.services.history import history_path
    from instantly_cli.settings import state_dir

    s = resolved or context.settings(ctx)
    if s.sandbox:
        return history_path(state_dir(), SANDBOX_BASE_URL, s.workspace, "sandbox")
    return history_path(state_dir(), s.base_url, s.workspace, s.require_key())


def is_full(query: ListQuery) -> bool:
    """A pass over every account of the workspace: no filter narrows it."""
    return not (
        query.status or query.provider or query.search or query.filter or query.tags
        or query.tags_all or query.domains or query.min_score is not None
        or query.max_score is not None or query.health or query.starting_after
    )


def recorder(enabled: bool) -> Recorder | None:
    from instantly_cli.services.history import Recorder

    return Recorder() if enabled else None


def commit(ctx: typer.Context, rec: Recorder | None, source: str, listing: Any) -> None:
    """Record the pass (one transaction), unless the listing ended early: a partial pass
    would read as accounts removed."""
    if rec is None:
        return
    if getattr(listing, "anomaly", None):
        output.warn("The listing ended early: no snapshot recorded.")
        return
    from instantly_cli.services.history import record_pass

    record_pass(history_file(ctx), rec.states, source)


def watch(pages: Any, enabled: bool, query: ListQuery) -> tuple[Iterable[Any], Recorder | None]:
    """The pages to consume (watched when the pass is full and recording is wanted)."""
    rec = recorder(enabled and is_full(query))
    return (rec.watch_pages(pages) if rec else pages), rec


def finish(ctx: typer.Context, rec: Recorder | None, source: str, listing: Any,
           report: Callable[[], None]) -> None:
    """The command's own end of listing report, then the recording."""
    report()
    commit(ctx, rec, source, listing)
