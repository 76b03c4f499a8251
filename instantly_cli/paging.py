"""The cursor pager: pages of ``{items, next_starting_after}`` that never loop.

It asks for pages through anything with the client's ``request`` method, so it sits below the
client (which hands one out from :meth:`~instantly_cli.client.InstantlyClient.pages`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol, cast

from instantly_cli.errors import InvalidResponseError
from instantly_cli.schema import AccountPage

OLD_ITEMS_TO_STOP = 200


class Requester(Protocol):
    """What the pager needs of a client: one request, its JSON answer."""

    def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> Any: ...


class Pager:
    """Iterates pages of ``{items, next_starting_after}``; never loops.

    Stops on a missing or empty cursor, an empty page, a cursor followed before, or a page of
    items already listed (recorded in ``anomaly`` so the command can warn). The API's cursor is
    made from the last item of a page, so a loop is exactly a cursor seen again: the pager keeps
    every cursor it followed (``cursors``) and the key of the item each page ended on
    (``page_ends``, which also catches a server handing out fresh cursors over old pages): two
    strings a page, nothing per item. Items repeated from the page before (an overlap at a page
    boundary) are dropped. With ``offset`` (sorted lists, where the API has no cursor) it pages
    with ``skip`` until a short page.
    """

    def __init__(
        self,
        client: Requester,
        path: str,
        params: dict[str, Any],
        *,
        limit: int | None,
        page_size: int,
        offset: bool,
    ):
        self.client = client
        self.path = path
        self.params = params
        self.limit = limit
        self.page_size = max(1, min(page_size, 100))
        self.offset = offset
        self.fetched = 0
        self.next_cursor: str | None = None
        self.next_skip: int | None = None
        self.more = False  # True when --limit stopped us while the API had more
        self.anomaly: str | None = None
        self.cursors: set[str] = set()
        self.page_ends: set[str] = set()
        self._last_page: set[str] = set()

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        # Pages that end where an earlier page ended wait here. Once OLD_ITEMS_TO_STOP items in
        # a row (two pages or more) are such pages, the API is going round a loop: the walk
        # stops and they are not listed. Fewer (one page the API answered twice) are listed,
        # in their place, as soon as a page that ends somewhere new follows.
        held: list[list[dict[str, Any]]] = []
        for page, old in self._walk():
            if not old:
                yield from held
                held.clear()
                yield page
                continue
            held.append(page)
            if len(held) >= 2 and sum(len(p) for p in held) >= OLD_ITEMS_TO_STOP:
                self.anomaly = "the API returned items listed long before; stopped there"
                return
        yield from held

    def _walk(self) -> Iterator[tuple[list[dict[str, Any]], bool]]:
        """(new items of a page, whether it ends where an earlier page ended), page after page."""
        cursor = self.params.pop("starting_after", None)
        skip = int(self.params.pop("skip", 0) or 0)
        while True:
            size = self.page_size
            if self.limit is not None:
                size = min(size, self.limit - self.fetched)
                if size <= 0:
                    return
            query = dict(self.params, limit=size)
            if self.offset:
                query["skip"] = skip or None
            else:
                query["starting_after"] = cursor
            data = self.client.request("GET", self.path, params=query)
            items = checked_items(data)
            nxt = data.get("next_starting_after")
            self.fetched += len(items)
            if not items:
                if nxt:
                    self.anomaly = "the API returned an empty page with a cursor; stopped there"
                return
            fresh, old = self._admit(items)
            if not fresh:
                # A fresh cursor over items already seen would walk forever.
                self.anomaly = "the API returned a page of items already seen; stopped there"
                return
            yield fresh, old
            if self.offset:
                skip += len(items)
                if len(items) < size:
                    return
                if self.limit is not None and self.fetched >= self.limit:
                    self.more, self.next_skip = True, skip
                    return
                continue
            if not nxt or not isinstance(nxt, str):
                return
            if nxt == cursor or nxt in self.cursors:
                self.anomaly = f"the API repeated the cursor {nxt!r}; stopped to avoid a loop"
                return
            self.cursors.add(nxt)
            cursor = nxt
            if self.limit is not None and self.fetched >= self.limit:
                self.more, self.next_cursor = True, nxt
                return

    def items(self) -> Iterator[dict[str, Any]]:
        for page in self:
            yield from page

    def _admit(self, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """The items not on the page before (nor twice on this one), and whether the page ends
        on an item an earlier page ended on; the page's keys and end are remembered."""
        fresh: list[dict[str, Any]] = []
        keys: set[str] = set()
        end: str | None = None
        for item in items:
            key = item.get("email") or item.get("id") if isinstance(item, dict) else None
            if key is None:
                fresh.append(item)
                continue
            end = key = str(key).lower()
            if key in self._last_page or key in keys:
                continue
            keys.add(key)
            fresh.append(item)
        old = bool(keys) and end in self.page_ends
        if end is not None:
            self.page_ends.add(end)
        self._last_page = keys
        return fresh, old


def account_page(data: Any) -> AccountPage:
    """One ``GET /accounts`` answer, checked to be a page."""
    if not isinstance(data, dict):
        raise InvalidResponseError("The API answered GET /accounts without a JSON object.")
    checked_items(data)
    return cast(AccountPage, data)


def not_json_number(name: str) -> Any:
    """json's ``parse_constant`` for answers: NaN and Infinity are not JSON (kept, ``-o json``
    would re-emit them as text no JSON reader accepts)."""
    raise InvalidResponseError(f"The API answered {name}, which is not a JSON number.")


def checked_items(data: Any) -> list[dict[str, Any]]:
    """The ``items`` of a list answer, each an object; anything else is one clear error (a
    ``null`` or a number among the items would otherwise fail deep inside a command)."""
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InvalidResponseError("The API answered a list request without an items array.")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidResponseError(
                f"The API answered a list whose item {index} is {_kind(item)}, not an object."
            )
    return items


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", list: "an array"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )
