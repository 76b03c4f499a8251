"""The operator's loop (select | act): piped targets are counted, a person is asked where they
are (the controlling terminal when stdin is a pipe), deletes are hard to get wrong, and
onboarding reads real CSVs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.seed import DEFAULT_WORKSPACE_ID
from instantly_cli.sandbox.store import Store
from tests.conftest import invoke

PLUS = "ops+eu@acme-outreach.com"  # seeded, active
ZOE = "zoe.muller@acme-outreach.com"  # seeded, paused


def sent(app: SandboxApp, method: str, part: str = "") -> list[Any]:
    return [r for r in app.requests if r.method == method and part in r.path]


class FakeTty:
    """A terminal a test hands in: records what was asked, answers ``answer``."""

    def __init__(self, answer: str):
        self.asked = io.StringIO()
        self.answer = answer
        self.opened = 0
        self.closed = 0

    def __call__(self) -> FakeTty:
        self.opened += 1
        return self

    def write(self, text: str) -> None:
        self.asked.write(text)

    def readline(self) -> str:
        return self.answer

    def close(self) -> None:
        self.closed += 1


def on_tty(runtime: Any, answer: str) -> FakeTty:
    tty = FakeTty(answer)
    runtime.terminal = runtime.terminal._replace(stdin_isatty=False, open_tty=tty)
    return tty


# -- 1. a pipe's count ----------------------------------------------------------------------------


def test_piped_targets_are_counted_before_anything_is_done(sandbox: SandboxApp) -> None:
    res = invoke(["accounts", "pause", "-", "--yes"], input=f"{PLUS}\n{ZOE}\n{PLUS}\n")
    assert res.exit_code == 0, res.stderr
    lines = res.stderr.splitlines()
    assert lines[0] == "Read 2 targets from stdin."
    # The count comes before the summary of what was done.
    assert any("of 2 in" in line for line in lines[1:])
    named = invoke(["accounts", "pause", ZOE, "-", "--dry-run"], input=f"{PLUS}\n")
    assert "Read 2 targets (stdin and arguments)." in named.stderr


# -- 2. confirm where a person is --------------------------------------------------------------


def test_a_pipe_with_a_terminal_asks_on_the_terminal(runtime: Any, sandbox: SandboxApp) -> None:
    tty = on_tty(runtime, "y\n")
    res = invoke(["--workspace", DEFAULT_WORKSPACE_ID, "accounts", "pause", "-"],
                 input=f"{PLUS}\n{ZOE}\n")
    assert res.exit_code == 0, res.stderr
    asked = tty.asked.getvalue()
    assert "Pause 2 accounts?" in asked and "profile 'default'" in asked
    assert f"workspace '{DEFAULT_WORKSPACE_ID}'" in asked and "[y/N]" in asked
    assert tty.closed == 1
    assert len(sent(sandbox, "POST", "pause")) >= 1
    # The question went to the terminal, not into the pipe's stderr.
    assert "[y/N]" not in res.stderr


def test_a_no_on_the_terminal_sends_nothing(runtime: Any, sandbox: SandboxApp) -> None:
    on_tty(runtime, "n\n")
    res = invoke(["accounts", "pause", "-"], input=f"{PLUS}\n{ZOE}\n")
    assert res.exit_code == 2 and "Cancelled" in res.stderr
    assert not sent(sandbox, "POST")


def test_no_terminal_at_all_needs_yes(runtime: Any, sandbox: SandboxApp) -> None:
    runtime.terminal = runtime.terminal._replace(stdin_isatty=False, open_tty=lambda: None)
    res = invoke(["accounts", "pause", "-"], input=f"{PLUS}\n{ZOE}\n")
    assert res.exit_code == 2 and "--yes" in res.stderr and "no terminal" in res.stderr
    assert not sent(sandbox, "POST")


def _child_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("INSTANTLY_") and k != "PYTHONUNBUFFERED"}
    env.update(INSTANTLY_CONFIG_DIR=str(tmp_path / "config"),
               INSTANTLY_DATA_DIR=str(tmp_path / "data"),
               INSTANTLY_STATE_DIR=str(tmp_path / "state"), NO_COLOR="1")
    return env


def _on_a_pty(args: list[str], stdin: str, answer: str, until: bytes,
              env: dict[str, str]) -> tuple[subprocess.CompletedProcess[bytes], bytes]:
    """Run the CLI with stdin, stdout and stderr on pipes and a pseudo-terminal as its
    controlling terminal; answer ``answer`` once ``until`` shows on the terminal."""
    master, slave = os.openpty()
    name = os.ttyname(slave)

    def own_terminal() -> None:
        # In the child, after setsid: the pseudo-terminal becomes its controlling terminal.
        import fcntl
        import termios

        fcntl.ioctl(os.open(name, os.O_RDWR), termios.TIOCSCTTY, 0)

    child = subprocess.Popen([sys.executable, "-m", "instantly_cli", *args],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env, start_new_session=True,
                             preexec_fn=own_terminal, pass_fds=(slave,))
    # The child holds the terminal open from its start: a read of ours ends (EIO) only
    # when it exits, never in a race before it opens /dev/tty.
    os.close(slave)
    assert child.stdin is not None
    child.stdin.write(stdin.encode())
    child.stdin.close()
    child.stdin = None  # given whole; communicate() only collects the output
    seen = b""
    try:
        while until not in seen:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal without asking
                break
            if not chunk:
                break
            seen += chunk
        if until in seen:
            os.write(master, answer.encode())
        out, err = child.communicate(timeout=120)
    finally:
        os.close(master)
        if child.poll() is None:
            child.kill()
    return subprocess.CompletedProcess(args, child.returncode, out, err), seen


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_the_question_reaches_a_real_controlling_terminal(tmp_path: Path) -> None:
    env = _child_env(tmp_path)
    listed = subprocess.run([sys.executable, "-m", "instantly_cli", "--sandbox", "accounts",
                             "list", "--status", "active", "-o", "jsonl", "--limit", "3"],
                            capture_output=True, env=env, stdin=subprocess.DEVNULL,
                            start_new_session=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    emails = [json.loads(line)["email"] for line in listed.stdout.decode().splitlines()]
    assert len(emails) == 3
    done, seen = _on_a_pty(["--sandbox", "accounts", "pause", "-", "-o", "json"],
                           "\n".join(emails) + "\n", "y\n", b"[y/N]", env)
    assert b"Pause 3 accounts?" in seen and b"the sandbox" in seen
    assert done.returncode == 0, done.stderr
    assert b"Read 3 targets from stdin." in done.stderr
    assert [o["result"] for o in json.loads(done.stdout)] == ["paused"] * 3
    # The terminal was asked; the pipe's stderr holds no question.
    assert b"[y/N]" not in done.stderr


# -- 3. deletes that are hard to get wrong -------------------------------------------------------


def test_delete_dry_run_flags_every_active_account(sandbox: SandboxApp) -> None:
    res = invoke(["accounts", "delete", PLUS, ZOE, "--dry-run", "-o", "json"])
    assert res.exit_code == 0, res.stderr
    by = {o["email"]: o for o in json.loads(res.stdout)}
    assert by[PLUS]["warnings"] == ["active: it may be sending"]
    assert "warnings" not in by[ZOE]
    assert f"{PLUS}: active: it may be sending" in res.stderr
    assert ZOE + ":" not in res.stderr


def test_delete_with_yes_still_flags_what_was_active(sandbox: SandboxApp) -> None:
    res = invoke(["accounts", "delete", PLUS, "--yes", "-o", "json"])
    assert res.exit_code == 0, res.stderr
    assert f"{PLUS}: active: it may be sending" in res.stderr


def test_delete_of_an_active_account_asks_for_the_count(runtime: Any, sandbox: SandboxApp,
                                                        store: Store) -> None:
    tty = on_tty(runtime, "y\n")
    res = invoke(["accounts", "delete", "-"], input=f"{PLUS}\n{ZOE}\n")
    assert res.exit_code == 2 and "Cancelled" in res.stderr
    assert not sent(sandbox, "DELETE")
    asked = tty.asked.getvalue()
    assert "Domains: acme-outreach.com 2" in asked
    assert "Active 1" in asked and "Paused 1" in asked
    assert f"1 active account is possibly sending: {PLUS}" in asked
    assert "Delete 2 accounts for good?" in asked and "Type 2 to confirm:" in asked
    tty = on_tty(runtime, "2\n")
    res = invoke(["accounts", "delete", "-", "-o", "json"], input=f"{PLUS}\n{ZOE}\n")
    assert res.exit_code == 0, res.stderr
    assert [o["result"] for o in json.loads(res.stdout)] == ["deleted", "deleted"]
    assert store.get_account(PLUS) is None


def _paused(n: int) -> list[str]:
    listed = invoke(["accounts", "list", "--status", "paused", "-o", "jsonl", "--limit", str(n)])
    emails = [json.loads(line)["email"] for line in listed.stdout.splitlines()]
    assert len(emails) == n, listed.stderr
    return emails


def test_more_than_ten_accounts_ask_for_the_count_and_a_few_do_not(
        runtime: Any, sandbox: SandboxApp) -> None:
    eleven = _paused(11)
    tty = on_tty(runtime, "y\n")
    res = invoke(["accounts", "delete", "-"], input="\n".join(eleven) + "\n")
    assert res.exit_code == 2 and "Type 11 to confirm:" in tty.asked.getvalue()
    assert not sent(sandbox, "DELETE")
    tty = on_tty(runtime, "y\n")
    res = invoke(["accounts", "delete", "-"], input="\n".join(eleven[:3]) + "\n")
    assert res.exit_code == 0, res.stderr
    assert "[y/N]" in tty.asked.getvalue() and len(sent(sandbox, "DELETE")) == 3
