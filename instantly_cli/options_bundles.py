"""Groups of options declared once and handed to a command as one value: the account filters
(``filters: AccountFilters``), the output options (``view: View``) and the options every writing
command shares (``opts: BulkOpts``). Each group's options stand where its parameter stands."""

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import typer

from instantly_cli.options import (
    CampaignOpt,
    ConcurrencyOpt,
    DomainOpt,
    DryRunOpt,
    ErrorCodeOpt,
    ErrorTextOpt,
    FailuresOpt,
    FieldsOpt,
    FilterOpt,
    ForceOpt,
    HealthOpt,
    IdleOpt,
    IncludeUnscoredOpt,
    JsonOpt,
    MaxScoreOpt,
    MaxWaitOpt,
    MinScoreOpt,
    NotTagOpt,
    OutputOpt,
    ProviderOpt,
    RateOpt,
    ResumeOpt,
    SearchOpt,
    StatusOpt,
    TagAllOpt,
    TagOpt,
    WideOpt,
    YesOpt,
)
from instantly_cli.options_global import option_flags

if TYPE_CHECKING:
    from instantly_cli.services.accounts.list import ListQuery
    from instantly_cli.services.accounts.summary import Thresholds


# -- selecting accounts: one declaration for every command that filters them --------------------
# A command names an ``AccountFilters`` parameter ``filters``: in its help and parser these
# options take its place, and it is called with their values, which ``filters.query()`` turns
# into the ListQuery (validated by the command when it chooses, after its output format).
# (name, alias, default), in help order.
QUERY_OPTIONS: list[tuple[str, Any, Any]] = [
    ("status", StatusOpt, None),
    ("provider", ProviderOpt, None),
    ("search", SearchOpt, None),
    ("tag", TagOpt, None),
    ("tag_all", TagAllOpt, None),
    ("not_tag", NotTagOpt, None),
    ("filter_", FilterOpt, None),
    ("domain", DomainOpt, None),
    ("min_score", MinScoreOpt, None),
    ("max_score", MaxScoreOpt, None),
    ("include_unscored", IncludeUnscoredOpt, False),
    ("health", HealthOpt, None),
    ("error_code", ErrorCodeOpt, None),
    ("error", ErrorTextOpt, None),
    ("campaign", CampaignOpt, None),
    ("idle", IdleOpt, False),
]
R = TypeVar("R")


class AccountFilters(NamedTuple):
    """The values of the account filter options, as given."""

    status: list[str] | None = None
    provider: list[str] | None = None
    search: str | None = None
    tag: list[str] | None = None
    tag_all: list[str] | None = None
    not_tag: list[str] | None = None
    filter_: list[str] | None = None
    domain: list[str] | None = None
    min_score: float | None = None
    max_score: float | None = None
    include_unscored: bool = False
    health: list[str] | None = None
    error_code: list[str] | None = None
    error: list[str] | None = None
    campaign: list[str] | None = None
    idle: bool = False

    def argv(self) -> list[str]:
        """These filters as command-line words (unquoted), in help order: what a printed
        `accounts list …` command needs to select the same accounts."""
        words: list[str] = []
        for name, alias, default in QUERY_OPTIONS:
            value = getattr(self, name)
            if value is None or value == default:
                continue
            flag = sorted(f for f in option_flags(alias) if f.startswith("--"))[0]
            if value is True:
                words.append(flag)
            elif isinstance(value, list):
                for item in value:
                    words += [flag, str(item)]
            else:
                words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
        return words

    def query(self, thresholds: "Thresholds", **more: Any) -> "ListQuery":
        """The ListQuery of these filters; ``more`` sets its other fields (sort, tags…)."""
        from instantly_cli.services.accounts.list import ListQuery

        return ListQuery(
            status=self.status or [],
            provider=self.provider or [],
            search=self.search,
            filter=self.filter_ or [],
            tags=self.tag or [],
            tags_all=self.tag_all or [],
            domains=self.domain or [],
            min_score=self.min_score,
            max_score=self.max_score,
            include_unscored=self.include_unscored,
            health=self.health or [],
            error_codes=self.error_code or [],
            errors=self.error or [],
            not_tags=self.not_tag or [],
            campaigns=self.campaign or [],
            idle=self.idle,
            thresholds=thresholds,
            **more,
        )


# The marker's default (replaced by the options; it keeps the parameter optional in Python).
NO_FILTERS = AccountFilters()


def expand(
    func: Callable[..., R],
    marker: str,
    params: list[tuple[str, Any, Any]],
    pack: Callable[[dict[str, Any]], Any],
) -> Callable[..., R]:
    """``func`` with its parameter ``marker`` replaced, in its place, by the options ``params``
    ((name, alias, default), in help order); it is called with ``pack`` of their values as
    ``marker``. One declaration of a group of options, for every command that takes them."""
    own = inspect.signature(func, eval_str=True)
    found = own.parameters.get(marker)
    if found is None:
        raise TypeError(f"{func.__name__} declares no {marker} parameter")
    parameters: list[inspect.Parameter] = []
    for parameter in own.parameters.values():
        if parameter is not found:
            parameters.append(parameter)
            continue
        parameters.extend(
            inspect.Parameter(name, parameter.kind, default=default, annotation=alias)
            for name, alias, default in params
        )

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        given = {name: kwargs.pop(name, default) for name, _, default in params}
        return func(*args, **{marker: pack(given)}, **kwargs)

    wrapper.__signature__ = own.replace(parameters=parameters)  # type: ignore[attr-defined]
    return wrapper


def account_filters(func: Callable[..., R]) -> Callable[..., R]:
    """Give a command the account filters of ``accounts list``, declared once (see above)."""
    return expand(func, "filters", QUERY_OPTIONS, lambda given: AccountFilters(**given))


# -- how a reading command shows its result: one declaration of -o/--json (and --fields, --wide)
class View(NamedTuple):
    """The values of a command's output options, as given."""

    output_: str | None = None
    json_output: bool = False
    fields: str | None = None
    wide: bool = False

    def format(self, ctx: typer.Context) -> str:
        """The output format, resolved and recorded (see context.output_format)."""
        from instantly_cli import context

        return context.output_format(ctx, self.output_, self.json_output)


# The marker's default (replaced by the options, like NO_FILTERS).
NO_VIEW = View()


def view_options(*more: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Give a command -o/--json, plus ``more`` of "fields" and "wide", in the place of its
    ``view`` parameter, and call it with their values as one ``View``."""

    def wrap(func: Callable[..., R]) -> Callable[..., R]:
        return expand(func, "view", [p for p in VIEW_PARAMS if p[0] in (
            "output_", "json_output", *more)], lambda given: View(**given))

    return wrap


VIEW_PARAMS: list[tuple[str, Any, Any]] = [
    ("output_", OutputOpt, None), ("json_output", JsonOpt, False),
    ("fields", FieldsOpt, None), ("wide", WideOpt, False),
]


class BulkOpts:
    """The options every writing command shares, declared once (:func:`bulk_options`)."""

    def __init__(self, **values: Any) -> None:
        self.dry_run: bool = values.get("dry_run", False)
        self.yes: bool = values["yes"]
        self.rate: float = values["rate"]
        self.concurrency: int = values["concurrency"]
        self.failures: Path | None = values["failures"]
        self.resume: bool = values["resume"]
        self.force: bool = values["force"]
        self.output_: str | None = values["output_"]
        self.json_output: bool = values["json_output"]


def _bulk_params() -> list[tuple[str, Any, Any]]:
    from instantly_cli.ratelimit import AUTO_CONCURRENCY, DEFAULT_RATE

    return [("dry_run", DryRunOpt, False), ("yes", YesOpt, False), ("rate", RateOpt, DEFAULT_RATE),
            ("concurrency", ConcurrencyOpt, AUTO_CONCURRENCY), ("max_wait", MaxWaitOpt, None),
            ("failures", FailuresOpt, None),
            ("resume", ResumeOpt, False), ("force", ForceOpt, False),
            ("output_", OutputOpt, None), ("json_output", JsonOpt, False)]


def bulk_options(*, dry_run: bool = True) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Add the shared options of a writing command in the place of its ``opts`` parameter and
    hand them to it as one ``BulkOpts`` (twin commands and their siblings declare them once,
    here)."""

    def wrap(func: Callable[..., R]) -> Callable[..., R]:
        shared = [(n, a, d) for n, a, d in _bulk_params() if dry_run or n != "dry_run"]
        return expand(func, "opts", shared, lambda given: BulkOpts(**given))

    return wrap
