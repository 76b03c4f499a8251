"""Fleet history: `accounts diff` against `accounts summary`, the cost of recording a snapshot,
and the size of a simulated year.

Run: ``python benchmarks/history.py [RUNS]``.

1. Starts ``instantly sandbox serve`` on a free loopback port with 10,000 seeded accounts and
   runs, in fresh subprocesses writing to /dev/null and alternated (the machine's load drifts),
   ``accounts summary --json``, ``accounts summary --json --no-record`` and
   ``accounts diff --json`` RUNS times each (default 7) after a warm-up; compares the medians.
   Targets: diff <= 1.15x summary; recording (summary minus summary --no-record) <= 0.3 s.
2. In this process: the database of a year of daily snapshots of 10,000 accounts with 5 %
   daily churn (each day 500 accounts change one tracked field: score, limit, status, warmup
   status or error; a few are created and deleted). Target: under 100 MB on disk. Also prints
   the time of one record at 10,000 accounts (the part of (1) that is SQLite's).
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from list_overhead import Server, cli, isolated_env, measure, seed  # noqa: E402

from instantly_cli.services import history  # noqa: E402

ACCOUNTS = 10_000
WALL_TARGET = 1.15
RECORD_TARGET = 0.3
SIZE_TARGET_MB = 100
DAYS = 365
CHURN = 0.05


def wall_times(runs: int) -> int:
    summary = [*cli(), "accounts", "summary", "--json"]
    bare = [*summary, "--no-record"]
    diff = [*cli(), "accounts", "diff", "--json"]
    with tempfile.TemporaryDirectory(prefix="instantly-bench-") as tmp:
        state = Path(tmp) / "bench.sqlite3"
        env = isolated_env(Path(tmp))
        seed(state, ACCOUNTS, env)
        server = Server(state, env)
        try:
            run_env = {**env, "INSTANTLY_BASE_URL": server.url}
            for argv in (summary, bare, diff):
                measure(argv, run_env)  # warm-up; the first summary records the first snapshot
            walls: dict[str, list[float]] = {"summary": [], "bare": [], "diff": []}
            for _ in range(runs):
                walls["summary"].append(measure(summary, run_env)[0])
                walls["bare"].append(measure(bare, run_env)[0])
                walls["diff"].append(measure(diff, run_env)[0])
        finally:
            server.stop()
    s, b, d = (statistics.median(walls[k]) for k in ("summary", "bare", "diff"))
    ratio, record = d / s, s - b
    print(f"{ACCOUNTS:,} accounts over loopback, median (best) of {runs} alternated runs, "
          f"python {sys.version.split()[0]}")
    for label, key in (("accounts summary --json            ", "summary"),
                       ("accounts summary --json --no-record", "bare"),
                       ("accounts diff --json               ", "diff")):
        print(f"  {label}  wall {statistics.median(walls[key]):6.2f} s "
              f"({min(walls[key]):.2f} s)")
    best_ratio = min(walls["diff"]) / min(walls["summary"])
    print(f"  best-of: diff / summary {best_ratio:.2f}x, recording adds "
          f"{min(walls['summary']) - min(walls['bare']):+.2f} s")
    print(f"  diff / summary {ratio:.2f}x (target <= {WALL_TARGET}x): "
          f"{'ok' if ratio <= WALL_TARGET else 'MISSED'}")
    print(f"  recording adds {record:+.2f} s (target <= {RECORD_TARGET} s): "
          f"{'ok' if record <= RECORD_TARGET else 'MISSED'}")
    return int(ratio > WALL_TARGET or record > RECORD_TARGET)


def account(i: int, rng: random.Random) -> dict[str, Any]:
    return {
        "email": f"sender{i:05d}@domain{i % 400:03d}.example", "status": 1,
        "warmup_status": 1, "stat_warmup_score": rng.randint(60, 100), "daily_limit": 40,
        "warmup": {"limit": 20}, "provider_code": rng.choice((1, 2, 3)),
    }


def simulated_year() -> int:
    rng = random.Random(23)
    fleet: dict[str, dict[str, Any]] = {
        a["email"]: a for a in (account(i, rng) for i in range(ACCOUNTS))
    }
    made = ACCOUNTS
    start = datetime(2026, 1, 1, 6, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="instantly-bench-") as tmp:
        path = Path(tmp) / "year.sqlite3"
        timings: list[float] = []
        with history.History(path) as db:
            for day in range(DAYS):
                emails = list(fleet)
                for email in rng.sample(emails, int(len(emails) * CHURN)):
                    a = fleet[email]
                    what = rng.random()
                    if what < 0.5:
                        a["stat_warmup_score"] = max(0, min(100, a["stat_warmup_score"]
                                                         + rng.randint(-8, 6)))
                    elif what < 0.7:
                        a["daily_limit"] = rng.choice((20, 30, 40, 50))
                    elif what < 0.85:
                        erring = a["status"] == 1
                        a["status"] = -1 if erring else 1
                        a["status_message"] = ({"code": "535", "e_message":
                                                f"535 5.7.8 Authentication failed for {email}"}
                                               if erring else None)
                    elif what < 0.95:
                        a["warmup_status"] = rng.choice((0, 1, -1))
                    else:
                        del fleet[email]
                        fleet[f"sender{made:05d}@new.example"] = account(made, rng)
                        made += 1
                states = {e: history.state_of(a) for e, a in fleet.items()}
                started = time.perf_counter()
                db.record(states, "summary", start + timedelta(days=day))
                timings.append(time.perf_counter() - started)
        wal = Path(str(path) + "-wal")
        size = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    mb = size / 1e6
    print(f"simulated year: {DAYS} daily snapshots of {ACCOUNTS:,} accounts, "
          f"{CHURN:.0%} churn")
    print(f"  database on disk {mb:6.1f} MB (target < {SIZE_TARGET_MB} MB): "
          f"{'ok' if mb < SIZE_TARGET_MB else 'MISSED'}")
    print(f"  one record at {ACCOUNTS:,}: median {statistics.median(timings) * 1000:.0f} ms, "
          f"first {timings[0] * 1000:.0f} ms, slowest {max(timings) * 1000:.0f} ms")
    return int(mb >= SIZE_TARGET_MB)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    failed = simulated_year()
    return failed | wall_times(runs)


if __name__ == "__main__":
    sys.exit(main())
