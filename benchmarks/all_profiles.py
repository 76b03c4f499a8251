"""``accounts summary --all-profiles`` over 10 profiles versus one profile's summary.

Run: ``python benchmarks/all_profiles.py [PROFILES] [ACCOUNTS] [LATENCY_MS]`` (defaults 10,
3,000, 150). Starts one sandbox server per profile in this process (threads, loopback, port 0),
each with its own store, its latency and its own rate limit (100/s, 6,000/min, 429 beyond), and a
config folder with one profile per server. Then times, in fresh subprocesses writing to
/dev/null, one profile's summary (best of 3) and the roll-up over all of them (best of 3), checks
that the roll-up's total is the sum of the single totals and counts the 429s the servers sent.

Target (issue 25): the roll-up within 3x one profile's wall time, and 0 429s. Profiles run side
by side, each paced by its own limiter; what is left is CPU on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from instantly_cli.config_file import Profile, update_config
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import Store

KEY = "bench-key-all-profiles"
TARGET = 3.0
RUNS = 3


def run(args: list[str], env: dict[str, str]) -> tuple[float, dict[str, object]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "instantly_cli", *args], env=env,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"  {' '.join(args[-4:])}: {wall:.2f} s wall, {cpu:.2f} s CPU", file=sys.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    doc: dict[str, object] = json.loads(proc.stdout)
    return wall, doc


def main() -> None:
    profiles = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    accounts = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    latency = float(sys.argv[3]) if len(sys.argv) > 3 else 150.0
    folder = Path(tempfile.mkdtemp(prefix="bench-all-profiles-"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("INSTANTLY_") and k != "PYTHONUNBUFFERED"}
    for name in ("CONFIG", "DATA", "STATE"):
        env[f"INSTANTLY_{name}_DIR"] = str(folder / name.lower())
    os.environ["INSTANTLY_CONFIG_DIR"] = env["INSTANTLY_CONFIG_DIR"]
    made = []
    for _ in range(profiles):
        store = Store(":memory:")
        store.ensure_seeded(accounts)
        server = SandboxServer(SandboxApp(store, api_key=KEY, record=False),
                               latency_ms=latency, rate_limit=True).start()
        made.append((server, store))
    update_config(lambda cfg: cfg.profiles.update({
        f"client-{i:02d}": Profile(f"client-{i:02d}", api_key=KEY, base_url=server.url)
        for i, (server, _) in enumerate(made)}))
    try:
        single = min(run(["--profile", "client-00", "accounts", "summary", "--json"], env)[0]
                     for _ in range(RUNS))
        results = [run(["accounts", "summary", "--all-profiles", "--json"], env)
                   for _ in range(RUNS)]
        rolled = min(wall for wall, _ in results)
        total = results[0][1]["total"]
        assert isinstance(total, dict)
        throttled = sum(server.status_counts[429] for server, _ in made)
    finally:
        for server, store in made:
            server.stop()
            store.close()
    ratio = rolled / single
    print(f"{profiles} profiles x {accounts:,} accounts at {latency:g} ms, rate-limited servers")
    print(f"one profile's summary:      {single:6.2f} s (best of {RUNS})")
    print(f"summary --all-profiles:     {rolled:6.2f} s (best of {RUNS})")
    print(f"ratio: {ratio:.2f}x (target <= {TARGET:g}x); total {total['total']:,} "
          f"(expected {profiles * accounts:,}); 429s sent: {throttled}")
    ok = ratio <= TARGET and total["total"] == profiles * accounts and throttled == 0
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
