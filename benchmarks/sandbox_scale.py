"""How long the sandbox takes to seed 100,000 accounts and page through the first 5,000.

Run: ``python benchmarks/sandbox_scale.py [ACCOUNTS]``. An in-memory store is seeded with
ACCOUNTS accounts (default 100,000), then 50 pages of 100 are read through the WSGI app
in-process (no sockets), the way ``--sandbox`` reads them. Target: seeding plus paging under
30 s (CI once measured 12 s idle and 46 s on a loaded 2-core machine: a clock does not
belong in the test suite, which must pass on a loaded machine).

Then the campaigns at scale: CAMPAIGNS (10,000) more campaigns are seeded, ``campaigns list
--all`` is walked (every page must read one page, not the workspace), one account's
campaign mappings are walked, and a campaign's ``email_list`` grows by 100 emails per PATCH
(the way ``campaigns attach`` sends batches; one in three spelled in capitals) up to
ATTACHED (5,000) emails. No target: a page, and a PATCH per email, must stay flat as the
tables grow (they once cost a scan of the workspace each: 40 s for the list).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import httpx

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import Store

TARGET_S = 30.0
PAGES = 50
CAMPAIGNS = 10_000
ATTACHED = 5_000
KEY = "bench-key"


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    started = time.perf_counter()
    store = Store()
    store.ensure_seeded(count)
    seeded = time.perf_counter()
    app = SandboxApp(store, record=False)
    seen = 0
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://sandbox",
                      headers={"Authorization": f"Bearer {KEY}"}) as client:
        cursor = None
        for _ in range(PAGES):
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["starting_after"] = cursor
            page = client.get("/api/v2/accounts", params=params).raise_for_status().json()
            seen += len(page["items"])
            cursor = page.get("next_starting_after")
            if not cursor:
                break
        done = time.perf_counter()
        campaigns = _campaigns(store, client)
    store.close()
    total = done - started
    print(f"{count:,} accounts, python {sys.version.split()[0]}")
    print(f"  seed             {seeded - started:6.2f} s")
    print(f"  {PAGES} pages of 100  {done - seeded:6.2f} s  ({seen:,} accounts)")
    print(f"  total            {total:6.2f} s (target < {TARGET_S:g} s): "
          f"{'ok' if total < TARGET_S else 'OVER TARGET'}")
    for label, (seconds, what) in campaigns.items():
        print(f"  {label:<17}{seconds:6.2f} s  ({what})")
    return 0


def _walk(client: httpx.Client, path: str) -> int:
    seen, cursor = 0, None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["starting_after"] = cursor
        page = client.get(path, params=params).raise_for_status().json()
        seen += len(page["items"])
        cursor = page.get("next_starting_after")
        if not cursor:
            return seen


def _campaigns(store: Store, client: httpx.Client) -> dict[str, tuple[float, str]]:
    out: dict[str, tuple[float, str]] = {}
    clock = time.perf_counter()
    ids = store.seed_extra_campaigns(CAMPAIGNS)
    out["seed campaigns"] = (time.perf_counter() - clock, f"{CAMPAIGNS:,} campaigns")
    clock = time.perf_counter()
    listed = _walk(client, "/api/v2/campaigns")
    out["list --all"] = (time.perf_counter() - clock, f"{listed:,} campaigns")
    emails = store.select_emails()[:ATTACHED]
    clock = time.perf_counter()
    mapped = _walk(client, f"/api/v2/account-campaign-mappings/{emails[0]}")
    out["one's mappings"] = (time.perf_counter() - clock, f"{mapped:,} campaigns")
    clock = time.perf_counter()
    for end in range(100, len(emails) + 100, 100):
        batch = [e.upper() if n % 3 == 0 else e for n, e in enumerate(emails[:end])]
        client.patch(f"/api/v2/campaigns/{ids[0]}", json={"email_list": batch}).raise_for_status()
    out["attach by 100"] = (time.perf_counter() - clock, f"{len(emails):,} emails")
    return out


if __name__ == "__main__":
    sys.exit(main())
