"""Bulk update throughput against a loopback sandbox that behaves like the real API's limits.

A sandbox server with 50 ms latency and its rate limit on (100 requests/s, 6,000/min), 1,000
target accounts, and ``instantly accounts update - --daily-limit 25 --rate 100 --yes``.
Target: at least 90 % of the rate limit (<= 11.1 s), zero failed accounts, no 429 left
unretried. Prints the ratio against a sequential loop doing the same PATCHes.

Usage: python benchmarks/bulk_update.py [--accounts 1000] [--skip-sequential]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import Store

KEY = "bench-key-0000"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=50.0, help="server latency in ms")
    parser.add_argument("--skip-sequential", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(str(Path(tmp) / "bench.sqlite3"))
        store.ensure_seeded(args.accounts)
        app = SandboxApp(store, api_key=KEY, record=False)
        server = SandboxServer(app, latency_ms=args.latency, rate_limit=True, rps=100, rpm=6000)
        server.start()
        try:
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}) as c:
                emails = _all_emails(c)
            server.status_counts.clear()
            env = dict(
                os.environ,
                INSTANTLY_BASE_URL=server.url,
                INSTANTLY_API_KEY=KEY,
                INSTANTLY_CONFIG_DIR=str(Path(tmp) / "cfg"),
            )
            # The listing above must not eat into the rate window of the measured run.
            time.sleep(1.1)
            started = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "instantly_cli",
                    "accounts",
                    "update",
                    "-",
                    "--daily-limit",
                    "25",
                    "--rate",
                    "100",
                    "--yes",
                    "-o",
                    "jsonl",
                    "--failures",
                    str(Path(tmp) / "failures.jsonl"),
                ],
                input="\n".join(emails),
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            wall = time.perf_counter() - started
            results = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
            updated = sum(1 for r in results if r["result"] == "updated")
            failed = sum(1 for r in results if r["result"] != "updated")
            throttled = server.status_counts.get(429, 0)
            patches_ok = server.status_counts.get(200, 0)
            applied = sum(
                1 for e in emails if (store.get_account(e) or {}).get("daily_limit") == 25
            )
            ideal = len(emails) / 100.0
            print(f"targets            {len(emails):,}")
            print(f"exit code          {proc.returncode}")
            print(f"wall time          {wall:.2f} s (ideal at 100 req/s: {ideal:.2f} s)")
            print(
                f"throughput         {len(emails) / wall:.1f} req/s = "
                f"{100 * ideal / wall:.1f} % of the rate limit (target >= 90 %)"
            )
            print(
                f"updated / failed   {updated:,} / {failed:,} (sandbox state: {applied:,} applied)"
            )
            print(f"429s served        {throttled} (all retried: {patches_ok >= len(emails)})")
            if args.skip_sequential:
                return 0 if proc.returncode == 0 else 1
            time.sleep(1.1)
            with httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
            ) as c:
                started = time.perf_counter()
                for email in emails:
                    r = c.patch(
                        f"/api/v2/accounts/{email.replace('+', '%2B')}", json={"daily_limit": 26}
                    )
                    r.raise_for_status()
                sequential = time.perf_counter() - started
            print(f"sequential loop    {sequential:.2f} s")
            print(f"speed-up           {sequential / wall:.1f}x faster than the sequential loop")
            return 0 if proc.returncode == 0 else 1
        finally:
            server.stop()
            store.close()


def _all_emails(client: httpx.Client) -> list[str]:
    emails: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 100}
        if cursor:
            params["starting_after"] = cursor
        page = client.get("/api/v2/accounts", params=params).json()
        emails += [i["email"] for i in page["items"]]
        cursor = page.get("next_starting_after")
        if not cursor or not page["items"]:
            return emails


if __name__ == "__main__":
    raise SystemExit(main())
