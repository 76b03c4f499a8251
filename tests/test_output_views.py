"""Tables, dashboards and alert webhooks as the user sees them (findings of the output review)."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from typer.testing import Result

from instantly_cli.config_file import Profile, update_config
from instantly_cli.context import Runtime
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import AccountQuery, Store
from instantly_cli.webhooks import post_webhook
from tests.conftest import TEST_KEY
from tests.waiting import wait_until

Cli = Callable[..., Result]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def on_a_terminal(runtime: Runtime) -> None:
    runtime.terminal = runtime.terminal._replace(stdout_isatty=True)


# -- the summary's Errors panel -------------------------------------------------------------------


def test_a_short_error_reason_shows_its_examples_on_the_next_line(
    runtime: Runtime, cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    errored, _ = store.list_accounts(AccountQuery(limit=1000, status=-1))
    email = errored[0]["email"]
    store.patch_account(email, {"status_message": {"code": "EXAMPLE",
                                                   "e_message": "Mailbox is gone"}})
    on_a_terminal(runtime)
    result = ok(cli(["accounts", "summary"], env={"COLUMNS": "100"}))
    shown = ANSI.sub("", result.stdout).splitlines()
    assert "\\x0a" not in result.stdout
    at = next(i for i, line in enumerate(shown) if "EXAMPLE: Mailbox is gone" in line)
    assert re.search(r"│ +e\.g\. " + re.escape(email) + r" +│$", shown[at + 1])
    assert max(len(line) for line in shown) <= 100


# -- the note on hidden columns names a way the command has ---------------------------------------


def narrow_table(runtime: Runtime, cli: Cli, *args: str) -> Result:
    on_a_terminal(runtime)
    return ok(cli(args, env={"COLUMNS": "40", "NO_COLOR": "1"}, catch_exceptions=False))


def test_hidden_columns_note_names_wide_only_where_the_command_has_it(
    runtime: Runtime, cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    listed = narrow_table(runtime, cli, "accounts", "list", "--limit", "3")
    assert re.search(r"columns hidden to fit 40 columns .*; --wide shows them all\.",
                     listed.stderr)
    email = store.list_accounts(AccountQuery(limit=1))[0][0]["email"]
    found = narrow_table(runtime, cli, "accounts", "find", email)
    note = [line for line in found.stderr.splitlines() if "hidden" in line]
    assert len(note) == 1 and note[0].endswith("; -o tsv shows them all."), found.stderr
    assert "--wide" not in found.stderr
    # What the note offers works.
    assert ok(cli(["accounts", "find", email, "-o", "tsv"])).stdout.count("\t") == 4
    assert cli(["accounts", "find", email, "--wide"]).exit_code == 2


# -- alert webhooks: a POST is repeated only when the hook surely did not act ---------------------


class Hook:
    """A loopback webhook answering each POST with the next of ``answers`` (status, headers);
    ``hold`` keeps every answer back until the test releases it (a slow hook)."""

    def __init__(self, *answers: tuple[int, dict[str, str]], hold: bool = False) -> None:
        self.answers = list(answers)
        self.posts = 0
        self.release = threading.Event()
        if not hold:
            self.release.set()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.posts += 1
                hook.release.wait(30)
                status, headers = hook.answers[min(hook.posts, len(hook.answers)) - 1]
                self.send_response(status)
                for name, value in {**headers, "Content-Length": "0"}.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def hook(*answers: tuple[int, dict[str, str]], hold: bool = False) -> Iterator[Hook]:
    h = Hook(*answers, hold=hold)
    try:
        yield h
    finally:
        h.stop()


def test_a_webhook_that_answers_too_slowly_gets_one_post() -> None:
    waits: list[float] = []
    with hook((200, {}), hold=True) as slow:
        reason = post_webhook(slow.url, b"{}", timeout=0.2, sleep=waits.append)
        # The call has returned: no POST can follow. The hook may still be reading the first.
        wait_until(lambda: slow.posts >= 1, "the POST to arrive")
        assert slow.posts == 1
    assert reason == "no answer within 0.2 s" and waits == []


def test_a_webhook_answering_5xx_gets_one_post() -> None:
    waits: list[float] = []
    with hook((500, {}), (200, {})) as failing:
        assert post_webhook(failing.url, b"{}", sleep=waits.append) == "HTTP 500"
        assert failing.posts == 1 and waits == []


def test_a_429_is_retried_after_its_retry_after_and_a_long_one_ends_it() -> None:
    waits: list[float] = []
    with hook((429, {"Retry-After": "7"}), (200, {})) as busy:
        assert post_webhook(busy.url, b"{}", sleep=waits.append) is None
        assert busy.posts == 2 and waits == [7.0]
    waits.clear()
    with hook((429, {"Retry-After": "45"}), (200, {})) as busier:
        reason = post_webhook(busier.url, b"{}", sleep=waits.append)
        assert busier.posts == 1 and waits == []
    assert reason == "HTTP 429, Retry-After over 30 s"


def test_a_refused_connection_is_retried_a_bounded_number_of_times() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: every attempt is refused
    waits: list[float] = []
    reason = post_webhook(f"http://127.0.0.1:{port}/hook", b"{}", sleep=waits.append)
    assert reason == "cannot connect (ConnectError)" and len(waits) == 2


# -- the two commands that printed through Output.show ------------------------------------------


def test_update_dry_run_prints_the_changes_in_every_format(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    account = store.list_accounts(AccountQuery(limit=1))[0][0]
    email, old = account["email"], account["daily_limit"]
    args = ["accounts", "update", email, "--daily-limit", "33", "--dry-run"]
    record = {"email": email, "result": "would-update",
              "changes": [{"field": "daily_limit", "old": old, "new": 33}], "error": None}
    assert json.loads(ok(cli([*args, "--json"])).stdout) == [record]
    assert json.loads(ok(cli([*args, "-o", "jsonl"])).stdout) == record
    assert ok(cli([*args, "-o", "tsv"])).stdout == f"{email}\tdaily_limit\t{old} → 33\n"
    assert store.list_accounts(AccountQuery(limit=1))[0][0]["daily_limit"] == old


def test_workspaces_list_in_json_jsonl_and_csv(cli: Cli, sandbox: SandboxApp) -> None:
    listed = json.loads(ok(cli(["workspaces", "list", "--json"])).stdout)
    assert listed and {"name", "id", "status"} <= set(listed[0])
    lines = ok(cli(["workspaces", "list", "-o", "jsonl"])).stdout.splitlines()
    assert [json.loads(line) for line in lines] == listed
    table = ok(cli(["workspaces", "list", "-o", "csv"])).stdout.splitlines()
    assert table[0] == "name,id,status" and len(table) == len(listed) + 1


# -- the roll-up at 80 columns ------------------------------------------------------------------


def test_the_roll_up_at_80_columns_keeps_profile_workspace_and_total_whole(
    runtime: Runtime, cli: Cli, sandbox: SandboxApp
) -> None:
    update_config(lambda cfg: cfg.profiles.update({
        "north": Profile("north", api_key=TEST_KEY), "south": Profile("south", api_key=TEST_KEY),
        "gone": Profile("gone", api_key="wrong-key-0000")}))
    on_a_terminal(runtime)
    result = cli(["accounts", "summary", "--all-profiles"], env={"COLUMNS": "80"})
    assert result.exit_code == 1
    shown = ANSI.sub("", result.stdout).splitlines()
    assert max(len(line) for line in shown) <= 80
    table = "\n".join(shown[:8])
    assert "…" not in table
    assert re.search(r"│ Profile +Workspace +Total +At risk +Watch +Healthy +Errors +Cap\. +"
                     r"Result │", table)
    assert re.search(r"│ north +Acme Agency +120 ", table)
    assert re.search(r"│ Total +240 ", table)
