"""What the store's parts share: the errors the app turns into envelopes, and the plumbing
(connection, lock, transactions, clock) the job-specific mixins rely on."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any


class StoreError(Exception):
    """Base of the errors the app turns into envelopes."""


class NotFoundError(StoreError):
    """The addressed resource does not exist."""


class ConflictError(StoreError):
    """A uniqueness rule was violated."""


class InvalidError(StoreError):
    """The request is well-formed but cannot be applied."""


def dumps(obj: object) -> str:
    """Compact JSON, as stored in the data columns."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


Page = tuple[list[dict[str, Any]], str | None]


def page(items: list[dict[str, Any]], limit: int, key: str = "id") -> Page:
    """A page from items fetched one past ``limit``: the first ``limit``, and the cursor (the
    last one's ``key``) only when more remain."""
    kept = items[:limit]
    return kept, (str(kept[-1][key]) if len(items) > limit and kept else None)


class StoreBase:
    """The plumbing ``Store`` provides; declared here so the mixins type-check on their own."""

    _conn: sqlite3.Connection
    _lock: threading.RLock

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _now(self) -> str:
        raise NotImplementedError

    @staticmethod
    def _find(conn: sqlite3.Connection, email: str, workspace: str | None) -> dict[str, Any] | None:
        """An account (of a workspace; None: of any), or None."""
        raise NotImplementedError

    def _save(self, conn: sqlite3.Connection, acc: dict[str, Any]) -> None:
        """Write an account back, its indexed columns with it."""
        raise NotImplementedError

    def _drop_from_lists(
        self, conn: sqlite3.Connection, *, emails: Sequence[str] = (), tag_id: str | None = None
    ) -> None:
        """Take deleted or moved accounts, or a deleted tag, out of every campaign."""
        raise NotImplementedError
