"""How long the sandbox takes to seed 100,000 accounts and page through the first 5,000.

Run: ``python benchmarks/sandbox_scale.py [ACCOUNTS]``. An in-memory store is seeded with
ACCOUNTS accounts (default 100,000), then 50 pages of 100 are read through the WSGI app
in-process (no sockets), the way ``--sandbox`` reads them. Target: seeding plus paging under
30 s (CI once measured 12 s idle and 46 s on a loaded 2-core machine: a clock does not
belong in the test suite, which must pass on a loaded machine).
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
    store.close()
    total = done - started
    print(f"{count:,} accounts, python {sys.version.split()[0]}")
    print(f"  seed             {seeded - started:6.2f} s")
    print(f"  {PAGES} pages of 100  {done - seeded:6.2f} s  ({seen:,} accounts)")
    print(f"  total            {total:6.2f} s (target < {TARGET_S:g} s): "
          f"{'ok' if total < TARGET_S else 'OVER TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
