"""Sandbox campaigns: seed, listing, PATCH, sending status and account-campaign mappings,
each answer checked against the OpenAPI document and against an independent computation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from instantly_cli.sandbox.campaigns import new_campaign
from instantly_cli.sandbox.store import DEFAULT_WORKSPACE_ID, SEED_CAMPAIGN_ID, AccountQuery, Store
from tests.contract import validate_recorded, validate_response
from tests.sandbox_client import in_process, walk

KEY = "campaign-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
PLUS = "ops+eu@acme-outreach.com"
NORTH = "5a4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c"
NORTH_ID = "00000000-0000-4000-8000-0000000000ff"


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store()
    s.ensure_seeded(120)
    yield s
    s.close()


@pytest.fixture
def client(store: Store) -> Iterator[httpx.Client]:
    app, c = in_process(store, KEY, api_key=KEY)
    with c:
        yield c
    assert validate_recorded(app) == app.request_count


def tag_ids(client: httpx.Client) -> dict[str, str]:
    return {t["label"]: t["id"] for t in client.get("/api/v2/custom-tags").json()["items"]}


def accounts_with_tags(client: httpx.Client) -> dict[str, dict[str, Any]]:
    items = walk(client, "/api/v2/accounts", 100, include_tags="true")
    return {a["email"]: a for a in items}


def serving(campaign: dict[str, Any], accounts: dict[str, dict[str, Any]]) -> set[str]:
    tags = set(campaign["email_tag_list"])
    return {
        email
        for email, acc in accounts.items()
        if email in campaign["email_list"] or tags & {t["id"] for t in acc["tags"]}
    }


def test_seed_covers_every_status_and_both_kinds_of_lists(client: httpx.Client) -> None:
    campaigns = walk(client, "/api/v2/campaigns", 4)
    assert len(campaigns) == 16 and len({c["id"] for c in campaigns}) == 16
    assert {c["status"] for c in campaigns} == {-99, -1, -2, 0, 1, 2, 3, 4}
    assert any(c["email_list"] and not c["email_tag_list"] for c in campaigns)
    assert any(c["email_tag_list"] and not c["email_list"] for c in campaigns)
    assert any(c["email_tag_list"] and c["email_list"] for c in campaigns)
    # Newest first, paged by id.
    stamps = [c["timestamp_created"] for c in campaigns]
    assert stamps == sorted(stamps, reverse=True)
    by_name = {c["name"]: c for c in campaigns}
    assert by_name["Client A outreach"]["id"] == SEED_CAMPAIGN_ID
    accounts = accounts_with_tags(client)
    statuses = {e: accounts[e]["status"] for e in by_name["Retail all paused"]["email_list"]}
    assert statuses and set(statuses.values()) == {2}
    leaning = [accounts[e]["status"] for e in by_name["Fintech leaning on errors"]["email_list"]]
    assert sum(s < 0 for s in leaning) > len(leaning) / 2


def test_seed_is_deterministic_and_small_seeds_work() -> None:
    lists = []
    for _ in range(2):
        s = Store()
        s.ensure_seeded(120)
        lists.append(s.list_campaigns()[0])
        s.close()
    assert lists[0] == lists[1]
    tiny = Store()
    tiny.ensure_seeded(3)
    items, _ = tiny.list_campaigns()
    assert len(items) == 16
    emails = {a["email"] for a in tiny.list_accounts(AccountQuery())[0]}
    assert all(set(c["email_list"]) <= emails for c in items)
    tiny.close()


def test_filters(client: httpx.Client) -> None:
    everything = walk(client, "/api/v2/campaigns", 100)
    got = client.get("/api/v2/campaigns", params={"search": "ÉQUIPE"}).json()["items"]
    assert [c["name"] for c in got] == ["Équipe Paris relance"]
    active = client.get("/api/v2/campaigns", params={"status": 1}).json()["items"]
    assert {c["id"] for c in active} == {c["id"] for c in everything if c["status"] == 1}
    rest = client.get("/api/v2/campaigns", params={"exclude_status": 1}).json()["items"]
    assert {c["id"] for c in rest} == {c["id"] for c in everything if c["status"] != 1}
    tagged = client.get("/api/v2/campaigns", params={"tag_ids": tag_ids(client)["Client A"]})
    assert [c["id"] for c in tagged.json()["items"]] == [SEED_CAMPAIGN_ID]
    assert client.get("/api/v2/campaigns", params={"status": 7}).status_code == 400
    assert client.get("/api/v2/campaigns", params={"starting_after": "nope"}).status_code == 400
    assert client.get("/api/v2/campaigns", params={"limit": 101}).status_code == 400


def test_get_and_404(client: httpx.Client) -> None:
    got = client.get(f"/api/v2/campaigns/{SEED_CAMPAIGN_ID}").json()
    assert got["name"] == "Client A outreach"
    assert client.get("/api/v2/campaigns/nope").status_code == 404
    assert client.get("/api/v2/campaigns/nope/sending-status").status_code == 404
    other = {"x-as-workspace": "5a4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c"}
    assert client.get(f"/api/v2/campaigns/{SEED_CAMPAIGN_ID}", headers=other).status_code == 404
    assert client.get("/api/v2/campaigns", headers=other).json() == {"items": []}


def test_patch_lists_replaces_validates_and_changes_nothing_on_error(
    client: httpx.Client,
) -> None:
    url = f"/api/v2/campaigns/{SEED_CAMPAIGN_ID}"
    before = client.get(url).json()
    for body, word in [
        ({"email_list": "a@b.co"}, "email_list"),
        ({"email_list": [1]}, "email_list/0"),
        ({"email_list": ["ghost@nowhere.io"]}, "ghost@nowhere.io"),
        ({"email_tag_list": ["no-such-tag"]}, "no-such-tag"),
        ({"emails": []}, "emails"),
        ({}, "fewer than 1"),
        ({"campaign_schedule": {"schedules": []}}, "schedules"),
        ({"daily_max_leads": 1.5}, "daily_max_leads"),
    ]:
        resp = client.patch(url, json=body)
        assert resp.status_code == 400 and word in resp.json()["message"], (body, resp.text)
    assert client.get(url).json() == before
    tags = tag_ids(client)
    after = client.patch(
        url,
        json={"email_list": [PLUS, PLUS.upper(), "sales+us@getacme.io"], "email_tag_list": []},
    ).json()
    assert after["email_list"] == [PLUS, "sales+us@getacme.io"]
    assert (
        after["email_tag_list"] == [] and after["timestamp_updated"] > before["timestamp_updated"]
    )
    assert client.get(url).json() == after
    status = client.get(f"{url}/sending-status").json()["diagnostics"]["accounts_summary"]
    assert status["total_connected"] == 2
    again = client.patch(url, json={"email_tag_list": [tags["Client B"]]}).json()
    assert again["email_list"] == [PLUS, "sales+us@getacme.io"]  # untouched
    assert client.patch("/api/v2/campaigns/nope", json={"name": "x"}).status_code == 404


def test_sending_status_matches_an_independent_computation(client: httpx.Client) -> None:
    accounts = accounts_with_tags(client)
    seen = set()
    for campaign in walk(client, "/api/v2/campaigns", 100):
        members = [accounts[e] for e in serving(campaign, accounts)]
        active = [a for a in members if a["status"] == 1]
        hit = [a for a in active if a.get("daily_limit") == 0]
        diag = client.get(f"/api/v2/campaigns/{campaign['id']}/sending-status").json()[
            "diagnostics"
        ]
        summary = diag["accounts_summary"]
        assert summary["total_connected"] == len(members)
        assert summary["available"] == len(active) - len(hit)
        assert summary["unavailable"]["disconnected"] == sum(a["status"] < 0 for a in members)
        assert diag["campaign_id"] == campaign["id"]
        seen.add(diag["status"])
        if campaign["status"] in (1, 4) and summary["available"] == 0:
            assert diag["status"] in ("no_accounts_available", "all_accounts_unhealthy")
        if campaign["status"] == 2:
            assert diag["status"] == "campaign_paused"
    assert {
        "healthy",
        "no_accounts_available",
        "all_accounts_unhealthy",
        "campaign_paused",
        "campaign_draft",
    } <= seen


def test_pausing_every_account_stops_a_campaign(client: httpx.Client) -> None:
    url = f"/api/v2/campaigns/{SEED_CAMPAIGN_ID}"
    client.patch(url, json={"email_list": [PLUS], "email_tag_list": []})
    assert client.get(f"{url}/sending-status").json()["diagnostics"]["status"] == "healthy"
    client.post(f"/api/v2/accounts/{PLUS.replace('+', '%2B')}/pause")
    diag = client.get(f"{url}/sending-status").json()["diagnostics"]
    assert diag["status"] == "no_accounts_available"
    assert diag["accounts_summary"]["available"] == 0
    ai = client.get(f"{url}/sending-status", params={"with_ai_summary": "true"}).json()
    assert "Client A outreach" in ai["summary"]["ai_summary"]


def test_account_campaign_mappings_match_both_lists(client: httpx.Client) -> None:
    accounts = accounts_with_tags(client)
    campaigns = walk(client, "/api/v2/campaigns", 100)
    some = sorted(accounts)[:40] + [PLUS]
    for email in some:
        expected = {c["id"] for c in campaigns if email in serving(c, accounts)}
        got = walk(client, f"/api/v2/account-campaign-mappings/{email}", 2)
        assert [g["campaign_id"] for g in got] == sorted(
            expected, key=lambda i: next(c["timestamp_created"] for c in campaigns if c["id"] == i)
        )
        names = {c["id"]: (c["name"], c["status"]) for c in campaigns}
        assert all(names[g["campaign_id"]] == (g["campaign_name"], g["status"]) for g in got)
    assert len(walk(client, f"/api/v2/account-campaign-mappings/{PLUS}", 2)) >= 5
    assert client.get("/api/v2/account-campaign-mappings/ghost@x.io").status_code == 404


def test_deleting_accounts_and_tags_empties_the_lists(client: httpx.Client) -> None:
    client.delete(f"/api/v2/accounts/{PLUS.replace('+', '%2B')}")
    tags = tag_ids(client)
    client.delete(f"/api/v2/custom-tags/{tags['Client A']}")
    for c in walk(client, "/api/v2/campaigns", 100):
        assert PLUS not in c["email_list"] and tags["Client A"] not in c["email_tag_list"]


def test_mark_fixed_takes_an_empty_object(store: Store) -> None:
    # Not through the validating fixture: the spec declares no body, the SDK sends {}.
    _, client = in_process(store, KEY)
    with client as c:
        errored = next(a for a in c.get("/api/v2/accounts", params={"status": -1}).json()["items"])
        url = f"/api/v2/accounts/{errored['email']}/mark-fixed"
        resp = c.post(url, json={})
        assert resp.status_code == 200 and resp.json()["status"] == 1
        validate_response("POST", url, 200, resp.json())
        assert c.post(url, content=b" { } ").status_code == 200
        assert c.post(url, json={"x": 1}).status_code == 400
        assert c.post(url, json=[]).status_code == 400


def test_contract_covers_campaigns_workspaces_and_audit_logs() -> None:
    from tests.contract import validate_request

    ok = [
        ("GET", "/api/v2/campaigns", "limit=10&search=a&tag_ids=x,y&status=1&exclude_status=-99"),
        ("GET", f"/api/v2/campaigns/{SEED_CAMPAIGN_ID}/sending-status", "with_ai_summary=true"),
        ("GET", "/api/v2/account-campaign-mappings/a%40b.co", "limit=5&starting_after=x"),
        ("GET", "/api/v2/audit-logs", "activity_type=36&start_date=2026-12-01&limit=1000"),
        ("GET", "/api/v2/workspace-group-members", "limit=100"),
        ("GET", "/api/v2/workspace-group-members/admin", ""),
        ("GET", "/api/v2/workspaces/current", ""),
    ]
    for method, path, query in ok:
        validate_request(method, path, query, None)
    validate_request("PATCH", f"/api/v2/campaigns/{SEED_CAMPAIGN_ID}", "", b'{"email_list": []}')
    bad: list[tuple[str, str, str, bytes | None]] = [
        ("GET", "/api/v2/campaigns", "status=5", None),
        ("GET", "/api/v2/campaigns", "campaign_status=1", None),
        ("GET", "/api/v2/audit-logs", "limit=1001", None),
        ("GET", "/api/v2/workspace-group-members", "limit=0", None),
        ("PATCH", f"/api/v2/campaigns/{SEED_CAMPAIGN_ID}", "", b'{"email_list": "a@b.co"}'),
        ("PATCH", f"/api/v2/campaigns/{SEED_CAMPAIGN_ID}", "", b'{"emails": []}'),
        ("PATCH", f"/api/v2/campaigns/{SEED_CAMPAIGN_ID}", "", b"{}"),
        ("POST", "/api/v2/campaigns", "", b'{"name": "x"}'),
    ]
    for method, path, query, body in bad:
        with pytest.raises(AssertionError):
            validate_request(method, path, query, body)


def test_extra_campaigns_for_scale_tests(store: Store, client: httpx.Client) -> None:
    ids = store.seed_extra_campaigns(35, accounts_each=10)
    campaigns = walk(client, "/api/v2/campaigns", 7)
    assert len(campaigns) == 51 and {c["id"] for c in campaigns} >= set(ids)
    again = Store()
    again.ensure_seeded(120)
    assert again.seed_extra_campaigns(35, accounts_each=10) == ids
    assert again.list_campaigns(limit=100)[0] == store.list_campaigns(limit=100)[0]
    again.close()
    mapped = walk(client, f"/api/v2/account-campaign-mappings/{PLUS}", 3)
    assert len(mapped) == len({m["campaign_id"] for m in mapped})
    assert any(m["campaign_name"].startswith("Bulk campaign") for m in mapped)


def test_an_old_state_file_gets_the_agency_layout(tmp_path: Any) -> None:
    import sqlite3

    from instantly_cli.sandbox.seed import SEED_WORKSPACES

    path = str(tmp_path / "old.db")
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE workspaces (id TEXT PRIMARY KEY)")
    conn.executemany("INSERT INTO workspaces VALUES (?)", [(w,) for w in SEED_WORKSPACES[:3]])
    conn.commit()
    conn.close()
    old = Store(path)
    old.ensure_seeded(5)
    assert all(old.may_act_as(w) for w in SEED_WORKSPACES)
    assert old.workspace(SEED_WORKSPACES[1])["name"] == "Client North"
    old.close()


def test_a_state_seeded_before_campaigns_gets_them(tmp_path: Any) -> None:
    path = str(tmp_path / "before.db")
    fresh = Store()
    fresh.ensure_seeded(120)
    old = Store(path)
    old.ensure_seeded(120)
    # What an older sandbox left: the same accounts and tags, no campaigns.
    old._conn.execute("DELETE FROM campaigns")
    old._conn.execute("DELETE FROM meta WHERE key = 'campaigns'")
    old.close()
    again = Store(path)
    again.ensure_seeded(120)
    assert again.list_campaigns()[0] == fresh.list_campaigns()[0]
    again.ensure_seeded(120)  # once only
    assert len(again.list_campaigns()[0]) == 16
    again.close()
    fresh.close()


def test_every_operation_of_the_spec_is_served(client: httpx.Client) -> None:
    from tests.contract import PATHS

    for template, operations in PATHS.items():
        path = template.replace("{email}", "nobody%40example.com").replace("{id}", "x")
        for method in operations:
            if method not in ("get", "post", "patch", "delete", "put"):
                continue
            resp = client.request(method.upper(), path)
            # Reaching a handler: anything but the router's own "Route … not found".
            assert "Route " not in resp.json().get("message", ""), (method, template)


def test_a_moved_account_leaves_its_campaigns(client: httpx.Client) -> None:
    north = "5a4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c"
    listed = [c for c in walk(client, "/api/v2/campaigns", 100) if PLUS in c["email_list"]]
    assert listed
    moved = client.post(
        "/api/v2/accounts/move",
        json={
            "emails": [PLUS],
            "source_workspace_id": "0b6b2c1e-5f0a-4d2e-9c3b-7a1d2e3f4a5b",
            "destination_workspace_id": north,
        },
    )
    assert moved.status_code == 200
    assert all(PLUS not in c["email_list"] for c in walk(client, "/api/v2/campaigns", 100))
    there = client.get(
        f"/api/v2/account-campaign-mappings/{PLUS}", headers={"x-as-workspace": north}
    )
    assert there.json() == {"items": []}
    assert client.get(f"/api/v2/account-campaign-mappings/{PLUS}").status_code == 404


def test_filtered_pages_follow_ts_then_id_and_resume_after_a_dropped_cursor(
    store: Store, client: httpx.Client
) -> None:
    # Ties on timestamp_created break by id; the cursor may be a campaign the filter drops.
    stamp = "2026-03-01T00:00:00.000Z"
    twins = [
        new_campaign(f"{NORTH_ID[:-2]}0{k}", f"Twin {k}", k % 2 + 1, stamp, stamp, [], [],
                     DEFAULT_WORKSPACE_ID, daily_limit=10)
        for k in range(6)
    ]  # fmt: skip
    with store._tx() as conn:
        store._insert_campaigns(conn, twins)
    everything = walk(client, "/api/v2/campaigns", 100)
    keys = [(c["timestamp_created"], c["id"]) for c in everything]
    assert keys == sorted(keys, reverse=True) and len(everything) == 22
    for params in ({"status": 1}, {"search": "TWIN"}, {"exclude_status": 1, "search": "t"}):
        expected = [
            c["id"]
            for c in everything
            if ("status" not in params or c["status"] == params["status"])
            and ("search" not in params or str(params["search"]).casefold() in c["name"].casefold())
            and c["status"] != params.get("exclude_status")
        ]
        assert [c["id"] for c in walk(client, "/api/v2/campaigns", 2, **params)] == expected
    paused = next(c for c in everything if c["name"] == "Twin 3")
    rest = walk(client, "/api/v2/campaigns", 3, status=1, starting_after=paused["id"])
    after = everything[everything.index(paused) + 1 :]
    assert [c["id"] for c in rest] == [c["id"] for c in after if c["status"] == 1]
    north = new_campaign(NORTH_ID, "North", 1, stamp, stamp, [], [], NORTH, daily_limit=10)
    with store._tx() as conn:
        store._insert_campaigns(conn, [north])
    assert client.get("/api/v2/campaigns", headers={"x-as-workspace": NORTH}).json()["items"]
    other = client.get("/api/v2/campaigns", params={"starting_after": NORTH_ID})
    assert other.status_code == 400 and "unknown campaign" in other.json()["message"]


def test_email_list_takes_any_case_keeps_the_stored_spelling_and_names_the_bad_item(
    store: Store, client: httpx.Client
) -> None:
    url = f"/api/v2/campaigns/{SEED_CAMPAIGN_ID}"
    emails = sorted(accounts_with_tags(client))
    asked = [e.upper() if n % 3 == 0 else e for n, e in enumerate(emails)]
    asked += [e.title() for e in emails[:10]] + emails[:5]
    got = client.patch(url, json={"email_list": asked}).json()
    assert got["email_list"] == emails
    before = client.get(url).json()
    bad = client.patch(url, json={"email_list": [*asked, "ghost@nowhere.io", PLUS]})
    assert bad.status_code == 400
    assert bad.json()["message"].startswith(f"body/email_list/{len(asked)} ")
    store.move_accounts([PLUS], DEFAULT_WORKSPACE_ID, NORTH)
    gone = client.patch(url, json={"email_list": [emails[1], PLUS.upper()]})
    assert gone.status_code == 400 and "body/email_list/1 " in gone.json()["message"]
    after = client.get(url).json()
    assert after["email_list"] == [e for e in before["email_list"] if e != PLUS]
