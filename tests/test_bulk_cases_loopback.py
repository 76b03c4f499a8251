"""The numbered cases of the one-engine issue, each tried as a user does it: the installed CLI as
subprocesses (a user's environment, no ``PYTHONUNBUFFERED``) against a loopback sandbox server,
interrupted with a real SIGINT. Runs are stopped where the server holds a write (the gate below),
and tests wait on state (the server's requests, a line on the child's stderr), never on a sleep.

1. ``update`` twice with different changes, both interrupted: ``--resume`` finishes the newer
   one, the next ``--resume`` is refused instead of putting the older change back; the printed
   plan names the change, and ``--rate`` given now paces the resumed run.
2. A half-finished ``delete`` run again reports the accounts already deleted as ``gone``
   (exit 0), and ``delete --resume`` sends exactly the targets it had left.
4. Mixed-case addresses: ``accounts get`` finds the account; a bulk pause of a list holding one
   (and a duplicate differing only in case) pauses each account once.
5. ``accounts list … -o jsonl | accounts pause - --yes`` with nothing listed: nothing to do, 0.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import AccountQuery, Store
from tests.children import user_env
from tests.test_bulk_kill import GatedServer as KillGatedServer
from tests.waiting import Lines, wait_until

KEY = "cases-key-5Tg4Rf3Ed2"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and pipes"),
]


@dataclass
class Arrival:
    method: str
    path: str
    at: float  # time.monotonic() when the request reached the server


class GatedServer(KillGatedServer):
    """The kill test's gated server, re-armed for each run (:meth:`hold_after`), that also logs
    every request as it arrives: a run is interrupted while the server holds one of its writes,
    so where it stops is known, and the log shows how the resumed run was paced."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate.set()  # nothing is held until a run arms it
        self.log: list[Arrival] = []
        self._log_lock = threading.Lock()

    def _handle(self, handler: Any) -> None:
        with self._log_lock:
            self.log.append(Arrival(handler.command, unquote(handler.path), time.monotonic()))
        super()._handle(handler)

    def hold_after(self, method: str, n: int) -> None:
        """Let the next ``n`` ``method`` requests through, then hold the others."""
        with self._gate_lock:
            self.is_write, self.allowed, self._writes = lambda m, p: m == method, n, 0
            self.gate.clear()

    def holding(self) -> bool:
        return not self.gate.is_set() and self.held()

    def arrived(self, method: str, fragment: str = "") -> list[Arrival]:
        with self._log_lock:
            return [a for a in self.log if a.method == method and fragment in a.path]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(str(tmp_path / "cases.sqlite3"))
    s.ensure_seeded(80)
    yield s
    s.close()


@pytest.fixture
def server(store: Store) -> Iterator[GatedServer]:
    # A held request is not "late" (the server cuts requests whose body has not arrived within
    # request_timeout): on a loaded machine the hold may last longer than the default.
    srv = GatedServer(SandboxApp(store, api_key=KEY), request_timeout=600)
    srv.start()
    yield srv
    srv.gate.set()
    wait_until(srv.drained, "the server to answer every request")
    assert srv.stop()


@pytest.fixture
def env(server: GatedServer, tmp_path: Path) -> dict[str, str]:
    return user_env(INSTANTLY_BASE_URL=server.url, INSTANTLY_API_KEY=KEY, NO_COLOR="1",
                    INSTANTLY_CONFIG_DIR=str(tmp_path / "cfg"),
                    INSTANTLY_STATE_DIR=str(tmp_path / "state"))


def start(args: list[str], env: dict[str, str], cwd: Path, stdin: Any = subprocess.PIPE,
          stdout: Any = subprocess.PIPE) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "instantly_cli", *args], stdin=stdin, stdout=stdout,
        stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
        # A parent that ignores SIGINT (CI runners may) would make Python ignore it too.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def run(args: list[str], env: dict[str, str], cwd: Path, stdin: str = ""
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "instantly_cli", *args], input=stdin,
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def interrupted(server: GatedServer, args: list[str], targets: list[str], env: dict[str, str],
                cwd: Path, *, method: str, after: int) -> str:
    """Run ``args`` on ``targets`` piped in, press Ctrl-C once while the server holds the
    ``after + 1``-th ``method`` request, let that one land; the child's stderr (exit 130)."""
    server.hold_after(method, after)
    proc = start([*args, "--yes", "--concurrency", "1"], env, cwd)
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write("\n".join(targets) + "\n")
    proc.stdin.close()
    proc.stdin = None
    err = Lines(proc.stderr)
    wait_until(lambda: server.holding() or proc.poll() is not None,
               f"the server to hold {method} #{after + 1}")
    assert proc.poll() is None, err.text()
    proc.send_signal(signal.SIGINT)
    err.wait_for("Interrupted: waiting for 1 in-flight")
    server.gate.set()  # the request in flight lands; the run stops there
    proc.wait(60)
    text = err.text()
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    return text


def journals(tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    """Each run's journal lines by run id."""
    runs = tmp_path / "state" / "runs"
    return {p.stem: [json.loads(x) for x in p.read_text().splitlines()]
            for p in sorted(runs.glob("*.jsonl"))}


def done_in(lines: list[dict[str, Any]]) -> set[str]:
    """Targets of a journal with a final outcome (neither failed nor skipped)."""
    last = {x["email"]: x["result"] for x in lines if x.get("kind") == "outcome"}
    return {e for e, r in last.items() if r not in ("failed", "skipped")}


def emails(store: Store, count: int, test: Callable[[dict[str, Any]], bool] = lambda a: True
           ) -> list[str]:
    items, _ = store.list_accounts(AccountQuery(limit=100, sort_by="email"))
    return [str(a["email"]) for a in items if test(a)][:count]


def limits(store: Store, targets: list[str]) -> set[Any]:
    return {(store.get_account(e) or {}).get("daily_limit") for e in targets}


def rows(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in stdout.splitlines() if x.strip()]


# -- case 1: a resume never puts back a change a newer run replaced -----------------------------


def test_case_1_resume_finishes_the_newer_run_and_refuses_to_put_the_older_change_back(
    server: GatedServer, store: Store, env: dict[str, str], tmp_path: Path
) -> None:
    targets = emails(store, 40)
    update = ["accounts", "update", "-"]
    # The 20 run: interrupted once 6 PATCHes are in (the 7th is held, then lands).
    interrupted(server, [*update, "--daily-limit", "20", "--rate", "90"], targets, env,
                tmp_path, method="PATCH", after=6)
    [old_run] = journals(tmp_path)
    # The 40 run on the same accounts, interrupted with 6 targets left.
    interrupted(server, [*update, "--daily-limit", "40", "--rate", "90"], targets, env,
                tmp_path, method="PATCH", after=33)
    [new_run] = [r for r in journals(tmp_path) if r != old_run]
    left = [e for e in targets if e not in done_in(journals(tmp_path)[new_run])]
    assert len(left) == 6, left
    assert limits(store, [e for e in targets if e not in left]) == {40}

    # `update --resume --yes` finishes the 40 run (the newest unfinished one), paced at the
    # --rate given now (4 req/s) and not at the journal's 90.
    before = len(server.arrived("PATCH"))
    resumed = run(["accounts", "update", "--resume", "--yes", "--rate", "4", "-o", "jsonl"],
                  env, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    err = resumed.stderr
    assert f"Resuming run {new_run}, started " in err
    assert "command: instantly accounts update - --daily-limit 40" in err
    assert "change:  daily_limit = 40" in err and "targets left: 6 of 40" in err
    assert "rate:    4 requests/s, at most 1 at once" in err
    patches = server.arrived("PATCH")[before:]
    assert sorted(a.path.rsplit("/", 1)[1] for a in patches) == sorted(left)
    # Six requests at 4/s span 1.25 s (half a second of slack for a busy machine delaying the
    # first); at the journal's 90/s they would all arrive within about a tenth of a second.
    assert patches[-1].at - patches[0].at >= 0.75
    assert [(r["email"], r["result"]) for r in rows(resumed.stdout)] == [
        (e, "updated") for e in left]
    assert limits(store, targets) == {40}

    # The second `update --resume --yes` would continue the 20 run: refused, naming the newer
    # run and the way out, and nothing is sent.
    before = len(server.arrived("PATCH"))
    again = run(["accounts", "update", "--resume", "--yes"], env, tmp_path)
    assert again.returncode == 2, again.stderr
    assert f"Resuming run {old_run}" in again.stderr
    assert "change:  daily_limit = 20" in again.stderr
    assert f"Run {new_run} " in again.stderr and "daily_limit" in again.stderr
    assert "--force" in again.stderr and f"runs forget {old_run}" in again.stderr
    assert "Traceback" not in again.stderr
    assert server.arrived("PATCH")[before:] == []
    assert limits(store, targets) == {40}


# -- case 2: deleting again is no failure, and delete resumes -----------------------------------


def test_case_2_a_half_finished_delete_reruns_as_gone_and_resumes_exactly_the_rest(
    server: GatedServer, store: Store, env: dict[str, str], tmp_path: Path
) -> None:
    first, second = emails(store, 24)[:12], emails(store, 24)[12:]
    delete = ["accounts", "delete", "-"]

    # Run again as it was typed: the accounts already deleted are gone, the others deleted.
    interrupted(server, delete, first, env, tmp_path, method="DELETE", after=4)
    [run_a] = journals(tmp_path)
    gone = done_in(journals(tmp_path)[run_a])
    assert len(gone) == 5 and all(store.get_account(e) is None for e in gone)
    rerun = run([*delete, "--yes", "-o", "jsonl"], env, tmp_path, stdin="\n".join(first))
    assert rerun.returncode == 0, rerun.stderr
    assert {r["email"]: r["result"] for r in rows(rerun.stdout)} == {
        e: "gone" if e in gone else "deleted" for e in first}
    assert "failed 0" in rerun.stderr and "not found" not in rerun.stderr.lower()
    assert f"accounts delete --resume {run_a}" in rerun.stderr  # the twin run is pointed at
    assert all(store.get_account(e) is None for e in first)

    # `delete --resume --yes` after another half-finished delete: exactly the rest is sent.
    interrupted(server, delete, second, env, tmp_path, method="DELETE", after=6)
    [run_b] = [r for r in journals(tmp_path) if r not in (run_a,) and
               second[0] in json.dumps(journals(tmp_path)[r][0])]
    rest = [e for e in second if e not in done_in(journals(tmp_path)[run_b])]
    assert len(rest) == 5 and all(store.get_account(e) is not None for e in rest)
    before = len(server.arrived("DELETE"))
    # Without a run id: the newest unfinished delete (the first run stays unfinished, older).
    resumed = run(["accounts", "delete", "--resume", "--yes", "-o", "jsonl"], env, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resuming run {run_b}, " in resumed.stderr
    assert "change:  delete" in resumed.stderr and "targets left: 5 of 12" in resumed.stderr
    sent = [a.path.rsplit("/", 1)[1] for a in server.arrived("DELETE")[before:]]
    assert sorted(sent) == sorted(rest)
    assert [(r["email"], r["result"]) for r in rows(resumed.stdout)] == [
        (e, "deleted") for e in rest]
    assert all(store.get_account(e) is None for e in second)


# -- case 4: emails are case-insensitive --------------------------------------------------------


def shout(email: str) -> str:
    """``paul.brown2999@fabrikam-sales.com`` → ``Paul.Brown2999@Fabrikam-Sales.com``."""
    local, domain = email.split("@")
    return local.title() + "@" + domain.title()


def test_case_4_mixed_case_addresses_are_found_and_paused_once_each(
    server: GatedServer, store: Store, env: dict[str, str], tmp_path: Path
) -> None:
    active = emails(store, 3, lambda a: a["status"] == 1)
    typed = shout(active[0])
    assert typed != active[0]
    got = run(["accounts", "get", typed, "--json"], env, tmp_path)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["email"] == active[0]  # the API's spelling is shown

    # One mixed-case address in the list, and a duplicate differing only in case.
    listed = [active[0], shout(active[1]), active[2], active[1].upper()]
    paused = run(["accounts", "pause", "-", "--yes", "-o", "jsonl"], env, tmp_path,
                 stdin="\n".join(listed))
    assert paused.returncode == 0, paused.stderr
    assert sorted((r["email"], r["result"]) for r in rows(paused.stdout)) == sorted(
        (e, "paused") for e in active)
    assert "paused 3" in paused.stderr and "failed 0 of 3" in paused.stderr
    bodies = [r.body for r in server.app.requests if r.path.endswith("/accounts/pause")]
    named = [e for b in bodies for e in json.loads(b)["emails"]]
    # Each account is paused once in the API's spelling; the duplicate is not sent at all. (A
    # typed spelling may go out first: the API's refusal of it is what makes the CLI respell.)
    assert sorted(e for e in named if e in active) == sorted(active)
    assert set(named) - set(active) <= {shout(active[1])}
    assert all((store.get_account(e) or {})["status"] == 2 for e in active)
    [journal] = journals(tmp_path).values()
    assert sorted(e.lower() for e in journal[0]["targets"]) == sorted(active)


# -- case 5: an empty selection is nothing to do ------------------------------------------------


def test_case_5_an_empty_list_piped_into_pause_is_nothing_to_do(
    server: GatedServer, store: Store, env: dict[str, str], tmp_path: Path
) -> None:
    for email in emails(store, 100, lambda a: a["status"] == -1):
        store.mark_fixed(email)
    assert emails(store, 100, lambda a: a["status"] == -1) == []
    listing = start(["accounts", "list", "--status", "connection-error", "--all", "-o",
                     "jsonl"], env, tmp_path, stdin=subprocess.DEVNULL)
    assert listing.stdout is not None
    pause = start(["accounts", "pause", "-", "--yes"], env, tmp_path, stdin=listing.stdout)
    listing.stdout.close()  # the pause holds the pipe's read end now, as `|` leaves it
    out, err = pause.communicate(timeout=120)
    _, list_err = listing.communicate(timeout=120)
    assert listing.returncode == 0, list_err
    assert pause.returncode == 0, err
    assert "Nothing to do" in err and "No targets" not in err and out == ""
    # The list did ask the server (for that status), and the pause sent nothing.
    assert any(a.path.startswith("/api/v2/accounts?") and "status=-1" in a.path
               for a in server.arrived("GET"))
    assert server.arrived("POST") == [] and server.arrived("PATCH") == []
    assert not os.path.isdir(tmp_path / "state" / "runs") or journals(tmp_path) == {}
