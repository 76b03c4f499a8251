"""The sandbox's newer operations: account lifecycle, checks, analytics, workspaces, jobs.

Every exchange is validated against the OpenAPI document at teardown (both directions).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from instantly_cli.sandbox.app import (
    ANALYTICS_MAX_ACCOUNT_DAYS,
    ANALYTICS_MAX_EMAILS,
    SandboxApp,
)
from instantly_cli.sandbox.seed import DEFAULT_WORKSPACE_ID, SEED_WORKSPACES
from instantly_cli.sandbox.store import Store
from tests.contract import validate_recorded, validate_request
from tests.sandbox_client import walk

KEY = "lifecycle-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ZOE = "zoe.muller@acme-outreach.com"  # seeded paused
PLUS = "ops+eu@acme-outreach.com"  # seeded active
OTHER_WS = SEED_WORKSPACES[1]
TODAY = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)

NEW = {
    "email": "new.box@northwind-new.com",
    "first_name": "Nora",
    "last_name": "Box",
    "provider_code": 1,
    "imap_username": "new.box@northwind-new.com",
    "imap_password": "imap-Secret-9x",
    "imap_host": "imap.northwind-new.com",
    "imap_port": 993,
    "smtp_username": "new.box@northwind-new.com",
    "smtp_password": "smtp-Secret-7y",
    "smtp_host": "smtp.northwind-new.com",
    "smtp_port": 587,
}


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store()
    s.ensure_seeded(120)
    s.clock = lambda: TODAY
    yield s
    s.close()


@pytest.fixture
def app(store: Store) -> Iterator[SandboxApp]:
    application = SandboxApp(store, api_key=KEY)
    yield application
    assert validate_recorded(application) == application.request_count


@pytest.fixture
def client(app: SandboxApp) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="http://sandbox", headers=AUTH
    ) as c:
        yield c


def envelope(resp: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"statusCode", "error", "message"} and body["statusCode"] == status
    for word in words:
        assert word in body["message"], body["message"]
    return dict(body)


def every(client: httpx.Client, path: str = "/api/v2/accounts", **params: Any) -> list[Any]:
    return walk(client, path, 100, **params)


# -- create / get / delete ---------------------------------------------------------------------


def test_create_get_delete(client: httpx.Client, store: Store) -> None:
    tag = client.post("/api/v2/custom-tags", json={"label": "New boxes"}).json()
    created = client.post(
        "/api/v2/accounts",
        json={**NEW, "daily_limit": 40, "warmup": {"limit": 15}, "reply_to": "r@northwind.com"},
    )
    assert created.status_code == 200, created.text
    acc = created.json()
    assert acc["email"] == NEW["email"] and acc["provider_code"] == 1
    assert (acc["status"], acc["warmup_status"], acc["daily_limit"]) == (1, 0, 40)
    assert acc["warmup"]["limit"] == 15 and acc["warmup"]["increment"] == "disabled"
    assert acc["organization"] == DEFAULT_WORKSPACE_ID
    assert acc["timestamp_created"].startswith("2026-03-15T12:00:00")
    assert acc["stat_warmup_score"] is None and acc["timestamp_warmup_start"] is None
    for secret_field in ("imap_password", "smtp_password", "imap_host", "smtp_username"):
        assert secret_field not in acc
    assert client.get(f"/api/v2/accounts/{NEW['email']}").json() == acc
    # The passwords are kept nowhere, not even in the state database.
    dump = "\n".join(store._conn.iterdump())
    assert "imap-Secret-9x" not in dump and "smtp-Secret-7y" not in dump
    # Created later than every seeded account: last in timestamp_created ascending.
    asc = client.get(
        "/api/v2/accounts",
        params={"sort_by": "timestamp_created", "sort_order": "asc", "skip": 100, "limit": 100},
    ).json()["items"]
    assert asc[-1]["email"] == NEW["email"] and len(asc) == 21
    client.post(
        "/api/v2/custom-tags/toggle-resource",
        json={
            "tag_ids": [tag["id"]],
            "resource_type": 1,
            "resource_ids": [NEW["email"]],
            "assign": True,
        },
    )
    deleted = client.delete(f"/api/v2/accounts/{NEW['email']}")
    assert deleted.status_code == 200
    assert deleted.json()["email"] == NEW["email"]
    envelope(client.get(f"/api/v2/accounts/{NEW['email']}"), 404, NEW["email"])
    envelope(client.delete(f"/api/v2/accounts/{NEW['email']}"), 404)
    mappings = client.get(
        "/api/v2/custom-tag-mappings", params={"resource_ids": NEW["email"]}
    ).json()["items"]
    assert mappings == []
    assert store.count_accounts() == 120


def test_duplicate_create_is_409_and_case_insensitive(client: httpx.Client) -> None:
    assert client.post("/api/v2/accounts", json=NEW).status_code == 200
    envelope(client.post("/api/v2/accounts", json=NEW), 409, "already exists", NEW["email"])
    envelope(client.post("/api/v2/accounts", json={**NEW, "email": NEW["email"].upper()}), 409)
    envelope(client.post("/api/v2/accounts", json={**NEW, "email": ZOE}), 409, ZOE)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"nickname": "x"}, ["nickname"]),
        ({"warmup": {"limitt": 1}}, ["limitt"]),
        ({"provider_code": 5}, ["provider_code"]),
        ({"email": "not-an-email"}, ["email"]),
        ({"imap_port": "993"}, ["imap_port"]),
        ({"reply_to": None}, ["reply_to"]),
        ({"imap_password": None}, ["imap_password"]),
    ],
)
def test_create_is_strict(client: httpx.Client, change: dict[str, Any], words: list[str]) -> None:
    envelope(client.post("/api/v2/accounts", json={**NEW, **change}), 400, *words)
    envelope(client.get(f"/api/v2/accounts/{NEW['email']}"), 404)


@pytest.mark.parametrize("missing", ["email", "smtp_password", "provider_code", "imap_host"])
def test_create_requires_every_required_field(client: httpx.Client, missing: str) -> None:
    body = {k: v for k, v in NEW.items() if k != missing}
    envelope(client.post("/api/v2/accounts", json=body), 400, f"'{missing}'")


def test_delete_with_a_body_is_400(client: httpx.Client) -> None:
    resp = client.request("DELETE", f"/api/v2/accounts/{PLUS}", json={"force": True})
    envelope(resp, 400, "null")
    assert client.get(f"/api/v2/accounts/{PLUS}").status_code == 200


# -- mark-fixed ----------------------------------------------------------------------------


def test_mark_fixed_returns_errored_account_to_active(client: httpx.Client) -> None:
    errored = every(client, filter="ACC_FILTER_ERROR")
    target = errored[0]
    assert target["status"] < 0 and "status_message" in target
    fixed = client.post(f"/api/v2/accounts/{target['email']}/mark-fixed")
    assert fixed.status_code == 200
    body = fixed.json()
    assert body["status"] == 1 and "status_message" not in body
    assert body["timestamp_updated"] > target["timestamp_updated"]
    assert client.get(f"/api/v2/accounts/{target['email']}").json() == body
    assert target["email"] not in {a["email"] for a in every(client, filter="ACC_FILTER_ERROR")}
    # Not in an error status: returned unchanged.
    before = client.get(f"/api/v2/accounts/{ZOE}").json()
    assert client.post(f"/api/v2/accounts/{ZOE}/mark-fixed").json() == before
    envelope(client.post("/api/v2/accounts/ghost@x.io/mark-fixed"), 404, "ghost@x.io")


def test_two_mark_fixed_at_once_audit_one_change(
    client: httpx.Client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second request lands while the first is between any read and its write: only the
    # request that changed the account records an update.
    target = every(client, filter="ACC_FILTER_ERROR")[0]["email"]
    url = f"/api/v2/accounts/{target}/mark-fixed"
    answers: list[httpx.Response] = []
    let_in = [target]
    read = store.get_account

    def read_then_let_the_other_in(email: str, workspace: str | None = DEFAULT_WORKSPACE_ID) -> Any:
        found = read(email, workspace)
        if email in let_in:
            let_in.clear()
            answers.append(client.post(url))
        return found

    monkeypatch.setattr(store, "get_account", read_then_let_the_other_in)
    answers.insert(0, client.post(url))
    if len(answers) == 1:  # no read before the write: the other one simply comes second
        answers.append(client.post(url))
    assert [(r.status_code, r.json()["status"]) for r in answers] == [(200, 1), (200, 1)]
    logged = every(client, "/api/v2/audit-logs", search=target)
    assert [e["audit_metadata"]["action"] for e in logged] == ["mark-fixed"]


# -- vitals --------------------------------------------------------------------------------


def test_vitals_are_deterministic_per_domain(client: httpx.Client) -> None:
    body = {
        "accounts": [
            "a@acme-outreach.com",
            "b@ACME-outreach.com",
            "c@airmail-lumen.com",
            "fabrikam-sales.com",
            "d@ses.tailspin.dev",
        ]
    }
    first = client.post("/api/v2/accounts/test/vitals", json=body).json()
    assert first == client.post("/api/v2/accounts/test/vitals", json=body).json()
    assert first["status"] == "success"
    assert first["success_list"] == [
        {
            "domain": "acme-outreach.com",
            "allPass": True,
            "mx": True,
            "spf": True,
            "dkim": True,
            "dmarc": True,
        }
    ]
    failed = {f["domain"]: f for f in first["failure_list"]}
    assert set(failed) == {"airmail-lumen.com", "fabrikam-sales.com", "ses.tailspin.dev"}
    assert failed["airmail-lumen.com"]["dmarc"] is False
    assert failed["fabrikam-sales.com"]["spf"] is False
    assert failed["ses.tailspin.dev"]["mx"] is False
    assert all(f["allPass"] is False for f in failed.values())


def test_vitals_without_accounts_checks_the_workspace(client: httpx.Client) -> None:
    got = client.post("/api/v2/accounts/test/vitals").json()
    domains = {d["domain"] for d in got["success_list"] + got["failure_list"]}
    seeded = {a["email"].split("@")[1] for a in every(client)}
    assert domains == seeded
    # Across many domains a realistic minority fails.
    many = [f"box@domain-{n}.example" for n in range(200)]
    result = client.post("/api/v2/accounts/test/vitals", json={"accounts": many}).json()
    assert 20 <= len(result["failure_list"]) <= 60


def test_vitals_validation(client: httpx.Client) -> None:
    envelope(
        client.post("/api/v2/accounts/test/vitals", json={"emails": ["a@b.co"]}), 400, "emails"
    )
    envelope(
        client.post("/api/v2/accounts/test/vitals", json={"accounts": ["nope"]}), 400, "accounts/0"
    )


# -- tracking domains ------------------------------------------------------------------------


def test_ctd_status_is_deterministic_per_host(client: httpx.Client) -> None:
    ok = client.get("/api/v2/accounts/ctd/status", params={"host": "track.acme-outreach.com"})
    assert ok.json() == {
        "success": True,
        "ssl": True,
        "cname": True,
        "host": "track.acme-outreach.com",
    }
    no_ssl = client.get("/api/v2/accounts/ctd/status", params={"host": "TRACK.getacme.io"})
    assert no_ssl.json() == {
        "success": False,
        "ssl": False,
        "cname": True,
        "host": "track.getacme.io",
    }
    no_cname = client.get(
        "/api/v2/accounts/ctd/status", params={"host": "track.fabrikam.onmicrosoft.com"}
    ).json()
    assert (no_cname["cname"], no_cname["success"]) == (False, False)
    envelope(client.get("/api/v2/accounts/ctd/status"), 400, "host")
    envelope(client.get("/api/v2/accounts/ctd/status", params={"host": "not a host"}), 400)


# -- daily analytics -------------------------------------------------------------------------


def daily(client: httpx.Client, emails: list[str], **params: Any) -> httpx.Response:
    query: list[tuple[str, Any]] = [("emails", e) for e in emails] + list(params.items())
    return client.get("/api/v2/accounts/analytics/daily", params=query)


def test_daily_analytics_rows_and_determinism(client: httpx.Client) -> None:
    resp = daily(client, [PLUS, ZOE, "ghost@x.io"], start_date="2026-01-05", end_date="2026-01-11")
    assert resp.status_code == 200, resp.text
    rows = resp.json()
    assert len(rows) == 14  # 7 days x 2 known accounts; unknown emails have no rows
    assert [(r["date"], r["email_account"]) for r in rows[:2]] == [
        ("2026-01-05", PLUS),
        ("2026-01-05", ZOE),
    ]
    assert rows == daily(client, [ZOE, PLUS], start_date="2026-01-05", end_date="2026-01-11").json()
    assert sum(r["sent"] for r in rows) > 0
    for r in rows:
        assert r["contacted"] <= r["sent"] and r["bounced"] <= r["sent"]
        assert r["new_leads_contacted"] <= r["contacted"]
        assert r["unique_opened"] <= r["opened"] and r["unique_replies"] <= r["replies"]
        assert r["unique_clicks"] <= r["clicks"]
    # One (email, date) gives the same numbers whatever the window around it.
    one = daily(client, [PLUS], start_date="2026-01-08", end_date="2026-01-08").json()
    assert one == [r for r in rows if r["date"] == "2026-01-08" and r["email_account"] == PLUS]
    # Comma lists are accepted too.
    comma = client.get(
        "/api/v2/accounts/analytics/daily",
        params={"emails": f"{PLUS},{ZOE}", "start_date": "2026-01-05", "end_date": "2026-01-11"},
    )
    assert comma.json() == rows


def test_daily_analytics_zero_before_creation_and_after_today(client: httpx.Client) -> None:
    client.post("/api/v2/accounts", json=NEW)  # created on TODAY (2026-03-15)
    rows = daily(client, [NEW["email"]], start_date="2026-03-01", end_date="2026-03-20").json()
    assert len(rows) == 20
    for r in rows:
        counts = [v for k, v in r.items() if k not in ("date", "email_account")]
        if r["date"] < "2026-03-15" or r["date"] > "2026-03-15":
            assert counts == [0] * 12, r
    # The seeded accounts were created on 2026-01-01: nothing in December.
    seeded = daily(client, [PLUS], start_date="2025-12-20", end_date="2025-12-31").json()
    assert len(seeded) == 12 and all(r["sent"] == 0 for r in seeded)


def test_daily_analytics_defaults_to_thirty_days_ending_today(client: httpx.Client) -> None:
    rows = daily(client, [PLUS]).json()
    assert [r["date"] for r in rows] == [
        (date(2026, 3, 15) - timedelta(days=n)).isoformat() for n in range(29, -1, -1)
    ]


def test_daily_analytics_413_bounds(client: httpx.Client) -> None:
    emails = [f"u{n}@x.io" for n in range(ANALYTICS_MAX_EMAILS + 1)]
    body = envelope(
        daily(client, emails, start_date="2026-01-01", end_date="2026-01-01"),
        413,
        "too large",
        "200",
    )
    assert body["error"] == "Payload Too Large"
    assert (
        daily(client, emails[:200], start_date="2026-01-01", end_date="2026-01-01").status_code
        == 200
    )
    per_day = ANALYTICS_MAX_ACCOUNT_DAYS // 31
    assert per_day == 100
    ok = daily(client, emails[:per_day], start_date="2026-01-01", end_date="2026-01-31")
    assert ok.status_code == 200
    envelope(
        daily(client, emails[: per_day + 1], start_date="2026-01-01", end_date="2026-01-31"),
        413,
        "smaller date range",
    )
    # Without an emails filter the whole workspace counts: 120 accounts x 30 days.
    envelope(client.get("/api/v2/accounts/analytics/daily"), 413, "Add an emails filter")
    whole = client.get(
        "/api/v2/accounts/analytics/daily",
        params={"start_date": "2026-01-01", "end_date": "2026-01-25"},
    )
    assert whole.status_code == 200 and len(whole.json()) == 120 * 25


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"start_date": "2026-01-10", "end_date": "2026-01-01"}, ["earlier than End Date"]),
        ({"start_date": "2026-01-01", "end_date": "2026-02-01"}, ["31 days"]),
        ({"start_date": "January"}, ["start_date"]),
    ],
)
def test_daily_analytics_400(
    client: httpx.Client, params: dict[str, str], words: list[str]
) -> None:
    envelope(daily(client, [PLUS], **params), 400, *words)


# -- warmup analytics ------------------------------------------------------------------------


def test_warmup_analytics(client: httpx.Client) -> None:
    never = next(a for a in every(client) if a["timestamp_warmup_start"] is None)
    warm = next(
        a
        for a in every(client)
        if a["timestamp_warmup_start"] and a.get("stat_warmup_score") is not None
    )
    body = {"emails": [warm["email"], never["email"], "ghost@x.io"]}
    got = client.post("/api/v2/accounts/warmup-analytics", json=body).json()
    assert got == client.post("/api/v2/accounts/warmup-analytics", json=body).json()
    assert set(got) == {"email_date_data", "aggregate_data"}
    assert set(got["email_date_data"]) == {warm["email"], never["email"]}
    days = got["email_date_data"][warm["email"]]
    assert sorted(days) == [
        (date(2026, 3, 15) - timedelta(days=n)).isoformat() for n in range(13, -1, -1)
    ]
    agg = got["aggregate_data"][warm["email"]]
    for key in ("sent", "received", "landed_inbox", "landed_spam"):
        assert agg[key] == sum(d[key] for d in days.values())
    assert agg["landed_inbox"] + agg["landed_spam"] == agg["sent"] > 0
    assert abs(agg["health_score"] - warm["stat_warmup_score"]) <= 3
    assert agg["health_score_label"] in ("excellent", "good", "fair", "poor")
    empty = got["aggregate_data"][never["email"]]
    assert empty["sent"] == 0 and empty["health_score_label"] == "no data"
    envelope(client.post("/api/v2/accounts/warmup-analytics", json={"emails": []}), 400)
    envelope(
        client.post(
            "/api/v2/accounts/warmup-analytics", json={"emails": [f"u{n}@x.io" for n in range(101)]}
        ),
        400,
        "100",
    )
    envelope(
        client.post("/api/v2/accounts/warmup-analytics", json={"emails": [PLUS], "days": 3}),
        400,
        "days",
    )


# -- workspaces and move ---------------------------------------------------------------------


def test_move_and_workspace_visibility(client: httpx.Client) -> None:
    ws = {"x-as-workspace": OTHER_WS}
    assert every(client, **{}) and client.get("/api/v2/accounts", headers=ws).json() == {
        "items": []
    }
    moved = client.post(
        "/api/v2/accounts/move",
        json={
            "emails": [ZOE],
            "source_workspace_id": DEFAULT_WORKSPACE_ID,
            "destination_workspace_id": OTHER_WS,
        },
    )
    assert moved.status_code == 200 and moved.json() == {"status": "success"}
    default_emails = {a["email"] for a in every(client)}
    assert ZOE not in default_emails and len(default_emails) == 119
    envelope(client.get(f"/api/v2/accounts/{ZOE}"), 404)
    envelope(client.patch(f"/api/v2/accounts/{ZOE}", json={"first_name": "X"}), 404)
    there = client.get(f"/api/v2/accounts/{ZOE}", headers=ws).json()
    assert there["organization"] == OTHER_WS
    assert [a["email"] for a in client.get("/api/v2/accounts", headers=ws).json()["items"]] == [ZOE]
    patched = client.patch(f"/api/v2/accounts/{ZOE}", json={"first_name": "Z"}, headers=ws)
    assert patched.json()["first_name"] == "Z"
    paused = client.post("/api/v2/accounts/pause", json={"emails": [ZOE, PLUS]}, headers=ws)
    assert paused.json() == {"paused_emails": [], "failed_emails": [ZOE, PLUS]}
    # The explicit default workspace is the same as no header.
    explicit = client.get("/api/v2/accounts", headers={"x-as-workspace": DEFAULT_WORKSPACE_ID})
    assert len(explicit.json()["items"]) == 100
    envelope(client.get("/api/v2/accounts", headers={"x-as-workspace": "nope"}), 403, "nope")


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"emails": [PLUS, "ghost@x.io"]}, 404, ["ghost@x.io"]),
        (
            {"source_workspace_id": OTHER_WS, "destination_workspace_id": SEED_WORKSPACES[2]},
            404,
            [PLUS],
        ),
        ({"destination_workspace_id": "ws-unknown"}, 404, ["ws-unknown"]),
        ({"source_workspace_id": "ws-unknown"}, 404, ["ws-unknown"]),
        ({"destination_workspace_id": DEFAULT_WORKSPACE_ID}, 400, ["equal"]),
        ({"emails": []}, 400, ["emails"]),
        ({"extra": 1}, 400, ["extra"]),
    ],
)
def test_move_errors_move_nothing(
    client: httpx.Client, body: dict[str, Any], status: int, words: list[str]
) -> None:
    full = {
        "emails": [PLUS],
        "source_workspace_id": DEFAULT_WORKSPACE_ID,
        "destination_workspace_id": OTHER_WS,
        **body,
    }
    envelope(client.post("/api/v2/accounts/move", json=full), status, *words)
    assert client.get(f"/api/v2/accounts/{PLUS}").json()["organization"] == DEFAULT_WORKSPACE_ID


def test_old_state_file_gains_the_workspace_column(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE accounts (email TEXT PRIMARY KEY, ts TEXT NOT NULL, status INTEGER NOT "
        "NULL, warmup_status INTEGER NOT NULL, provider_code INTEGER NOT NULL, score REAL, "
        "ctd TEXT, managed INTEGER NOT NULL, setup_pending INTEGER NOT NULL, search TEXT NOT "
        "NULL, data TEXT NOT NULL);"
    )
    conn.close()
    store = Store(path)
    store.ensure_seeded(10)
    assert store.count_accounts(DEFAULT_WORKSPACE_ID) == 10
    store.close()


# -- background jobs -----------------------------------------------------------------------


def test_jobs_list(client: httpx.Client) -> None:
    assert client.get("/api/v2/background-jobs").json() == {"items": []}
    first = client.post("/api/v2/accounts/warmup/enable", json={"emails": [PLUS]}).json()
    second = client.post("/api/v2/accounts/warmup/disable", json={"emails": [ZOE]}).json()
    listed = client.get("/api/v2/background-jobs").json()
    assert [j["id"] for j in listed["items"]] == [second["id"], first["id"]]  # newest first
    assert listed["items"][0] == second  # listing does not advance a job
    asc = client.get("/api/v2/background-jobs", params={"sort_order": "asc"}).json()
    assert [j["id"] for j in asc["items"]] == [first["id"], second["id"]]
    page = client.get("/api/v2/background-jobs", params={"limit": 1}).json()
    assert page["items"][0]["id"] == second["id"]
    assert page["next_starting_after"] == second["id"]
    rest = client.get(
        "/api/v2/background-jobs", params={"limit": 1, "starting_after": second["id"]}
    ).json()
    assert [j["id"] for j in rest["items"]] == [first["id"]] and "next_starting_after" not in rest
    client.get(f"/api/v2/background-jobs/{first['id']}")  # pending -> in-progress
    running = client.get("/api/v2/background-jobs", params={"status": "in-progress"}).json()
    assert [j["id"] for j in running["items"]] == [first["id"]]
    both = client.get("/api/v2/background-jobs", params={"status": "pending,in-progress"}).json()
    assert len(both["items"]) == 2
    only = client.get("/api/v2/background-jobs", params={"ids": second["id"]}).json()
    assert [j["id"] for j in only["items"]] == [second["id"]]
    without = client.get("/api/v2/background-jobs", params={"excluded_ids": second["id"]}).json()
    assert [j["id"] for j in without["items"]] == [first["id"]]
    typed = client.get(
        "/api/v2/background-jobs",
        params={"type": "update-warmup-accounts", "entity_type": "workspace"},
    ).json()
    assert len(typed["items"]) == 2
    assert client.get("/api/v2/background-jobs", params={"type": "import-leads"}).json() == {
        "items": []
    }
    # Another workspace sees none of them.
    other = client.get("/api/v2/background-jobs", headers={"x-as-workspace": OTHER_WS}).json()
    assert other == {"items": []}
    envelope(
        client.get(f"/api/v2/background-jobs/{first['id']}", headers={"x-as-workspace": OTHER_WS}),
        404,
    )
    envelope(client.get("/api/v2/background-jobs", params={"status": "done"}), 400, "status")
    envelope(client.get("/api/v2/background-jobs", params={"type": "nope"}), 400, "type")
    envelope(client.get("/api/v2/background-jobs", params={"limit": 101}), 400, "limit")
    envelope(client.get("/api/v2/background-jobs", params={"starting_after": "f" * 24}), 400)
    trimmed = client.get(
        f"/api/v2/background-jobs/{second['id']}", params={"data_fields": "action"}
    ).json()
    assert trimmed["data"] == {"action": "disable"}


# -- sorting and paging --------------------------------------------------------------------


def test_sort_ties_break_by_email_and_skip(client: httpx.Client) -> None:
    items = []
    for skip in (0, 100):
        items += client.get(
            "/api/v2/accounts", params={"sort_by": "status", "skip": skip, "limit": 100}
        ).json()["items"]
    keys = [(a["status"], a["email"]) for a in items]
    assert keys == sorted(keys, reverse=True) and len(keys) == 120
    asc = client.get(
        "/api/v2/accounts", params={"sort_by": "status", "sort_order": "asc", "limit": 100}
    ).json()["items"]
    assert [(a["status"], a["email"]) for a in asc] == sorted(keys)[:100]
    # starting_after is ignored with sort_by; skip also works without it (after the cursor).
    ignored = client.get(
        "/api/v2/accounts",
        params={"sort_by": "status", "limit": 100, "starting_after": "2030-01-01T00:00:00.000Z&a"},
    )
    assert ignored.json()["items"] == items[:100]
    plain = every(client)
    skipped = client.get("/api/v2/accounts", params={"skip": 5, "limit": 10}).json()
    assert skipped["items"] == plain[5:15]


def test_contract_covers_the_new_operations() -> None:
    validate_request("POST", "/api/v2/accounts/test/vitals", "", b'{"accounts": ["a@b.co"]}')
    validate_request(
        "GET", "/api/v2/accounts/analytics/daily", "emails=a%40b.co&emails=c%40d.co", None
    )
    with pytest.raises(AssertionError):
        validate_request("POST", "/api/v2/accounts/move", "", b'{"emails": ["a@b.co"]}')
    with pytest.raises(AssertionError):
        validate_request("GET", "/api/v2/background-jobs", "sort_column=id", None)
    with pytest.raises(AssertionError):
        many = "&".join(f"emails=u{n}%40x.io" for n in range(201))
        validate_request("GET", "/api/v2/accounts/analytics/daily", many, None)


# -- the seed's spread (what a fleet-health view needs) ----------------------------------------


def test_seed_has_repeated_error_reasons_and_a_score_spread(client: httpx.Client) -> None:
    import re
    from collections import Counter

    items = every(client)
    errored = [a for a in items if a["status"] < 0]
    raw = Counter(a["status_message"]["e_message"] for a in errored)
    assert max(raw.values()) == 1  # every account's text differs (an IP, a session id)…

    def normalise(text: str) -> str:
        return re.sub(r"\b[0-9a-f]{16}\b|\d+(?:\.\d+)+|\d+", "#", text)

    reasons = Counter(normalise(a["status_message"]["e_message"]) for a in errored)
    assert reasons.most_common(1)[0][1] >= 5  # …but a few reasons are shared by many
    assert len(reasons) <= 8
    joined = " ".join(reasons)
    for words in ("blocked using Spamhaus", "Invalid login", "Connection timed out"):
        assert words in joined
    scores = [a.get("stat_warmup_score") for a in items]
    numbers = [s for s in scores if s is not None]
    assert min(numbers) < 20 and max(numbers) >= 95
    assert sum(1 for s in numbers if s < 50) >= 10 and sum(1 for s in numbers if s >= 80) >= 40
    assert any("stat_warmup_score" in a and a["stat_warmup_score"] is None for a in items)
    assert 1 <= sum(1 for a in items if "stat_warmup_score" not in a) <= 5
