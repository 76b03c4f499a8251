"""``accounts summary --all-profiles`` over 10 profiles versus one profile's summary.

Run: ``python benchmarks/all_profiles.py [PROFILES] [ACCOUNTS] [LATENCY_MS] [--processes]``
(defaults 10, 3,000, 150). Starts one sandbox server per profile, each with its own store, its
latency and its own rate limit (100/s, 6,000/min, 429 beyond): in this process (threads,
loopback, port 0), or with ``--processes`` each as ``instantly sandbox serve`` in a process of
its own (the servers' CPU is then not serialised by one interpreter lock, closer to servers on
other machines); and a config folder with one profile per server. Then times, in fresh
subprocesses, one profile's summary (best of 3) and the roll-up over all of them (best of 3),
checks that the roll-up's total is the sum of the single totals and counts the 429s the servers
sent (from the CLI's -v log, retries included).

Target (issue 25): the roll-up within 3x one profile's wall time, and 0 429s. Profiles run side
by side, each paced by its own limiter; what is left is CPU on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import re
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
    proc = subprocess.run([sys.executable, "-m", "instantly_cli", "-v", *args], env=env,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"  {' '.join(args[-4:])}: {wall:.2f} s wall, {cpu:.2f} s CPU", file=sys.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    doc: dict[str, object] = json.loads(proc.stdout)
    # -v logs every exchange, retries included: the 429s the servers answered this run.
    doc["_429s"] = sum("→ 429 " in line for line in proc.stderr.splitlines())
    return wall, doc


class Served:
    """``instantly sandbox serve --port 0`` in a subprocess; its first line names its URL (it
    listens before it says so). ``stop()`` ends it."""

    def __init__(self, folder: Path, accounts: int, latency: float, env: dict[str, str]):
        state = str(folder / f"serve-{len(list(folder.glob('serve-*')))}.sqlite3")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "instantly_cli", "sandbox", "serve", "--port", "0",
             "--state", state, "--accounts", str(accounts), "--latency", f"{latency:g}",
             "--rate-limit", "--api-key", KEY],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        first = self.proc.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", first)
        if not found:
            self.stop()
            raise SystemExit(f"sandbox serve did not start: {first!r}")
        self.url = found.group(0)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main() -> None:
    processes = "--processes" in sys.argv
    argv = [a for a in sys.argv[1:] if a != "--processes"]
    profiles = int(argv[0]) if len(argv) > 0 else 10
    accounts = int(argv[1]) if len(argv) > 1 else 3000
    latency = float(argv[2]) if len(argv) > 2 else 150.0
    folder = Path(tempfile.mkdtemp(prefix="bench-all-profiles-"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("INSTANTLY_") and k != "PYTHONUNBUFFERED"}
    for name in ("CONFIG", "DATA", "STATE"):
        env[f"INSTANTLY_{name}_DIR"] = str(folder / name.lower())
    os.environ["INSTANTLY_CONFIG_DIR"] = env["INSTANTLY_CONFIG_DIR"]
    made: list[tuple[SandboxServer, Store]] = []
    served: list[Served] = []
    for _ in range(profiles):
        if processes:
            served.append(Served(folder, accounts, latency, env))
            continue
        store = Store(":memory:")
        store.ensure_seeded(accounts)
        server = SandboxServer(SandboxApp(store, api_key=KEY, record=False),
                               latency_ms=latency, rate_limit=True).start()
        made.append((server, store))
    urls = [server.url for server, _ in made] + [s.url for s in served]
    update_config(lambda cfg: cfg.profiles.update({
        f"client-{i:02d}": Profile(f"client-{i:02d}", api_key=KEY, base_url=url)
        for i, url in enumerate(urls)}))
    try:
        single = min(run(["--profile", "client-00", "accounts", "summary", "--json"], env)[0]
                     for _ in range(RUNS))
        results = [run(["accounts", "summary", "--all-profiles", "--json"], env)
                   for _ in range(RUNS)]
        rolled = min(wall for wall, _ in results)
        total = results[0][1]["total"]
        assert isinstance(total, dict)
        throttled = sum(int(str(doc["_429s"])) for _, doc in results)
    finally:
        for server, store in made:
            server.stop()
            store.close()
        for one in served:
            one.stop()
    ratio = rolled / single
    where = "a process each" if processes else "threads of this process"
    print(f"{profiles} profiles x {accounts:,} accounts at {latency:g} ms, rate-limited servers "
          f"({where})")
    print(f"one profile's summary:      {single:6.2f} s (best of {RUNS})")
    print(f"summary --all-profiles:     {rolled:6.2f} s (best of {RUNS})")
    print(f"ratio: {ratio:.2f}x (target <= {TARGET:g}x); total {total['total']:,} "
          f"(expected {profiles * accounts:,}); 429s sent: {throttled}")
    ok = ratio <= TARGET and total["total"] == profiles * accounts and throttled == 0
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
