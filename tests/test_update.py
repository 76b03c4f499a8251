"""accounts update / pause / resume / warmup against the sandbox: what was sent, what changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import Store

OPS = "ops+eu@acme-outreach.com"
ZOE = "zoe.muller@acme-outreach.com"
JOSE = "jose.garcia@fabrikam-sales.com"
GHOST = "nobody@nowhere-at-all.io"


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # default failure files land here


def sent(app: SandboxApp, method: str, contains: str = "") -> list[Any]:
    return [
        json.loads(r.body) if r.body else None
        for r in app.requests
        if r.method == method and contains in r.path
    ]


def writes(app: SandboxApp) -> list[Any]:
    return [r for r in app.requests if r.method in ("PATCH", "POST", "DELETE")]


# -- validation: exit 2 and nothing sent -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--set", "warmup.nope=1"], "Unknown field 'warmup.nope'"),
        (["--set", "colour=red"], "Unknown field 'colour'"),
        (["--set", "=1"], "Invalid --set"),
        (["--set", "daily_limit"], "Invalid --set"),
        (["--sending-gap", "2000"], "sending_gap"),
        (["--sending-gap", "-1"], "sending_gap"),
        (["--daily-limit", "lots"], "--daily-limit takes a number"),
        (["--warmup-increment", "9"], "Unknown warmup increment"),
        (["--reply-to", "not-an-email"], "reply_to"),
        (["--body", "{bad json"], "not valid JSON"),
        (["--body", "[1, 2]"], "must be a JSON object"),
        (["--body", '{"warmup": {"limit": "ten"}}'], "warmup.limit"),
        (["--body", '{"daily_limit": true}'], "daily_limit"),
        (["--body", '{"status": 2}'], "Unknown field 'status'"),
        (["--set", "warmup.advanced.open_rate=high"], "open_rate"),
        ([], "No change given"),
        (["--rate", "500", "--daily-limit", "5"], "--rate"),
    ],
)
def test_invalid_changes_exit_2_and_send_nothing(
    cli, sandbox: SandboxApp, args: list[str], needle: str
) -> None:
    result = cli(["accounts", "update", OPS, *args])
    assert result.exit_code == 2, result.stderr
    assert needle in result.stderr
    assert "Hint:" in result.stderr or "No change" in result.stderr
    assert "Traceback" not in result.stderr
    assert sandbox.requests == []


def test_unknown_field_lists_valid_ones(cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "update", OPS, "--set", "warmup.advanced.x=1"])
    assert result.exit_code == 2
    assert "open_rate" in result.stderr and "weekday_only" in result.stderr


@pytest.mark.parametrize("target", ["not-an-email", "a@b", "two@@x.io", "sp ace@x.io"])
def test_bad_target_email_exit_2(cli, sandbox: SandboxApp, target: str) -> None:
    result = cli(["accounts", "update", target, "--daily-limit", "5"])
    assert result.exit_code == 2 and "Not an email address" in result.stderr
    assert sandbox.requests == []


def test_stdin_garbage_lines_are_reported_by_number(cli, sandbox: SandboxApp) -> None:
    text = f"{OPS}\nhello\n{ZOE}\n{{broken\n"
    result = cli(["accounts", "update", "-", "--daily-limit", "5", "--yes"], input=text)
    assert result.exit_code == 2
    assert "line 2, 4" in result.stderr
    assert sandbox.requests == []


def test_empty_stdin_is_nothing_to_do(cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "update", "-", "--daily-limit", "5", "--yes"], input="  \n")
    assert result.exit_code == 0 and "Nothing to do" in result.stderr
    assert sandbox.requests == []


# -- single updates -----------------------------------------------------------------------------


def test_update_one_account_sends_exact_body_and_changes_state(
    cli, sandbox: SandboxApp, store: Store
) -> None:
    result = cli(
        [
            "accounts",
            "update",
            OPS,
            "--daily-limit",
            "33",
            "--signature",
            "none",
            "--first-name",
            "Olga",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    assert sent(sandbox, "PATCH") == [{"daily_limit": 33, "signature": None, "first_name": "Olga"}]
    account = store.get_account(OPS)
    assert account is not None
    assert (account["daily_limit"], account["signature"], account["first_name"]) == (
        33,
        None,
        "Olga",
    )
    [row] = json.loads(result.stdout)
    assert row["email"] == OPS and row["result"] == "updated" and row["error"] is None
    assert row["account"]["daily_limit"] == 33
    assert "updated 1" in result.stderr


def test_partial_warmup_change_is_sent_merged(cli, sandbox: SandboxApp, store: Store) -> None:
    before = store.get_account(OPS)
    assert before is not None
    result = cli(["accounts", "update", OPS, "--warmup-open-rate", "0.5"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    [body] = sent(sandbox, "PATCH")
    expected = json.loads(json.dumps(before["warmup"]))
    expected["advanced"]["open_rate"] = 0.5
    assert body == {"warmup": expected}
    after = store.get_account(OPS)
    assert after is not None and after["warmup"] == expected


def test_precedence_flags_over_set_over_body(cli, sandbox: SandboxApp) -> None:
    result = cli(
        [
            "accounts",
            "update",
            OPS,
            "--body",
            '{"daily_limit": 1, "sending_gap": 5, "last_name": "B"}',
            "--set",
            "daily_limit=2",
            "--set",
            "sending_gap=6",
            "--daily-limit",
            "3",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    assert sent(sandbox, "PATCH") == [{"daily_limit": 3, "sending_gap": 6, "last_name": "B"}]


def test_body_from_file_and_set_json_values(cli, sandbox: SandboxApp, tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_text('{"enable_slow_ramp": true}')
    result = cli(
        [
            "accounts",
            "update",
            OPS,
            "--body",
            f"@{path}",
            "--set",
            "reply_to=null",
            "--set",
            "first_name=123",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    assert sent(sandbox, "PATCH") == [
        {"enable_slow_ramp": True, "reply_to": None, "first_name": "123"}
    ]


def test_missing_single_target_exits_4(cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "update", GHOST, "--daily-limit", "5"])
    assert result.exit_code == 4
    assert GHOST in result.stderr


# -- dry run ------------------------------------------------------------------------------------


def test_dry_run_shows_diff_and_sends_no_patch(cli, sandbox: SandboxApp, store: Store) -> None:
    before = store.get_account(OPS)
    assert before is not None
    same = before["sending_gap"]
    result = cli(
        [
            "accounts",
            "update",
            OPS,
            ZOE,
            "--daily-limit",
            "77",
            "--sending-gap",
            str(same),
            "--dry-run",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    rows = {r["email"]: r for r in json.loads(result.stdout)}
    assert rows[OPS]["result"] == "would-update"
    assert {"field": "daily_limit", "old": before["daily_limit"], "new": 77} in rows[OPS]["changes"]
    assert all(c["field"] != "sending_gap" for c in rows[OPS]["changes"])
    assert sent(sandbox, "PATCH") == []
    assert store.get_account(OPS) == before


def test_dry_run_reports_unchanged_accounts(cli, sandbox: SandboxApp, store: Store) -> None:
    current = store.get_account(OPS)
    assert current is not None
    result = cli(
        [
            "accounts",
            "update",
            OPS,
            "--set",
            f"sending_gap={current['sending_gap']}",
            "--dry-run",
            "-o",
            "tsv",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert result.stdout.strip().split("\t") == [OPS, "", "unchanged"]
    assert "unchanged 1" in result.stderr


def test_dry_run_table_shows_old_to_new(cli, sandbox: SandboxApp) -> None:
    result = cli(
        ["accounts", "update", OPS, "--warmup-limit", "9", "--dry-run", "-o", "table"],
        catch_exceptions=False,
    )
    assert "warmup.limit" in result.stdout and "→ 9" in result.stdout


# -- many targets ---------------------------------------------------------------------------------


def test_many_targets_refused_without_yes_when_not_a_tty(cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "update", OPS, ZOE, "--daily-limit", "5"])
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert sandbox.requests == []


@pytest.mark.parametrize("form", ["lines", "array", "jsonl"])
def test_stdin_targets_in_every_form(cli, sandbox: SandboxApp, store: Store, form: str) -> None:
    listed = cli(["accounts", "list", "--limit", "5", "-o", "json"]).stdout
    items = json.loads(listed)
    emails = [i["email"] for i in items]
    text = {
        "lines": "\n".join(emails + emails[:1]),  # a duplicate is dropped
        "array": listed,
        "jsonl": "\n".join(json.dumps(i) for i in items),
    }[form]
    sandbox.requests.clear()
    result = cli(
        ["accounts", "update", "-", "--daily-limit", "12", "--yes"],
        input=text,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    assert len(sent(sandbox, "PATCH")) == 5
    for email in emails:
        account = store.get_account(email)
        assert account is not None and account["daily_limit"] == 12
    assert "updated 5" in result.stderr


def test_failures_are_written_and_can_be_fed_back(
    cli, sandbox: SandboxApp, store: Store, tmp_path: Path
) -> None:
    failures = tmp_path / "fails.jsonl"
    result = cli(
        [
            "accounts",
            "update",
            OPS,
            GHOST,
            ZOE,
            "--daily-limit",
            "21",
            "--yes",
            "--failures",
            str(failures),
            "-o",
            "jsonl",
        ]
    )
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["email"]: r["result"] for r in rows} == {
        OPS: "updated",
        GHOST: "failed",
        ZOE: "updated",
    }
    lines = [json.loads(line) for line in failures.read_text().splitlines()]
    assert [(r["email"], r["result"], r["status"]) for r in lines] == [(GHOST, "failed", 404)]
    assert "updated 2" in result.stderr and "failed 1 of 3" in result.stderr
    # Feeding the file back retries exactly the failed target.
    sandbox.requests.clear()
    again = cli(
        [
            "accounts",
            "update",
            "-",
            "--daily-limit",
            "21",
            "--yes",
            "--failures",
            str(tmp_path / "again.jsonl"),
        ],
        input=failures.read_text(),
    )
    assert again.exit_code == 4  # the only target still does not exist
    assert [r.path for r in sandbox.requests if r.method == "PATCH"] == [
        "/api/v2/accounts/nobody%40nowhere-at-all.io"
    ]


def test_no_failure_file_unless_asked_the_journal_is_the_record(
    cli, sandbox: SandboxApp, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("INSTANTLY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    result = cli(["accounts", "update", GHOST, OPS, "--daily-limit", "5", "--yes"])
    assert result.exit_code == 1
    assert not list(tmp_path.rglob("instantly-failures-*.jsonl"))
    [journal] = list((tmp_path / "state" / "runs").glob("*.jsonl"))
    assert GHOST in journal.read_text()
    # A 404 is final: no resume line, the journal names the run to look at.
    assert "--resume" not in result.stderr and journal.stem in result.stderr


def test_field_not_applied_warns_and_fails_with_strict(cli, mock_api) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # An API that ignores daily_limit.
        return httpx.Response(200, json={"email": OPS, "daily_limit": 10, "first_name": "New"})

    mock_api(handler)
    ok = cli(["accounts", "update", OPS, "--daily-limit", "50", "--first-name", "New"])
    assert ok.exit_code == 0
    assert "daily_limit not applied" in ok.stderr
    strict = cli(["accounts", "update", OPS, "--daily-limit", "50", "--strict", "--json"])
    assert strict.exit_code == 1
    assert json.loads(strict.stdout)[0]["result"] == "failed"


# -- pause / resume -----------------------------------------------------------------------------


def test_pause_uses_bulk_endpoint_in_batches_and_reports_failed(
    cli, sandbox: SandboxApp, store: Store
) -> None:
    emails = [a["email"] for a in json.loads(cli(["accounts", "list", "--all", "--json"]).stdout)]
    sandbox.requests.clear()
    targets = emails[:105] + [GHOST]
    result = cli(["accounts", "pause", "-", "--yes", "--json"], input="\n".join(targets))
    assert result.exit_code == 1
    bodies = sent(sandbox, "POST", "/accounts/pause")
    # The batches go out side by side: either may arrive first.
    assert sorted(len(b["emails"]) for b in bodies) == [6, 100]
    assert all(set(b) == {"emails"} for b in bodies)
    rows = {r["email"]: r for r in json.loads(result.stdout)}
    assert rows[GHOST]["result"] == "failed"
    # Accounts the seed has paused already are refused by the API and reported unchanged.
    assert all(rows[e]["result"] in ("paused", "unchanged") for e in emails[:105])
    assert {e for e in emails[:105] if rows[e]["result"] == "unchanged"} == {
        e for e in emails[:105] if rows[e].get("detail") == "already paused"
    }
    account = store.get_account(emails[0])
    assert account is not None and account["status"] == 2


def test_resume_per_account(cli, sandbox: SandboxApp, store: Store) -> None:
    result = cli(["accounts", "resume", ZOE, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    # Read first (an active account is left alone), then resumed.
    assert [r.path for r in sandbox.requests] == [
        "/api/v2/accounts/zoe.muller%40acme-outreach.com",
        "/api/v2/accounts/zoe.muller%40acme-outreach.com/resume",
    ]
    assert "content-type" not in sandbox.requests[1].headers
    account = store.get_account(ZOE)
    assert account is not None and account["status"] == 1
    assert json.loads(result.stdout)[0]["result"] == "resumed"


# -- warmup ---------------------------------------------------------------------------------------


def test_warmup_enable_polls_job_to_success(cli, sandbox: SandboxApp, store: Store) -> None:
    result = cli(
        ["accounts", "warmup", "enable", OPS, ZOE, "--yes", "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr
    assert sent(sandbox, "POST", "/warmup/enable") == [{"emails": [OPS, ZOE]}]
    polls = [r for r in sandbox.requests if "/background-jobs/" in r.path]
    assert len(polls) >= 2
    assert {r["result"] for r in json.loads(result.stdout)} == {"enabled"}
    for email in (OPS, ZOE):
        account = store.get_account(email)
        assert account is not None and account["warmup_status"] == 1


def test_warmup_failed_job_exits_1(cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "warmup", "disable", OPS, GHOST, "--yes", "--json"])
    assert result.exit_code == 1
    rows = {r["email"]: r for r in json.loads(result.stdout)}
    # The failed job is split until the missing account is alone: only it fails.
    assert rows[GHOST]["result"] == "failed" and "failed" in rows[GHOST]["error"]
    assert rows[OPS]["result"] == "disabled"


def test_warmup_no_wait_prints_job_ids(cli, sandbox: SandboxApp) -> None:
    result = cli(
        ["accounts", "warmup", "disable", OPS, "--no-wait", "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr
    [job] = json.loads(result.stdout)
    assert len(job["job_id"]) == 24 and job["emails"] == [OPS]
    assert not [r for r in sandbox.requests if "/background-jobs/" in r.path]


def test_warmup_batches_of_100(cli, sandbox: SandboxApp) -> None:
    emails = [a["email"] for a in json.loads(cli(["accounts", "list", "--all", "--json"]).stdout)]
    sandbox.requests.clear()
    result = cli(
        ["accounts", "warmup", "enable", "-", "--yes", "--no-wait"], input="\n".join(emails)
    )
    assert result.exit_code == 0, result.stderr
    assert [len(b["emails"]) for b in sent(sandbox, "POST", "/warmup/enable")] == [100, 20]


@pytest.mark.parametrize("landed", [True, False])
def test_a_lost_patch_answer_is_settled_by_reading_the_account_back(
    cli, mock_api, landed: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            # The server may have applied it; the client never hears back.
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, json={"email": OPS, "daily_limit": 50 if landed else 10})

    log = mock_api(handler)
    result = cli(["accounts", "update", OPS, "--daily-limit", "50", "--yes", "--json"])
    row = json.loads(result.stdout)[0]
    gets = [r for r in log if r.method == "GET"]
    assert len(gets) == 1 and gets[0].url.path.endswith(OPS)
    if landed:
        assert (result.exit_code, row["result"]) == (0, "updated")
    else:
        assert (result.exit_code, row["result"]) == (1, "failed")
        assert row["code"] == "network_error"
