"""Shared ``Annotated`` option aliases, so every command spells its options the same way."""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

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
        "as the targets to retry them). [default: instantly-failures-<UTC time>.jsonl]",
        show_default=False,
    ),
]

# -- arguments -------------------------------------------------------------------------------
# Typer prints an argument's Python type in help (``TARGET <list[str]>``) and wraps a required
# one in braces (``{TARGET}...``). So arguments are hidden from the generated list and optional
# to the parser: the command's docstring describes them (an "Arguments:" block) and the command
# itself refuses a missing one with the usual exit 2 and hint.

TARGETS_HELP = "TARGET is an account email, or - to read emails / JSON / JSON lines from stdin."


def argument(metavar: str) -> Any:
    """A positional argument declared for the parser only (see above)."""
    return typer.Argument(metavar=metavar, hidden=True, show_default=False)


def arguments(metavar: str) -> Any:
    """Zero or more positional arguments (an empty list when none is given)."""
    return typer.Argument(
        metavar=metavar, hidden=True, show_default=False, default_factory=list
    )


TargetsArg = Annotated[list[str], arguments("TARGET")]


# -- global options, also accepted after the noun and the verb ---------------------------------
# The root callback parses them before the noun; every command (and each noun's callback)
# declares them again, so `instantly accounts list --profile b` works like `instantly --profile b
# accounts list`. Each later copy writes into the invocation's GlobalOptions as it is parsed, so
# the value nearest the command wins. Only the root copy reads the environment, or an
# INSTANTLY_PROFILE would override an explicit --profile given before the noun.

GLOBAL_NOTE = "Global options (--profile, --workspace, --base-url, --sandbox, -v) also work here."


def _store_global(name: str) -> Callable[[typer.Context, Any], Any]:
    def store(ctx: typer.Context, value: Any) -> Any:
        if ctx.resilient_parsing or value is None or value is False:
            return value
        from instantly_cli.context import runtime

        setattr(runtime(ctx).options, name, value)
        return value

    return store


ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        metavar="NAME",
        help="Config profile to use (global option; also before the command).",
        autocompletion=complete_profiles,
        callback=_store_global("profile"),
        expose_value=False,
    ),
]
WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        metavar="ID",
        help="Act on this workspace id (global option).",
        callback=_store_global("workspace"),
        expose_value=False,
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        metavar="URL",
        help="API base URL (global option).",
        callback=_store_global("base_url"),
        expose_value=False,
    ),
]
SandboxOpt = Annotated[
    bool,
    typer.Option(
        "--sandbox",
        help="Use the built-in local emulator (global option).",
        callback=_store_global("sandbox"),
        expose_value=False,
    ),
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Log each HTTP exchange on stderr (global option).",
        callback=_store_global("verbose"),
        expose_value=False,
    ),
]
WideOpt = Annotated[
    bool,
    typer.Option(
        "--wide",
        help="Tables: show every column in full (lines may be longer than the terminal).",
    ),
]
