"""Overhead of ``instantly accounts list --all -o jsonl`` over a bare httpx paging loop.

Run: ``python benchmarks/list_overhead.py [RUNS]``. Starts ``instantly sandbox serve`` on a free
loopback port with 20,000 seeded accounts (state in a temp dir), then times, in fresh
subprocesses writing to /dev/null, the CLI and a minimal httpx loop that fetches the same pages
(limit=100, following next_starting_after) and writes the same JSON lines. Wall time is the best
of RUNS (default 5); CPU time and peak memory come from ``os.wait4`` on each child. Then it
reseeds with 100,000 accounts and compares the CLI's peak memory (JSON lines stream, so it
should stay flat). Targets: wall <= 1.25x, CPU <= 1.5x the loop's.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

WALL_TARGET = 1.25
CPU_TARGET = 1.5
KEY = "bench-key"

BARE_LOOP = r"""
import json, sys, httpx
base, key = sys.argv[1], sys.argv[2]
out = sys.stdout
with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}",
                  "User-Agent": "bench/1"}, timeout=30) as client:
    cursor = None
    while True:
        params = {"limit": 100}
        if cursor:
            params["starting_after"] = cursor
        data = client.get("/api/v2/accounts", params=params).raise_for_status().json()
        items = data["items"]
        out.write("".join(json.dumps(i, ensure_ascii=False, separators=(",", ":")) + "\n"
                          for i in items))
        out.flush()
        cursor = data.get("next_starting_after")
        if not items or not cursor:
            break
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli() -> list[str]:
    return [sys.executable, "-m", "instantly_cli"]


def isolated_env(tmp: Path) -> dict[str, str]:
    """This environment without INSTANTLY_* settings, with config, data and state folders in
    ``tmp`` (history recording is on by default: kept out of the user's state folder)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INSTANTLY_")}
    env.update(INSTANTLY_CONFIG_DIR=str(tmp / "config"), INSTANTLY_DATA_DIR=str(tmp / "data"),
               INSTANTLY_STATE_DIR=str(tmp / "state"), INSTANTLY_API_KEY=KEY)
    return env


class Server:
    """``instantly sandbox serve`` in a subprocess; always stopped."""

    def __init__(self, state: Path, env: dict[str, str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [*cli(), "sandbox", "serve", "--port", str(self.port), "--state", str(state)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit("sandbox serve exited early")
            try:
                httpx.get(f"{self.url}/api/v2/accounts", params={"limit": 1},
                          headers={"Authorization": f"Bearer {KEY}"}, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit("sandbox serve did not come up") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and peak RSS in KiB of one child."""
    with open(os.devnull, "wb") as sink:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=sink, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed ({proc.returncode}): {err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def best_pair(
    a: list[str], b: list[str], env: dict[str, str], runs: int
) -> tuple[tuple[float, float, int], tuple[float, float, int]]:
    """Alternate the two commands (the machine's load drifts); keep the best time of each."""
    measure(a, env)  # warm-up: page cache, SQLite cache, .pyc files
    measure(b, env)
    results: tuple[list[tuple[float, float, int]], ...] = ([], [])
    for _ in range(runs):
        results[0].append(measure(a, env))
        results[1].append(measure(b, env))
    return tuple(  # type: ignore[return-value]
        (min(r[0] for r in rs), min(r[1] for r in rs), max(r[2] for r in rs)) for rs in results
    )


def seed(state: Path, count: int, env: dict[str, str]) -> None:
    # In a child: seeding in this process would inflate its RSS, which Linux carries into the
    # peak memory (ru_maxrss) of every child forked afterwards.
    subprocess.run(
        [*cli(), "sandbox", "reset", "--state", str(state), "--accounts", str(count)],
        env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory(prefix="instantly-bench-") as tmp:
        state = Path(tmp) / "bench.sqlite3"
        env = isolated_env(Path(tmp))
        list_argv = [*cli(), "accounts", "list", "--all", "-o", "jsonl"]
        rss: dict[int, int] = {}
        for count in (20_000, 100_000):
            seed(state, count, env)
            server = Server(state, env)
            try:
                run_env = {**env, "INSTANTLY_BASE_URL": server.url}
                if count == 20_000:
                    bare, ours = best_pair(
                        [sys.executable, "-c", BARE_LOOP, server.url, KEY], list_argv, run_env, runs
                    )
                    rss[count] = ours[2]
                    wall_ratio, cpu_ratio = ours[0] / bare[0], ours[1] / bare[1]
                    print(f"{count:,} accounts, best of {runs}, python {sys.version.split()[0]}")
                    print(f"  bare httpx loop   wall {bare[0]:6.2f} s  cpu {bare[1]:6.2f} s"
                          f"  rss {bare[2] / 1024:6.1f} MiB")
                    print(f"  instantly list    wall {ours[0]:6.2f} s  cpu {ours[1]:6.2f} s"
                          f"  rss {ours[2] / 1024:6.1f} MiB")
                    print(f"  wall ratio {wall_ratio:.2f}x (target <= {WALL_TARGET}x): "
                          f"{'ok' if wall_ratio <= WALL_TARGET else 'OVER TARGET'}")
                    print(f"  cpu ratio  {cpu_ratio:.2f}x (target <= {CPU_TARGET}x): "
                          f"{'ok' if cpu_ratio <= CPU_TARGET else 'OVER TARGET'}")
                else:
                    rss[count] = measure(list_argv, run_env)[2]
            finally:
                server.stop()
        growth = rss[100_000] / rss[20_000]
        print(f"peak memory of the CLI: {rss[20_000] / 1024:.1f} MiB at 20,000 accounts, "
              f"{rss[100_000] / 1024:.1f} MiB at 100,000 ({growth:.2f}x; flat means streaming)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
