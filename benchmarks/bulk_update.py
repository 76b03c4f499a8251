"""Bulk update throughput against a loopback sandbox that behaves like the real API's limits.

For each server latency (default 50 ms and 250 ms), a sandbox server with its rate limit on
(100 requests/s, 6,000/min) and 1,000 target accounts:

- ``cli``: ``instantly accounts update - --daily-limit 25 --rate 100 --yes`` (no --concurrency);
- ``service``: the same PATCHes through ``services.bulk.run`` with ``rate=100`` and the limiter's
  ``thread_stats`` (the workers sized from the observed latency), in a fresh subprocess, which
  is what the command does once it passes its rate to the runner.

Target: at least 90 req/s (90 % of the limit) in both, zero failed accounts, no 429 left
unretried. ``--sequential`` adds a one-at-a-time loop for comparison (slow at 250 ms).

Usage: python benchmarks/bulk_update.py [--accounts 1000] [--latencies 50,250] [--sequential]
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

SERVICE = r"""
import json, sys
from instantly_cli.client import InstantlyClient
from instantly_cli.ratelimit import AUTO_CONCURRENCY, RateLimiter
from instantly_cli.services import bulk
url, key = sys.argv[1:3]
emails = sys.stdin.read().split()
limiter = RateLimiter(100)
with InstantlyClient(api_key=key, base_url=url, limiter=limiter) as client:
    def work(unit):
        client.update_account(unit[0], {"daily_limit": 25})
        return [bulk.Outcome(unit[0], "updated")]
    result = bulk.run([[e] for e in emails], work, concurrency=AUTO_CONCURRENCY,
                      rate=100, pace=limiter.thread_stats)
for o in result.outcomes:
    print(json.dumps({"email": o.email, "result": o.result}))
sys.stderr.write(f"WORKERS={result.workers}\n")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--latencies", default="50,250", help="server latencies in ms")
    parser.add_argument("--modes", default="cli,service")
    parser.add_argument("--sequential", action="store_true")
    args = parser.parse_args()
    ok = True
    for latency in [float(x) for x in args.latencies.split(",")]:
        for mode in args.modes.split(","):
            ok &= measure(args.accounts, latency, mode, args.sequential)
    return 0 if ok else 1


def measure(accounts: int, latency: float, mode: str, sequential: bool) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(str(Path(tmp) / "bench.sqlite3"))
        store.ensure_seeded(accounts)
        app = SandboxApp(store, api_key=KEY, record=False)
        server = SandboxServer(app, latency_ms=latency, rate_limit=True, rps=100, rpm=6000)
        server.start()
        try:
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}) as c:
                emails = _all_emails(c)
            env = dict(
                os.environ,
                INSTANTLY_BASE_URL=server.url,
                INSTANTLY_API_KEY=KEY,
                INSTANTLY_CONFIG_DIR=str(Path(tmp) / "cfg"),
                INSTANTLY_DATA_DIR=str(Path(tmp) / "data"),
                # Run journals go to the state folder: a temporary one, not the user's.
                INSTANTLY_STATE_DIR=str(Path(tmp) / "state"),
            )
            if mode == "cli":
                argv = [
                    sys.executable, "-m", "instantly_cli", "accounts", "update", "-",
                    "--daily-limit", "25", "--rate", "100", "--yes", "-o", "jsonl",
                    "--failures", str(Path(tmp) / "failures.jsonl"),
                ]
            else:
                argv = [sys.executable, "-c", SERVICE, server.url, KEY]
            # The listing above must not eat into the rate window of the measured run.
            time.sleep(1.1)
            server.status_counts.clear()
            started = time.perf_counter()
            proc = subprocess.run(
                argv, input="\n".join(emails), capture_output=True, text=True, env=env,
                check=False,
            )
            wall = time.perf_counter() - started
            results = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
            updated = sum(1 for r in results if r["result"] == "updated")
            failed = len(emails) - updated
            throttled = server.status_counts.get(429, 0)
            applied = sum(
                1 for e in emails if (store.get_account(e) or {}).get("daily_limit") == 25
            )
            rate = len(emails) / wall
            workers = proc.stderr.rsplit("WORKERS=", 1)[1].split()[0] if mode == "service" else "-"
            good = proc.returncode == 0 and failed == 0 and rate >= 90
            print(
                f"latency {latency:3.0f} ms  {mode:7}  {len(emails):,} targets  "
                f"{wall:5.2f} s wall  {rate:5.1f} req/s (target >= 90)  "
                f"updated {updated:,} failed {failed:,} applied {applied:,}  "
                f"429s served {throttled} (none surfaced: {failed == 0})  workers {workers}  "
                f"exit {proc.returncode}  {'ok' if good else 'UNDER'}"
            )
            if sequential:
                time.sleep(1.1)
                with httpx.Client(
                    base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
                ) as c:
                    started = time.perf_counter()
                    for email in emails:
                        r = c.patch(
                            f"/api/v2/accounts/{email.replace('+', '%2B')}",
                            json={"daily_limit": 26},
                        )
                        r.raise_for_status()
                    seq = time.perf_counter() - started
                print(f"  sequential loop {seq:.2f} s: {seq / wall:.1f}x slower")
            return good
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
