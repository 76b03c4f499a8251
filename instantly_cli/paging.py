"""The cursor pager: pages of ``{items, next_starting_after}`` that never loop.

It asks for pages through anything with the client's ``request`` method, so it sits below the
client (which hands one out from :meth:`~instantly_cli.client.InstantlyClient.pages`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any, Protocol, cast

from instantly_cli.errors import InvalidResponseError
from instantly_cli.schema import AccountPage

# What a pager remembers (see SeenKeys): the last 1,000 keys exactly, older ones in a 1 MiB
# Bloom filter. At 100,000 keys it takes a new key for an old one 1 time in 23,000 (1 in 37 at
# a million), and a walk only stops after 200 items in a row, two pages or more, look old.
RECENT_KEYS = 1000
HISTORY_BITS = 1 << 23
OLD_ITEMS_TO_STOP = 200
RECENT_CURSORS = 100


class Requester(Protocol):
    """What the pager needs of a client: one request, its JSON answer."""

    def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> Any: ...


class Pager:
    """Iterates pages of ``{items, next_starting_after}``; never loops, in bounded memory.

    Stops on a missing or empty cursor, an empty page, one of the last cursors again, or items
    listed before (recorded in ``anomaly`` so the command can warn); a loop longer than the
    cursors remembered repeats its items, which ends it too. With ``offset`` (sorted lists,
    where the API has no cursor) it pages with ``skip`` until a short page. What was listed is
    remembered in :class:`SeenKeys` (``seen``), whose size does not grow with the walk.
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
        self.seen = SeenKeys()
        self.cursors: deque[str] = deque(maxlen=RECENT_CURSORS)

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        # Pages whose every item looks listed long ago wait here. Once OLD_ITEMS_TO_STOP items
        # in a row (two pages or more) look old, the API is going round a loop: the walk stops
        # and they are not listed. Fewer may be a false alarm of the history filter: they are
        # listed, in their place, as soon as a page with new items follows.
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
        """(new items of a page, whether they all look listed long ago), page after page."""
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
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise InvalidResponseError(
                    "The API answered a list request without an items array."
                )
            items: list[dict[str, Any]] = data["items"]
            nxt = data.get("next_starting_after")
            self.fetched += len(items)
            if not items:
                if nxt:
                    self.anomaly = "the API returned an empty page with a cursor; stopped there"
                return
            fresh, old = self.seen.admit(items)
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
            self.cursors.append(nxt)
            cursor = nxt
            if self.limit is not None and self.fetched >= self.limit:
                self.more, self.next_cursor = True, nxt
                return

    def items(self) -> Iterator[dict[str, Any]]:
        for page in self:
            yield from page


class SeenKeys:
    """The items a walk has listed, by email or id, in a size that does not grow with the walk.

    The keys of (at least) the last ``recent`` items are kept exactly: they are what a cursor
    walk can bring back (an overlap at a page boundary, a page answered twice), and a repeat
    among them is dropped. A keyset cursor over an API working as documented repeats nothing,
    also while accounts are created and deleted. Older keys go into a fixed-size Bloom filter,
    which can only take a new key for an old one (never the reverse), so it never drops an
    item: it only tells the pager when the API goes round a loop longer than the exact window.
    """

    def __init__(self, recent: int = RECENT_KEYS, history_bits: int = HISTORY_BITS):
        if history_bits < 8 or history_bits & (history_bits - 1):
            raise ValueError("history_bits must be a power of two, at least 8")
        self.recent = recent
        self.history_bits = history_bits
        self._pages: deque[list[str]] = deque()
        self._recent: set[str] = set()
        self._history: bytearray | None = None  # made when the first key leaves the window

    def __len__(self) -> int:
        """Keys held exactly (at most ``recent`` plus one page)."""
        return len(self._recent)

    @property
    def history_bytes(self) -> int:
        return 0 if self._history is None else len(self._history)

    def admit(self, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """The items not among the recent ones, and whether each of them looks listed long
        ago; the new keys are remembered."""
        fresh: list[dict[str, Any]] = []
        keys: list[str] = []
        page: set[str] = set()
        for item in items:
            key = item.get("email") or item.get("id") if isinstance(item, dict) else None
            if key is None:
                fresh.append(item)
                continue
            key = str(key).lower()
            if key in self._recent or key in page:
                continue
            page.add(key)
            keys.append(key)
            fresh.append(item)
        old = bool(keys) and len(keys) == len(fresh) and all(self._in_history(k) for k in keys)
        self._remember(keys)
        return fresh, old

    def _remember(self, keys: list[str]) -> None:
        self._pages.append(keys)
        self._recent.update(keys)
        while len(self._recent) > self.recent and len(self._pages) > 1:
            if self._history is None:
                self._history = bytearray(self.history_bits // 8)
            history, mask = self._history, self.history_bits - 1
            leaving = self._pages.popleft()
            self._recent.difference_update(leaving)
            for key in leaving:
                # Three positions from one 64-bit hash (double hashing), written out: this
                # runs for every item listed.
                digest = hash(key)
                bit, step = digest & mask, (digest >> 32) | 1
                history[bit >> 3] |= 1 << (bit & 7)
                bit = (bit + step) & mask
                history[bit >> 3] |= 1 << (bit & 7)
                bit = (bit + step) & mask
                history[bit >> 3] |= 1 << (bit & 7)

    def _in_history(self, key: str) -> bool:
        history = self._history
        if history is None:
            return False
        mask = self.history_bits - 1
        digest = hash(key)
        bit, step = digest & mask, (digest >> 32) | 1
        for _ in range(3):
            if not history[bit >> 3] >> (bit & 7) & 1:
                return False
            bit = (bit + step) & mask
        return True


def account_page(data: Any) -> AccountPage:
    """One ``GET /accounts`` answer, checked to be a page."""
    if not isinstance(data, dict):
        raise InvalidResponseError("The API answered GET /accounts without a JSON object.")
    if not isinstance(data.get("items"), list):
        raise InvalidResponseError("The API answered a list request without an items array.")
    return cast(AccountPage, data)
