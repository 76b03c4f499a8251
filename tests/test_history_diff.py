"""Fleet memory over loopback: seed → snapshot → a scripted day of changes → `accounts diff`
lists exactly those transitions, each once, and agrees with an independent computation from two
`accounts list --all -o jsonl` files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import Store
from tests.children import user_env

KEY = "hist-key-Aa11Bb22Cc33"
TIMEOUT = 60
ERRORS = (-1, -2, -3)


def instantly() -> list[str]:
    exe = shutil.which("instantly", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "instantly_cli"]


def run(args: list[str], env: dict[str, str], stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*instantly(), *args], env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, input=stdin)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Store, SandboxServer, dict[str, str]]]:
    store = Store()
    store.ensure_seeded(120)
    srv = SandboxServer(SandboxApp(store, api_key=KEY), "127.0.0.1", 0).start()
    env = user_env()
    env.update(INSTANTLY_CONFIG_DIR=str(tmp_path / "config"),
               INSTANTLY_DATA_DIR=str(tmp_path / "data"),
               INSTANTLY_STATE_DIR=str(tmp_path / "state"),
               INSTANTLY_BASE_URL=srv.url, INSTANTLY_API_KEY=KEY, NO_COLOR="1")
    yield store, srv, env
    srv.stop()
    store.close()


def listing(env: dict[str, str], *extra: str) -> dict[str, dict[str, Any]]:
    proc = run(["accounts", "list", "--all", "-o", "jsonl", *extra], env)
    assert proc.returncode == 0, proc.stderr
    return {a["email"]: a for a in map(json.loads, proc.stdout.splitlines())}


def expected(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]],
             drop: float = 10) -> set[tuple[str, str]]:
    """The transitions, computed from the two listings without the CLI's code."""
    out: set[tuple[str, str]] = set()
    for email in before.keys() - after.keys():
        out.add(("removed", email))
    for email in after.keys() - before.keys():
        out.add(("added", email))
    for email in before.keys() & after.keys():
        a, b = before[email], after[email]
        if b["status"] in ERRORS and a["status"] not in ERRORS:
            out.add(("new-error", email))
        if a["status"] in ERRORS and b["status"] not in ERRORS:
            out.add(("recovered", email))
        if a["warmup_status"] != b["warmup_status"] and b["warmup_status"] == -1:
            out.add(("warmup-banned", email))
        sa, sb = a.get("stat_warmup_score"), b.get("stat_warmup_score")
        if sa is not None and sb is not None and sa - sb >= drop:
            out.add(("score-drop", email))
        if a.get("daily_limit") != b.get("daily_limit"):
            out.add(("limit-changed", email))
    return out


def test_a_scripted_day_is_listed_exactly(
    world: tuple[Store, SandboxServer, dict[str, str]],
) -> None:
    store, _, env = world
    # The snapshot: a full listing records it.
    before = listing(env)
    emails = sorted(e for e, a in before.items()
                    if a["status"] == 1 and a["warmup_status"] == 1
                    and (a.get("stat_warmup_score") or 0) >= 95)
    erring = sorted(e for e, a in before.items() if a["status"] in ERRORS)
    assert len(emails) >= 6 and len(erring) >= 2
    # The day: errors, recoveries, score drops, a ban, limit edits, creates and deletes.
    store.patch_account(emails[0], {"status": -1, "status_message": {
        "code": "535", "e_message": "535 5.7.8 Authentication failed"}})
    store.patch_account(emails[1], {"status": -3, "status_message": {
        "code": "550", "e_message": "550 5.4.5 Daily sending quota exceeded"}})
    store.patch_account(emails[2], {"stat_warmup_score": 60})
    store.patch_account(emails[3], {"warmup_status": -1})
    proc = run(["accounts", "mark-fixed", erring[0], "--yes"], env)
    assert proc.returncode == 0, proc.stderr
    proc = run(["accounts", "update", emails[4], "--daily-limit", "7", "--yes"], env)
    assert proc.returncode == 0, proc.stderr
    proc = run(["accounts", "delete", emails[5], "--yes"], env)
    assert proc.returncode == 0, proc.stderr
    proc = run(["accounts", "create", "--email", "new.box@history-test.io", "--provider", "imap",
                "--first-name", "New", "--last-name", "Box",
                "--imap-host", "imap.history-test.io", "--smtp-host", "smtp.history-test.io",
                "--password-stdin", "--yes"], env, stdin="Pw-Secret-123\n")
    assert proc.returncode == 0, proc.stderr
    after = listing(env, "--no-record")

    proc = run(["accounts", "diff", "-o", "jsonl"], env)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    got = [(r["kind"], r["email"]) for r in records]
    assert len(got) == len(set(got)), "a transition is listed twice"
    assert set(got) == expected(before, after)
    assert set(got) == {
        ("new-error", emails[0]), ("new-error", emails[1]), ("score-drop", emails[2]),
        ("warmup-banned", emails[3]), ("recovered", erring[0]),
        ("limit-changed", emails[4]), ("removed", emails[5]),
        ("added", "new.box@history-test.io"),
    }
    # Worst first; each record documents itself.
    kinds = [r["kind"] for r in records]
    assert kinds.index("removed") < kinds.index("new-error") < kinds.index("recovered") \
        < kinds.index("added")
    error = next(r for r in records if r["email"] == emails[0])
    assert error["from"] == 1 and error["to"] == -1
    assert error["reason"] == "535 5.7.8 Authentication failed"
    assert error["snapshot"] == 1 and error["since"]
    assert "Pw-Secret-123" not in proc.stdout + proc.stderr
    # Who did it: the sandbox's audit log names the key for what went through the API (a
    # create, an update, a mark-fixed, a delete); provider-side changes have no actor.
    actors = {r["kind"]: (r["actor"] or {}).get("activity") for r in records}
    assert actors == {"removed": 7, "new-error": None, "warmup-banned": None,
                      "score-drop": None, "limit-changed": 36, "recovered": 36, "added": 6}
    assert all(r["actor"]["api_key_id"] and KEY not in json.dumps(r["actor"])
               for r in records if r["actor"])

    # The diff recorded the day: the next one finds nothing new.
    proc = run(["accounts", "diff", "-o", "jsonl", "--fail-if", "new-errors>0"], env)
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    # Against the first snapshot, the same transitions; the gate trips on them.
    proc = run(["accounts", "diff", "--since", "1", "--no-record", "--json",
                "--fail-if", "new-errors>0", "--fail-if", "removed>5"], env)
    assert proc.returncode == 1
    assert {(r["kind"], r["email"]) for r in json.loads(proc.stdout)} == set(got)
    assert "new-errors>0" in proc.stderr and "removed>5" not in proc.stderr


def test_first_run_and_table(world: tuple[Store, SandboxServer, dict[str, str]]) -> None:
    store, _, env = world
    proc = run(["accounts", "diff"], env)
    assert proc.returncode == 0 and proc.stdout == ""
    assert "this run is the first" in proc.stderr
    email = next(a["email"] for a in listing(env, "--no-record").values() if a["status"] == 1)
    store.patch_account(email, {"daily_limit": 3})
    proc = run(["accounts", "diff", "-o", "table"], env)
    assert proc.returncode == 0, proc.stderr
    assert "Limit changed: 1" in proc.stdout and email in proc.stdout
    assert "daily limit" in proc.stdout and "→ 3" in proc.stdout
