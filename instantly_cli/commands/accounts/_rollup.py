"""The workspaces a roll-up reads (``--all-profiles``, ``--all-workspaces``) as units of
:func:`services.workspaces.side_by_side`, each with a client paced by its key's limiter.

Profiles are separate keys, so separate workspaces with separate rate limits: each gets a
limiter of its own and they run concurrently. The sub-workspaces reached through one admin key
share that key's limiter (whether ``x-as-workspace`` requests count against the admin's budget
is undocumented: the safe reading is one budget).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import typer

from instantly_cli import context, output
from instantly_cli.enums import WORKSPACE_CURRENT
from instantly_cli.errors import CliError

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.services.workspaces import Done, Unit
    from instantly_cli.settings import Settings


def units(ctx: typer.Context, *, all_profiles: bool, all_workspaces: bool) -> list[Unit]:
    """One unit per workspace to read: every profile's (or the current one's) workspace, and
    with ``all_workspaces`` every accepted sub-workspace of each key."""
    from instantly_cli.services import workspaces

    keys = _profiles(ctx) if all_profiles else [_current(ctx)]
    if not all_workspaces:
        return keys
    # Each key's workspace list, read side by side like the rest.
    listed = workspaces.side_by_side(keys, lambda client, _unit: workspaces.directory(client))
    found: list[Unit] = []
    for done in listed:
        if done.error is not None or done.value is None:
            found.append(done.unit if done.unit.error else
                         dataclasses.replace(done.unit, error=done.error))
            continue
        for ws in workspaces.accepted(done.value):
            # The key's own workspace is read as it was configured (no extra header).
            own = ws.status == WORKSPACE_CURRENT
            found.append(dataclasses.replace(
                done.unit, id=ws.id, name=ws.name,
                open=done.unit.open if own else _opener(done.unit.open, ws.id),
                where=done.unit.where if own or done.unit.where is None
                else dataclasses.replace(done.unit.where, workspace=ws.id)))
    return found


def _current(ctx: typer.Context) -> Unit:
    s = context.settings(ctx)
    return _unit(ctx, s.profile, s, None)


def _profiles(ctx: typer.Context) -> list[Unit]:
    from instantly_cli.config_file import load_config
    from instantly_cli.settings import GlobalOptions, resolve

    opts = context.runtime(ctx).options
    config = load_config()
    if not config.profiles:
        raise CliError(
            f"No profiles are configured in {config.path}.",
            hint="Add one with `instantly auth login --profile NAME`.",
        )
    found = []
    for name in sorted(config.profiles):
        profile = config.profiles[name]
        try:
            resolved = resolve(GlobalOptions(
                profile=name, base_url=profile.base_url, workspace=profile.workspace,
                sandbox=opts.sandbox, verbose=opts.verbose))
            if not resolved.sandbox and not profile.api_key:
                raise CliError(f"No API key saved for profile '{name}'.",
                               hint=f"Run: instantly auth login --profile {name}")
        except CliError as exc:
            found.append(_failed(name, profile.workspace, exc))
            continue
        found.append(_unit(ctx, name, resolved, profile.api_key))
    return found


def _failed(profile: str, workspace: str | None, error: CliError) -> Unit:
    from instantly_cli.services.workspaces import Unit

    def never() -> InstantlyClient:
        raise error

    return Unit(profile, workspace, None, never, error=error)


def _unit(ctx: typer.Context, profile: str, resolved: Settings, api_key: str | None) -> Unit:
    """The unit of one key's (configured) workspace, with the key's own limiter."""
    from instantly_cli.ratelimit import MAX_RATE, RateLimiter
    from instantly_cli.services.workspaces import Unit

    limiter = RateLimiter(MAX_RATE)

    def open_client(workspace: str | None = resolved.workspace) -> InstantlyClient:
        there = dataclasses.replace(resolved, workspace=workspace)
        client = context.client(ctx, resolved=there, api_key=api_key)
        client.limiter = limiter
        return client

    return Unit(profile, None, None, open_client, where=resolved)


def _opener(base: Any, workspace: str) -> Any:
    """The opener of a sub-workspace: the key's client (and limiter), acting as it (``base``
    is the key's ``open_client``, which takes the workspace as an argument)."""
    return lambda: base(workspace)


def report(done: list[Done[Any]], noun: str = "workspaces") -> int:
    """Warn about each failed unit; how many failed."""
    failed = [d for d in done if d.error is not None]
    for d in failed:
        assert d.error is not None
        output.warn(f"{where(d.unit)}: {d.error.message}")
    if failed:
        output.warn(f"{len(failed)} of {len(done)} {noun} could not be read.")
    return len(failed)


def where(unit: Unit) -> str:
    name = unit.name or unit.id
    return f"Profile '{unit.profile}'" + (f", workspace '{name}'" if name else "")



def list_each(
    ctx: typer.Context,
    query: Any,
    limit: int | None,
    parallel: bool,
    fmt: str,
    columns: list[Any],
    fields: list[str] | None,
    wide: bool,
    *,
    all_profiles: bool,
    all_workspaces: bool,
) -> int | None:
    """``accounts list`` over every workspace of the roll-up: read side by side, printed one
    workspace after another in name order; a failed one is reported and exit is 1."""
    from instantly_cli.columns import Column
    from instantly_cli.errors import EXIT_FAILED
    from instantly_cli.services.accounts import list as fleet
    from instantly_cli.services.accounts.summary import with_health
    from instantly_cli.services.workspaces import side_by_side

    def read(client: InstantlyClient, unit: Unit) -> list[dict[str, Any]]:
        listing = fleet.list_accounts(client, query, limit=limit, parallel=parallel,
                                      warn=output.warn)
        labels = {"profile": unit.profile, "workspace_name": unit.name,
                  "workspace_id": unit.id}
        found = [{**labels, **a} for a in fleet.accounts_of(listing)]
        if listing.anomaly is not None:
            from instantly_cli.commands.accounts._listing import report_cut

            report_cut(listing.anomaly, False, f" ({where(unit)})")
        return found

    done = side_by_side(units(ctx, all_profiles=all_profiles, all_workspaces=all_workspaces),
                        read)
    records = [r for d in done for r in (d.value or [])]
    # Two profiles may reach workspaces of the same name: --all-profiles shows whose it is.
    where_columns = [Column("workspace_name", "Workspace")]
    if all_profiles:
        where_columns.insert(0, Column("profile", "Profile"))
    shown = [*where_columns, *columns]
    if fields and "health" in fields:
        records = next(iter(with_health([records], query.thresholds)))
    output.emit_records([records], fmt, shown, fields=fields, wide=wide,
                        empty_message="No accounts match.")
    return EXIT_FAILED if report(done) else None


def diff_each(
    ctx: typer.Context,
    job: Any,
    *,
    all_profiles: bool,
    all_workspaces: bool,
) -> tuple[list[Done[Any]], int]:
    """``job(client, unit)`` (one workspace's diff against its own history) for every
    workspace of the roll-up, side by side; the results in workspace-name order and how many
    failed (reported on stderr)."""
    from instantly_cli.services.workspaces import side_by_side

    done = side_by_side(units(ctx, all_profiles=all_profiles, all_workspaces=all_workspaces),
                        job)
    return done, report(done)


def error_json(error: CliError | None) -> dict[str, Any] | None:
    """A failed workspace's error on its row of a roll-up's JSON."""
    if error is None:
        return None
    return {"code": error.code, "message": error.message, "status": error.status}


def coverage_each(
    ctx: typer.Context,
    thresholds: Any,
    at_risk_share: float,
    parallel: bool,
    *,
    all_profiles: bool,
    all_workspaces: bool,
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """``accounts coverage`` over every workspace of the roll-up, side by side: the document
    (a row per workspace in name order, with its own coverage, and the total, every finding
    labelled with its workspace), the gate's metrics over the total, and how many failed
    (reported on their rows and on stderr)."""
    from instantly_cli import views_fleet
    from instantly_cli.commands.accounts._listing import report_cut
    from instantly_cli.services.accounts import coverage as service
    from instantly_cli.services.workspaces import side_by_side

    def one(client: InstantlyClient, unit: Unit) -> Any:
        found = service.coverage(client, thresholds, at_risk_share, parallel=parallel,
                                 warn=output.warn)
        report_cut(found.anomaly, False, f" ({where(unit)}); the numbers may be incomplete")
        return found

    done = side_by_side(units(ctx, all_profiles=all_profiles, all_workspaces=all_workspaces),
                        one)
    rows: list[dict[str, Any]] = []
    parts = []
    for d in done:
        doc = None
        if d.value is not None:
            doc = service.labelled(d.value.doc, d.labels())
            parts.append(dataclasses.replace(d.value, doc=doc))
        rows.append({
            **views_fleet.coverage_row(d.unit.profile, doc, d.error.message if d.error else None),
            **d.labels(),
            "error": error_json(d.error),
            "coverage": doc,
        })
    total = service.total(parts, thresholds, at_risk_share)
    return {"profiles": rows, "total": total.doc}, total.metrics(), report(done)
