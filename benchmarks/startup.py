"""Start-up time of ``instantly --help`` and ``--version`` as a ratio to ``import typer``.

Run: ``python benchmarks/startup.py [RUNS]``. Each command runs in a fresh subprocess; the
median wall time of RUNS runs (default 15, after 2 warm-ups) is compared with the median of
``python -c "import typer"``, the floor any Typer program pays. Target: --help <= 1.5x.
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = {
    "import typer (baseline)": [sys.executable, "-c", "import typer"],
    "instantly --help": [sys.executable, "-m", "instantly_cli", "--help"],
    "instantly --version": [sys.executable, "-m", "instantly_cli", "--version"],
    "instantly accounts --help": [sys.executable, "-m", "instantly_cli", "accounts", "--help"],
}
TARGET = 1.5


# Measure what an installed copy does: with bytecode (pip compiles it at install time), which
# PYTHONDONTWRITEBYTECODE in a developer's shell would otherwise hide.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def median_ms(argv: list[str], runs: int) -> float:
    for _ in range(2):
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       env=ENV)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       env=ENV)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "instantly_cli", quiet=1)
    results = {name: median_ms(argv, runs) for name, argv in CASES.items()}
    base = results["import typer (baseline)"]
    print(f"median of {runs} runs, python {sys.version.split()[0]}")
    for name, ms in results.items():
        print(f"{name:28} {ms:7.1f} ms  {ms / base:4.2f}x")
    ratio = results["instantly --help"] / base
    verdict = "ok" if ratio <= TARGET else "OVER TARGET"
    print(f"--help ratio {ratio:.2f}x (target <= {TARGET}x): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
