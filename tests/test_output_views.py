"""Tables, dashboards and alert webhooks as the user sees them (findings of the output review)."""

from __future__ import annotations

import re
from collections.abc import Callable

from typer.testing import Result

from instantly_cli.context import Runtime
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import AccountQuery, Store

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
