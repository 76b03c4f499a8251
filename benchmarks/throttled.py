"""Bulk update throughput when one request in seven is answered 429 (issue 12, item 16).

A loopback sandbox server (``--latency`` ms per request) and ``--accounts`` targets;
``instantly accounts update - --daily-limit N --yes --rate 100`` runs as a subprocess, clean and
throttled (the server answers 429 to every 7th request, without Retry-After unless
``--retry-after``), alternated ``--runs`` times each. Prints the medians and the ratio.

Target: throttled throughput >= 60 % of the clean one (>= 50 % with --retry-after: honouring
`Retry-After: 1` leaves about a second of tail after the last throttled request), every target
updated, exit 0.

Usage: python benchmarks/throttled.py [--accounts 200] [--latency 50] [--runs 5] [--every 7]
       [--retry-after] [--concurrency N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--latency", type=float, default=50.0, help="server latency in ms")
    parser.add_argument("--runs", type=int, default=5, help="runs of each kind, alternated")
    parser.add_argument("--every", type=int, default=7, help="a 429 on every N-th request")
    parser.add_argument("--retry-after", action="store_true", help="429s carry Retry-After: 1")
    parser.add_argument("--concurrency", type=int, help="passed to the command (default: its own)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(str(Path(tmp) / "bench.sqlite3"))
        store.ensure_seeded(args.accounts)
        app = SandboxApp(store, api_key=KEY, record=False)
        server = SandboxServer(app, latency_ms=args.latency).start()
        emails = all_emails(server.url)
        rates: dict[str, list[float]] = {"clean": [], "throttled": []}
        ok = True
        try:
            for run in range(args.runs):
                for kind in ("clean", "throttled"):
                    limit = 10 + 2 * run + (kind == "throttled")  # a real change every run
                    rate, good = measure(server, store, emails, kind, limit, args, Path(tmp))
                    rates[kind].append(rate)
                    ok &= good
        finally:
            server.stop()
            store.close()
    clean, throttled = (statistics.median(rates[k]) for k in ("clean", "throttled"))
    ratio = throttled / clean
    target = 0.5 if args.retry_after else 0.6
    print(
        f"median over {args.runs} runs: clean {clean:.1f} updates/s, throttled {throttled:.1f} "
        f"updates/s; ratio {ratio:.0%} (target >= {target:.0%})  "
        f"{'ok' if ratio >= target else 'UNDER'}"
    )
    return 0 if ok and ratio >= target else 1


def all_emails(url: str) -> list[str]:
    emails: list[str] = []
    params: dict[str, str | int] = {"limit": 100}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as client:
        while True:
            page = client.get("/api/v2/accounts", params=params).json()
            emails += [i["email"] for i in page["items"]]
            if not page.get("next_starting_after") or not page["items"]:
                return emails
            params["starting_after"] = page["next_starting_after"]


def measure(
    server: SandboxServer,
    store: Store,
    emails: list[str],
    kind: str,
    limit: int,
    args: argparse.Namespace,
    tmp: Path,
) -> tuple[float, bool]:
    env = dict(
        os.environ,
        INSTANTLY_BASE_URL=server.url,
        INSTANTLY_API_KEY=KEY,
        INSTANTLY_CONFIG_DIR=str(tmp / "cfg"),
        INSTANTLY_DATA_DIR=str(tmp / "data"),
    )
    argv = [
        *(sys.executable, "-m", "instantly_cli", "accounts", "update", "-"),
        *("--daily-limit", str(limit), "--rate", "100", "--yes", "-o", "jsonl"),
        *("--failures", str(tmp / f"failures-{kind}-{limit}.jsonl")),
    ]
    if args.concurrency:
        argv += ["--concurrency", str(args.concurrency)]
    server.clear_faults()
    if kind == "throttled":
        fault = "429" if args.retry_after else "429-no-retry-after"
        server.inject(fault, 10**9, every=args.every)
    time.sleep(1.1)  # the previous run's requests leave the server's rate window
    before = server.stats["status_counts"]
    started = time.perf_counter()
    proc = subprocess.run(
        argv, input="\n".join(emails), capture_output=True, text=True, env=env, check=False
    )
    wall = time.perf_counter() - started
    after = server.stats["status_counts"]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    updated = sum(1 for r in results if r.get("result") == "updated")
    applied = sum(1 for e in emails if (store.get_account(e) or {}).get("daily_limit") == limit)
    served = after.get(429, 0) - before.get(429, 0)
    rate = len(emails) / wall
    good = proc.returncode == 0 and updated == applied == len(emails)
    print(
        f"{kind:9}  {len(emails)} updates  {wall:5.2f} s  {rate:6.1f} updates/s  "
        f"429s served {served:3}  updated {updated} applied {applied}  exit {proc.returncode}"
        + ("" if good else f"  FAILED: {proc.stderr.strip()[-300:]}")
    )
    return rate, good


if __name__ == "__main__":
    raise SystemExit(main())
