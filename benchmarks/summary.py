"""Wall time of ``instantly accounts summary --json`` against ``accounts list --all -o jsonl``.

Run: ``python benchmarks/summary.py [RUNS]``. Starts ``instantly sandbox serve`` on a free
loopback port with 20,000 seeded accounts (state in a temp dir), then runs the two commands in
fresh subprocesses writing to /dev/null, alternated (the machine's load drifts), RUNS times each
(default 7) after one warm-up each, and compares the medians. Peak memory (``ru_maxrss``) of the
summary is then measured again at 100,000 accounts: the summary keeps counters only, so it
should stay flat. Target: wall <= 1.15x the listing's.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from list_overhead import Server, cli, isolated_env, measure, seed  # noqa: E402

WALL_TARGET = 1.15
MEMORY_TARGET = 1.25


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    list_argv = [*cli(), "accounts", "list", "--all", "-o", "jsonl"]
    summary_argv = [*cli(), "accounts", "summary", "--json"]
    with tempfile.TemporaryDirectory(prefix="instantly-bench-") as tmp:
        state = Path(tmp) / "bench.sqlite3"
        env = isolated_env(Path(tmp))
        rss: dict[int, int] = {}
        for count in (20_000, 100_000):
            seed(state, count, env)
            server = Server(state, env)
            try:
                run_env = {**env, "INSTANTLY_BASE_URL": server.url}
                if count == 20_000:
                    measure(list_argv, run_env)  # warm-up: page cache, SQLite cache, .pyc
                    measure(summary_argv, run_env)
                    walls: tuple[list[float], list[float]] = ([], [])
                    peaks: list[int] = []
                    for _ in range(runs):
                        walls[0].append(measure(list_argv, run_env)[0])
                        wall, _cpu, peak = measure(summary_argv, run_env)
                        walls[1].append(wall)
                        peaks.append(peak)
                    listing, summary = (statistics.median(w) for w in walls)
                    ratio = summary / listing
                    rss[count] = max(peaks)
                    print(f"{count:,} accounts, median of {runs} alternated runs, "
                          f"python {sys.version.split()[0]}")
                    print(f"  accounts list --all -o jsonl  wall {listing:6.2f} s")
                    print(f"  accounts summary --json       wall {summary:6.2f} s")
                    print(f"  wall ratio {ratio:.2f}x (target <= {WALL_TARGET}x): "
                          f"{'ok' if ratio <= WALL_TARGET else 'OVER TARGET'}")
                else:
                    rss[count] = measure(summary_argv, run_env)[2]
            finally:
                server.stop()
        growth = rss[100_000] / rss[20_000]
        print(f"peak memory of the summary: {rss[20_000] / 1024:.1f} MiB at 20,000 accounts, "
              f"{rss[100_000] / 1024:.1f} MiB at 100,000 ({growth:.2f}x; target <= "
              f"{MEMORY_TARGET}x: {'ok' if growth <= MEMORY_TARGET else 'OVER TARGET'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
