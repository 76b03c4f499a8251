"""Streaming the accounts a :class:`ListQuery` selects.

The API takes one ``status``, one ``provider_code`` and one ``filter`` per request, so a query
with several values becomes one request stream per combination, merged here in the API's order
(the streams are each sorted, so a k-way merge keeps memory flat) without duplicates. Filters the
API lacks (exact domain, score range, health class) are applied locally, on the stream.

``Lister`` is the seam that fetches one stream: :func:`pager_lister` walks the client's pager one
page after another; a concurrent lister with the same call shape can be handed in instead.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Protocol

from instantly_cli.enums import (
    ACCOUNT_STATUS,
    LIST_FILTER,
    PROVIDER,
    SORT_FIELD,
    EnumTable,
)
from instantly_cli.errors import UsageError
from instantly_cli.services.accounts.local_filter import LocalFilter
from instantly_cli.services.accounts.summary import (
    Thresholds,
    domain_of,
    score_of,
)

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.services.campaigns import Sweep

PAGE = 100
Page = Sequence[Mapping[str, Any]]


class Lister(Protocol):
    """Fetch one request stream of ``GET /accounts`` as pages of accounts."""

    def __call__(
        self,
        client: InstantlyClient,
        params: dict[str, Any],
        *,
        limit: int | None,
        offset: bool,
    ) -> Iterable[Page]: ...


def pager_lister(
    client: InstantlyClient, params: dict[str, Any], *, limit: int | None, offset: bool
) -> Iterable[Page]:
    """The default lister: the client's pager (pages by cursor, or by ``skip`` when sorted)."""
    return client.list_accounts(params, limit=limit, offset=offset)


# -- merging streams ------------------------------------------------------------------------------


def order_key(sort_by: str | None) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """The API's order as a sort key: created time then email, or the sort field then email."""

    def text(value: object) -> str:
        return value if isinstance(value, str) else ""

    def num(value: object) -> tuple[int, float]:
        # No value sorts lowest (as SQL NULLs do), so it ends a descending list.
        if isinstance(value, bool) or not isinstance(value, int | float):
            return (0, 0.0)
        return (1, float(value))

    if sort_by == "email":
        return lambda a: (text(a.get("email")),)
    if sort_by == "stat_warmup_score":
        return lambda a: (num(a.get("stat_warmup_score")), text(a.get("email")))
    if sort_by == "status":
        return lambda a: (num(a.get("status")), text(a.get("email")))
    return lambda a: (text(a.get("timestamp_created")), text(a.get("email")))


class Listing:
    """Pages of the accounts of one query: one stream, or several merged; filtered locally.

    Iterate it once. Afterwards ``anomaly`` says why a stream stopped early (if it did), ``more``
    whether ``limit`` cut the listing short and ``next_cursor`` where to go on (a single
    unfiltered stream only).
    """

    def __init__(
        self,
        streams: Sequence[Iterable[Page]],
        *,
        key: Callable[[Mapping[str, Any]], tuple[Any, ...]],
        descending: bool,
        local: LocalFilter | None,
        limit: int | None,
        unscored_last: bool = False,
    ) -> None:
        self.streams = streams
        self.unscored_last = unscored_last
        self.key = key
        self.descending = descending
        self.local = local
        self.limit = limit
        self.anomaly: str | None = None
        self.more = False
        self.next_cursor: str | None = None

    def __iter__(self) -> Iterator[list[Mapping[str, Any]]]:
        try:
            if self._single():
                for page in self.streams[0]:
                    yield page if isinstance(page, list) else list(page)
            else:
                yield from self._merged()
        finally:
            self._collect()

    def items(self) -> Iterator[Mapping[str, Any]]:
        for page in self:
            yield from page

    def _single(self) -> bool:
        """One stream passed through as the API pages it."""
        return len(self.streams) == 1 and self.local is None and not self.unscored_last

    def _collect(self) -> None:
        for stream in self.streams:
            anomaly = getattr(stream, "anomaly", None)
            if anomaly and not self.anomaly:
                self.anomaly = anomaly
        if self._single():
            self.more = bool(getattr(self.streams[0], "more", False))
            self.next_cursor = getattr(self.streams[0], "next_cursor", None)

    def _merged(self) -> Iterator[list[Mapping[str, Any]]]:
        def flat(stream: Iterable[Page]) -> Iterator[Mapping[str, Any]]:
            for page in stream:
                yield from page

        merged: Iterator[Mapping[str, Any]]
        if len(self.streams) == 1:
            merged = flat(self.streams[0])
        else:
            merged = heapq.merge(
                *(flat(s) for s in self.streams), key=self.key, reverse=self.descending
            )
        page: list[Mapping[str, Any]] = []
        count = 0
        for account in self._selected(merged):
            if self.limit is not None and count >= self.limit:
                self.more = True
                break
            page.append(account)
            count += 1
            if len(page) >= PAGE:
                yield page
                page = []
        if page:
            yield page

    def _selected(self, merged: Iterator[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
        """The merged accounts without duplicates, filtered locally; sorted by score, those
        without one are held back and come last in either direction (the API puts them first
        when ascending). Lazy: the walk stops when the listing has enough."""
        held: list[Mapping[str, Any]] = []
        # The same account in two streams has the same sort key, so duplicates arrive together:
        # remembering the emails of the current key is enough (memory stays flat).
        last_key: tuple[Any, ...] | None = None
        at_key: set[str] = set()
        for account in merged:
            if len(self.streams) > 1:
                k = self.key(account)
                email = str(account.get("email"))
                if k != last_key:
                    last_key, at_key = k, set()
                elif email in at_key:
                    continue
                at_key.add(email)
            if self.local is not None:
                if not self.local(account):
                    continue
                if self.local.drop_tags:
                    account = {k: v for k, v in account.items() if k != "tags"}
            if self.unscored_last and score_of(account) is None:
                held.append(account)
            else:
                yield account
        yield from held


def concurrent_safe(query: ListQuery, *, limit: int | None) -> bool:
    """Whether the concurrent lister may serve ``query``: every account (no ``limit``), no sort,
    no starting cursor, and one request stream. Several streams are merged in the cursor's order
    (newest first) while the concurrent lister streams oldest first, and falls back to newest
    first when the API refuses offsets, so a merge of its streams could not rely on one order.
    """
    return limit is None and not query.sort and not query.starting_after and len(
        query.variants()
    ) == 1


# The concurrent lister walks the cursor when rate x latency (with the bulk runner's headroom)
# needs at most this many pages in flight: with one, the cursor is as fast. Tests that want the
# concurrent walk from a server with no latency set it to 0.
CURSOR_UP_TO = 1


def prefer_cursor(rate: float, latency: float) -> bool:
    """After the concurrent lister's first page: walk the cursor when one page in flight is
    enough for ``rate`` at this latency (Little's law, sized as bulk workers are). Pages in
    flight then cannot be faster; on a local server, whose latency is its own CPU, they are
    slower (they contend for it, and the pacing holds the walk under the API's rate)."""
    from instantly_cli.ratelimit import workers_for

    return CURSOR_UP_TO > 0 and workers_for(rate, latency, cap=CURSOR_UP_TO + 1) <= CURSOR_UP_TO


def list_accounts(
    client: InstantlyClient,
    query: ListQuery,
    *,
    limit: int | None,
    parallel: bool = True,
    warn: Callable[[str], None] = lambda message: None,
    lister: Lister | None = None,
) -> Listing:
    """The accounts ``query`` selects, as a :class:`Listing` (nothing is fetched until it is
    iterated, except the tags, read once to resolve labels when a tag filter is given).

    The one place that decides how accounts are walked. With ``parallel`` and a query the
    concurrent lister can serve (:func:`concurrent_safe`), its first page measures the API's
    latency: when one page at a time is as fast (:func:`prefer_cursor`, e.g. a local server) the
    pages are read one at a time, unpaced, like ``parallel=False`` but in the same order (oldest
    first); otherwise pages are fetched
    concurrently under the client's limiter, or one at the workspace's rate made for the walk.
    Anything else (a limit, a sort, a cursor, several streams) is the client's pager. ``lister``
    replaces that choice (a seam for tests).
    """
    from instantly_cli.services.tags import TagIndex, resolve_tag_ids

    params = query.params()
    local = query.local_filter()
    if query.tags or query.tags_all or query.not_tags:
        index = TagIndex.fetch(client, warn)
        params["tag_ids"] = resolve_tag_ids(index, query.tags) or None
        params["tag_ids_all"] = resolve_tag_ids(index, query.tags_all) or None
        if query.not_tags:
            # The API cannot exclude a tag: each account's tags come with it, judged here.
            params["include_tags"] = True
            local = replace(
                local or LocalFilter(),
                not_tag_ids=frozenset(resolve_tag_ids(index, query.not_tags)),
                drop_tags=not query.include_tags,
            )
    if query.campaigns or query.idle:
        from instantly_cli.services.campaigns import selected_emails

        sw = campaign_sweep(client, query.thresholds, parallel=parallel, warn=warn)
        emails = selected_emails(sw, query.campaigns, query.idle)
        local = replace(local or LocalFilter(thresholds=query.thresholds), emails=emails)
    variants = query.variants()
    fetch = lister or (
        _concurrent(client) if parallel and concurrent_safe(query, limit=limit) else pager_lister
    )
    sort_by = params.get("sort_by")
    unscored_last = sort_by == "stat_warmup_score"
    # Local filters drop accounts, and unscored ones are held back, so each stream pages on
    # (lazily) until the listing has enough.
    per_stream = None if local is not None or unscored_last else limit
    streams = [
        fetch(client, {**params, **variant}, limit=per_stream, offset=bool(sort_by))
        for variant in variants
    ]
    return Listing(
        streams,
        key=order_key(sort_by),
        descending=params.get("sort_order") != "asc",
        local=local,
        limit=limit,
        unscored_last=unscored_last,
    )


def campaign_sweep(
    client: InstantlyClient,
    thresholds: Thresholds | None = None,
    *,
    parallel: bool = True,
    warn: Callable[[str], None] = lambda message: None,
) -> Sweep:
    """The one sweep of a campaign view: every account with its tags (walked like the
    summary's) joined with every campaign (:func:`services.campaigns.sweep`)."""
    from instantly_cli.services.campaigns import sweep

    thresholds = thresholds or Thresholds()
    query = ListQuery(include_tags=True, thresholds=thresholds)
    listing = list_accounts(client, query, limit=None, parallel=parallel, warn=warn)
    result = sweep(client, accounts_of(listing), thresholds, warn=warn)
    result.anomaly = listing.anomaly
    return result


def _concurrent(client: InstantlyClient) -> Lister:
    """The concurrent lister, paced at the workspace's whole rate when the client is unpaced."""
    from instantly_cli.ratelimit import MAX_RATE, RateLimiter
    from instantly_cli.services.accounts.listing import parallel_lister

    limiter = None if client.limiter is not None else RateLimiter(MAX_RATE)

    def concurrent(
        client: InstantlyClient, params: dict[str, Any], *, limit: int | None, offset: bool
    ) -> Iterable[Page]:
        return parallel_lister(client, params, limit=limit, offset=offset, limiter=limiter,
                               prefer_cursor=prefer_cursor)

    return concurrent


def close_domains(
    client: InstantlyClient, query: ListQuery, wanted: Sequence[str], *, scan: int = 1000
) -> list[str]:
    """Domains close to ``wanted`` among the accounts the query selects without its domain
    (at most ``scan`` accounts read): the "did you mean" of a --domain that matched nothing."""
    import difflib

    bare = replace(query, domains=[], sort=None, asc=None, starting_after=None)
    seen: set[str] = set()
    for account in list_accounts(client, bare, limit=scan, parallel=False).items():
        seen.add(domain_of(account.get("email")))
    seen.discard("")
    close: list[str] = []
    for domain in (part for text in wanted for part in text.split(",") if part.strip()):
        for match in difflib.get_close_matches(domain.strip().lower(), sorted(seen), n=3,
                                               cutoff=0.6):
            if match not in close:
                close.append(match)
    return close


def accounts_of(listing: Iterable[Page]) -> Iterator[Mapping[str, Any]]:
    """Every account of a listing, one at a time (what the summary's single pass consumes)."""
    for page in listing:
        yield from page


# -- what is asked for -------------------------------------------------------------------

# Several values of --status, --provider and --filter are one request stream per combination,
# each holding a page in memory while they are merged: keep that bounded.
MAX_STREAMS = 36


# ListQuery fields that order, decorate or classify what is listed, never leave an account out
# (the unscored accounts only widen a score range, which narrows by itself).
SHAPING = frozenset({"sort", "asc", "include_tags", "include_unscored", "thresholds"})


@dataclass
class ListQuery:
    """What ``accounts list`` and ``accounts summary`` ask for, validated; tags are still labels
    or ids.

    ``status``, ``provider`` and ``filter`` take several values ("any of"; ``a,b`` too): the API
    takes one of each, so :meth:`variants` is one request stream per combination, merged by
    this module. ``domains``, the score range and ``health`` are applied locally (the API has no
    such filters).
    """

    status: list[str] = field(default_factory=list)
    provider: list[str] = field(default_factory=list)
    search: str | None = None
    filter: list[str] = field(default_factory=list)
    sort: str | None = None
    asc: bool | None = None
    include_tags: bool = False
    starting_after: str | None = None
    tags: list[str] = field(default_factory=list)
    tags_all: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    min_score: float | None = None
    max_score: float | None = None
    include_unscored: bool = False
    health: list[str] = field(default_factory=list)
    campaigns: list[str] = field(default_factory=list)
    idle: bool = False
    thresholds: Thresholds = field(default_factory=Thresholds)
    error_codes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    not_tags: list[str] = field(default_factory=list)

    def narrows(self) -> bool:
        """Whether the query selects fewer than every account of the workspace (a pass that
        is not full must not be recorded as the fleet). Every field narrows unless it only
        shapes the answer (:data:`SHAPING`): a filter added later is counted without being
        named here."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SHAPING or value is None or value is False or value in ("", []):
                continue
            return True
        return False

    def params(self) -> dict[str, Any]:
        """The query parameters shared by every variant; exit 2 on bad input (nothing sent)."""
        self.variants()  # validates the enum values
        local = self.local_filter()  # validates domains, scores and health classes
        search = self.search or None
        if search is None and local is not None and len(local.domains) == 1:
            # Narrow on the server; the exact domain match is still made locally.
            search = next(iter(local.domains))
        params: dict[str, Any] = {
            "search": search,
            "include_tags": True if self.include_tags else None,
        }
        if self.sort:
            params["sort_by"] = SORT_FIELD.parse(self.sort)
            params["sort_order"] = "asc" if self.asc else "desc"
        elif self.asc is not None:
            raise UsageError("--asc/--desc needs --sort.", hint="For example: --sort email --asc.")
        if self.starting_after and self.sort:
            raise UsageError(
                "--starting-after cannot be combined with --sort.",
                hint="Sorted lists page by offset; use --all or --limit.",
            )
        if self.starting_after:
            params["starting_after"] = self.starting_after
        return params

    def variants(self) -> list[dict[str, Any]]:
        """One dict of single-valued API filters per request stream (their cross product)."""
        statuses = parse_values(self.status, ACCOUNT_STATUS) or [None]
        providers = parse_values(self.provider, PROVIDER) or [None]
        filters = parse_values(self.filter, LIST_FILTER) or [None]
        if (self.error_codes or self.errors) and statuses == [None] and filters == [None]:
            # --error/--error-code select accounts in an error status: ask only for those.
            filters = parse_values(["error"], LIST_FILTER)
        streams = len(statuses) * len(providers) * len(filters)
        if streams > MAX_STREAMS:
            raise UsageError(
                f"These --status, --provider and --filter values need {streams} request streams "
                f"(one per combination); at most {MAX_STREAMS} are allowed.",
                hint="Give fewer values, or list wider and filter the JSON lines with jq.",
            )
        return [
            {"status": s, "provider_code": p, "filter": f}
            for s in statuses
            for p in providers
            for f in filters
        ]

    def local_filter(self) -> LocalFilter | None:
        local = LocalFilter.build(
            domains=self.domains,
            min_score=self.min_score,
            max_score=self.max_score,
            include_unscored=self.include_unscored,
            health=self.health,
            thresholds=self.thresholds,
            error_codes=self.error_codes,
            errors=self.errors,
        )
        return local if local.active else None


def parse_values(values: str | Sequence[str] | None, table: EnumTable) -> list[Any]:
    """Repeated and comma-separated enum values → API codes, duplicates dropped, order kept."""
    if not values:
        return []
    texts = [values] if isinstance(values, str) else list(values)
    codes: list[Any] = []
    for text in texts:
        for part in text.split(","):
            if not part.strip():
                continue
            if table is ACCOUNT_STATUS and part.strip().lower() in ("error", "errors"):
                raise UsageError(
                    f"Unknown status '{part.strip()}'.",
                    hint="Every error status: --filter error (or --status "
                    "connection-error,soft-bounce-error,sending-error).",
                )
            code = table.parse(part)
            if code not in codes:
                codes.append(code)
    return codes
