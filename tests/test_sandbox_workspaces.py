"""Sandbox workspaces (agency layout) and audit log, in-process, validated against the spec."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.seed import (
    DEFAULT_WORKSPACE_ID,
    DEFAULT_WORKSPACE_NAME,
    SUB_WORKSPACES,
)
from instantly_cli.sandbox.store import Store
from tests.contract import validate_recorded
from tests.sandbox_client import in_process, walk

KEY = "agency-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
PLUS = "ops+eu@acme-outreach.com"
ACCEPTED = [ws for ws in SUB_WORKSPACES if ws[2] == "accepted"]
REFUSED = [ws for ws in SUB_WORKSPACES if ws[2] != "accepted"]
NEW = {
    "email": "fresh.box@northwind-new.com",
    "first_name": "Fresh",
    "last_name": "Box",
    "provider_code": 1,
    "imap_username": "u",
    "imap_password": "p",
    "imap_host": "imap.northwind-new.com",
    "imap_port": 993,
    "smtp_username": "u",
    "smtp_password": "p",
    "smtp_host": "smtp.northwind-new.com",
    "smtp_port": 587,
}


def make_client(store: Store, key: str = KEY) -> tuple[SandboxApp, httpx.Client]:
    return in_process(store, key)


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store()
    s.ensure_seeded(20, sub_accounts=7)
    yield s
    s.close()


@pytest.fixture
def client(store: Store) -> Iterator[httpx.Client]:
    app, c = make_client(store)
    with c:
        yield c
    assert validate_recorded(app) == app.request_count


def test_current_workspace_and_members(client: httpx.Client) -> None:
    current = client.get("/api/v2/workspaces/current").json()
    assert (current["id"], current["name"]) == (DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_NAME)
    seen = walk(client, "/api/v2/workspace-group-members", 2)
    assert {(m["sub_workspace_id"], m["sub_workspace_name"], m["status"]) for m in seen} == {
        ws[:3] for ws in SUB_WORKSPACES
    }
    assert {m["admin_workspace_id"] for m in seen} == {DEFAULT_WORKSPACE_ID}
    assert client.get("/api/v2/workspace-group-members/admin").json() == {
        "workspace_name": "Undefined",
        "has_admin_workspace": False,
    }


def test_x_as_workspace_only_for_accepted_sub_workspaces(client: httpx.Client) -> None:
    for ws_id, name, _, member_id in ACCEPTED:
        headers = {"x-as-workspace": ws_id}
        assert client.get("/api/v2/workspaces/current", headers=headers).json()["name"] == name
        items = client.get("/api/v2/accounts", headers=headers).json()["items"]
        assert len(items) == 7 and {a["organization"] for a in items} == {ws_id}
        assert client.get("/api/v2/workspace-group-members/admin", headers=headers).json() == {
            "workspace_name": DEFAULT_WORKSPACE_NAME,
            "has_admin_workspace": True,
            "workspace_group_member_id": member_id,
        }
        members = client.get("/api/v2/workspace-group-members", headers=headers).json()
        assert members == {"items": []}
    for ws_id, *_ in [*REFUSED, ("not-a-workspace",)]:
        resp = client.get("/api/v2/accounts", headers={"x-as-workspace": ws_id})
        assert resp.status_code == 403 and ws_id in resp.json()["message"]
        move = client.post(
            "/api/v2/accounts/move",
            json={
                "emails": [PLUS],
                "source_workspace_id": DEFAULT_WORKSPACE_ID,
                "destination_workspace_id": ws_id,
            },
        )
        assert move.status_code == 404
    assert len(client.get("/api/v2/accounts").json()["items"]) == 20


def test_single_layout_has_no_sub_workspaces() -> None:
    store = Store()
    store.ensure_seeded(5, layout="single")
    app, client = make_client(store)
    with client:
        assert client.get("/api/v2/workspace-group-members").json() == {"items": []}
        resp = client.get("/api/v2/accounts", headers={"x-as-workspace": ACCEPTED[0][0]})
        assert resp.status_code == 403
        assert client.get("/api/v2/workspaces/current").json()["name"] == DEFAULT_WORKSPACE_NAME
    validate_recorded(app)
    store.close()


def test_sub_account_seed_is_deterministic() -> None:
    emails = []
    for _ in range(2):
        s = Store()
        s.ensure_seeded(5, sub_accounts=3)
        emails.append(sorted(s.select_emails(workspace=None)))
        s.close()
    assert emails[0] == emails[1] and len(emails[0]) == 5 + 3 * len(SUB_WORKSPACES)


# -- audit log -------------------------------------------------------------------------------


def test_audit_log_records_account_writes_with_who_and_when(store: Store) -> None:
    base = datetime(2026, 12, 1, 9, tzinfo=UTC)
    ticks = iter(range(1000))
    store.clock = lambda: base + timedelta(hours=next(ticks))
    app, alice = make_client(store, "alice-key-0001")
    _, bob = make_client(store, "bob-key-0002")
    with alice, bob:
        assert alice.get("/api/v2/audit-logs").json() == {"items": []}
        assert alice.post("/api/v2/accounts", json=NEW).status_code == 200
        alice.patch(f"/api/v2/accounts/{NEW['email']}", json={"daily_limit": 7})
        bob.post(f"/api/v2/accounts/{NEW['email']}/pause")
        bob.post("/api/v2/accounts/pause", json={"emails": [PLUS, "ghost@x.io"]})
        bob.delete(f"/api/v2/accounts/{NEW['email']}")
        alice.patch(f"/api/v2/accounts/{NEW['email']}", json={"daily_limit": 8})  # 404: none
        items = alice.get("/api/v2/audit-logs").json()["items"]
        assert [(i["activity_type"], i["audit_metadata"]["email"]) for i in items] == [
            (7, NEW["email"]),
            (36, PLUS),
            (36, NEW["email"]),
            (36, NEW["email"]),
            (6, NEW["email"]),
        ]
        keys = {i["api_key_id"] for i in items}
        assert len(keys) == 2 and all(i["from_api"] and i["user_id"] for i in items)
        text = str(items)
        assert "alice-key-0001" not in text and "bob-key-0002" not in text
        assert [i["audit_metadata"]["action"] for i in items] == [
            "delete",
            "pause",
            "pause",
            "update",
            "create",
        ]
        assert items[3]["audit_metadata"]["fields"] == ["daily_limit"]
        # Filters: type, search, dates (a bare end date covers its whole day), cursor.
        adds = alice.get("/api/v2/audit-logs", params={"activity_type": 6}).json()["items"]
        assert [i["activity_type"] for i in adds] == [6]
        found = alice.get("/api/v2/audit-logs", params={"search": "OPS+EU"}).json()["items"]
        assert [i["audit_metadata"]["email"] for i in found] == [PLUS]
        first = alice.get("/api/v2/audit-logs", params={"end_date": items[-1]["timestamp"]}).json()[
            "items"
        ]
        assert [i["id"] for i in first] == [items[-1]["id"]]
        later = alice.get(
            "/api/v2/audit-logs", params={"start_date": items[1]["timestamp"]}
        ).json()["items"]
        assert [i["id"] for i in later] == [items[0]["id"], items[1]["id"]]
        day = alice.get("/api/v2/audit-logs", params={"end_date": "2026-11-30"}).json()
        assert day == {"items": []}
        whole = alice.get(
            "/api/v2/audit-logs", params={"start_date": "2026-12-01", "end_date": "2026-12-01"}
        ).json()["items"]
        assert len(whole) == 5
        assert walk(alice, "/api/v2/audit-logs", 2) == items
        for bad in ({"start_date": "yesterday"}, {"activity_type": 99}, {"limit": 0}):
            assert alice.get("/api/v2/audit-logs", params=bad).status_code == 400
        other = {"x-as-workspace": ACCEPTED[0][0]}
        assert alice.get("/api/v2/audit-logs", headers=other).json() == {"items": []}
    validate_recorded(app)


def test_a_forbidden_resource_is_a_403_like_a_key_without_the_scope(store: Store) -> None:
    from instantly_cli.sandbox.app import RESOURCES

    app, client = make_client(store)
    assert {template[0] for _, template, _ in app._routes} == set(RESOURCES)
    app.forbidden.add("audit-logs")
    with client:
        resp = client.get("/api/v2/audit-logs")
        assert resp.status_code == 403 and "scope" in resp.json()["message"]
        assert client.get("/api/v2/accounts").status_code == 200
    validate_recorded(app)


def test_simulated_provider_changes_show_and_are_not_audited(store: Store) -> None:
    before = store.get_account(PLUS)
    assert before is not None and before["status"] == 1
    broken = store.simulate(PLUS, status=-1, score=12)
    assert broken["status"] == -1 and broken["status_message"]["code"]
    assert broken["stat_warmup_score"] == 12
    app, client = make_client(store)
    with client:
        got = client.get(f"/api/v2/accounts/{PLUS}").json()
        assert got == broken
        assert PLUS in {
            a["email"]
            for a in client.get("/api/v2/accounts", params={"status": -1}).json()["items"]
        }
        assert client.get("/api/v2/audit-logs").json() == {"items": []}
        fixed = client.post(f"/api/v2/accounts/{PLUS}/mark-fixed").json()
        assert fixed["status"] == 1 and "status_message" not in fixed
    validate_recorded(app)
    assert store.simulate(PLUS, score=None, warmup_status=-1)["stat_warmup_score"] is None
