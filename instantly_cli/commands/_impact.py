"""The campaign impact of a write (pause, delete, move, warmup disable), shown before acting.

A :class:`~instantly_cli.commands._bulk.Plan`'s ``look``: one sweep of the campaigns and the
accounts, then one line per active campaign the targets serve (capacity lost per day, what is
left), a campaign left without an available account flagged; ``--strict`` refuses such a run
before any write. Read only when someone will see it (a dry run, a confirmation wherever it
asks) or ``--strict`` needs it: a ``--yes`` run in a script does not pay for the sweep.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from instantly_cli import context, output
from instantly_cli.errors import CliError


def campaign_impact(
    ctx: typer.Context, *, strict: bool, dry_run: bool, yes: bool
) -> Callable[[list[str]], Callable[[], list[str]] | None]:
    """The look: a dry run or --strict reads the impact now (printed, or refusing the run);
    otherwise it is a part of the confirmation, read only when a person is asked (on stdin's
    terminal or the controlling one): the returned lines."""

    def lines(emails: list[str]) -> list[str]:
        from instantly_cli import views
        from instantly_cli.services import campaigns
        from instantly_cli.services.accounts import list as fleet

        try:
            with context.client(ctx) as client:
                sw = fleet.campaign_sweep(client, warn=output.warn)
        except CliError as err:
            if strict:
                raise CliError(f"Cannot read the campaigns to check the impact: {err.message}",
                               hint="Retry, or run without --strict.") from None
            output.warn(f"Campaign impact unknown: {err.message}")
            return []
        rows = campaigns.impact(sw, emails)
        if not rows:
            return ["Campaigns: no active campaign sends from these accounts."]
        stranded = [str(r["name"]) for r in rows if r["stranded"]]
        if strict and stranded:
            raise CliError(
                f"Refusing (--strict): {len(stranded)} active campaign(s) would be left with no "
                f"available account: {', '.join(stranded)}. Nothing was changed.",
                hint="Attach other accounts first (`instantly campaigns attach`), or run "
                "without --strict.",
            )
        return [f"Active campaigns affected: {len(rows)}",
                *(f"  {line}" for line in views.impact_lines(rows))]

    def look(emails: list[str]) -> Callable[[], list[str]] | None:
        if strict or dry_run:
            for line in lines(emails):
                output.info(line)
            return None
        return None if yes else (lambda: lines(emails))

    return look
