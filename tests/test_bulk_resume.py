"""The one engine's recovery story, in-process: journals, `--resume` (what it prints, what it
refuses, the stale-change guard), idempotent outcomes, case-insensitive emails, empty
selections, pause and resume that know the account's state, warmup bisection, dry runs."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

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


def sent(app: SandboxApp, method: str, fragment: str = "") -> list[Any]:
    return [r for r in app.requests if r.method == method and fragment in r.path]


class Hooked(httpx.BaseTransport):
    """The sandbox app behind a hook that may answer a request itself (an outage)."""

    def __init__(self, app: SandboxApp, fail: Callable[[httpx.Request], bool]):
        self.inner = httpx.WSGITransport(app=app)
        self.fail = fail

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.fail(request):
            return httpx.Response(503, json={"statusCode": 503, "error": "Service Unavailable",
                                             "message": "try later"})
        return self.inner.handle_request(request)


def outage(runtime: Any, sandbox: SandboxApp, method: str, who: set[str]) -> None:
    """Every ``method`` request about one of ``who`` answers 503 (retryable) until lifted."""
    runtime.transport = Hooked(sandbox, lambda r: r.method == method and any(
        w in unquote(r.url.path) or w.encode() in r.content for w in who))


def lift(runtime: Any, sandbox: SandboxApp) -> None:
    runtime.transport = httpx.WSGITransport(app=sandbox)


def resume_line(stderr: str) -> str:
    """The one printed retry line (``… --resume RUN``)."""
    [line] = [x for x in stderr.splitlines() if "finish exactly those with:" in x]
    return line.split("finish exactly those with: ", 1)[1]


def limits(store: Store, targets: list[str]) -> list[Any]:
    return [(store.get_account(e) or {}).get("daily_limit") for e in targets]


# -- journal and --resume -------------------------------------------------------------------


def test_a_finished_run_keeps_its_journal_and_runs_list_shows_it(
    cli, sandbox: SandboxApp, store: Store, state
) -> None:
    targets = emails(store, 3)
    result = cli(["accounts", "update", *targets, "--daily-limit", "7", "--yes"])
    assert result.exit_code == 0, result.stderr
    [path] = journals(state)
    assert "--resume" not in result.stderr
    listed = cli(["runs", "list", "--json"])
    assert listed.exit_code == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["run_id"] == path.stem and row["state"] == "finished" and row["left"] == 0
    assert row["command_line"].startswith("instantly accounts update ")
    shown = cli(["runs", "show", path.stem])
    assert "change:  daily_limit = 7" in shown.stdout
    assert cli(["accounts", "update", "--resume", path.stem, "--yes"]).exit_code == 2
    assert cli(["runs", "forget", path.stem]).exit_code == 0 and journals(state) == []


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
    assert start["params"]["what"]["change"] == {"daily_limit": 8}
    assert start["change"] == "daily_limit = 8" and start["keys"] == ["daily_limit"]
    assert start["targets"] == targets and start["yes"] is True
    assert start["where"]["base_url"] == "http://sandbox.test"
    outcomes = {x["email"]: (x["result"], x["retry"]) for x in lines if x["kind"] == "outcome"}
    # A 404 for a target that should exist is final: resume will not try it again.
    assert outcomes == {targets[0]: ("updated", False), targets[1]: ("updated", False),
                        GHOST: ("failed", False)}
    assert lines[-1]["kind"] == "end" and lines[-1]["exit_code"] == 1
    assert path.stem in result.stderr


def test_resume_prints_what_it_will_do_and_runs_only_what_is_left(
    cli, sandbox: SandboxApp, store: Store, state, runtime
) -> None:
    targets = emails(store, 5)
    outage(runtime, sandbox, "PATCH", set(targets[2:]))
    first = cli(["accounts", "update", *targets, "--daily-limit", "9", "--concurrency", "2",
                 "--yes", "-o", "jsonl"])
    assert first.exit_code == 1
    [path] = journals(state)
    line = resume_line(first.stderr)
    assert line == f"instantly accounts update --resume {path.stem} --yes"
    lift(runtime, sandbox)
    # Options given now win over the journal's: a --rate out of range is refused, so it is read.
    assert cli([*shlex.split(line)[1:], "--rate", "500"]).exit_code == 2
    refused = cli([*shlex.split(line)[1:], "--daily-limit", "10"])
    assert refused.exit_code == 2 and "--daily-limit cannot be given" in refused.stderr
    sandbox.requests.clear()
    result = cli([*shlex.split(line)[1:], "-o", "jsonl"])
    assert result.exit_code == 0, result.stderr
    assert f"Resuming run {path.stem}, started " in result.stderr
    assert "command: instantly accounts update " in result.stderr
    assert "--daily-limit 9" in result.stderr and "change:  daily_limit = 9" in result.stderr
    assert "targets left: 3 of 5" in result.stderr
    patched = [unquote(r.path.rsplit("/", 1)[1]) for r in sent(sandbox, "PATCH")]
    assert sorted(patched) == sorted(targets[2:])
    assert [json.loads(x)["email"] for x in result.stdout.splitlines()] == targets[2:]
    assert limits(store, targets) == [9] * 5
    assert cli(["runs", "list", "--json"]).stdout.count('"finished"') == 1


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
    assert len(sent(sandbox, "PATCH")) == 2  # nothing more was sent


def test_resume_refuses_another_workspace(
    cli, sandbox: SandboxApp, store: Store, state, runtime
) -> None:
    [one] = emails(store, 1)
    outage(runtime, sandbox, "PATCH", {one})
    assert cli(["accounts", "update", one, "--daily-limit", "3"]).exit_code == 1
    moved = cli(["--workspace", "Client North", "accounts", "update", "--resume", "--yes"])
    assert moved.exit_code == 2
    assert "not on this one" in moved.stderr and "--workspace" in moved.stderr
    assert "instantly accounts update --resume " in moved.stderr


# -- issue case 1: a resume never puts back a change a newer run replaced ----------------------


def test_stale_change_guard_refuses_then_force_applies_and_other_accounts_do_not_block(
    cli, sandbox: SandboxApp, store: Store, state, runtime
) -> None:
    targets, others = emails(store, 4), emails(store, 7)[4:]
    outage(runtime, sandbox, "PATCH", set(targets[1:]))
    old = cli(["accounts", "update", *targets, "--daily-limit", "20", "--yes"])
    assert old.exit_code == 1
    [old_run] = [p.stem for p in journals(state)]
    lift(runtime, sandbox)
    # A newer run on other accounts, on the same field, does not block (checked last).
    assert cli(["accounts", "update", *others, "--daily-limit", "30", "--yes"]).exit_code == 0
    newer = cli(["accounts", "update", *targets[1:3], "--daily-limit", "40", "--yes"])
    assert newer.exit_code == 0
    new_run = max(p.stem for p in journals(state) if p.stem != old_run and
                  targets[1] in p.read_text())
    sandbox.requests.clear()
    refused = cli(["accounts", "update", "--resume", old_run, "--yes"])
    assert refused.exit_code == 2
    assert new_run in refused.stderr and targets[1] in refused.stderr
    assert targets[2] in refused.stderr and "--force" in refused.stderr
    assert "daily_limit" in refused.stderr and "runs forget" in refused.stderr
    assert not sent(sandbox, "PATCH") and limits(store, targets[1:3]) == [40, 40]
    forced = cli(["accounts", "update", "--resume", old_run, "--yes", "--force"])
    assert forced.exit_code == 0, forced.stderr
    assert limits(store, targets) == [20] * 4 and limits(store, others) == [30] * 3


def test_resume_after_a_newer_run_only_on_other_accounts_applies(
    cli, sandbox: SandboxApp, store: Store, state, runtime
) -> None:
    targets, others = emails(store, 3), emails(store, 5)[3:]
    outage(runtime, sandbox, "POST", set(targets))
    assert cli(["accounts", "pause", *targets, "--yes"]).exit_code == 1
    lift(runtime, sandbox)
    assert cli(["accounts", "resume", *others, "--yes"]).exit_code == 0
    again = cli(["accounts", "pause", "--resume", "--yes"])
    assert again.exit_code == 0, again.stderr
    assert "change:  pause" in again.stderr
    assert all((store.get_account(e) or {})["status"] == 2 for e in targets)


def test_rerunning_a_command_identical_to_an_unfinished_run_points_at_resume(
    cli, sandbox: SandboxApp, store: Store, state, runtime
) -> None:
    targets = emails(store, 2)
    outage(runtime, sandbox, "PATCH", set(targets))
    assert cli(["accounts", "update", *targets, "--daily-limit", "12", "--yes"]).exit_code == 1
    [path] = journals(state)
    lift(runtime, sandbox)
    again = cli(["accounts", "update", *targets, "--daily-limit", "12", "--yes"])
    assert again.exit_code == 0, again.stderr
    assert f"accounts update --resume {path.stem}" in again.stderr
    assert "did exactly this" in again.stderr
    # The same change made again by a newer run is no stale change: the old run may finish.
    assert cli(["accounts", "update", "--resume", path.stem, "--yes"]).exit_code == 0


# -- issue case 2: deleting again is no failure, and delete resumes -----------------------------


def test_a_half_finished_delete_resumes_and_a_rerun_reports_gone(
    cli, sandbox: SandboxApp, store: Store, state, runtime
) -> None:
    targets = emails(store, 3)
    outage(runtime, sandbox, "DELETE", {targets[2]})
    first = cli(["accounts", "delete", *targets, "--yes"])
    assert first.exit_code == 1
    lift(runtime, sandbox)
    line = resume_line(first.stderr)
    resumed = cli(shlex.split(line)[1:] + ["--json"])
    assert resumed.exit_code == 0, resumed.stderr
    assert [(r["email"], r["result"]) for r in json.loads(resumed.stdout)] == [
        (targets[2], "deleted")]
    rerun = cli(["accounts", "delete", *targets, "--yes", "--json"])
    assert rerun.exit_code == 0, rerun.stderr
    assert {r["result"] for r in json.loads(rerun.stdout)} == {"gone"}
    assert "gone 3" in rerun.stderr and "--resume" not in rerun.stderr


# -- issue case 4: emails are case-insensitive -------------------------------------------------


def test_accounts_get_finds_a_mixed_case_address(cli, sandbox: SandboxApp, store: Store) -> None:
    [email] = emails(store, 1)
    shouted = email.split("@")[0].title() + "@" + email.split("@")[1].upper()
    result = cli(["accounts", "get", shouted, "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["email"] == email  # the API's spelling is shown


def test_bulk_writes_take_mixed_case_addresses_and_one_target_per_account(
    cli, sandbox: SandboxApp, store: Store, state
) -> None:
    active = emails(store, 3, status=1)
    typed = [active[0].upper(), active[0], active[1].title(), active[2]]
    result = cli(["accounts", "pause", "-", "--yes", "--json"], input="\n".join(typed))
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 3 and {r["result"] for r in rows} == {"paused"}
    assert {r["email"] for r in rows} == set(active)  # the API's spelling
    assert all((store.get_account(e) or {})["status"] == 2 for e in active)
    deleted = cli(["accounts", "delete", active[1].upper(), "--yes", "--json"])
    assert json.loads(deleted.stdout)[0]["result"] == "deleted"
    assert store.get_account(active[1]) is None


# -- issue case 5: an empty selection is nothing to do -----------------------------------------


@pytest.mark.parametrize("command", [["accounts", "pause"], ["accounts", "delete"],
                                     ["accounts", "mark-fixed"], ["tags", "assign", "Client A"]])
def test_an_empty_pipe_is_nothing_to_do(cli, sandbox: SandboxApp, state, command) -> None:
    result = cli([*command, "-", "--yes"], input="")
    assert result.exit_code == 0 and "Nothing to do" in result.stderr
    assert sandbox.requests == [] and journals(state) == []


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


def test_warmup_no_wait_then_resume_waits_for_the_submitted_jobs_instead_of_submitting(
    cli, sandbox: SandboxApp, store: Store, state: Path
) -> None:
    """Issue case 3: targets whose job was submitted are resumed by waiting for that job."""
    targets = emails(store, 3)
    result = cli(["accounts", "warmup", "enable", *targets, "--no-wait", "--yes", "--json"])
    assert result.exit_code == 0, result.stderr
    [job] = json.loads(result.stdout)
    [path] = journals(state)
    assert "--resume" in result.stderr  # submitted targets are left: their job is waited for
    sandbox.requests.clear()
    resumed = cli(["accounts", "warmup", "enable", "--resume", "--yes", "--json"])
    assert resumed.exit_code == 0, resumed.stderr
    assert not sent(sandbox, "POST")  # no new job
    assert sent(sandbox, "GET", job["job_id"])
    assert {r["result"] for r in json.loads(resumed.stdout)} == {"enabled"}
    assert "--resume" not in resumed.stderr
    assert all((store.get_account(e) or {})["warmup_status"] == 1 for e in targets)
    assert path.exists()


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
    assert not (state / "failures").exists()
    # --resume waits for that job; it submits no new one.
    sandbox.requests.clear()
    resumed = cli(["accounts", "warmup", "enable", "--resume", "--yes", "-o", "jsonl"])
    assert resumed.exit_code == 0, resumed.stderr
    assert not sent(sandbox, "POST") and sent(sandbox, "GET", job_id)
    assert {json.loads(x)["result"] for x in resumed.stdout.splitlines()} == {"enabled"}


def test_an_unwritable_state_folder_costs_neither_the_run_nor_the_results(
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
    assert "cannot be resumed" in result.stderr  # no journal, said so
    # Nowhere to write a failure file either: the results still reach stdout, and the code is 1.
    result = cli(["accounts", "update", good, GHOST, "--daily-limit", "6", "--yes", "--json",
                  "--failures", str(blocked / "x.jsonl")])
    assert result.exit_code == 1 and len(json.loads(result.stdout)) == 2
    assert "Cannot write the failure file" in result.stderr
