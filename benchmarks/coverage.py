"""Wall time of ``instantly accounts coverage --json`` against ``accounts summary --json``.

Run: ``python benchmarks/coverage.py [RUNS]``. Seeds 3,000 accounts and 50 campaigns
(``sandbox reset --accounts 3000 --extra-campaigns 34``) in a temp dir, starts ``instantly
sandbox serve`` on a free loopback port, then runs the two commands in fresh subprocesses
writing to /dev/null, alternated (the machine's load drifts), RUNS times each (default 7) after
one warm-up each, and compares the medians. The coverage sweeps the accounts with their tags
and the campaigns once, and asks sending-status only of active campaigns without an available
account. Target: wall <= 1.3x the summary's.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from list_overhead import Server, cli, isolated_env, measure  # noqa: E402

WALL_TARGET = 1.3
ACCOUNTS = 3_000
EXTRA_CAMPAIGNS = 34  # the 16 seeded + 34 = 50


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    summary_argv = [*cli(), "accounts", "summary", "--json"]
    coverage_argv = [*cli(), "accounts", "coverage", "--json"]
    with tempfile.TemporaryDirectory(prefix="instantly-bench-") as tmp:
        state = Path(tmp) / "bench.sqlite3"
        env = isolated_env(Path(tmp))
        subprocess.run(
            [*cli(), "sandbox", "reset", "--state", str(state), "--accounts", str(ACCOUNTS),
             "--extra-campaigns", str(EXTRA_CAMPAIGNS)],
            env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        server = Server(state, env)
        try:
            run_env = {**env, "INSTANTLY_BASE_URL": server.url}
            measure(summary_argv, run_env)  # warm-up: page cache, SQLite cache, .pyc
            measure(coverage_argv, run_env)
            walls: tuple[list[float], list[float]] = ([], [])
            for _ in range(runs):
                walls[0].append(measure(summary_argv, run_env)[0])
                walls[1].append(measure(coverage_argv, run_env)[0])
        finally:
            server.stop()
    summary, coverage = (statistics.median(w) for w in walls)
    ratio = coverage / summary
    print(f"{ACCOUNTS:,} accounts, {16 + EXTRA_CAMPAIGNS} campaigns, median of {runs} "
          f"alternated runs, python {sys.version.split()[0]}")
    print(f"  accounts summary --json   wall {summary:6.2f} s")
    print(f"  accounts coverage --json  wall {coverage:6.2f} s")
    print(f"  wall ratio {ratio:.2f}x (target <= {WALL_TARGET}x): "
          f"{'ok' if ratio <= WALL_TARGET else 'OVER TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
