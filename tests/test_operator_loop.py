"""The operator's loop (select | act): piped targets are counted, a person is asked where they
are (the controlling terminal when stdin is a pipe), deletes are hard to get wrong, and
onboarding reads real CSVs."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.seed import DEFAULT_WORKSPACE_ID
from instantly_cli.sandbox.store import Store
from tests.children import instantly, user_env
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
    return user_env(INSTANTLY_CONFIG_DIR=str(tmp_path / "config"),
                    INSTANTLY_DATA_DIR=str(tmp_path / "data"),
                    INSTANTLY_STATE_DIR=str(tmp_path / "state"), NO_COLOR="1")


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

    child = subprocess.Popen([*instantly(), *args],
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
    listed = subprocess.run([*instantly(), "--sandbox", "accounts", "list", "--status",
                             "active", "-o", "jsonl", "--limit", "3"],
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


def test_delete_json_is_a_backup_create_takes_back(sandbox: SandboxApp, store: Store,
                                                   tmp_path: Path) -> None:
    before = {e: store.get_account(e) for e in (PLUS, ZOE)}
    res = invoke(["accounts", "delete", PLUS, ZOE, "--yes", "-o", "json"])
    assert res.exit_code == 0, res.stderr
    backup = tmp_path / "deleted.json"
    backup.write_text(res.stdout, encoding="utf-8")
    assert json.loads(res.stdout)[0]["account"]["status"] == 1  # as the API returned it
    again = invoke(["accounts", "create", "--from", str(backup), "--imap-host", "imap.acme.io",
                    "--smtp-host", "smtp.acme.io", "--password-stdin", "--yes", "-o", "json"],
                   input="Back-up-pw-77\n")
    assert again.exit_code == 0, again.stderr
    assert [o["result"] for o in json.loads(again.stdout)] == ["created", "created"]
    [note] = [line for line in again.stderr.splitlines() if line.startswith("Ignored")]
    assert "status" in note and "timestamp_created" in note
    posts = [json.loads(r.body) for r in sent(sandbox, "POST", "/api/v2/accounts")
             if r.path == "/api/v2/accounts"]
    assert {p["email"] for p in posts} == {PLUS, ZOE}
    assert all(p["imap_host"] == "imap.acme.io" and p["smtp_host"] == "smtp.acme.io"
               and p["imap_password"] == "Back-up-pw-77" and "status" not in p for p in posts)
    for email, old in before.items():
        now = store.get_account(email)
        assert now is not None
        assert (now["first_name"], now["last_name"]) == (old["first_name"], old["last_name"])
        assert now["warmup"]["limit"] == old["warmup"]["limit"]
        assert now["daily_limit"] == old["daily_limit"]
    assert "Back-up-pw-77" not in again.stdout + again.stderr


def test_listed_json_lines_are_accepted_too(sandbox: SandboxApp, tmp_path: Path) -> None:
    listed = invoke(["accounts", "list", "-o", "jsonl", "--limit", "2"])
    path = tmp_path / "fleet.jsonl"
    path.write_text(listed.stdout, encoding="utf-8")
    res = invoke(["accounts", "create", "--from", str(path), "--imap-host", "i.io",
                  "--smtp-host", "s.io", "--password-stdin", "--dry-run", "-o", "jsonl"],
                 input="Pw-list-1\n")
    assert res.exit_code == 0, res.stderr
    assert [json.loads(line)["result"] for line in res.stdout.splitlines()] == ["exists"] * 2


# -- 4. onboarding from real CSVs ----------------------------------------------------------------

VENDOR = ("Email,First Name,Last Name,IMAP Username,IMAP Password,IMAP Host,IMAP Port,"
          "SMTP Username,SMTP Password,SMTP Host,SMTP Port,Daily Limit,Warmup Limit,"
          "Tags,Warmup\n")


def _vendor_csv(tmp_path: Path, *rows: str, head: str = VENDOR) -> Path:
    path = tmp_path / "boxes.csv"
    path.write_text(head + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def mappings_of(store: Store, email: str) -> set[str]:
    items, _ = store.list_mappings(limit=100, resource_ids=[email])
    return {store.get_tag(m["tag_id"])["label"] for m in items if m["resource_type"] == 1}


def test_a_vendor_csv_creates_tags_and_warms_up_in_one_run(sandbox: SandboxApp, store: Store,
                                                           tmp_path: Path) -> None:
    path = _vendor_csv(
        tmp_path,
        "v1@newbox.io,Vee,One,v1@newbox.io,Pw-v1-imap,imap.newbox.io,993,v1@newbox.io,"
        "Pw-v1-smtp,smtp.newbox.io,587,30,12,Client A; Warm pool,on",
        "v2@newbox.io,Vee,Two,,Pw-v2-imap,imap.newbox.io,,,Pw-v2-smtp,smtp.newbox.io,,40,,,off",
    )
    res = invoke(["accounts", "create", "--from", str(path), "--yes", "-o", "json"])
    assert res.exit_code == 0, res.stderr
    out = {o["email"]: o for o in json.loads(res.stdout)}
    assert out["v1@newbox.io"]["result"] == "created"
    assert out["v1@newbox.io"]["tags"] == ["Client A", "Warm pool"]
    assert out["v1@newbox.io"]["warmup"] == "on" and out["v1@newbox.io"]["warmup_job"]
    assert out["v2@newbox.io"]["warmup"] == "off"
    [first] = [json.loads(r.body) for r in sent(sandbox, "POST", "/api/v2/accounts")
               if r.path == "/api/v2/accounts" and b"v1@newbox.io" in r.body]
    assert first["imap_password"] == "Pw-v1-imap" and first["daily_limit"] == 30
    assert first["warmup"] == {"limit": 12} and "tags" not in first
    assert mappings_of(store, "v1@newbox.io") == {"Client A", "Warm pool"}
    assert mappings_of(store, "v2@newbox.io") == set()
    enabled = [json.loads(r.body) for r in sent(sandbox, "POST", "warmup/enable")]
    assert enabled == [{"emails": ["v1@newbox.io"]}]
    assert [json.loads(r.body) for r in sent(sandbox, "POST", "warmup/disable")] == [
        {"emails": ["v2@newbox.io"]}]
    assert "Pw-v" not in res.stdout + res.stderr


def test_a_step_that_fails_is_finished_by_resume(sandbox: SandboxApp, store: Store,
                                                 runtime: Any, tmp_path: Path) -> None:
    import httpx

    from tests.conftest import envelope

    path = _vendor_csv(tmp_path, "r1@newbox.io,R,One,,Pw-r1,i.io,,,Pw-r1,s.io,,,,Warm pool,",
                       "r2@newbox.io,R,Two,,Pw-r2,i.io,,,Pw-r2,s.io,,,,Warm pool,")

    class Broken(httpx.BaseTransport):
        inner = httpx.WSGITransport(app=sandbox)

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if "toggle-resource" in request.url.path and b"r2@newbox.io" in request.content:
                return envelope(503, "Service Unavailable", "down")
            return self.inner.handle_request(request)

    runtime.transport = Broken()
    res = invoke(["accounts", "create", "--from", str(path), "--yes"])
    assert res.exit_code == 1
    assert "created, then tagging failed" in res.stderr
    assert store.get_account("r2@newbox.io") is not None
    assert mappings_of(store, "r2@newbox.io") == set()
    runtime.transport = httpx.WSGITransport(app=sandbox)
    again = invoke(["accounts", "create", "--resume", "--yes", "-o", "jsonl"])
    assert again.exit_code == 0, again.stderr
    [done] = [json.loads(line) for line in again.stdout.splitlines()]
    assert done["email"] == "r2@newbox.io" and done["result"] == "exists"
    assert mappings_of(store, "r2@newbox.io") == {"Warm pool"}


def test_headers_match_without_case_or_spaces(sandbox: SandboxApp, tmp_path: Path) -> None:
    path = _vendor_csv(tmp_path, "h1@newbox.io,H,One,i.io,s.io,Pw-h1-1,25",
                       head="EMAIL ADDRESS, first name ,LastName,imap_server,Smtp-Host,"
                       "App Password,daily_limit\n")
    res = invoke(["accounts", "create", "--from", str(path), "--yes", "-o", "json"])
    assert res.exit_code == 0, res.stderr
    [post] = [json.loads(r.body) for r in sent(sandbox, "POST", "/api/v2/accounts")
              if r.path == "/api/v2/accounts"]
    assert (post["email"], post["first_name"], post["imap_host"], post["smtp_host"],
            post["daily_limit"]) == ("h1@newbox.io", "H", "i.io", "s.io", 25)


def test_a_bad_header_is_reported_once_as_line_one(sandbox: SandboxApp, tmp_path: Path) -> None:
    path = _vendor_csv(tmp_path, "b@newbox.io,B,C,i.io,s.io,pw,blue,x",
                       head="Emial,First Name,Last Name,IMAP Host,SMPT Host,Password,Colour,"
                       "Warmup Limt\n")
    res = invoke(["accounts", "create", "--from", str(path), "--yes"])
    assert res.exit_code == 2
    [error] = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
    assert "line 1 (the header)" in error and "line 2" not in error
    assert "'Emial' (did you mean 'email'?)" in error
    assert "'SMPT Host' (did you mean 'smtp_host'?)" in error
    assert "'Warmup Limt' (did you mean 'warmup.limit'?)" in error
    assert "'Colour'" in error
    assert sandbox.request_count == 0


def test_an_unknown_tag_stops_before_anything_is_created(sandbox: SandboxApp,
                                                         tmp_path: Path) -> None:
    path = _vendor_csv(tmp_path, "t@newbox.io,T,One,,Pw-t-1,i.io,,,Pw-t-1,s.io,,,,No Such Tag,")
    res = invoke(["accounts", "create", "--from", str(path), "--yes"])
    assert res.exit_code == 2 and "No Such Tag" in res.stderr
    assert "instantly tags create 'No Such Tag'" in res.stderr
    assert not sent(sandbox, "POST")


def test_hostile_cells_are_echoed_escaped_and_bad_utf8_names_the_line(
        sandbox: SandboxApp, tmp_path: Path) -> None:
    path = tmp_path / "boxes.csv"
    path.write_text("email,first_name,last_name,imap_host,smtp_host,password,daily_limit\n"
                    "ok@newbox.io,O,K,i.io,s.io,pw,\x1b[31mred\u202e\x00\n", encoding="utf-8")
    res = invoke(["accounts", "create", "--from", str(path), "--yes"])
    assert res.exit_code == 2 and "line 2" in res.stderr
    assert "\\x1b[31mred\\u202e\\x00" in res.stderr
    assert "\x1b" not in res.stderr and "\u202e" not in res.stderr and "\x00" not in res.stderr
    path.write_text("email,first_name,last_name,imap_host,smtp_host,password,provider\n"
                    "ok@newbox.io,O,K,i.io,s.io,pw,\x1bimap\n", encoding="utf-8")
    res = invoke(["accounts", "create", "--from", str(path), "--yes"])
    assert res.exit_code == 2 and "line 2" in res.stderr and "'\\x1bimap'" in res.stderr
    assert "\x1b" not in res.stderr
    path.write_bytes(b"email,first_name\nok@newbox.io,O\nbad@newbox.io,\xff\xfe\n")
    res = invoke(["accounts", "create", "--from", str(path), "--yes"])
    assert res.exit_code == 2 and "line 3 is not valid UTF-8" in res.stderr
    assert "byte 3" not in res.stderr
    assert sandbox.request_count == 0


def test_resuming_a_big_delete_asks_for_the_count_too(runtime: Any, sandbox: SandboxApp,
                                                      store: Store) -> None:
    import httpx

    from tests.conftest import envelope

    twelve = _paused(12)

    class Down(httpx.BaseTransport):
        inner = httpx.WSGITransport(app=sandbox)

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "DELETE":
                return envelope(503, "Service Unavailable", "down")
            return self.inner.handle_request(request)

    runtime.transport = Down()
    res = invoke(["accounts", "delete", "-", "--yes"], input="\n".join(twelve) + "\n")
    assert res.exit_code == 1 and "--resume" in res.stderr
    runtime.transport = httpx.WSGITransport(app=sandbox)
    tty = on_tty(runtime, "y\n")
    res = invoke(["accounts", "delete", "--resume"])
    assert res.exit_code == 2 and "Type 12 to confirm:" in tty.asked.getvalue()
    assert all(store.get_account(e) is not None for e in twelve)
    on_tty(runtime, "12\n")
    res = invoke(["accounts", "delete", "--resume"])
    assert res.exit_code == 0, res.stderr
    assert all(store.get_account(e) is None for e in twelve)
