"""In-process access to a sandbox store for the sandbox's own tests (no server, no port)."""

from __future__ import annotations

from typing import Any

import httpx

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import Store


def in_process(
    store: Store, key: str, *, api_key: str | None = None
) -> tuple[SandboxApp, httpx.Client]:
    """An app over ``store`` (accepting ``api_key`` only, or any key) and a client sending
    ``key``; close the client (``with``) when done."""
    app = SandboxApp(store, api_key=api_key)
    client = httpx.Client(
        transport=httpx.WSGITransport(app=app),
        base_url="http://sandbox",
        headers={"Authorization": f"Bearer {key}"},
    )
    return app, client


def walk(client: httpx.Client, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every item of a cursor listing, ``limit`` per page (fails if it never ends)."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10_000):
        query = dict(params, limit=limit)
        if cursor:
            query["starting_after"] = cursor
        page = client.get(path, params=query).json()
        items += page["items"]
        cursor = page.get("next_starting_after")
        if not cursor:
            return items
    raise AssertionError("pagination did not end")
