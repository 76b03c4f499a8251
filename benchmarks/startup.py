"""Start-up cost of one-shot commands and a completion TAB, as ratios to their floors.

Run: ``python benchmarks/startup.py [RUNS]`` (default 21). Every row is a whole process. Each
command and its floor run in turn (A, B, A, B…, so a busy neighbour hits both alike) after two
warm-ups; the medians of RUNS runs are compared, in CPU time (user + system, the stable number on
a shared machine) and in wall time.

Rows and targets (issue 16):

- ``instantly --help``                          <= 1.3x ``python -c "import typer"``
- ``instantly accounts list --help``            <= 1.5x ``import typer``
- one TAB of bash completion (``--status <TAB>``) <= 1.5x ``import typer``
- ``instantly accounts get EMAIL -o json``     <= 1.3x a Python script that imports httpx,
  GETs the same account from the same loopback sandbox server and prints it
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import Store

KEY = "bench-key-0000"
PY = sys.executable

HTTPX_SCRIPT = """
import sys
import httpx
url, key, email = sys.argv[1:4]
r = httpx.get(f"{url}/api/v2/accounts/{email}", headers={"Authorization": f"Bearer {key}"})
r.raise_for_status()
print(r.text)
"""

# Measure what an installed copy does: with bytecode (pip compiles it at install time), which
# PYTHONDONTWRITEBYTECODE in a developer's shell would otherwise hide.
BASE_ENV = {
    k: v for k, v in os.environ.items()
    if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith(("INSTANTLY_", "_INSTANTLY"))
}


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one process; checks it succeeded (and printed, unless a floor)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or (argv[1:2] != ["-c"] and not out.strip()):
        raise SystemExit(f"{argv} failed (exit {proc.returncode}) or printed nothing")
    return wall, usage.ru_utime + usage.ru_stime


def pair(a: tuple[list[str], dict[str, str]], b: tuple[list[str], dict[str, str]],
         runs: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Medians (wall, cpu) of ``a`` and of ``b``, run alternately."""
    for _ in range(2):
        run_once(*a)
        run_once(*b)
    ra, rb = [], []
    for _ in range(runs):
        ra.append(run_once(*a))
        rb.append(run_once(*b))

    def med(rows: list[tuple[float, float]]) -> tuple[float, float]:
        return (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows))

    return med(ra), med(rb)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "instantly_cli", quiet=1)
    typer_floor = ([PY, "-c", "import typer"], BASE_ENV)
    cli = [PY, "-m", "instantly_cli"]
    completion_env = dict(
        BASE_ENV,
        _INSTANTLY_COMPLETE="complete_bash",
        COMP_WORDS="instantly accounts list --status ",
        COMP_CWORD="4",
    )
    rows: list[tuple[str, str, float, tuple[list[str], dict[str, str]],
                     tuple[list[str], dict[str, str]]]] = [
        ("instantly --help", "import typer", 1.3, (cli + ["--help"], BASE_ENV), typer_floor),
        ("instantly accounts list --help", "import typer", 1.5,
         (cli + ["accounts", "list", "--help"], BASE_ENV), typer_floor),
        ("completion TAB (--status <TAB>)", "import typer", 1.5,
         (cli, completion_env), typer_floor),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(str(Path(tmp) / "bench.sqlite3"))
        store.ensure_seeded(120)
        email = store.select_emails()[0]
        server = SandboxServer(SandboxApp(store, api_key=KEY, record=False)).start()
        try:
            get_env = dict(
                BASE_ENV,
                INSTANTLY_BASE_URL=server.url,
                INSTANTLY_API_KEY=KEY,
                INSTANTLY_CONFIG_DIR=str(Path(tmp) / "cfg"),
                INSTANTLY_DATA_DIR=str(Path(tmp) / "data"),
                INSTANTLY_STATE_DIR=str(Path(tmp) / "state"),
            )
            rows.append((
                "accounts get EMAIL -o json", "httpx script", 1.3,
                (cli + ["accounts", "get", email, "-o", "json"], get_env),
                ([PY, "-c", HTTPX_SCRIPT, server.url, KEY, email], BASE_ENV),
            ))
            print(f"medians of {runs} alternated runs, python {sys.version.split()[0]}")
            print(f"{'command':34} {'floor':13} {'cpu ms':>7} {'floor':>6} {'cpu x':>6} "
                  f"{'wall x':>6}  target")
            worst = 0
            for name, floor_name, target, cmd, floor in rows:
                (w, c), (fw, fc) = pair(cmd, floor, runs)
                verdict = "ok" if c / fc <= target else "OVER"
                worst |= verdict != "ok"
                print(f"{name:34} {floor_name:13} {c * 1000:7.1f} {fc * 1000:6.1f} "
                      f"{c / fc:5.2f}x {w / fw:5.2f}x  <= {target}x {verdict}")
        finally:
            server.stop()
            store.close()
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
