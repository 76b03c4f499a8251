"""Every writing command, killed with SIGKILL mid-run, then `--resume`d: the resume finishes
exactly the rest — no target the journal had finished is sent again, none is lost — and the
accounts end as asked. The installed CLI as a subprocess against a loopback sandbox server; the
kill is synchronised on the server holding the run's second unit of work, never on a sleep."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.seed import DEFAULT_WORKSPACE_ID, SEED_WORKSPACES
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import AccountQuery, Store
from tests.children import user_env
from tests.waiting import wait_until

KEY = "kill-key-7Hj6Gf5Ds4"
OTHER_WS = SEED_WORKSPACES[1]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]


class GatedServer(SandboxServer):
    """Holds every write after the first ``allowed`` until :attr:`gate` is set."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.is_write: Callable[[str, str], bool] = lambda method, path: False
        self.allowed = 1
        self._writes = 0
        self._seen = 0
        self._gate_lock = threading.Lock()

    def _handle(self, handler: Any) -> None:
        with self._gate_lock:
            self._seen += 1
            hold = self.is_write(handler.command, handler.path.split("?")[0])
            if hold:
                self._writes += 1
                hold = self._writes > self.allowed
        if hold:
            self.gate.wait(60)
        super()._handle(handler)

    def held(self) -> bool:
        with self._gate_lock:
            return self._writes > self.allowed

    def drained(self) -> bool:
        with self._gate_lock:
            return self.stats["total"] >= self._seen


@dataclass
class Case:
    argv: list[str]
    # (method, path) of a request that changes the targets, and the targets it names.
    write: Callable[[str, str], bool]
    named: Callable[[Any], list[str]]
    unit: int
    done: Callable[[Store, str], bool]
    pick: Callable[[Store], list[str]]


def body_emails(key: str) -> Callable[[Any], list[str]]:
    return lambda r: [str(e) for e in json.loads(r.body)[key]]


def path_email(r: Any) -> list[str]:
    parts = r.path.split("?")[0].split("/")
    return [unquote(parts[4])]


def accounts(store: Store) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        items, _ = store.list_accounts(AccountQuery(limit=100, sort_by="email", skip=len(out)))
        if not items:
            return out
        out += items


def some(n: int, test: Callable[[dict[str, Any]], bool] = lambda a: True
         ) -> Callable[[Store], list[str]]:
    return lambda store: [a["email"] for a in accounts(store) if test(a)][:n]


def tagged(store: Store, email: str, label: str) -> bool:
    items, _ = store.list_mappings(limit=100, resource_ids=[email])
    return any(store.get_tag(m["tag_id"])["label"] == label for m in items)


def account(store: Store, email: str) -> dict[str, Any]:
    return store.get_account(email) or {}


CSV_ROWS = [f"k{i}@killbox.io,K,{i},imap.killbox.io,smtp.killbox.io,Pw-kill-{i}" for i in range(6)]
CASES = {
    "update": Case(["accounts", "update", "-", "--daily-limit", "4242"],
                   lambda m, p: m == "PATCH", path_email, 1,
                   lambda s, e: account(s, e).get("daily_limit") == 4242, some(6)),
    "pause": Case(["accounts", "pause", "-"], lambda m, p: p.endswith("/accounts/pause"),
                  body_emails("emails"), 100, lambda s, e: account(s, e)["status"] == 2,
                  some(150, lambda a: a["status"] == 1)),
    "resume": Case(["accounts", "resume", "-"], lambda m, p: p.endswith("/resume"),
                   path_email, 1, lambda s, e: account(s, e)["status"] == 1,
                   some(6, lambda a: a["status"] == 2)),
    "warmup enable": Case(["accounts", "warmup", "enable", "-"],
                          lambda m, p: p.endswith("/warmup/enable"), body_emails("emails"), 100,
                          lambda s, e: account(s, e)["warmup_status"] == 1,
                          some(150, lambda a: a["warmup_status"] != 1)),
    "warmup disable": Case(["accounts", "warmup", "disable", "-"],
                           lambda m, p: p.endswith("/warmup/disable"), body_emails("emails"),
                           100, lambda s, e: account(s, e)["warmup_status"] == 0,
                           some(150, lambda a: a["warmup_status"] == 1)),
    "create": Case(["accounts", "create", "--from", "boxes.csv"],
                   lambda m, p: m == "POST" and p == "/api/v2/accounts",
                   lambda r: [json.loads(r.body)["email"]], 1,
                   lambda s, e: s.get_account(e) is not None,
                   lambda s: [row.split(",")[0] for row in CSV_ROWS]),
    "delete": Case(["accounts", "delete", "-"], lambda m, p: m == "DELETE", path_email, 1,
                   lambda s, e: s.get_account(e) is None, some(6)),
    "mark-fixed": Case(["accounts", "mark-fixed", "-"], lambda m, p: p.endswith("/mark-fixed"),
                       path_email, 1, lambda s, e: account(s, e)["status"] == 1,
                       some(6, lambda a: a["status"] < 0)),
    "move": Case(["--workspace", DEFAULT_WORKSPACE_ID, "accounts", "move", "-", "--to",
                  OTHER_WS], lambda m, p: p.endswith("/accounts/move"), body_emails("emails"),
                 100, lambda s, e: s.get_account(e, OTHER_WS) is not None, some(150)),
    "tags assign": Case(["tags", "assign", "Client A", "-"],
                        lambda m, p: p.endswith("/toggle-resource"),
                        body_emails("resource_ids"), 100,
                        lambda s, e: tagged(s, e, "Client A"),
                        some(150)),
    "tags unassign": Case(["tags", "unassign", "Client A", "-"],
                          lambda m, p: p.endswith("/toggle-resource"),
                          body_emails("resource_ids"), 100,
                          lambda s, e: not tagged(s, e, "Client A"), some(150)),
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(str(tmp_path / "kill.sqlite3"))
    s.ensure_seeded(400)
    yield s
    s.close()


@pytest.fixture
def server(store: Store) -> Iterator[GatedServer]:
    # A held request is not "late" (the server cuts requests whose body has not arrived 10 s
    # after their first byte): on a loaded machine the hold can outlast that.
    srv = GatedServer(SandboxApp(store, api_key=KEY), request_timeout=600)
    srv.start()
    yield srv
    srv.gate.set()
    wait_until(srv.drained, "the server to answer every request")
    srv.stop()


def journaled(runs: Path) -> int:
    files = list(runs.glob("*.jsonl")) if runs.is_dir() else []
    return files[0].read_text().count('"kind": "outcome"') if files else 0


@pytest.mark.parametrize("name", list(CASES))
def test_kill_9_mid_run_then_resume_finishes_exactly_the_rest(
    name: str, server: GatedServer, store: Store, tmp_path: Path
) -> None:
    case = CASES[name]
    targets = case.pick(store)
    assert len(targets) > case.unit, "the seed has too few accounts for two units"
    if name == "tags unassign":
        [tag] = [t for t in store.list_tags(limit=100)[0] if t["label"] == "Client A"]
        store.toggle([tag["id"]], 1, targets, True)
    if name == "resume":
        store.pause_many(targets)
    (tmp_path / "boxes.csv").write_text(
        "email,first_name,last_name,imap_host,smtp_host,password\n" + "\n".join(CSV_ROWS) + "\n")
    env = user_env()
    env.update(INSTANTLY_BASE_URL=server.url, INSTANTLY_API_KEY=KEY, NO_COLOR="1",
               INSTANTLY_CONFIG_DIR=str(tmp_path / "cfg"),
               INSTANTLY_STATE_DIR=str(tmp_path / "state"))
    server.is_write, server.allowed = case.write, 1
    stdin = "" if name == "create" else "\n".join(targets)
    proc = subprocess.Popen(
        [sys.executable, "-m", "instantly_cli", *case.argv, "--yes", "--concurrency", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=env, cwd=tmp_path)
    assert proc.stdin is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    runs = tmp_path / "state" / "runs"
    # The first unit is journaled and the second is held by the server: kill there.
    wait_until(lambda: server.held() and journaled(runs) >= case.unit or proc.poll() is not None,
               "the first unit journaled and the second in flight")
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    proc.kill()  # SIGKILL: no handler, no finally, no flush
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    server.gate.set()  # the held request lands after the death (the change may have happened)
    wait_until(server.drained, "the in-flight request to land")
    [journal] = list(runs.glob("*.jsonl"))
    lines = [json.loads(x) for x in journal.read_text().splitlines() if x.endswith("}")]
    done = {x["email"].lower() for x in lines if x.get("kind") == "outcome"
            and x["result"] != "failed" and x["result"] != "skipped"}
    assert len(done) >= case.unit and len(done) < len(targets)
    before = len(server.app.requests)
    resumed = subprocess.run(
        [sys.executable, "-m", "instantly_cli", *_command_words(case.argv), "--resume", "--yes",
         "-o", "jsonl"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming run" in resumed.stderr and "targets left:" in resumed.stderr
    again = [r for r in server.app.requests[before:] if case.write(r.method, r.path)]
    sent = [e.lower() for r in again for e in case.named(r)]
    # Nothing twice: no target the journal had finished is sent again; none twice now.
    assert not set(sent) & done and len(sent) == len(set(sent))
    # Nothing lost: every target ends as asked.
    assert [e for e in targets if not case.done(store, e)] == []
    assert {e.lower() for e in targets} <= done | set(sent) | _already(lines, resumed.stdout)


def _command_words(argv: list[str]) -> list[str]:
    """The global options and the command's words, without its targets and change."""
    out: list[str] = []
    it = iter(argv)
    for word in it:
        if word == "--workspace":
            out += [word, next(it)]
        elif word in ("accounts", "tags", "update", "pause", "resume", "warmup", "enable",
                      "disable", "create", "delete", "mark-fixed", "move", "assign",
                      "unassign"):
            out.append(word)
        else:
            break
    return out


def _already(lines: list[dict[str, Any]], stdout: str) -> set[str]:
    """Targets the resume found already as asked (the request held at the kill had landed)."""
    rows = [json.loads(x) for x in stdout.splitlines() if x.startswith("{")]
    return {str(r.get("email", "")).lower() for r in rows
            if r.get("result") in ("unchanged", "gone", "exists", "enabled", "disabled")}
