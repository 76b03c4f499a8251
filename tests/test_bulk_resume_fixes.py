"""`--resume` and the run journal, the parts that depend on where a run acted and how it was
paced (global options typed after the verb, the printed resume commands run as printed, the
workspace by name or id, the journal's rate and concurrency, the stale-change guard), and what
a confirmation shows wherever it asks, and empty selections from files."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from typer.testing import CliRunner

from instantly_cli.cli import app as cli_app
from instantly_cli.context import Runtime
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.seed import SUB_WORKSPACES
from instantly_cli.sandbox.store import AccountQuery, Store
from tests.test_bulk_resume import emails, journals, lift, outage, resume_line, sent

NORTH = next(ws_id for ws_id, name, _, _ in SUB_WORKSPACES if name == "Client North")
ENTERPRISE = "d7053543-29c9-46fb-bb5f-cda74cce86a4"


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store(":memory:")
    s.ensure_seeded(120, sub_accounts=7)
    yield s
    s.close()


@pytest.fixture
def state() -> Path:
    """The state folder the CLI keeps journals in during this test (conftest isolates it)."""
    from instantly_cli.settings import state_dir

    return state_dir()


def north(store: Store, count: int) -> list[str]:
    items, _ = store.list_accounts(AccountQuery(limit=100, sort_by="email", workspace=NORTH))
    return [str(i["email"]) for i in items][:count]


def north_limits(store: Store, targets: list[str]) -> list[Any]:
    return [(store.get_account(e, NORTH) or {}).get("daily_limit") for e in targets]


def start_line(path: Path) -> dict[str, Any]:
    first: dict[str, Any] = json.loads(path.read_text().splitlines()[0])
    return first


def test_global_options_after_the_verb_are_journaled_and_max_wait_may_change_on_resume(
    cli, sandbox: SandboxApp, store: Store, state: Path, runtime: Runtime
) -> None:
    targets = north(store, 3)
    outage(runtime, sandbox, "PATCH", set(targets[1:]))
    first = cli(["accounts", "update", *targets, "--daily-limit", "20", "--yes",
                 "--workspace", "Client North", "--max-wait", "10"])
    assert first.exit_code == 1, first.stderr
    [path] = journals(state)
    start = start_line(path)
    assert "None" not in start["argv"]
    assert start["argv"][:2] == ["--workspace", "Client North"]
    assert start["argv"][-2:] == ["--max-wait", "10.0"]
    assert start["where"]["workspace"] == NORTH  # the id, however it was typed
    shown = cli(["runs", "show", path.stem])
    assert "None" not in shown.stdout and "--max-wait 10" in shown.stdout
    assert "instantly --workspace 'Client North' accounts update --resume" in resume_line(
        first.stderr)
    lift(runtime, sandbox)
    # By id, after the verb, with a new --max-wait: how the run goes, not what it does.
    resumed = cli(["accounts", "update", "--resume", path.stem, "--workspace", NORTH,
                   "--max-wait", "5", "-v", "--yes"])
    assert resumed.exit_code == 0, resumed.stderr
    assert "Resuming run" in resumed.stderr and "targets left: 2 of 3" in resumed.stderr
    assert north_limits(store, targets) == [20, 20, 20]


def test_runs_show_prints_a_resume_command_that_runs(
    cli, sandbox: SandboxApp, store: Store, state: Path, runtime: Runtime
) -> None:
    targets = north(store, 2)
    outage(runtime, sandbox, "PATCH", {targets[1]})
    first = cli(["--workspace", "Client North", "accounts", "update", *targets,
                 "--daily-limit", "21", "--yes"])
    assert first.exit_code == 1
    [path] = journals(state)
    lift(runtime, sandbox)
    shown = cli(["runs", "show", path.stem])
    [line] = [x for x in shown.stdout.splitlines() if "finish with: " in x]
    printed = line.split("finish with: ", 1)[1]
    assert printed.startswith("instantly --workspace 'Client North' accounts update --resume")
    ran = cli(shlex.split(printed)[1:])
    assert ran.exit_code == 0, ran.stderr
    assert north_limits(store, targets) == [21, 21]
    # A run of another command names the whole command, its globals included.
    outage(runtime, sandbox, "POST", {targets[0]})
    assert cli(["--workspace", "Client North", "accounts", "pause", targets[0]]).exit_code == 1
    lift(runtime, sandbox)
    paused = next(p.stem for p in journals(state) if p.stem != path.stem)
    wrong = cli(["accounts", "update", "--resume", paused])
    assert wrong.exit_code == 2
    hint = wrong.stderr.split("Resume it with: ", 1)[1].strip()
    assert cli(shlex.split(hint)[1:]).exit_code == 0
    assert (store.get_account(targets[0], NORTH) or {})["status"] == 2


def test_a_sandbox_run_chosen_by_the_environment_resumes_with_sandbox(
    cli, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INSTANTLY_SANDBOX", "1")
    listed = cli(["accounts", "list", "--limit", "2", "--json"])
    targets = [a["email"] for a in json.loads(listed.stdout)]
    assert cli(["accounts", "update", *targets, "--daily-limit", "22", "--yes"]).exit_code == 0
    [path] = journals(state)
    # As if killed right after it started: no outcome reached the journal.
    path.write_text(path.read_text().splitlines()[0] + "\n")
    monkeypatch.delenv("INSTANTLY_SANDBOX")
    shown = cli(["runs", "show", path.stem])
    printed = shown.stdout.split("finish with: ", 1)[1].strip()
    assert printed == f"instantly --sandbox accounts update --resume {path.stem} --yes"
    ran = cli(shlex.split(printed)[1:])
    assert ran.exit_code == 0, ran.stderr
    assert "targets left: 2 of 2" in ran.stderr


def test_stale_change_guard_sees_a_newer_run_by_id_of_a_run_by_name(
    cli, sandbox: SandboxApp, store: Store, state: Path, runtime: Runtime
) -> None:
    targets = north(store, 3)
    outage(runtime, sandbox, "PATCH", set(targets[1:]))
    old = cli(["--workspace", "Client North", "accounts", "update", *targets,
               "--daily-limit", "20", "--yes"])
    assert old.exit_code == 1
    lift(runtime, sandbox)
    newer = cli(["--workspace", NORTH, "accounts", "update", *targets[1:],
                 "--daily-limit", "40", "--yes"])
    assert newer.exit_code == 0, newer.stderr
    sandbox.requests.clear()
    refused = cli(["--workspace", "client north", "accounts", "update", "--resume", "--yes"])
    assert refused.exit_code == 2, refused.stderr
    assert "Resuming would put back the change" in refused.stderr
    assert not sent(sandbox, "PATCH") and north_limits(store, targets[1:]) == [40, 40]


def test_stale_change_guard_refuses_after_a_newer_run_changed_the_same_state(
    cli, sandbox: SandboxApp, store: Store, state: Path, runtime: Runtime
) -> None:
    targets = emails(store, 3, status=1)
    outage(runtime, sandbox, "POST", set(targets[1:]))
    assert cli(["accounts", "pause", *targets, "--yes"]).exit_code == 1
    [old] = [p.stem for p in journals(state)]
    lift(runtime, sandbox)
    assert cli(["accounts", "pause", targets[0], "--yes"]).exit_code == 0  # same change: fine
    assert cli(["accounts", "resume", *targets[1:], "--yes"]).exit_code == 0
    sandbox.requests.clear()
    refused = cli(["accounts", "pause", "--resume", old, "--yes"])
    assert refused.exit_code == 2, refused.stderr
    assert targets[1] in refused.stderr and targets[2] in refused.stderr
    assert not sent(sandbox, "POST")
    assert [(store.get_account(e) or {})["status"] for e in targets] == [2, 1, 1]


def test_concurrency_given_on_resume_overrides_the_journals(
    cli, sandbox: SandboxApp, store: Store, state: Path, runtime: Runtime
) -> None:
    targets = emails(store, 4)
    outage(runtime, sandbox, "PATCH", set(targets))
    assert cli(["accounts", "update", *targets, "--daily-limit", "9", "--concurrency", "3",
                "--yes"]).exit_code == 1
    lift(runtime, sandbox)
    # A --concurrency out of range is refused: the one given now is read, not the journal's.
    refused = cli(["accounts", "update", "--resume", "--yes", "--concurrency", "500"])
    assert refused.exit_code == 2 and "--concurrency" in refused.stderr
    result = cli(["accounts", "update", "--resume", "--yes", "--concurrency", "1", "-o", "jsonl"])
    assert result.exit_code == 0, result.stderr
    assert [json.loads(x)["email"] for x in result.stdout.splitlines()] == targets


def invoke_keeping(runtime: Runtime, args: list[str]) -> tuple[Any, Runtime]:
    """Run the CLI with a runtime the test keeps, to read the limiter it paced with."""
    rt = Runtime(transport=runtime.transport, backoff_base=runtime.backoff_base,
                 max_retry_after=runtime.max_retry_after, poll_interval=0.0,
                 terminal=runtime.terminal)
    return CliRunner().invoke(cli_app, args, obj=rt), rt


@pytest.mark.parametrize("command", [["campaigns", "attach"], ["accounts", "delete"]])
def test_a_resumed_run_is_paced_at_the_journaled_rate(
    sandbox: SandboxApp, store: Store, state: Path, runtime: Runtime, command: list[str]
) -> None:
    targets = emails(store, 3)
    method = "PATCH" if command[0] == "campaigns" else "DELETE"
    outage(runtime, sandbox, method, {ENTERPRISE} if method == "PATCH" else set(targets))
    first, rt = invoke_keeping(runtime, [*command, *([ENTERPRISE] if method == "PATCH" else []),
                                         *targets, "--rate", "5", "--yes"])
    assert first.exit_code == 1, first.stderr
    assert rt.limiter is not None and rt.limiter.target == 5
    lift(runtime, sandbox)
    resumed, rt = invoke_keeping(runtime, [*command, "--resume", "--yes"])
    assert resumed.exit_code == 0, resumed.stderr
    assert rt.limiter is not None and rt.limiter.target == 5
    assert {unquote(r.path) for r in sent(sandbox, method)}


# -- the campaign impact is part of the confirmation, wherever it asks -------------------------


def test_the_impact_is_shown_on_the_controlling_terminal_when_stdin_is_a_pipe(
    cli, sandbox: SandboxApp, runtime: Runtime
) -> None:
    from tests import campaign_truth
    from tests.test_operator_loop import on_tty

    truth = campaign_truth.read(sandbox)
    fintech = next(c for c in truth.campaigns if c["name"] == "Fintech leaning on errors")
    tty = on_tty(runtime, "n\n")
    result = cli(["accounts", "pause", "-"], input="\n".join(fintech["email_list"]))
    assert result.exit_code == 2 and "Cancelled" in result.stderr
    asked = tty.asked.getvalue()
    assert "Fintech leaning on errors" in asked and "NO AVAILABLE ACCOUNT LEFT" in asked
    assert asked.index("NO AVAILABLE") < asked.index("Pause 6 accounts?")
    assert not sent(sandbox, "POST")
    # With --yes nobody is asked: no campaign is read.
    sandbox.requests.clear()
    assert cli(["accounts", "pause", "-", "--yes"], input=fintech["email_list"][0]).exit_code == 0
    assert not [r for r in sandbox.requests if "/campaigns" in r.path]


# -- accounts create --from: an empty file, and a resume from another folder -------------------

CSV_HEAD = "email,first_name,last_name,imap_host,smtp_host,password,daily_limit\n"


@pytest.mark.parametrize("name", ["e.csv", "e.jsonl"])
def test_create_from_a_file_of_no_rows_is_nothing_to_do(
    cli, sandbox: SandboxApp, state: Path, name: str
) -> None:
    Path(name).write_text(CSV_HEAD if name.endswith(".csv") else "\n", encoding="utf-8")
    result = cli(["accounts", "create", "--from", name, "--yes"])
    assert result.exit_code == 0, result.stderr
    assert "Nothing to do" in result.stderr
    assert sandbox.requests == [] and journals(state) == []


def test_no_targets_from_a_terminal_stays_a_usage_error(
    cli, sandbox: SandboxApp, runtime: Runtime
) -> None:
    runtime.terminal = runtime.terminal._replace(stdin_isatty=True)
    result = cli(["accounts", "pause", "-", "--yes"], input="")
    assert result.exit_code == 2 and "No targets on stdin" in result.stderr
    assert sandbox.requests == []


def test_create_from_a_relative_path_resumes_from_another_folder(
    cli, sandbox: SandboxApp, store: Store, state: Path, runtime: Runtime,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [f"r{i}@newbox.io,R,{i},imap.newbox.io,smtp.newbox.io,Pw-rrrr-{i},30" for i in (1, 2)]
    Path("boxes.csv").write_text(CSV_HEAD + "".join(r + "\n" for r in rows), encoding="utf-8")
    outage(runtime, sandbox, "POST", {"r2@newbox.io"})
    first = cli(["accounts", "create", "--from", "boxes.csv", "--yes"])
    assert first.exit_code == 1, first.stderr
    [path] = journals(state)
    assert start_line(path)["params"]["what"]["from_file"] == str(Path("boxes.csv").resolve())
    lift(runtime, sandbox)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    resumed = cli(shlex.split(resume_line(first.stderr))[1:])
    assert resumed.exit_code == 0, resumed.stderr
    assert store.get_account("r1@newbox.io") and store.get_account("r2@newbox.io")


def test_resume_without_a_run_id_takes_this_workspaces_run(
    cli, sandbox: SandboxApp, store: Store, state: Path, runtime: Runtime
) -> None:
    # A newer unfinished run in another workspace does not stand in the way.
    mine = north(store, 2)
    outage(runtime, sandbox, "PATCH", {mine[1]})
    assert cli(["--workspace", "Client North", "accounts", "update", *mine,
                "--daily-limit", "21", "--yes"]).exit_code == 1
    other = emails(store, 2)
    outage(runtime, sandbox, "PATCH", {other[1]})
    assert cli(["accounts", "update", *other, "--daily-limit", "22", "--yes"]).exit_code == 1
    lift(runtime, sandbox)
    done = cli(["--workspace", "Client North", "accounts", "update", "--resume", "--yes"])
    assert done.exit_code == 0, done.stderr
    assert north_limits(store, mine) == [21, 21]
    assert [(store.get_account(e) or {})["daily_limit"] for e in other][1] != 22
