"""The account lifecycle commands (issue 13): create, delete, mark-fixed, vitals, analytics,
warmup stats, move, tracking-domain and jobs — in-process against the sandbox (every request
contract-checked at teardown) and over real loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.seed import DEFAULT_WORKSPACE_ID, SEED_WORKSPACES
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import Store
from tests.conftest import TEST_KEY, envelope, invoke
from tests.contract import validate_recorded

PLUS = "ops+eu@acme-outreach.com"  # seeded, active
ZOE = "zoe.muller@acme-outreach.com"  # seeded, paused
GHOST = "nobody@nowhere-at-all.io"
PASSWORD = "Imap-Secret-Pw-4417"
OTHER_WS = SEED_WORKSPACES[1]
NEW_FLAGS = [
    "--email", "new.box@newbox.io", "--first-name", "Nora", "--last-name", "Box",
    "--imap-host", "imap.newbox.io", "--smtp-host", "smtp.newbox.io",
]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Default failure files land in the test's own folder, never in the checkout."""
    monkeypatch.chdir(tmp_path)


def emails_of(store: Store, where: str = "") -> list[str]:
    rows = store._conn.execute(f"SELECT email FROM accounts {where} ORDER BY email").fetchall()
    return [r[0] for r in rows]


def errored(store: Store) -> list[str]:
    accounts = [store.get_account(e) for e in emails_of(store)]
    return [a["email"] for a in accounts if a["status"] < 0]


def sent(app: SandboxApp, method: str, part: str) -> list[Any]:
    return [r for r in app.requests if r.method == method and part in r.path]


Hook = Callable[[httpx.Request, Callable[[], httpx.Response]], httpx.Response]


class Wrapped(httpx.BaseTransport):
    """The sandbox app behind a hook that may answer (or break) a request itself."""

    def __init__(self, app: SandboxApp, hook: Hook):
        self.inner = httpx.WSGITransport(app=app)
        self.hook = hook

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.hook(request, lambda: self.inner.handle_request(request))


# -- create ----------------------------------------------------------------------------------------


def test_create_from_flags_with_password_stdin(sandbox: SandboxApp, store: Store) -> None:
    res = invoke(["accounts", "create", *NEW_FLAGS, "--password-stdin", "--json"],
                 input=PASSWORD + "\n", catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    [out] = json.loads(res.stdout)
    assert out["result"] == "created" and out["account"]["email"] == "new.box@newbox.io"
    assert "new.box@newbox.io" in emails_of(store)
    [post] = sent(sandbox, "POST", "/api/v2/accounts")
    body = json.loads(post.body)
    assert body["imap_password"] == body["smtp_password"] == PASSWORD
    assert body["imap_port"] == 993 and body["smtp_port"] == 587 and body["provider_code"] == 1
    assert PASSWORD not in res.stdout + res.stderr
    # Again: the email exists now, which is not a failure.
    again = invoke(["accounts", "create", *NEW_FLAGS, "--password-stdin", "--json"],
                   input=PASSWORD + "\n")
    assert again.exit_code == 0 and json.loads(again.stdout)[0]["result"] == "exists"
    assert len(sent(sandbox, "POST", "/api/v2/accounts")) == 1


def test_create_without_a_password_off_a_terminal_sends_nothing(sandbox: SandboxApp) -> None:
    res = invoke(["accounts", "create", *NEW_FLAGS])
    assert res.exit_code == 2 and "smtp_password" in res.stderr
    assert sandbox.request_count == 0


CSV_HEAD = "email,first_name,last_name,imap_host,smtp_host,password,daily_limit,warmup.limit\n"


def _csv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "boxes.csv"
    path.write_text(CSV_HEAD + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_create_from_csv_dry_run_then_create(sandbox: SandboxApp, store: Store,
                                             tmp_path: Path) -> None:
    path = _csv(tmp_path,
                "a1@newbox.io,A,One,imap.newbox.io,smtp.newbox.io,Pw-aaaa-11,30,10",
                "a2@newbox.io,A,Two,imap.newbox.io,smtp.newbox.io,Pw-aaaa-22,30,10",
                f"{PLUS},Ops,Eu,imap.x.io,smtp.x.io,Pw-aaaa-33,30,10")
    dry = invoke(["accounts", "create", "--from", str(path), "--dry-run", "-o", "jsonl"])
    assert dry.exit_code == 0, dry.stderr
    assert [json.loads(line)["result"] for line in dry.stdout.splitlines()] == [
        "would-create", "would-create", "exists"]
    assert not sent(sandbox, "POST", "/api/v2/accounts")
    res = invoke(["accounts", "create", "--from", str(path), "--yes", "-o", "jsonl"])
    assert res.exit_code == 0, res.stderr
    results = {json.loads(line)["email"]: json.loads(line) for line in res.stdout.splitlines()}
    assert results["a1@newbox.io"]["result"] == "created"
    assert results[PLUS]["result"] == "exists"
    assert store.get_account("a2@newbox.io")["warmup"]["limit"] == 10
    assert "Pw-aaaa" not in res.stdout + res.stderr


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("b1@newbox.io,B,One,imap.newbox.io,smtp.newbox.io,Pw-bbbb-1,lots,10", "daily_limit"),
        ("not-an-email,B,One,imap.newbox.io,smtp.newbox.io,Pw-bbbb-1,30,10", "email"),
        ("b1@newbox.io,B,One,imap.newbox.io,,Pw-bbbb-1,30,10", "smtp_host"),
        ("b1@newbox.io,B,One,imap.newbox.io,smtp.newbox.io,,30,10", "password"),
    ],
)
def test_create_validates_every_row_first(sandbox: SandboxApp, tmp_path: Path, row: str,
                                          message: str) -> None:
    path = _csv(tmp_path, "ok@newbox.io,O,K,imap.newbox.io,smtp.newbox.io,Pw-okok-1,30,10", row)
    res = invoke(["accounts", "create", "--from", str(path), "--yes"])
    assert res.exit_code == 2
    assert "line 3" in res.stderr and message in res.stderr
    assert sandbox.request_count == 0  # the good first row was not sent either
    assert "Pw-bbbb-1" not in res.stderr and "Pw-okok-1" not in res.stderr


def test_create_api_error_never_writes_passwords(sandbox: SandboxApp, runtime: Any,
                                                 tmp_path: Path) -> None:
    def hook(request: httpx.Request, forward: Callable[[], httpx.Response]) -> httpx.Response:
        if request.method == "POST":
            return envelope(400, "Bad Request", f"body/imap_password '{PASSWORD}' is rejected")
        return forward()

    runtime.transport = Wrapped(sandbox, hook)
    failures = tmp_path / "fails.jsonl"
    res = invoke(["accounts", "create", *NEW_FLAGS, "--password-stdin", "--failures",
                  str(failures), "-o", "json"], input=PASSWORD)
    assert res.exit_code == 1
    assert PASSWORD not in res.stdout + res.stderr + failures.read_text()
    assert json.loads(failures.read_text())["email"] == "new.box@newbox.io"


@pytest.mark.parametrize("reached", [True, False])
def test_create_after_a_lost_answer_looks_up_before_retrying(
    sandbox: SandboxApp, store: Store, runtime: Any, reached: bool
) -> None:
    """A timeout after the server created it: found, not sent again. A timeout before it
    arrived: not found, sent once more. Either way exactly one account."""
    posts = [0]

    def hook(request: httpx.Request, forward: Callable[[], httpx.Response]) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/api/v2/accounts":
            posts[0] += 1
            if posts[0] == 1:
                if reached:
                    forward()
                raise httpx.ReadTimeout("timed out", request=request)
        return forward()

    runtime.transport = Wrapped(sandbox, hook)
    res = invoke(["accounts", "create", *NEW_FLAGS, "--password-stdin", "--json"],
                 input=PASSWORD)
    assert res.exit_code == 0, res.stderr
    [out] = json.loads(res.stdout)
    assert out["result"] == "created"
    assert posts[0] == (1 if reached else 2)
    assert emails_of(store, "WHERE email LIKE 'new.box%'") == ["new.box@newbox.io"]
    assert ("answer was lost" in res.stderr) is reached


def test_create_resume_from_the_failure_file(sandbox: SandboxApp, store: Store, runtime: Any,
                                             tmp_path: Path) -> None:
    path = _csv(tmp_path,
                "r1@newbox.io,R,One,imap.newbox.io,smtp.newbox.io,Pw-rrrr-11,30,10",
                "r2@newbox.io,R,Two,imap.newbox.io,smtp.newbox.io,Pw-rrrr-22,30,10",
                "r3@newbox.io,R,Three,imap.newbox.io,smtp.newbox.io,Pw-rrrr-33,30,10")

    def hook(request: httpx.Request, forward: Callable[[], httpx.Response]) -> httpx.Response:
        if request.method == "POST" and b"r2@newbox.io" in request.content:
            return envelope(500, "Internal Server Error", "boom")
        return forward()

    runtime.transport = Wrapped(sandbox, hook)
    failures = tmp_path / "fails.jsonl"
    res = invoke(["accounts", "create", "--from", str(path), "--yes", "--failures",
                  str(failures)])
    assert res.exit_code == 1
    assert [json.loads(line)["email"] for line in failures.read_text().splitlines()] == [
        "r2@newbox.io"]
    assert "Pw-rrrr" not in failures.read_text()
    assert "accounts create --resume" in res.stderr
    runtime.transport = httpx.WSGITransport(app=sandbox)
    again = invoke(["accounts", "create", "--from", str(path), "-", "--yes", "-o", "jsonl"],
                   input=failures.read_text())
    assert again.exit_code == 0, again.stderr
    assert "did exactly this" not in again.stderr  # another selection: not a twin run
    assert [json.loads(line)["result"] for line in again.stdout.splitlines()] == ["created"]
    assert {"r1@newbox.io", "r2@newbox.io", "r3@newbox.io"} <= set(emails_of(store))


# -- delete ----------------------------------------------------------------------------------------


def test_delete_dry_run_confirmation_and_deleted_objects(sandbox: SandboxApp,
                                                         store: Store) -> None:
    dry = invoke(["accounts", "delete", PLUS, ZOE, "--dry-run", "-o", "json"])
    assert dry.exit_code == 0, dry.stderr
    assert [o["result"] for o in json.loads(dry.stdout)] == ["would-delete"] * 2
    assert not sent(sandbox, "DELETE", "")
    refused = invoke(["accounts", "delete", PLUS])
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert not sent(sandbox, "DELETE", "")
    res = invoke(["accounts", "delete", PLUS, ZOE, "--yes", "--json"])
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    assert [o["result"] for o in out] == ["deleted", "deleted"]
    assert out[0]["account"]["email"] == PLUS and "warmup" in out[0]["account"]
    assert PLUS not in emails_of(store) and ZOE not in emails_of(store)


def test_delete_confirmation_names_count_profile_and_workspace(
    runtime, sandbox: SandboxApp
) -> None:
    runtime.terminal = runtime.terminal._replace(stdin_isatty=True, stdout_isatty=True)
    res = invoke(["--workspace", DEFAULT_WORKSPACE_ID, "accounts", "delete", PLUS, ZOE],
                 input="n\n")
    assert res.exit_code == 2
    # PLUS is active: the answer must be the number of accounts.
    [asked] = [line for line in res.stderr.splitlines() if "Type 2 to confirm" in line]
    assert "2 accounts" in asked and "profile 'default'" in asked
    assert DEFAULT_WORKSPACE_ID in asked
    assert not sent(sandbox, "DELETE", "")


def test_delete_missing_and_empty(sandbox: SandboxApp) -> None:
    gone = invoke(["accounts", "delete", GHOST, "--yes", "--json"])
    assert gone.exit_code == 0 and json.loads(gone.stdout)[0]["result"] == "gone"
    assert invoke(["accounts", "delete", GHOST, "--dry-run"]).exit_code == 4
    empty = invoke(["accounts", "delete", "-", "--yes"], input="\n")
    assert empty.exit_code == 0 and "Nothing to do" in empty.stderr
    assert invoke(["accounts", "delete", "not-an-email", "--yes"]).exit_code == 2


def test_delete_resume_from_the_failure_file(sandbox: SandboxApp, store: Store, runtime: Any,
                                             tmp_path: Path) -> None:
    def hook(request: httpx.Request, forward: Callable[[], httpx.Response]) -> httpx.Response:
        if request.method == "DELETE" and "zoe" in request.url.path:
            return envelope(503, "Service Unavailable", "try later")
        return forward()

    runtime.transport = Wrapped(sandbox, hook)
    failures = tmp_path / "fails.jsonl"
    res = invoke(["accounts", "delete", PLUS, ZOE, "--yes", "--failures", str(failures)])
    assert res.exit_code == 1 and ZOE in failures.read_text()
    assert PLUS not in emails_of(store) and ZOE in emails_of(store)
    runtime.transport = httpx.WSGITransport(app=sandbox)
    again = invoke(["accounts", "delete", "-", "--yes", "--json"], input=failures.read_text())
    assert again.exit_code == 0, again.stderr
    assert [o["email"] for o in json.loads(again.stdout)] == [ZOE]
    assert ZOE not in emails_of(store)


# -- mark-fixed ------------------------------------------------------------------------------------


def test_mark_fixed_reports_status_before_and_after(sandbox: SandboxApp, store: Store) -> None:
    broken = errored(store)[:2]
    res = invoke(["accounts", "mark-fixed", *broken, PLUS, "--yes", "--json"])
    assert res.exit_code == 0, res.stderr
    out = {o["email"]: o for o in json.loads(res.stdout)}
    for email in broken:
        assert out[email]["result"] == "fixed"
        assert out[email]["status_before"] < 0 and out[email]["status_after"] == 1
        assert store.get_account(email)["status"] == 1
    assert out[PLUS]["result"] == "unchanged" and out[PLUS]["status_before"] == 1
    table = invoke(["accounts", "mark-fixed", broken[0], "-o", "tsv"])
    assert table.stdout.split("\t")[1:3] == ["Active", "Active"]


def test_mark_fixed_missing_bad_input_and_api_error(sandbox: SandboxApp, runtime: Any) -> None:
    assert invoke(["accounts", "mark-fixed", GHOST]).exit_code == 4
    assert invoke(["accounts", "mark-fixed", "nope"]).exit_code == 2
    before = sandbox.request_count
    assert invoke(["accounts", "mark-fixed", "nope", PLUS, "--yes"]).exit_code == 2
    assert sandbox.request_count == before

    def hook(request: httpx.Request, forward: Callable[[], httpx.Response]) -> httpx.Response:
        if request.url.path.endswith("/mark-fixed"):
            return envelope(403, "Forbidden", "scope accounts:update required")
        return forward()

    runtime.transport = Wrapped(sandbox, hook)
    res = invoke(["accounts", "mark-fixed", PLUS, "--json"])
    assert res.exit_code == 1 and "accounts:update" in res.stdout


# -- move ------------------------------------------------------------------------------------------


def test_move_needs_two_different_workspaces_and_finds_the_source(sandbox: SandboxApp) -> None:
    same = invoke(["--workspace", OTHER_WS, "accounts", "move", PLUS, "--to", OTHER_WS, "--yes"])
    assert same.exit_code == 2 and "same" in same.stderr
    assert invoke(["accounts", "move", PLUS, "--from", DEFAULT_WORKSPACE_ID, "--to",
                   OTHER_WS]).exit_code == 2  # no --yes off a terminal
    assert sandbox.request_count == 0
    # No --from and no current workspace: the account's own organization is the source.
    res = invoke(["accounts", "move", PLUS, "--to", OTHER_WS, "--yes", "--json"])
    assert res.exit_code == 0, res.stderr
    [move] = sent(sandbox, "POST", "/accounts/move")
    assert json.loads(move.body)["source_workspace_id"] == DEFAULT_WORKSPACE_ID


def test_move_then_the_account_lives_in_the_destination(sandbox: SandboxApp) -> None:
    res = invoke(["--workspace", DEFAULT_WORKSPACE_ID, "accounts", "move", PLUS, ZOE, "--to",
                  OTHER_WS, "--yes", "--json"])
    assert res.exit_code == 0, res.stderr
    assert [o["result"] for o in json.loads(res.stdout)] == ["moved", "moved"]
    [move] = sent(sandbox, "POST", "/accounts/move")
    assert json.loads(move.body) == {"emails": [PLUS, ZOE],
                                     "source_workspace_id": DEFAULT_WORKSPACE_ID,
                                     "destination_workspace_id": OTHER_WS}
    there = invoke(["--workspace", OTHER_WS, "accounts", "get", PLUS, "--json"])
    assert json.loads(there.stdout)["organization"] == OTHER_WS
    assert invoke(["accounts", "get", PLUS]).exit_code == 4


def test_move_missing_account_fails(sandbox: SandboxApp, tmp_path: Path) -> None:
    res = invoke(["accounts", "move", GHOST, "--from", DEFAULT_WORKSPACE_ID, "--to", OTHER_WS,
                  "--yes", "--failures", str(tmp_path / "f.jsonl")])
    assert res.exit_code == 4


# -- vitals and tracking domain -----------------------------------------------------------------


def test_vitals_tests_each_domain_once_and_fails_the_gate(sandbox: SandboxApp,
                                                          store: Store) -> None:
    fabrikam = [e for e in emails_of(store) if e.endswith("@fabrikam-sales.com")][:3]
    res = invoke(["accounts", "vitals", *fabrikam, PLUS, ZOE, "--json"])
    assert res.exit_code == 1, res.stderr  # fabrikam-sales.com fails SPF
    out = {d["domain"]: d for d in json.loads(res.stdout)}
    assert out["fabrikam-sales.com"]["spf"] is False
    assert out["fabrikam-sales.com"]["accounts"] == fabrikam
    assert out["acme-outreach.com"]["allPass"] is True
    [call] = sent(sandbox, "POST", "/test/vitals")
    assert len(json.loads(call.body)["accounts"]) == 2  # one account per domain
    tsv = invoke(["accounts", "vitals", fabrikam[0], "-o", "tsv"])
    assert tsv.stdout.split("\t")[2:7] == ["✓", "✗", "✓", "✓", "SPF failed\n"]
    ok = invoke(["accounts", "vitals", PLUS])
    assert ok.exit_code == 0


def test_vitals_bad_input_and_api_error(sandbox: SandboxApp, runtime: Any) -> None:
    assert invoke(["accounts", "vitals", "bad@"]).exit_code == 2
    assert sandbox.request_count == 0
    runtime.transport = Wrapped(sandbox, lambda r, f: envelope(500, "Internal Server Error", "x"))
    res = invoke(["accounts", "vitals", PLUS])
    assert res.exit_code == 1 and "Error:" in res.stderr


def test_tracking_domain(sandbox: SandboxApp, runtime: Any) -> None:
    ok = invoke(["accounts", "tracking-domain", "track.acme.io", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["cname"] is True
    bad = invoke(["accounts", "tracking-domain", "track.getacme.io", "-o", "tsv"])
    assert bad.exit_code == 1 and bad.stdout == "track.getacme.io\t✓\t✗\n"
    before = sandbox.request_count
    assert invoke(["accounts", "tracking-domain", "https://track.acme.io/x"]).exit_code == 2
    assert sandbox.request_count == before
    runtime.transport = Wrapped(sandbox, lambda r, f: envelope(401, "Unauthorized", "bad key"))
    assert invoke(["accounts", "tracking-domain", "track.acme.io"]).exit_code == 3


# -- analytics -------------------------------------------------------------------------------------


def test_analytics_default_week_totals_per_account_and_day(sandbox: SandboxApp) -> None:
    res = invoke(["accounts", "analytics", PLUS, ZOE, "--json"])
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    assert [r["email_account"] for r in out] == [PLUS, ZOE]
    assert {"sent", "bounced", "opened", "replies", "clicks"} <= set(out[0])
    [call] = sent(sandbox, "GET", "/analytics/daily")
    today = datetime.now(UTC).date()
    assert f"start_date={today - timedelta(days=6)}" in call.query
    assert f"end_date={today}" in call.query
    assert "emails=ops%2Beu%40acme-outreach.com&emails=" in call.query  # repeated, not a list
    by_day = invoke(["accounts", "analytics", PLUS, ZOE, "--by", "day", "--json"])
    days = json.loads(by_day.stdout)
    assert len(days) == 7 and days[0]["date"] == str(today - timedelta(days=6))
    assert sum(d["sent"] for d in days) == sum(r["sent"] for r in out)


def test_analytics_413_is_split_never_failed(sandbox: SandboxApp) -> None:
    res = invoke(["accounts", "analytics", "--all", "--from", "2026-10-01", "--to",
                  "2026-11-15", "-o", "jsonl"])
    assert res.exit_code == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(rows) == 120
    statuses = [r.status for r in sent(sandbox, "GET", "/analytics/daily")]
    assert 413 in statuses and statuses[-1] == 200
    assert "splitting" not in res.stderr  # routine: said only with -v
    loud = invoke(["-v", "accounts", "analytics", "--all", "--from", "2026-10-01", "--to",
                   "2026-11-15", "-o", "jsonl"])
    assert loud.exit_code == 0 and "splitting" in loud.stderr


@pytest.mark.parametrize("args", [["--from", "yesterday"], ["--from", "2026-03-10", "--to",
                                                            "2026-03-01"], ["--by", "week"], []])
def test_analytics_bad_input_sends_nothing(sandbox: SandboxApp, args: list[str]) -> None:
    res = invoke(["accounts", "analytics", *([PLUS] if args else []), *args])
    assert res.exit_code == 2
    assert sandbox.request_count == 0


def test_analytics_missing_account_and_api_error(sandbox: SandboxApp, runtime: Any) -> None:
    res = invoke(["accounts", "analytics", PLUS, GHOST, "-o", "tsv"])
    assert res.exit_code == 4 and GHOST in res.stderr and res.stdout.startswith(PLUS)
    runtime.transport = Wrapped(sandbox, lambda r, f: envelope(402, "Payment Required", "plan"))
    assert invoke(["accounts", "analytics", PLUS]).exit_code == 3


def test_analytics_service_chunks_emails_by_200() -> None:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.services.accounts import analytics

    store = Store()
    store.ensure_seeded(450)
    app = SandboxApp(store)
    client = InstantlyClient(api_key="k", base_url="http://sandbox.test",
                             transport=httpx.WSGITransport(app=app))
    emails = emails_of(store)
    day = date(2026, 1, 20)
    data = analytics.daily(client, emails, day, day)
    sizes = [r.query.count("emails=") for r in app.requests]
    assert sizes == [200, 200, 50] and data.splits == 0
    assert len(analytics.totals(data.rows, "account")) == 450
    validate_recorded(app, every_request=True)
    store.close()


def test_bar_chart_scales_to_the_busiest_day() -> None:
    from instantly_cli.views_fleet import bar_chart

    text = bar_chart([{"date": "2026-03-01", "sent": 10}, {"date": "2026-03-02", "sent": 5}],
                     width=10)
    assert text.splitlines()[1:] == ["2026-03-01  ██████████ 10", "2026-03-02  █████ 5"]


# -- warmup stats ---------------------------------------------------------------------------------


def test_warmup_stats_per_account_and_aggregate(sandbox: SandboxApp) -> None:
    res = invoke(["accounts", "warmup", "stats", PLUS, ZOE, "--json"])
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    rows = out["accounts"]
    assert [r["email"] for r in rows] == [PLUS, ZOE]
    for r in rows:
        assert r["inbox_rate"] == round(100 * r["landed_inbox"] / r["sent"], 1)
        assert r["health"] in ("good", "fair", "poor")
    assert out["aggregate"]["sent"] == sum(r["sent"] for r in rows)
    table = invoke(["accounts", "warmup", "stats", PLUS, "-o", "table"])
    assert "All 1 accounts" in table.stdout and "%" in table.stdout


def test_warmup_stats_all_in_batches_of_100(sandbox: SandboxApp) -> None:
    res = invoke(["accounts", "warmup", "stats", "--all", "-o", "jsonl"])
    assert res.exit_code == 0, res.stderr
    assert len(res.stdout.splitlines()) == 120
    sizes = [len(json.loads(r.body)["emails"]) for r in sent(sandbox, "POST", "warmup-analytics")]
    assert sizes == [100, 20]


def test_warmup_stats_missing_bad_input_and_api_error(sandbox: SandboxApp, runtime: Any) -> None:
    assert invoke(["accounts", "warmup", "stats", GHOST]).exit_code == 4
    before = sandbox.request_count
    assert invoke(["accounts", "warmup", "stats"]).exit_code == 2
    assert invoke(["accounts", "warmup", "stats", PLUS, "--all"]).exit_code == 2
    assert sandbox.request_count == before
    runtime.transport = Wrapped(sandbox, lambda r, f: envelope(500, "Internal Server Error", "x"))
    assert invoke(["accounts", "warmup", "stats", PLUS]).exit_code == 1


# -- jobs ------------------------------------------------------------------------------------------


def _submit(*emails: str) -> list[dict[str, Any]]:
    res = invoke(["accounts", "warmup", "enable", *emails, "--no-wait", "--json", "--yes"])
    assert res.exit_code == 0, res.stderr
    jobs: list[dict[str, Any]] = json.loads(res.stdout)
    return jobs


def test_jobs_wait_accepts_the_no_wait_output(sandbox: SandboxApp, store: Store) -> None:
    jobs = _submit(ZOE)
    res = invoke(["jobs", "wait", "-", "--json"], input=json.dumps(jobs))
    assert res.exit_code == 0, res.stderr
    [job] = json.loads(res.stdout)
    assert job["id"] == jobs[0]["job_id"] and job["status"] == "success"
    assert "In progress 50%" in res.stderr and "Success 100%" in res.stderr
    assert store.get_account(ZOE)["warmup_status"] == 1


def test_jobs_list_and_get(sandbox: SandboxApp) -> None:
    [job] = _submit(ZOE)
    listed = invoke(["jobs", "list", "--status", "pending", "--type", "update-warmup-accounts",
                     "--json"])
    assert listed.exit_code == 0, listed.stderr
    assert job["job_id"] in [j["id"] for j in json.loads(listed.stdout)]
    got = invoke(["jobs", "get", job["job_id"], "--json"])
    assert got.exit_code == 0 and json.loads(got.stdout)["id"] == job["job_id"]
    [call] = sent(sandbox, "GET", "/background-jobs")[:1]
    assert "status=pending" in call.query


def test_jobs_bad_input_missing_and_failed(sandbox: SandboxApp) -> None:
    assert invoke(["jobs", "get", "0" * 23 + "z"]).exit_code == 2
    assert invoke(["jobs", "list", "--status", "done"]).exit_code == 2
    assert invoke(["jobs", "wait", "-"], input="not-a-job\n").exit_code == 2
    assert sandbox.request_count == 0
    assert invoke(["jobs", "get", "0" * 24]).exit_code == 4
    assert invoke(["jobs", "wait", "0" * 24]).exit_code == 4
    [job] = _submit(GHOST)  # the job fails: the account does not exist
    res = invoke(["jobs", "wait", job["job_id"], "-o", "tsv"])
    assert res.exit_code == 1 and "\tFailed\t" in res.stdout


# -- over real HTTP --------------------------------------------------------------------------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SandboxServer, Store]]:
    store = Store()
    store.ensure_seeded(120)
    app = SandboxApp(store, api_key=TEST_KEY)
    server = SandboxServer(app, "127.0.0.1", 0).start()
    monkeypatch.setenv("INSTANTLY_API_KEY", TEST_KEY)
    monkeypatch.setenv("INSTANTLY_BASE_URL", server.url)
    yield server, store
    server.stop()
    validate_recorded(app, every_request=True)
    store.close()


def test_lifecycle_over_loopback(served: tuple[SandboxServer, Store]) -> None:
    server, store = served
    # The connection drops after the server created the account: found, never sent twice.
    server.inject("drop", method="POST", path_contains="/api/v2/accounts")
    made = invoke(["accounts", "create", *NEW_FLAGS, "--password-stdin", "--json"],
                  input=PASSWORD)
    assert made.exit_code == 0, made.stderr
    assert json.loads(made.stdout)[0]["result"] == "created" and "answer was lost" in made.stderr
    assert emails_of(store, "WHERE email LIKE 'new.box%'") == ["new.box@newbox.io"]
    fixed = invoke(["accounts", "mark-fixed", errored(store)[0], "--json"])
    assert fixed.exit_code == 0 and json.loads(fixed.stdout)[0]["status_after"] == 1
    assert invoke(["accounts", "vitals", PLUS]).exit_code == 0
    assert invoke(["accounts", "tracking-domain", "track.acme.io"]).exit_code == 0
    assert invoke(["accounts", "analytics", PLUS, "--by", "day"]).exit_code == 0
    assert invoke(["accounts", "warmup", "stats", PLUS]).exit_code == 0
    jobs = _submit(ZOE)
    assert invoke(["jobs", "wait", "-"], input=json.dumps(jobs)).exit_code == 0
    assert invoke(["jobs", "list"]).exit_code == 0
    moved = invoke(["accounts", "move", ZOE, "--from", DEFAULT_WORKSPACE_ID, "--to", OTHER_WS,
                    "--yes"])
    assert moved.exit_code == 0, moved.stderr
    gone = invoke(["accounts", "delete", "new.box@newbox.io", "--yes", "--json"])
    assert gone.exit_code == 0 and "new.box@newbox.io" not in emails_of(store)



def test_move_with_an_unknown_email_fails_only_that_one_over_loopback(
    served: tuple[SandboxServer, Store], tmp_path: Path
) -> None:
    server, store = served
    failures = tmp_path / "moves.jsonl"
    res = invoke(["accounts", "move", ZOE, GHOST, PLUS, "--from", DEFAULT_WORKSPACE_ID, "--to",
                  OTHER_WS, "--yes", "--json", "--failures", str(failures)])
    assert res.exit_code == 1, res.stderr
    out = {o["email"]: o for o in json.loads(res.stdout)}
    assert [out[e]["result"] for e in (ZOE, GHOST, PLUS)] == ["moved", "failed", "moved"]
    assert out[GHOST]["code"] == "not_found" and GHOST in out[GHOST]["error"]
    for email in (ZOE, PLUS):
        assert store.get_account(email, OTHER_WS) is not None
        assert store.get_account(email) is None
    assert [json.loads(line)["email"] for line in failures.read_text().splitlines()] == [GHOST]
    moves = [json.loads(r.body)["emails"] for r in server.app.requests
             if r.method == "POST" and r.path.endswith("/accounts/move")]
    assert moves[0] == [ZOE, GHOST, PLUS] and [ZOE] in moves and [GHOST] in moves


def test_move_rerun_keeps_moved_ones_unchanged_and_moves_the_rest(sandbox: SandboxApp,
                                                                  store: Store) -> None:
    first = invoke(["accounts", "move", PLUS, "--from", DEFAULT_WORKSPACE_ID, "--to", OTHER_WS,
                    "--yes"])
    assert first.exit_code == 0, first.stderr
    res = invoke(["accounts", "move", PLUS, ZOE, GHOST, "--from", DEFAULT_WORKSPACE_ID, "--to",
                  OTHER_WS, "--yes", "--json"])
    assert res.exit_code == 1, res.stderr
    assert [o["result"] for o in json.loads(res.stdout)] == ["unchanged", "moved", "failed"]
    assert store.get_account(ZOE, OTHER_WS) is not None
    moves = [json.loads(r.body)["emails"] for r in sent(sandbox, "POST", "/accounts/move")]
    # The account found in the destination is not sent again; the rest is halved.
    assert moves == [[PLUS], [PLUS, ZOE, GHOST], [ZOE, GHOST], [ZOE], [GHOST]]


# -- more create paths -----------------------------------------------------------------------------


def test_create_from_jsonl_with_nested_warmup_and_password_stdin(
    sandbox: SandboxApp, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "boxes.jsonl"
    rows = [
        {"email": "j1@newbox.io", "first_name": "J", "last_name": "One", "provider_code": "imap",
         "imap_host": "imap.newbox.io", "smtp_host": "smtp.newbox.io",
         "warmup": {"limit": 12, "advanced": {"weekday_only": True}}},
        {"email": "j2@newbox.io", "first_name": "J", "last_name": "Two", "imap_host": "i.io",
         "smtp_host": "s.io", "imap_password": "Own-imap-pw-1", "smtp_password": "Own-smtp-pw-1"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = invoke(["accounts", "create", "--from", str(path), "--password-stdin", "--yes",
                  "--json"], input="Shared-imap-pw\nShared-smtp-pw\n")
    assert res.exit_code == 0, res.stderr
    # Rows are created concurrently: match the requests to the rows by email, not by order.
    bodies = {b["email"]: b for b in (json.loads(r.body)
                                      for r in sent(sandbox, "POST", "/api/v2/accounts"))}
    assert bodies["j1@newbox.io"]["imap_password"] == "Shared-imap-pw"
    assert bodies["j1@newbox.io"]["smtp_password"] == "Shared-smtp-pw"
    assert bodies["j1@newbox.io"]["warmup"] == {"limit": 12, "advanced": {"weekday_only": True}}
    assert bodies["j2@newbox.io"]["imap_password"] == "Own-imap-pw-1"  # the row's own wins
    assert store.get_account("j1@newbox.io")["warmup"]["advanced"]["weekday_only"] is True
    for secret in ("Shared-imap-pw", "Shared-smtp-pw", "Own-imap-pw-1"):
        assert secret not in res.stdout + res.stderr


def test_create_refuses_unknown_columns_and_duplicates(sandbox: SandboxApp,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("email,first_name,last_name,imap_host,smtp_host,password,colour\n"
                    "c@newbox.io,C,D,i.io,s.io,Pw-cccc-1,blue\n", encoding="utf-8")
    res = invoke(["accounts", "create", "--from", str(path), "--yes"])
    assert res.exit_code == 2 and "colour" in res.stderr and "line 1 (the header)" in res.stderr
    dup = _csv(tmp_path, "d@newbox.io,D,One,i.io,s.io,Pw-dddd-1,30,10",
               "D@newbox.io,D,Two,i.io,s.io,Pw-dddd-2,30,10")
    res = invoke(["accounts", "create", "--from", str(dup), "--yes"])
    assert res.exit_code == 2 and "line 2" in res.stderr and "line 3" in res.stderr
    assert invoke(["accounts", "create", "--from", str(dup), "--email", "x@y.io"]).exit_code == 2
    assert invoke(["accounts", "create", "--from", str(tmp_path / "absent.csv")]).exit_code == 2
    assert sandbox.request_count == 0


def test_create_prompts_for_hidden_passwords_on_a_terminal(runtime, sandbox: SandboxApp) -> None:
    runtime.terminal = runtime.terminal._replace(stdin_isatty=True)
    res = invoke(["accounts", "create", *NEW_FLAGS, "--json"], input="Prompted-pw-99\n\n")
    assert res.exit_code == 0, res.stderr
    assert "IMAP password for" in res.stderr and "new.box@newbox.io" in res.stderr
    assert "SMTP password (Enter: the same): " in res.stderr
    assert "Prompted-pw-99" not in res.stderr + res.stdout
    [post] = sent(sandbox, "POST", "/api/v2/accounts")
    assert json.loads(post.body)["smtp_password"] == "Prompted-pw-99"  # Enter: the same


def test_create_conflict_is_exists(sandbox: SandboxApp, runtime: Any) -> None:
    def hook(request: httpx.Request, forward: Callable[[], httpx.Response]) -> httpx.Response:
        if request.method == "POST":  # created by someone else in the meantime
            return envelope(409, "Conflict", "Account already exists")
        return forward()

    runtime.transport = Wrapped(sandbox, hook)
    res = invoke(["accounts", "create", *NEW_FLAGS, "--password-stdin", "--json"],
                 input=PASSWORD)
    assert res.exit_code == 0 and json.loads(res.stdout)[0]["result"] == "exists"


def test_mark_fixed_dry_run_changes_nothing(sandbox: SandboxApp, store: Store) -> None:
    broken = errored(store)[0]
    res = invoke(["accounts", "mark-fixed", broken, PLUS, "--dry-run", "--json"])
    assert res.exit_code == 0, res.stderr
    assert [o["result"] for o in json.loads(res.stdout)] == ["would-fix", "unchanged"]
    assert not sent(sandbox, "POST", "mark-fixed")
    assert store.get_account(broken)["status"] < 0


def test_jobs_wait_accepts_the_no_wait_tsv(sandbox: SandboxApp) -> None:
    res = invoke(["accounts", "warmup", "enable", ZOE, PLUS, "--no-wait", "--yes"])
    assert res.exit_code == 0 and "\t" in res.stdout  # piped: TSV, id first
    waited = invoke(["jobs", "wait", "-", "--json"], input=res.stdout)
    assert waited.exit_code == 0, waited.stderr
    assert [j["status"] for j in json.loads(waited.stdout)] == ["success"]


def test_bulk_lifecycle_results_take_fields(sandbox: SandboxApp) -> None:
    res = invoke(["accounts", "delete", PLUS, "--dry-run", "--json", "--fields",
                  "email,account.first_name"])
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout) == [{"email": PLUS, "account": {"first_name": "Ops"}}]
    csv_out = invoke(["accounts", "mark-fixed", PLUS, "-o", "csv", "--fields",
                      "email,status_after"])
    assert csv_out.stdout == f"email,status_after\n{PLUS},Active\n"


@pytest.mark.parametrize("reached", [True, False])
def test_move_after_a_lost_answer_looks_in_the_destination(
    sandbox: SandboxApp, runtime: Any, reached: bool
) -> None:
    posts = [0]

    def hook(request: httpx.Request, forward: Callable[[], httpx.Response]) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/accounts/move"):
            posts[0] += 1
            if posts[0] == 1:
                if reached:
                    forward()
                raise httpx.ReadTimeout("timed out", request=request)
        return forward()

    runtime.transport = Wrapped(sandbox, hook)
    res = invoke(["accounts", "move", PLUS, ZOE, "--from", DEFAULT_WORKSPACE_ID, "--to",
                  OTHER_WS, "--yes", "--json"])
    assert res.exit_code == 0, res.stderr
    assert [o["result"] for o in json.loads(res.stdout)] == ["moved", "moved"]
    assert posts[0] == (1 if reached else 2)
    looked = [r for r in sent(sandbox, "GET", "/api/v2/accounts/")
              if r.headers.get("x-as-workspace") == OTHER_WS]
    assert looked  # the lookup asked the destination workspace
    assert ("answer was lost" in res.stderr) is reached


def test_mark_fixed_and_move_resume_from_the_failure_file(
    sandbox: SandboxApp, store: Store, runtime: Any, tmp_path: Path
) -> None:
    broken = errored(store)[:2]

    def hook(request: httpx.Request, forward: Callable[[], httpx.Response]) -> httpx.Response:
        path = request.url.raw_path.decode()
        if request.method == "POST" and broken[1].replace("+", "%2B") in path:
            return envelope(500, "Internal Server Error", "boom")
        if request.url.path.endswith("/accounts/move"):
            return envelope(502, "Bad Gateway", "upstream")
        return forward()

    runtime.transport = Wrapped(sandbox, hook)
    fixes = tmp_path / "fixes.jsonl"
    res = invoke(["accounts", "mark-fixed", *broken, "--yes", "--failures", str(fixes)])
    assert res.exit_code == 1
    assert [json.loads(line)["email"] for line in fixes.read_text().splitlines()] == [broken[1]]
    moves = tmp_path / "moves.jsonl"
    moved = invoke(["accounts", "move", PLUS, "--from", DEFAULT_WORKSPACE_ID, "--to", OTHER_WS,
                    "--yes", "--failures", str(moves)])
    assert moved.exit_code == 1 and "upstream" in moved.stderr
    assert len(sent(sandbox, "POST", "/accounts/move")) == 0  # the 502 was not forwarded
    runtime.transport = httpx.WSGITransport(app=sandbox)
    again = invoke(["accounts", "mark-fixed", "-", "--yes", "--json"], input=fixes.read_text())
    assert again.exit_code == 0 and json.loads(again.stdout)[0]["result"] == "fixed"
    assert store.get_account(broken[1])["status"] == 1
    again = invoke(["accounts", "move", "-", "--from", DEFAULT_WORKSPACE_ID, "--to", OTHER_WS,
                    "--yes", "--json"], input=moves.read_text())
    assert again.exit_code == 0 and json.loads(again.stdout)[0]["result"] == "moved"


def test_jobs_list_api_error(sandbox: SandboxApp, runtime: Any) -> None:
    runtime.transport = Wrapped(sandbox, lambda r, f: envelope(403, "Forbidden", "scope"))
    res = invoke(["jobs", "list", "--json"])
    assert res.exit_code == 3 and json.loads(res.stderr)["error"]["code"] == "forbidden"
