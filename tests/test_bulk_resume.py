"""Bulk runs that keep their accounting: journals and --resume, exact retry commands, pause and
resume that know the account's state, warmup bisection, dry-run summaries (in-process)."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from typer.testing import Result

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import AccountQuery, Store
from tests.conftest import TEST_KEY

GHOST = "ghost@nowhere-at-all.com"


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("INSTANTLY_STATE_DIR", str(folder))
    return folder


def emails(store: Store, count: int, status: int | None = None) -> list[str]:
    found: list[str] = []
    skip = 0
    while len(found) < count:
        items, _ = store.list_accounts(AccountQuery(limit=100, sort_by="email", skip=skip))
        if not items:
            break
        skip += len(items)
        found += [i["email"] for i in items if status is None or i["status"] == status]
    return found[:count]


def journals(state: Path) -> list[Path]:
    return sorted((state / "runs").glob("*.jsonl"))


def printed_commands(stderr: str) -> list[str]:
    """The retry commands a finished run printed (after 'Retry exactly those with:' / 'or:')."""
    return [
        m.group(1)
        for m in re.finditer(r"(?:Retry exactly those with|  or): (instantly .+)$", stderr, re.M)
    ]


def run_printed(cli: Callable[..., Result], command: str) -> Result:
    """Run a printed command as a shell would: words, and ``< FILE`` as stdin."""
    words = shlex.split(command)
    assert words[0] == "instantly"
    stdin = None
    if "<" in words:
        at = words.index("<")
        stdin = Path(words[at + 1]).read_text()
        words = words[:at]
    return cli(words[1:], input=stdin)


def sent(app: SandboxApp, method: str, fragment: str = "") -> list[Any]:
    return [r for r in app.requests if r.method == method and fragment in r.path]


# -- journal and --resume -------------------------------------------------------------------


def test_complete_run_deletes_its_journal(cli, sandbox: SandboxApp, store: Store, state) -> None:
    targets = emails(store, 3)
    result = cli(["accounts", "update", *targets, "--daily-limit", "7", "--yes"])
    assert result.exit_code == 0, result.stderr
    assert journals(state) == []
    assert not (state / "failures").exists() or not list((state / "failures").iterdir())


def test_journal_records_request_and_outcomes_without_secrets(
    cli, sandbox: SandboxApp, store: Store, state
) -> None:
    targets = [*emails(store, 2), GHOST]
    result = cli(["accounts", "update", *targets, "--daily-limit", "8", "--yes"])
    assert result.exit_code == 1
    [path] = journals(state)
    text = path.read_text()
    assert TEST_KEY not in text
    lines = [json.loads(line) for line in text.splitlines()]
    start = lines[0]
    assert start["kind"] == "start" and start["command"] == "accounts update"
    assert start["params"]["change"] == {"daily_limit": 8}
    assert start["targets"] == targets
    assert start["where"]["base_url"] == "http://sandbox.test"
    outcomes = {x["email"]: x["result"] for x in lines if x["kind"] == "outcome"}
    assert outcomes == {targets[0]: "updated", targets[1]: "updated", GHOST: "failed"}
    assert lines[-1]["kind"] == "end" and lines[-1]["exit_code"] == 1
    assert path.stem in result.stderr


def test_resume_runs_only_what_is_left_with_the_runs_options(
    cli, sandbox: SandboxApp, store: Store, state
) -> None:
    """A journal cut short (the process died after 2 of 5 outcomes) is finished by --resume."""
    targets = emails(store, 5)
    folder = state / "runs"
    folder.mkdir(parents=True)
    run_id = "20260101-000000-dead"
    start = {
        "kind": "start", "version": 1, "run_id": run_id, "command": "accounts update",
        "params": {"change": {"daily_limit": 9}, "strict": False, "rate": 50.0,
                   "concurrency": 2},
        "where": {"profile": "default", "workspace": None, "base_url": "http://sandbox.test",
                  "sandbox": False},
        "targets": targets, "pid": 1, "started": "2026-01-01T00:00:00Z",
    }
    done = [{"kind": "outcome", "email": e, "result": "updated", "error": None, "code": None}
            for e in targets[:2]]
    torn = '{"kind": "outcome", "email": "' + targets[2]  # the write the kill cut in half
    (folder / f"{run_id}.jsonl").write_text(
        "\n".join(json.dumps(x) for x in [start, *done]) + "\n" + torn
    )
    result = cli(["accounts", "update", "--resume", "--yes", "-o", "jsonl"])
    assert result.exit_code == 0, result.stderr
    assert f"Resuming run {run_id}: 3 of 5" in result.stderr
    patched = [unquote(r.path.rsplit("/", 1)[1]) for r in sent(sandbox, "PATCH")]
    assert sorted(patched) == sorted(targets[2:])
    assert all(json.loads(r.body) == {"daily_limit": 9} for r in sent(sandbox, "PATCH"))
    assert [json.loads(line)["email"] for line in result.stdout.splitlines()] == targets[2:]
    assert journals(state) == []  # every target done: the journal is gone


def test_resume_refuses_a_change_and_lists_runs_for_an_unknown_id(
    cli, sandbox: SandboxApp, store: Store, state
) -> None:
    failing = cli(["accounts", "update", GHOST, emails(store, 1)[0], "--daily-limit", "3",
                   "--yes"])
    assert failing.exit_code == 1
    [path] = journals(state)
    mixed = cli(["accounts", "update", "--resume", "--daily-limit", "4", "--yes"])
    assert mixed.exit_code == 2 and "own change" in mixed.stderr
    unknown = cli(["accounts", "update", "--resume", "nope", "--yes"])
    assert unknown.exit_code == 2 and path.stem in unknown.stderr
    other = cli(["accounts", "pause", "--resume", "--yes"])
    assert other.exit_code == 2 and "No unfinished run" in other.stderr
    assert sent(sandbox, "PATCH") and len(sent(sandbox, "PATCH")) == 2  # nothing more was sent


def test_resume_refuses_another_workspace(
    cli, sandbox: SandboxApp, store: Store, state
) -> None:
    assert cli(["accounts", "update", GHOST, "--daily-limit", "3"]).exit_code == 4
    moved = cli(["--workspace", "ws-other", "accounts", "update", "--resume", "--yes"])
    assert moved.exit_code == 2
    assert "not on this one" in moved.stderr and "--resume" in moved.stderr


# -- printed retry commands are run ----------------------------------------------------------


def test_every_printed_retry_command_runs_and_retries_exactly_the_failures(
    cli, sandbox: SandboxApp, store: Store, state
) -> None:
    good = emails(store, 2)
    first = cli(["accounts", "update", good[0], GHOST, good[1], "--daily-limit", "11",
                 "--first-name", "Ann Lee", "--concurrency", "2", "--yes"])
    assert first.exit_code == 1
    assert "<same options>" not in first.stderr
    commands = printed_commands(first.stderr)
    assert len(commands) == 2 and "--resume" in commands[0] and "< " in commands[1]
    assert "--daily-limit 11" in commands[1] and "--first-name 'Ann Lee'" in commands[1]
    for command in commands:
        sandbox.requests.clear()
        again = run_printed(cli, command)
        assert again.exit_code == 4 or again.exit_code == 1, again.stderr
        # Only the failed target was tried again, with the same change.
        patches = sent(sandbox, "PATCH")
        assert [p.path for p in patches] == [f"/api/v2/accounts/{GHOST.replace('@', '%40')}"]
        assert json.loads(patches[0].body)["daily_limit"] == 11


def test_printed_pause_retry_command_runs(cli, sandbox: SandboxApp, store: Store) -> None:
    first = cli(["accounts", "pause", GHOST, emails(store, 1, status=1)[0], "--yes",
                 "--rate", "20"])
    assert first.exit_code == 1
    commands = printed_commands(first.stderr)
    assert commands and "--rate 20" in commands[-1]
    for command in commands:
        sandbox.requests.clear()
        again = run_printed(cli, command)
        assert again.exit_code == 4, again.stderr
        [body] = [json.loads(r.body) for r in sent(sandbox, "POST", "/accounts/pause")]
        assert body == {"emails": [GHOST]}


# -- pause / resume --------------------------------------------------------------------------


def test_pausing_again_reports_unchanged_not_failed(
    cli, sandbox: SandboxApp, store: Store
) -> None:
    targets = emails(store, 4, status=1)
    first = cli(["accounts", "pause", *targets, "--yes", "--json"])
    assert first.exit_code == 0, first.stderr
    assert {r["result"] for r in json.loads(first.stdout)} == {"paused"}
    # A retry after a double Ctrl-C: the API lists them in failed_emails now.
    again = cli(["accounts", "pause", *targets, "--yes", "--json"])
    assert again.exit_code == 0, again.stderr
    rows = json.loads(again.stdout)
    assert {r["result"] for r in rows} == {"unchanged"}
    assert {r["detail"] for r in rows} == {"already paused"}
    assert "paused 0, unchanged 4, failed 0" in again.stderr


def test_pause_and_resume_dry_run_show_the_state_change_and_send_nothing(
    cli, sandbox: SandboxApp, store: Store
) -> None:
    active, paused = emails(store, 2, status=1), emails(store, 1, status=2)
    for verb, would in (("pause", "would-pause"), ("resume", "would-resume")):
        sandbox.requests.clear()
        result = cli(["accounts", verb, *active, *paused, "--dry-run", "--json"])
        assert result.exit_code == 0, result.stderr
        assert {r.method for r in sandbox.requests} == {"GET"}
        rows = {r["email"]: r for r in json.loads(result.stdout)}
        changing, staying = (active, paused) if verb == "pause" else (paused, active)
        for e in changing:
            assert rows[e]["result"] == would
            assert rows[e]["to"] == ("paused" if verb == "pause" else "active")
        for e in staying:
            assert rows[e]["result"] == "unchanged" and rows[e]["from"] == rows[e]["to"]
    assert all(store.get_account(e)["status"] == 1 for e in active)  # type: ignore[index]


def test_pause_output_piped_to_resume_undoes_exactly_this_run(
    cli, sandbox: SandboxApp, store: Store
) -> None:
    active, theirs = emails(store, 3, status=1), emails(store, 2, status=2)
    paused = cli(["accounts", "pause", *active, *theirs, "--yes", "-o", "jsonl"])
    assert paused.exit_code == 0, paused.stderr
    mine = "".join(
        line + "\n" for line in paused.stdout.splitlines()
        if json.loads(line)["result"] == "paused"  # jq 'select(.result=="paused")'
    )
    sandbox.requests.clear()
    undone = cli(["accounts", "resume", "-", "--yes", "-o", "jsonl"], input=mine)
    assert undone.exit_code == 0, undone.stderr
    assert {json.loads(line)["email"] for line in undone.stdout.splitlines()} == set(active)
    assert all(store.get_account(e)["status"] == 1 for e in active)  # type: ignore[index]
    # Accounts someone else had paused stay paused.
    assert all(store.get_account(e)["status"] == 2 for e in theirs)  # type: ignore[index]


def test_resume_sends_nothing_for_an_active_account(
    cli, sandbox: SandboxApp, store: Store
) -> None:
    [active] = emails(store, 1, status=1)
    result = cli(["accounts", "resume", active, "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["result"] == "unchanged"
    assert not sent(sandbox, "POST")


# -- warmup ------------------------------------------------------------------------------------


def test_one_bad_email_fails_only_itself_in_a_warmup_batch_of_100(
    cli, sandbox: SandboxApp, store: Store
) -> None:
    targets = emails(store, 99)
    targets.insert(40, GHOST)
    result = cli(["accounts", "warmup", "enable", "-", "--yes", "-o", "jsonl"],
                 input="\n".join(targets))
    assert result.exit_code == 1
    rows = {json.loads(line)["email"]: json.loads(line) for line in result.stdout.splitlines()}
    assert rows.pop(GHOST)["error"].endswith(f"Accounts not found: {GHOST}")
    assert {r["result"] for r in rows.values()} == {"enabled"} and len(rows) == 99
    assert all(store.get_account(e)["warmup_status"] == 1 for e in rows)  # type: ignore[index]
    jobs = sent(sandbox, "POST", "/warmup/enable")
    assert len(jobs) <= 1 + 2 * 7  # bisection: two halves a level, log2(100) levels


def test_warmup_submission_refused_for_one_email_is_bisected(cli, mock_api) -> None:
    bad = "bad@acme.io"
    targets = [f"u{i}@acme.io" for i in range(8)]
    targets.insert(3, bad)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/warmup/enable"):
            batch = json.loads(request.content)["emails"]
            if bad in batch:
                return httpx.Response(400, json={"statusCode": 400, "error": "Bad Request",
                                                 "message": f"Invalid account {bad}"})
            return httpx.Response(200, json={"id": "j" + str(len(batch)), "status": "pending"})
        return httpx.Response(200, json={"id": request.url.path.rsplit("/", 1)[1],
                                         "status": "success"})

    mock_api(handler)
    result = cli(["accounts", "warmup", "enable", *targets, "--yes", "--json"])
    assert result.exit_code == 1
    rows = {r["email"]: r for r in json.loads(result.stdout)}
    assert rows[bad]["result"] == "failed" and "Invalid account" in rows[bad]["error"]
    assert all(rows[e]["result"] == "enabled" for e in targets if e != bad)


# -- dry-run summary ---------------------------------------------------------------------------


def test_dry_run_prints_a_per_field_summary(cli, sandbox: SandboxApp, store: Store) -> None:
    targets = emails(store, 30)
    accounts = [store.get_account(e) or {} for e in targets]
    limit = 40
    raised = sum(1 for a in accounts if a.get("daily_limit") is not None
                 and a["daily_limit"] < limit)
    lowered = sum(1 for a in accounts if a.get("daily_limit") is not None
                  and a["daily_limit"] > limit)
    from_empty = sum(1 for a in accounts if a.get("daily_limit") is None)
    cleared = sum(1 for a in accounts if a.get("signature"))
    result = cli(["accounts", "update", *targets, "--daily-limit", str(limit),
                  "--signature", "none", "--dry-run"])
    assert result.exit_code == 0, result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("daily_limit:")]
    expected = [f"raised {raised}" if raised else "", f"lowered {lowered}" if lowered else "",
                f"set from empty {from_empty}" if from_empty else ""]
    assert all(part in line for part in expected if part)
    assert f"{raised + lowered + from_empty} account" in line
    [sig] = [x for x in result.stderr.splitlines() if x.startswith("signature:")]
    assert f"cleared {cleared}" in sig
    assert raised and lowered  # the seed covers both directions


# -- the state folder --------------------------------------------------------------------------


def test_config_path_state_shows_the_state_folder(cli, state: Path) -> None:
    result = cli(["config", "path", "--state"])
    assert result.exit_code == 0 and result.stdout.strip() == str(state)
    assert cli(["config", "path"]).stdout.strip().endswith("config.toml")


def test_old_journals_and_failure_files_are_pruned(
    cli, sandbox: SandboxApp, store: Store, state: Path
) -> None:
    import os

    for sub in ("runs", "failures"):
        (state / sub).mkdir(parents=True)
        old = state / sub / "old.jsonl"
        old.write_text("{}\n")
        os.utime(old, (1_000_000, 1_000_000))
    fresh = state / "failures" / "fresh.jsonl"
    fresh.write_text("{}\n")
    assert cli(["accounts", "update", *emails(store, 2), "--daily-limit", "5",
                "--yes"]).exit_code == 0
    assert not (state / "runs" / "old.jsonl").exists()
    assert not (state / "failures" / "old.jsonl").exists()
    assert fresh.exists()


def test_warmup_no_wait_leaves_no_journal_and_a_dead_wait_resumes_to_jobs_wait(
    cli, sandbox: SandboxApp, store: Store, state: Path
) -> None:
    targets = emails(store, 3)
    result = cli(["accounts", "warmup", "enable", *targets, "--no-wait", "--yes", "--json"])
    assert result.exit_code == 0, result.stderr
    [job] = json.loads(result.stdout)
    assert journals(state) == []
    # A journal whose process died while waiting: every target submitted, nothing to resend.
    folder = state / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "20260101-000000-beef.jsonl"
    lines = [{"kind": "start", "version": 1, "run_id": path.stem,
              "command": "accounts warmup enable",
              "params": {"no_wait": False, "timeout": 300.0, "rate": 50.0, "concurrency": 8},
              "where": {"profile": "default", "workspace": None,
                        "base_url": "http://sandbox.test", "sandbox": False},
              "targets": targets, "pid": 1, "started": "2026-01-01T00:00:00Z"}]
    lines += [{"kind": "outcome", "email": e, "result": "submitted", "error": None,
               "code": None, "job_id": job["job_id"]} for e in targets]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    sandbox.requests.clear()
    resumed = cli(["accounts", "warmup", "enable", "--resume", "--yes"])
    assert resumed.exit_code == 0, resumed.stderr
    assert f"instantly jobs wait {job['job_id']}" in resumed.stderr
    assert not sent(sandbox, "POST") and not path.exists()


def test_warmup_timeout_reports_every_target_with_its_job_and_the_wait_command(
    cli, sandbox: SandboxApp, store: Store, state: Path
) -> None:
    targets = emails(store, 3)
    result = cli(["accounts", "warmup", "enable", *targets, "--yes", "--timeout", "0.000001",
                  "-o", "jsonl"])
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["email"] for r in rows] == targets
    [job_id] = {r["job_id"] for r in rows}
    assert all(r["code"].startswith("job_") and "still" in r["error"] for r in rows)
    assert f"instantly jobs wait {job_id}" in result.stderr
    [path] = list((state / "failures").glob("*.jsonl"))
    assert len(path.read_text().splitlines()) == 3


def test_an_unwritable_state_folder_costs_neither_the_run_nor_the_failure_file(
    cli, sandbox: SandboxApp, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("INSTANTLY_STATE_DIR", str(blocked))
    monkeypatch.chdir(tmp_path)
    [good] = emails(store, 1)
    result = cli(["accounts", "update", good, GHOST, "--daily-limit", "6", "--yes", "--json"])
    assert result.exit_code == 1
    assert {r["result"] for r in json.loads(result.stdout)} == {"updated", "failed"}
    assert "cannot be resumed after a crash" in result.stderr  # no journal, said so
    [path] = list(tmp_path.glob("instantly-failures-*.jsonl"))  # the working folder instead
    assert json.loads(path.read_text())["email"] == GHOST
    # Nowhere to write at all: the results still reach stdout, and the code is 1.
    result = cli(["accounts", "update", good, GHOST, "--daily-limit", "6", "--yes", "--json",
                  "--failures", str(blocked / "x.jsonl")])
    assert result.exit_code == 1 and len(json.loads(result.stdout)) == 2
    assert "Cannot write the failure file" in result.stderr
