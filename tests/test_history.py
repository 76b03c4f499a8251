"""Fleet history: the database (changes only, atomic, clear errors), --since, prune, the
timeline, webhooks and the audit-log annotation."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import Result

from instantly_cli.client import InstantlyClient
from instantly_cli.errors import UsageError
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import Store
from instantly_cli.services import history as h
from instantly_cli.services.accounts import diff as d
from instantly_cli.services.accounts.summary import Thresholds
from instantly_cli.settings import state_dir
from tests.test_redaction_forms import ECHOES, KEY, leaked

Cli = Callable[..., Result]
T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def account(email: str, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"email": email, "status": 1, "warmup_status": 1,
                            "stat_warmup_score": 98, "daily_limit": 30,
                            "warmup": {"limit": 20}, "provider_code": 2}
    return {**base, **over}


def states(*accounts: dict[str, Any]) -> dict[str, h.State]:
    return {a["email"]: h.state_of(a) for a in accounts}


def change_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM changes").fetchone()[0])


# -- the database ---------------------------------------------------------------------------------


def test_only_changes_are_stored_and_any_snapshot_can_be_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    a, b, c = account("a@x.io"), account("b@x.io"), account("c@x.io")
    with h.History(path) as db:
        s1 = db.record(states(a, b, c), "summary", T0)
        assert change_rows(path) == 3
        # Nothing changed: a snapshot row, no change rows.
        s2 = db.record(states(a, b, c), "summary", T0 + timedelta(days=1))
        assert change_rows(path) == 3
        # One limit edit, one removal, one new account: three rows.
        b2 = {**b, "daily_limit": 5}
        s3 = db.record(states(a, b2, account("d@x.io")), "diff", T0 + timedelta(days=2))
        assert change_rows(path) == 6
        assert db.states_at(s1.id) == states(a, b, c) == db.states_at(s2.id)
        assert db.states_at(s3.id) == states(a, b2, account("d@x.io"))
        assert [s.id for s in db.snapshots()] == [s1.id, s2.id, s3.id]
        timeline = db.timeline("B@X.IO")
        assert [(s.id, st.daily_limit if st else None) for s, st in timeline] == [
            (s1.id, 30), (s3.id, 5)]
        assert [st for _, st in db.timeline("c@x.io")][-1] is None  # removed


def test_tags_unknown_to_a_pass_are_not_a_change(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    tagged = account("a@x.io", tags=[{"id": "1", "label": "Client A"}])
    with h.History(path) as db:
        db.record(states(tagged), "list", T0)
        db.record(states(account("a@x.io")), "summary", T0 + timedelta(hours=1))
        assert change_rows(path) == 1
        db.record(states(account("a@x.io", tags=[])), "list", T0 + timedelta(hours=2))
        assert change_rows(path) == 2


def test_a_failed_write_records_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    with h.History(path) as db:
        db.record(states(account("a@x.io")), "summary", T0)
        bad = {"b@x.io": h.state_of(account("b@x.io")), "c@x.io": object()}
        with pytest.raises(Exception):  # noqa: B017 - whatever the row fails with
            db.record(bad, "summary", T0 + timedelta(days=1))  # type: ignore[arg-type]
        assert len(db.snapshots()) == 1 and change_rows(path) == 1


def test_since_picks_the_newest_snapshot_at_or_before(tmp_path: Path) -> None:
    with h.History(tmp_path / "h.sqlite3") as db:
        assert db.base(h.Since()) == (None, None)
        for day in range(5):
            db.record(states(account("a@x.io")), "summary", T0 + timedelta(days=day))
        now = T0 + timedelta(days=4, hours=1)
        assert db.base(h.parse_since(None, now))[0].id == 5  # type: ignore[union-attr]
        assert db.base(h.parse_since("1d", now))[0].id == 4  # type: ignore[union-attr]
        assert db.base(h.parse_since("2026-12-03", now))[0].id == 2  # type: ignore[union-attr]
        assert db.base(h.parse_since("2", now))[0].id == 2  # type: ignore[union-attr]
        oldest, note = db.base(h.parse_since("30d", now))
        assert oldest is not None and oldest.id == 1 and note and "oldest" in note
        with pytest.raises(UsageError):
            db.base(h.parse_since("99", now))
    for bad in ("yesterday", "1y", "2026-13-01", "-1d"):
        with pytest.raises(UsageError):
            h.parse_since(bad, T0)


def test_prune_keeps_the_state_at_the_oldest_kept_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    with h.History(path) as db:
        for day in range(10):
            fleet = [account("a@x.io", daily_limit=day), account("b@x.io")]
            if day < 3:
                fleet.append(account("gone@x.io"))
            db.record(states(*fleet), "summary", T0 + timedelta(days=day))
        now = T0 + timedelta(days=9, hours=1)
        # Kept: the snapshots of days 6 to 9 (ids 7 to 10).
        kept_state = db.states_at(7)
        # a's six older rows go; gone@'s two (present, then removed); b's one row moves.
        assert db.prune(timedelta(days=4), now) == (6, 6 + 2)
        assert [s.id for s in db.snapshots()] == [7, 8, 9, 10]
        assert db.states_at(7) == kept_state and "gone@x.io" not in kept_state
        assert db.states_at(7)["b@x.io"] == h.state_of(account("b@x.io"))
        assert db.timeline("gone@x.io") == []
        # Recording after a prune still compares with the right state.
        db.record(db.states_at(10), "summary", now)
        assert db.states_at(11) == db.states_at(10)


def test_a_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(h.HistoryError) as err:
        h.History(path).snapshots()
    assert str(path) in err.value.message and err.value.exit_code == 1
    assert "mv" in (err.value.hint or "") and "--no-record" in (err.value.hint or "")


def test_a_locked_database_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    path = tmp_path / "h.sqlite3"
    h.History(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(h, "LOCK_TIMEOUT", 0.05)
    try:
        with pytest.raises(h.HistoryError) as err, h.History(path) as db:
            db.record(states(account("a@x.io")), "summary", T0)
        assert "locked" in err.value.message and str(path) in err.value.message
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_one_history_per_workspace_whatever_the_key_source(tmp_path: Path) -> None:
    p1 = h.history_path(tmp_path, "https://api.instantly.ai", None, KEY)
    assert p1 == h.history_path(tmp_path, "https://api.instantly.ai/", None, KEY)
    assert p1 != h.history_path(tmp_path, "https://api.instantly.ai", None, KEY + "x")
    w = h.history_path(tmp_path, "https://api.instantly.ai", "ws-1", KEY)
    assert w == h.history_path(tmp_path, "https://api.instantly.ai", "ws-1", "other-key")
    assert w != h.history_path(tmp_path, "https://eu.example", "ws-1", KEY)
    assert not leaked(str(p1)) and p1.parent == tmp_path / "history"


# -- through the CLI ----------------------------------------------------------------------------


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


@pytest.fixture
def leaky(store: Store, monkeypatch: pytest.MonkeyPatch, runtime: Any) -> SandboxApp:
    """The sandbox answering to the redaction test's key."""
    app = SandboxApp(store, api_key=KEY)
    runtime.transport = httpx.WSGITransport(app=app)
    monkeypatch.setenv("INSTANTLY_API_KEY", KEY)
    monkeypatch.setenv("INSTANTLY_BASE_URL", "http://sandbox.test")
    return app


def test_summary_records_and_a_corrupt_file_keeps_the_output(
    cli: Cli, sandbox: SandboxApp
) -> None:
    ok(cli(["accounts", "summary", "--json"]))
    files = list((state_dir() / "history").glob("*.sqlite3"))
    assert len(files) == 1
    # Filters are not a full pass; --no-record opts out.
    ok(cli(["accounts", "summary", "--json", "--provider", "google"]))
    ok(cli(["accounts", "summary", "--json", "--no-record"]))
    ok(cli(["accounts", "list", "--limit", "5"]))
    listed = json.loads(ok(cli(["history", "list", "--json"])).stdout)
    assert [s["source"] for s in listed] == ["summary"]
    files[0].write_bytes(b"garbage" * 1000)
    for f in files[0].parent.glob("*-wal"):
        f.unlink()
    result = cli(["accounts", "summary", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["total"] == 120  # the run's output stands
    assert str(files[0]) in result.stderr and "--no-record" in result.stderr
    result = cli(["accounts", "diff"])
    assert result.exit_code == 1 and result.stdout == "" and str(files[0]) in result.stderr


def test_accounts_history_timeline(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    email = next(a["email"] for a in store.list_accounts(_query())[0] if a["status"] == 1)
    ok(cli(["accounts", "diff"]))
    store.patch_account(email, {"stat_warmup_score": 42, "daily_limit": 9})
    ok(cli(["accounts", "diff"]))
    rows = json.loads(ok(cli(["accounts", "history", email, "--json"])).stdout)
    assert [r["snapshot"] for r in rows] == [1, 2]
    assert rows[-1]["score"] == 42 and rows[-1]["daily_limit"] == 9 and rows[-1]["present"]
    table = ok(cli(["accounts", "history", email, "-o", "table"])).stdout
    spark = next(line for line in table.splitlines() if "▄" in line).strip("│ \n")
    assert "Timeline" in table and len(spark) == 2 and spark[0] > spark[1]  # 42 is lower
    missing = cli(["accounts", "history", "nobody@nowhere.io"])
    assert missing.exit_code == 4 and "nobody@nowhere.io" in missing.stderr
    assert cli(["accounts", "history"]).exit_code == 2


def test_bad_input_is_exit_2_before_any_request(cli: Cli, sandbox: SandboxApp) -> None:
    for args in (["--since", "yesterday"], ["--fail-if", "bogus>1"], ["--score-drop", "0"],
                 ["--notify", "ftp://x"], ["--fail-if", "compared>5%"]):
        result = cli(["accounts", "diff", *args])
        assert result.exit_code == 2, (args, result.stderr)
    assert cli(["history", "prune", "--keep", "soon"]).exit_code == 2
    assert not sandbox.requests if hasattr(sandbox, "requests") else True


def _query() -> Any:
    from instantly_cli.sandbox.store import AccountQuery

    return AccountQuery(limit=100)


# -- webhooks -----------------------------------------------------------------------------------


class Receiver:
    """A loopback webhook: records every POST body."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[bytes] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                receiver.bodies.append(self.rfile.read(length))
                receiver.headers = dict(self.headers)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.headers: dict[str, str] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/secret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def test_one_post_per_run_with_transitions_none_without_and_never_the_key(
    cli: Cli, leaky: SandboxApp, store: Store, receiver: Receiver
) -> None:
    ok(cli(["accounts", "diff", "--notify", receiver.url]))
    assert receiver.bodies == []  # the first run: nothing to compare
    emails = [a["email"] for a in store.list_accounts(_query())[0] if a["status"] == 1][:2]
    # An error message echoing the key in every form a server might.
    echoed = " ".join(ECHOES.values())
    store.patch_account(emails[0], {"status": -1, "status_message": {
        "code": "535", "e_message": f"535 auth failed for {echoed}"}})
    store.patch_account(emails[1], {"daily_limit": 1})
    result = ok(cli(["accounts", "diff", "--notify", receiver.url, "--json"]))
    assert len(receiver.bodies) == 1
    assert "Authorization" not in receiver.headers
    body = receiver.bodies[0].decode()
    assert not leaked(body), leaked(body)
    doc = json.loads(body)
    assert doc["text"].startswith("instantly: 2 account transitions")
    assert {(t["kind"], t["email"]) for t in doc["transitions"]} == {
        ("new-error", emails[0]), ("limit-changed", emails[1])}
    assert "secret" not in result.stderr and "sent 2 transitions" in result.stderr
    # Nothing new: no POST.
    ok(cli(["accounts", "diff", "--notify", receiver.url]))
    assert len(receiver.bodies) == 1
    # With --fail-if: only when breached.
    store.patch_account(emails[1], {"daily_limit": 2})
    ok(cli(["accounts", "diff", "--notify", receiver.url, "--fail-if", "new-errors>0"]))
    assert len(receiver.bodies) == 1
    store.patch_account(emails[1], {"status": -2})
    result = cli(["accounts", "diff", "--notify", receiver.url, "--fail-if", "new-errors>0"])
    assert result.exit_code == 1 and len(receiver.bodies) == 2


def test_a_failing_webhook_changes_the_exit_code_only_when_strict(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    failing = Receiver(status=500)
    try:
        email = next(a["email"] for a in store.list_accounts(_query())[0] if a["status"] == 1)
        ok(cli(["accounts", "diff"]))
        store.patch_account(email, {"daily_limit": 1})
        result = cli(["accounts", "diff", "--no-record", "--notify", failing.url])
        assert result.exit_code == 0 and "HTTP 500" in result.stderr
        assert len(failing.bodies) == 1  # a POST that may have acted is never repeated
        result = cli(["accounts", "diff", "--notify", failing.url, "--notify-strict"])
        assert result.exit_code == 1 and len(failing.bodies) == 2
    finally:
        failing.stop()


# -- who did it ---------------------------------------------------------------------------------


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> InstantlyClient:
    return InstantlyClient(api_key="k-1234567890", base_url="http://mock.test",
                           transport=httpx.MockTransport(handler), backoff_base=0.001)


def test_transitions_are_annotated_from_the_audit_log_of_the_window() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        kind = int(request.url.params["activity_type"])
        items = {
            6: [{"id": "1", "timestamp": "2026-12-01T08:00:00.000Z", "activity_type": 6,
                 "user_id": "u1", "user_name": "Ada", "from_api": False,
                 "audit_metadata": {"emails": ["new@x.io"]}}],
            36: [{"id": "2", "timestamp": "2026-12-01T09:00:00.000Z", "activity_type": 36,
                  "user_id": None, "api_key_id": "key-7", "from_api": True,
                  "audit_metadata": {"account": "A@x.io", "changes": ["daily_limit"]}}],
        }.get(kind, [])
        return httpx.Response(200, json={"items": items})

    old = states(account("a@x.io"), account("b@x.io"))
    new = states(account("a@x.io", daily_limit=3), account("b@x.io", daily_limit=4),
                 account("new@x.io"))
    records = d.transitions(old, new, score_drop=10, thresholds=Thresholds())
    with _client(handler) as client:
        assert d.annotate(client, records, "2026-12-01T06:00:00.000Z", T0 + timedelta(1)) is None
    by = {(r["kind"], r["email"]): r["actor"] for r in records}
    assert by[("added", "new@x.io")]["name"] == "Ada"
    assert by[("limit-changed", "a@x.io")]["api_key_id"] == "key-7"
    assert by[("limit-changed", "b@x.io")] is None
    assert {r.url.params["activity_type"] for r in seen} == {"6", "36"}
    assert all(r.url.params["start_date"] == "2026-12-01T06:00:00.000Z" for r in seen)
    assert all(r.url.params["end_date"].startswith("2026-12-02T06:00") for r in seen)


def test_a_key_without_the_audit_scope_is_one_note() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"statusCode": 403, "error": "Forbidden",
                                         "message": "Missing scope audit_logs:read"})

    records = d.transitions(states(account("a@x.io")), states(), score_drop=10,
                            thresholds=Thresholds())
    with _client(handler) as client:
        note = d.annotate(client, records, "2026-12-01T06:00:00.000Z", T0)
    assert note and "audit" in note and records[0]["actor"] is None


def test_score_drops_and_class_crossings() -> None:
    t = Thresholds()
    old = states(account("a@x.io", stat_warmup_score=95), account("b@x.io", stat_warmup_score=92),
                 account("c@x.io", stat_warmup_score=80), account("d@x.io", stat_warmup_score=99))
    new = states(account("a@x.io", stat_warmup_score=85), account("b@x.io", stat_warmup_score=89),
                 account("c@x.io", stat_warmup_score=91), account("d@x.io", stat_warmup_score=95))
    got = {(r["kind"], r["email"]) for r in d.transitions(old, new, score_drop=10, thresholds=t)}
    assert got == {("score-drop", "a@x.io"), ("score-drop", "b@x.io"), ("score-rise", "c@x.io")}


def test_summary_since_shows_every_number_with_its_change(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    first = json.loads(ok(cli(["accounts", "summary", "--json"])).stdout)
    assert "since" not in first
    active = [a for a in store.list_accounts(_query())[0]
              if a["status"] == 1 and a["warmup_status"] not in (-1, -2, -3)]
    store.patch_account(active[0]["email"], {"status": -1})
    store.delete_account(active[1]["email"])
    doc = json.loads(ok(cli(["accounts", "summary", "--json", "--since", "1"])).stdout)
    m = doc["since"]["metrics"]
    assert doc["since"]["snapshot"]["id"] == 1
    assert m["total"] == {"now": 119, "then": 120, "change": -1}
    assert m["errors"]["change"] == 1 and m["errors"]["then"] == first["metrics"]["errors"]
    assert all(v["now"] == doc["metrics"][k] for k, v in m.items())
    table = ok(cli(["accounts", "summary", "--since", "1", "-o", "table"])).stdout
    assert "Change since snapshot 1" in table and "▼1" in table and "▲1" in table
    bad = cli(["accounts", "summary", "--since", "1", "--provider", "google"])
    assert bad.exit_code == 2


def test_summary_notify_posts_the_transitions_since_the_previous_pass(
    cli: Cli, sandbox: SandboxApp, store: Store, receiver: Receiver
) -> None:
    ok(cli(["accounts", "summary", "--json", "--notify", receiver.url]))
    assert receiver.bodies == []
    email = next(a["email"] for a in store.list_accounts(_query())[0] if a["status"] == 1)
    store.patch_account(email, {"daily_limit": 2})
    ok(cli(["accounts", "summary", "--json", "--notify", receiver.url]))
    assert len(receiver.bodies) == 1
    doc = json.loads(receiver.bodies[0])
    assert [(t["kind"], t["email"], t["to"]) for t in doc["transitions"]] == [
        ("limit-changed", email, 2)]
    ok(cli(["accounts", "summary", "--json", "--notify", receiver.url]))
    assert len(receiver.bodies) == 1  # nothing new since the last pass
    bad = cli(["accounts", "summary", "--notify", receiver.url, "--provider", "google"])
    assert bad.exit_code == 2 and len(receiver.bodies) == 1


def test_a_listing_that_ended_early_reports_no_removals(tmp_path: Path) -> None:
    from instantly_cli.services.accounts.summary import Tally

    with h.History(tmp_path / "h.sqlite3") as db:
        db.record(states(account("a@x.io"), account("b@x.io")), "summary", T0)
        live = [[account("a@x.io", daily_limit=1)]]
        full = d.diff(db, live, since=h.Since(), score_drop=10, thresholds=Thresholds(),
                      tally=Tally())
        cut = d.diff(db, live, since=h.Since(), score_drop=10, thresholds=Thresholds(),
                     tally=Tally(), partial=lambda: "a cursor came back")
    assert {r["kind"] for r in full.records} == {"limit-changed", "removed"}
    assert [r["kind"] for r in cut.records] == ["limit-changed"]
    assert cut.metrics["removed"] == 0 and full.metrics["removed"] == 1


def test_a_staged_pass_counts_an_account_listed_twice_once(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    rec = h.Recorder(path, batch=2)
    pages = [[account("a@x.io"), account("b@x.io")], [account("A@x.io", daily_limit=9)]]
    assert [len(p) for p in rec.watch_pages(pages)] == [2, 1]
    snap = rec.commit("list", T0)
    assert snap.accounts == 2 and rec.recorded == snap
    with h.History(path) as db:
        assert db.states_at(snap.id)["a@x.io"].daily_limit == 9
        assert change_rows(path) == 2


def test_the_database_is_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "history" / "h.sqlite3"
    with h.History(path) as db:
        db.record(states(account("a@x.io")), "summary", T0)
    assert path.stat().st_mode & 0o077 == 0 and path.parent.stat().st_mode & 0o077 == 0
