"""Shared ``Annotated`` option aliases, so every command spells its options the same way."""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from instantly_cli.enums import (
    ACCOUNT_STATUS,
    COVERAGE_METRIC,
    DIFF_METRIC,
    GATE_METRIC,
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
NotTagOpt = Annotated[
    list[str] | None,
    typer.Option("--not-tag", metavar="TAG", help="Has none of these tags; repeatable."),
]
ErrorCodeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--error-code",
        metavar="CODE",
        help="In an error status with this error code (EAUTH, ETIMEDOUT, EENVELOPE…, as "
        "`accounts summary` shows it); repeat or use a,b for any of them.",
    ),
]
ErrorTextOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--error",
        metavar="TEXT",
        help="In an error status whose message contains TEXT (case ignored; the placeholders "
        "`accounts summary` prints stand for the details it hides); repeatable: any.",
    ),
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
# The health thresholds: a profile's at_risk_below/watch_below is the default.
ProfileAtRiskBelowOpt = Annotated[
    float | None,
    typer.Option(
        "--at-risk-below", metavar="N", show_default=False,
        help="A warmup score below N puts an account at risk. Default: the profile's "
        "at_risk_below, else 70.",
    ),
]
ProfileWatchBelowOpt = Annotated[
    float | None,
    typer.Option(
        "--watch-below", metavar="N", show_default=False,
        help="A warmup score below N means watch it. Default: the profile's watch_below, "
        "else 90.",
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
    int | None,
    # Range checked by the command (not min=1), so the error has the house shape and --json form.
    typer.Option(
        "--limit",
        "-L",
        metavar="N",
        help="Most items to fetch (not with --all). [default: 100 on a terminal; every page "
        "when stdout is a pipe or a file]",
    ),
]
DEFAULT_LIMIT = 100


def page_limit_for(limit: int | None, stdout_tty: bool) -> int | None:
    """How many items a listing without --all fetches: --limit when given; else the first page
    on a terminal (a person reads it, the footer says how to go on) and every page when stdout
    is a pipe or file, so `list | update -` never acts on a silent first hundred."""
    if limit is not None:
        return limit
    return DEFAULT_LIMIT if stdout_tty else None


AllOpt = Annotated[bool, typer.Option("--all", help="Fetch every page.")]
AllAccountsOpt = Annotated[
    bool, typer.Option("--all", help="Every account of the workspace (instead of targets).")
]
ParallelOpt = Annotated[
    bool,
    typer.Option(
        "--parallel/--no-parallel",
        help="Read every page concurrently (up to 16 in flight under the 100 requests/s limit), "
        "oldest first by creation time: each account once; accounts created during the walk "
        "come last; one deleted during it may or may not appear. Applies when every account is "
        "read (--all; always for summary) with no --sort, no --starting-after and one value "
        "each of --status/--provider/--filter. Otherwise, with --no-parallel, if the API "
        "refuses offset paging, or if its first page comes so fast that one page at a time "
        "is as quick (a local server): the cursor walk, one page at a time, newest first.",
    ),
]
ImpactStrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Refuse the run (exit 1, nothing sent) if it would leave an active campaign with "
        "no available account (pause, delete, move, warmup disable).",
    ),
]
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="Exit 1 if the API's pagination misbehaves.")
]

CampaignOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--campaign",
        metavar="CAMPAIGN",
        help="Serves any of these campaigns (name or id), listed or through a tag; repeatable.",
    ),
]
IdleOpt = Annotated[
    bool,
    typer.Option(
        "--idle", help="Healthy, warmup active, and in no active campaign (idle capacity)."
    ),
]


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
    int,
    typer.Option(
        "--concurrency",
        metavar="N",
        help="Most requests in flight at once (1-64): an upper bound; the workers are sized "
        "from the observed latency to reach --rate.",
    ),
]
def _store_max_wait(ctx: typer.Context, value: float | None) -> float | None:
    if ctx.resilient_parsing or value is None:
        return value
    if not 0 <= value <= 86400:  # NaN too
        raise typer.BadParameter(f"must be from 0 to 86400 seconds, not {value:g}.")
    from instantly_cli.context import runtime

    runtime(ctx).max_wait = value
    return value


MaxWaitOpt = Annotated[
    float | None,
    typer.Option(
        "--max-wait",
        metavar="SECONDS",
        help="Most time the run spends waiting on rate-limit answers (429, Retry-After) before "
        "the targets left fail (--resume finishes them later). Default: 300.",
        callback=_store_max_wait,
        expose_value=False,
        show_default=False,
    ),
]
FailuresOpt = Annotated[
    Path | None,
    typer.Option(
        "--failures",
        metavar="FILE",
        help="Also write failed and not-attempted targets to FILE (JSON lines, to feed back as "
        "-). The run's journal keeps every result anyway: `instantly runs show`.",
        show_default=False,
    ),
]

# -- arguments -------------------------------------------------------------------------------
# Typer prints an argument's Python type in help (``TARGET <list[str]>``) and wraps a required
# one in braces (``{TARGET}...``). So arguments are hidden from the generated list and optional
# to the parser: the command's docstring describes them (an "Arguments:" block) and the command
# itself refuses a missing one with the usual exit 2 and hint.

def argument(metavar: str, complete: Callable[[str], list[str]] | None = None) -> Any:
    """A positional argument declared for the parser only (see above); ``complete`` offers
    its values to shell completion."""
    return typer.Argument(
        metavar=metavar, hidden=True, autocompletion=complete, show_default=False
    )


def arguments(metavar: str) -> Any:
    """Zero or more positional arguments (an empty list when none is given)."""
    return typer.Argument(
        metavar=metavar, hidden=True, show_default=False, default_factory=list
    )


# Account emails, or - for stdin (bulk commands: none with --resume, or the run id).
TargetsArg = Annotated[list[str], arguments("TARGET")]


def required(value: str | None, name: str, example: str) -> str:
    """A hidden positional argument the command needs: exit 2 with an example when missing."""
    if value is None:
        from instantly_cli.errors import UsageError

        raise UsageError(f"Missing {name}.", hint=f"For example: {example}")
    return value


WideOpt = Annotated[
    bool,
    typer.Option(
        "--wide",
        help="Tables: show every column in full (lines may be longer than the terminal).",
    ),
]


ResumeOpt = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Finish an earlier run that stopped (Ctrl-C, crash, kill): `--resume [RUN_ID]` "
        "prints what it will do, then runs only that run's targets left, with its change "
        "(--rate, --concurrency and -o given now win). Without RUN_ID: the newest unfinished "
        "run of this command. `instantly runs list` shows the runs.",
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="With --resume: apply the run's change even where a newer run has changed the "
        "same field of the same accounts since.",
    ),
]


# -- background jobs (accounts warmup enable/disable) -----------------------------------------
NoWaitOpt = Annotated[
    bool, typer.Option("--no-wait", help="Print the background job ids and return at once.")
]
JobsTimeoutOpt = Annotated[
    float, typer.Option("--timeout", metavar="SECONDS", help="How long to wait for the jobs.")
]


# -- agencies: several workspaces in one command ---------------------------------------------------

AllProfilesOpt = Annotated[
    bool,
    typer.Option(
        "--all-profiles",
        help="Every configured profile (its own key and rate limit), side by side: one row or "
        "section per workspace and a total.",
    ),
]
AllWorkspacesOpt = Annotated[
    bool,
    typer.Option(
        "--all-workspaces",
        help="The key's workspace and every accepted sub-workspace (one admin key; pending and "
        "rejected ones are never read), side by side under the key's one rate limit.",
    ),
]


# -- fleet history (accounts summary/list/diff, accounts history) ----------------------------
def _fail_if(help_text: str) -> Any:
    return typer.Option("--fail-if", metavar="COND", help=help_text)


# The exit gates of `accounts summary` (its health metrics) and `accounts diff` (its transitions).
FailIfOpt = Annotated[
    list[str] | None,
    _fail_if(
        "Exit 1 when METRIC OP VALUE[%] holds (e.g. 'at-risk>5%'); repeatable. "
        "Metrics: " + ", ".join(GATE_METRIC.names) + "; operators: > >= < <= == !=."
    ),
]
DiffFailIfOpt = Annotated[
    list[str] | None,
    _fail_if(
        "Exit 1 when METRIC OP VALUE[%] holds (e.g. 'new-errors>0', "
        "'score-drops>5%': a share of the accounts compared); repeatable. Metrics: "
        + ", ".join(DIFF_METRIC.names) + "."
    ),
]
CoverageFailIfOpt = Annotated[
    list[str] | None,
    _fail_if(
        "Exit 1 when METRIC OP VALUE[%] holds (the grammar of `accounts summary`); "
        "repeatable. Metrics: " + ", ".join(COVERAGE_METRIC.names) + "."
    ),
]
NoRecordOpt = Annotated[
    bool,
    typer.Option(
        "--no-record",
        help="Do not record this full pass as a snapshot of the fleet's history.",
    ),
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="WHEN",
        help="Compare with the newest snapshot at or before an age (1d, 7d, 12h), a date "
        "(2026-12-01: the start of that day in UTC) or a snapshot id.",
        show_default=False,
    ),
]
NotifyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--notify",
        metavar="URL",
        help="POST the transitions as JSON (Slack-compatible) to URL when there is something "
        "new; repeatable. Default: the profile's `notify` URLs.",
    ),
]
NotifyStrictOpt = Annotated[
    bool,
    typer.Option("--notify-strict", help="Exit 1 when a --notify webhook fails."),
]
