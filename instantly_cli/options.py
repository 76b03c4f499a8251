"""Shared ``Annotated`` option aliases, so every command spells its options the same way."""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from instantly_cli.enums import (
    ACCOUNT_STATUS,
    HEALTH,
    LIST_FILTER,
    OUTPUT_FORMAT,
    PROVIDER,
    SORT_FIELD,
    EnumTable,
)


def examples(*lines: str) -> str:
    """A help epilog of example command lines (``\\b`` keeps click from rewrapping them)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


def complete_enum(table: EnumTable) -> Callable[[str], list[str]]:
    """A completion callback offering the enum's CLI names (no network, no heavy imports)."""

    def complete(incomplete: str) -> list[str]:
        return [n for n in table.names if n.startswith(incomplete)]

    return complete


def complete_profiles(incomplete: str) -> list[str]:
    from instantly_cli.errors import CliError
    from instantly_cli.settings import load_config

    try:
        names = sorted(load_config().profiles)
    except CliError:
        return []
    return [n for n in names if n.startswith(incomplete)]


OutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FORMAT",
        help="Output format: auto, table, tsv, json, jsonl or csv. [env: INSTANTLY_OUTPUT]",
        autocompletion=complete_enum(OUTPUT_FORMAT),
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Same as -o json.")]
FieldsOpt = Annotated[
    str | None,
    typer.Option(
        "--fields",
        metavar="FIELDS",
        help="Comma-separated fields to show, dots for nesting: email,warmup.limit.",
    ),
]
StatusOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--status",
        metavar="STATUS",
        help="Account status: " + ", ".join(ACCOUNT_STATUS.names)
        + " (or a numeric code); repeat or use a,b for any of them.",
        autocompletion=complete_enum(ACCOUNT_STATUS),
    ),
]
ProviderOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--provider",
        metavar="PROVIDER",
        help="Provider: " + ", ".join(PROVIDER.names)
        + " (or a numeric code); repeat or use a,b for any of them.",
        autocompletion=complete_enum(PROVIDER),
    ),
]
FilterOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--filter",
        metavar="FILTER",
        help="Preset filter: " + ", ".join(LIST_FILTER.names)
        + "; repeat or use a,b for any of them.",
        autocompletion=complete_enum(LIST_FILTER),
    ),
]
SearchOpt = Annotated[
    str | None, typer.Option("--search", metavar="TEXT", help="Match email or name.")
]
TagOpt = Annotated[
    list[str] | None,
    typer.Option("--tag", metavar="TAG", help="Has any of these tags (label or id); repeatable."),
]
TagAllOpt = Annotated[
    list[str] | None,
    typer.Option("--tag-all", metavar="TAG", help="Has all of these tags; repeatable."),
]
DomainOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--domain",
        metavar="DOMAIN",
        help="Email domain, matched exactly (acme.io is not getacme.io); repeatable.",
    ),
]
MinScoreOpt = Annotated[
    float | None,
    typer.Option("--min-score", metavar="N", help="Warmup score at least N (inclusive)."),
]
MaxScoreOpt = Annotated[
    float | None,
    typer.Option("--max-score", metavar="N", help="Warmup score at most N (inclusive)."),
]
IncludeUnscoredOpt = Annotated[
    bool,
    typer.Option(
        "--include-unscored", help="Keep accounts without a score when filtering by score."
    ),
]
HealthOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--health",
        metavar="CLASS",
        help="Health class: " + ", ".join(HEALTH.names) + "; repeat or use a,b for any of them.",
        autocompletion=complete_enum(HEALTH),
    ),
]
AtRiskBelowOpt = Annotated[
    float,
    typer.Option(
        "--at-risk-below", metavar="N", help="A warmup score below N puts an account at risk."
    ),
]
WatchBelowOpt = Annotated[
    float,
    typer.Option("--watch-below", metavar="N", help="A warmup score below N means watch it."),
]
SortOpt = Annotated[
    str | None,
    typer.Option(
        "--sort",
        metavar="FIELD",
        help="Sort by: " + ", ".join(SORT_FIELD.names) + ".",
        autocompletion=complete_enum(SORT_FIELD),
    ),
]
LimitOpt = Annotated[
    int | None,
    # Range checked by the command (not min=1), so the error has the house shape and --json form.
    typer.Option(
        "--limit", "-L", metavar="N", help="Most items to fetch (not with --all). [default: 100]"
    ),
]
AllOpt = Annotated[bool, typer.Option("--all", help="Fetch every page.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; send no change.")
]
RateOpt = Annotated[
    float,
    typer.Option(
        "--rate", metavar="R", help="Requests per second, at most 100 (the workspace limit)."
    ),
]
ConcurrencyOpt = Annotated[
    int, typer.Option("--concurrency", metavar="N", help="Requests in flight at once (1-64).")
]
FailuresOpt = Annotated[
    Path | None,
    typer.Option(
        "--failures",
        metavar="FILE",
        help="Where to write failed and not-attempted targets (JSON lines; feed the file back "
        "as the targets to retry them). [default: instantly-failures-<UTC time>.jsonl]",
        show_default=False,
    ),
]
TargetsArg = Annotated[
    list[str],
    typer.Argument(
        metavar="TARGET",
        help="Account emails, or - to read emails / JSON / JSON lines from stdin.",
        show_default=False,
    ),
]
