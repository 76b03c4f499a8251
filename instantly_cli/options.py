"""Shared ``Annotated`` option aliases, so every command spells its options the same way."""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from instantly_cli.enums import (
    ACCOUNT_STATUS,
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
    str | None,
    typer.Option(
        "--status",
        metavar="STATUS",
        help="Account status: " + ", ".join(ACCOUNT_STATUS.names) + " (or a numeric code).",
        autocompletion=complete_enum(ACCOUNT_STATUS),
    ),
]
ProviderOpt = Annotated[
    str | None,
    typer.Option(
        "--provider",
        metavar="PROVIDER",
        help="Provider: " + ", ".join(PROVIDER.names) + " (or a numeric code).",
        autocompletion=complete_enum(PROVIDER),
    ),
]
FilterOpt = Annotated[
    str | None,
    typer.Option(
        "--filter",
        metavar="FILTER",
        help="Preset filter: " + ", ".join(LIST_FILTER.names) + ".",
        autocompletion=complete_enum(LIST_FILTER),
    ),
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
    int,
    # Range checked by the command (not min=1), so the error has the house shape and --json form.
    typer.Option("--limit", "-L", metavar="N", help="Most items to fetch (not with --all)."),
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
        "as the targets to retry them). [default: a new file in the state folder, see "
        "`instantly config path --state`]",
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

# Bulk commands: targets may be absent when --resume continues an earlier run.
BulkTargetsArg = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="TARGET",
        help="Account emails, or - to read emails / JSON / JSON lines from stdin "
        "(with --resume: the run id, or nothing for the newest run).",
        show_default=False,
    ),
]
ResumeOpt = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Finish an earlier run that stopped (Ctrl-C, crash, kill): `--resume [RUN_ID]` "
        "runs only that run's targets without a final result, with its own options. Without "
        "RUN_ID: the newest unfinished run of this command.",
    ),
]
