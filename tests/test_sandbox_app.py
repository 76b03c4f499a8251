"""The sandbox WSGI app: spec-faithful behaviour, driven in-process through httpx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import SEED_CAMPAIGN_ID, AccountQuery, Store
from tests.contract import validate_recorded, validate_request
from tests.sandbox_client import walk

KEY = "sandbox-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
PLUS = "ops+eu@acme-outreach.com"
ZOE = "zoe.muller@acme-outreach.com"


@pytest.fixture
def sbx_store() -> Iterator[Store]:
    store = Store()
    store.ensure_seeded(120)
    yield store
    store.close()


@pytest.fixture
def app(sbx_store: Store) -> Iterator[SandboxApp]:
    application = SandboxApp(sbx_store, api_key=KEY)
    yield application
    # Every exchange of every test is checked against the OpenAPI document.
    assert validate_recorded(application) == application.request_count


@pytest.fixture
def client(app: SandboxApp) -> Iterator[httpx.Client]:
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url="http://sandbox", headers=AUTH) as c:
        yield c


def all_accounts(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    return walk(client, "/api/v2/accounts", 100, **params)


def assert_envelope(resp: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"statusCode", "error", "message"}
    assert body["statusCode"] == status
    for word in words:
        assert word in body["message"], body["message"]
    return dict(body)


# -- seed ----------------------------------------------------------------------------------


def test_seed_covers_every_enum_and_edge(client: httpx.Client) -> None:
    items = all_accounts(client)
    assert len(items) == 120
    assert {a["status"] for a in items} == {1, 2, 3, -1, -2, -3}
    assert {a["warmup_status"] for a in items} == {0, 1, -1, -2, -3}
    assert {a["provider_code"] for a in items} == {1, 2, 3, 4, 8, 11}
    for acc in items:
        if acc["status"] < 0:
            assert set(acc["status_message"]) == {
                "code",
                "command",
                "response",
                "e_message",
                "responseCode",
            }
        else:
            assert "status_message" not in acc
    assert any(a["daily_limit"] is None for a in items)
    assert any(a["tracking_domain_name"] is None for a in items)
    assert any("+" in a["email"] for a in items)
    names = {a["first_name"] for a in items} | {a["last_name"] for a in items}
    assert {"Zoë", "Müller", "José"} <= names
    assert len({a["timestamp_created"] for a in items}) == 120
    assert {a["warmup"]["increment"] for a in items} >= {"disabled", "0"}


def test_seed_is_deterministic() -> None:
    a, b = Store(), Store()
    a.ensure_seeded(50)
    b.ensure_seeded(50)
    assert a.list_accounts(AccountQuery()) == b.list_accounts(AccountQuery())
    assert a.list_tags() == b.list_tags()
    assert a.list_mappings() == b.list_mappings()


# -- listing -------------------------------------------------------------------------------


def test_cursor_pagination_limit_7_sees_every_email_once(
    client: httpx.Client, app: SandboxApp
) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 7}
        if cursor:
            params["starting_after"] = cursor
        page = client.get("/api/v2/accounts", params=params).json()
        pages += 1
        assert len(page["items"]) <= 7
        seen += [a["email"] for a in page["items"]]
        cursor = page.get("next_starting_after")
        if cursor is None:
            break
        assert cursor == f"{page['items'][-1]['timestamp_created']}&{page['items'][-1]['email']}"
    assert pages == 18  # 17 full pages of 7 + 1 page of 1, the last without a cursor
    assert len(seen) == len(set(seen)) == 120
    assert PLUS in seen
    # The cursor went over the wire with & and + encoded.
    assert any("starting_after=" in r.query and "%26" in r.query for r in app.requests)
    stamps = [a["timestamp_created"] for a in all_accounts(client)]
    assert stamps == sorted(stamps, reverse=True)


def test_exact_multiple_last_page_has_no_cursor(client: httpx.Client) -> None:
    first = client.get("/api/v2/accounts", params={"limit": 60}).json()
    second = client.get(
        "/api/v2/accounts", params={"limit": 60, "starting_after": first["next_starting_after"]}
    ).json()
    assert len(second["items"]) == 60
    assert "next_starting_after" not in second
    assert set(first) == {"items", "next_starting_after"}


def test_ascending_cursor_and_legacy_cursor(client: httpx.Client) -> None:
    asc = all_accounts(client, sort_order="asc")
    stamps = [a["timestamp_created"] for a in asc]
    assert stamps == sorted(stamps) and len(asc) == 120
    pivot = asc[10]["timestamp_created"]
    page = client.get("/api/v2/accounts", params={"starting_after": pivot, "limit": 100}).json()
    assert all(a["timestamp_created"] < pivot for a in page["items"])
    assert len(page["items"]) == 10


@pytest.mark.parametrize("value", ["0", "101", "abc", "-1"])
def test_limit_out_of_range_is_400(client: httpx.Client, value: str) -> None:
    assert_envelope(client.get("/api/v2/accounts", params={"limit": value}), 400, "limit")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("status", "7"),
        ("status", "active"),
        ("provider_code", "5"),
        ("filter", "ACC_FILTER_NOPE"),
        ("sort_by", "name"),
        ("sort_order", "up"),
        ("include_tags", "maybe"),
        ("skip", "-3"),
    ],
)
def test_invalid_enum_query_is_400(client: httpx.Client, name: str, value: str) -> None:
    assert_envelope(client.get("/api/v2/accounts", params={name: value}), 400, name)


def test_status_provider_and_search_filters(client: httpx.Client) -> None:
    everyone = all_accounts(client)
    for status in (1, 2, 3, -1, -2, -3):
        got = all_accounts(client, status=status)
        assert got and {a["email"] for a in got} == {
            a["email"] for a in everyone if a["status"] == status
        }
    google = all_accounts(client, provider_code=2)
    assert google and all(a["provider_code"] == 2 for a in google)
    assert len(google) == sum(a["provider_code"] == 2 for a in everyone)
    found = all_accounts(client, search="MÜLLER")
    assert ZOE in {a["email"] for a in found}
    assert all(
        "müller" in (a["email"] + a["first_name"] + a["last_name"]).casefold() for a in found
    )
    assert [a["email"] for a in all_accounts(client, search="ops+eu")] == [PLUS]


FILTER_PREDICATES = {
    "ACC_FILTER_PAUSED": lambda a: a["status"] == 2,
    "ACC_FILTER_ERROR": lambda a: a["status"] < 0,
    "ACC_FILTER_NO_CTD": lambda a: not a["tracking_domain_name"],
    "ACC_FILTER_PW_ACCOUNTS": lambda a: a["provider_code"] in (8, 11),
    "ACC_FILTER_DFY": lambda a: a["is_managed_account"],
    "ACC_FILTER_DFY_SETUP_PENDING": lambda a: a["is_managed_account"] and a["setup_pending"],
    "ACC_FILTER_W_ACTIVE": lambda a: a["warmup_status"] == 1,
    "ACC_FILTER_W_PAUSED": lambda a: a["warmup_status"] == 0,
    "ACC_FILTER_W_ERROR": lambda a: a["warmup_status"] < 0,
}


@pytest.mark.parametrize("name", sorted(FILTER_PREDICATES))
def test_each_filter(client: httpx.Client, name: str) -> None:
    everyone = all_accounts(client)
    expected = {a["email"] for a in everyone if FILTER_PREDICATES[name](a)}
    got = {a["email"] for a in all_accounts(client, filter=name)}
    assert expected and got == expected


@pytest.mark.parametrize("field", ["timestamp_created", "email", "stat_warmup_score", "status"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_with_skip_and_no_cursor(client: httpx.Client, field: str, order: str) -> None:
    items: list[dict[str, Any]] = []
    for skip in range(0, 120, 50):
        page = client.get(
            "/api/v2/accounts",
            params={"sort_by": field, "sort_order": order, "limit": 50, "skip": skip},
        ).json()
        assert "next_starting_after" not in page
        items += page["items"]
    assert len({a["email"] for a in items}) == 120

    def key(a: dict[str, Any]) -> Any:
        # The score may be null or absent (both legal); SQLite orders NULL first ascending.
        value = a.get(field)
        return (value is not None, value if value is not None else 0)

    keys = [key(a) for a in items]
    assert keys == sorted(keys, reverse=order == "desc")


def test_sort_order_defaults_to_desc_with_sort_by(client: httpx.Client) -> None:
    page = client.get("/api/v2/accounts", params={"sort_by": "email"}).json()
    emails = [a["email"] for a in page["items"]]
    assert emails == sorted(emails, reverse=True)


def tag_ids(client: httpx.Client) -> dict[str, str]:
    return {t["label"]: t["id"] for t in client.get("/api/v2/custom-tags").json()["items"]}


def test_tag_any_of_all_of_and_include_tags(client: httpx.Client) -> None:
    tags = tag_ids(client)
    a, b = tags["Client A"], tags["Client B"]
    tagged = all_accounts(client, include_tags="true")
    has = {acc["email"]: {t["label"] for t in acc["tags"]} for acc in tagged}
    for acc in tagged:
        for tag in acc["tags"]:
            assert set(tag) == {"id", "label", "description"}
    in_a = {e for e, labels in has.items() if "Client A" in labels}
    in_b = {e for e, labels in has.items() if "Client B" in labels}
    assert in_a and in_b and in_a & in_b and in_a - in_b
    any_of = {x["email"] for x in all_accounts(client, tag_ids=f"{a},{b}")}
    all_of = {x["email"] for x in all_accounts(client, tag_ids_all=f"{a},{b}")}
    assert any_of == in_a | in_b
    assert all_of == in_a & in_b
    assert "Équipe Paris" in has[ZOE]
    plain = client.get("/api/v2/accounts", params={"limit": 3}).json()["items"]
    assert all("tags" not in acc for acc in plain)


# -- single accounts -----------------------------------------------------------------------


def test_get_plus_email_via_percent_encoding(client: httpx.Client, app: SandboxApp) -> None:
    resp = client.get("/api/v2/accounts/ops%2Beu%40acme-outreach.com")
    assert resp.status_code == 200
    assert resp.json()["email"] == PLUS
    assert app.requests[-1].path == "/api/v2/accounts/ops%2Beu%40acme-outreach.com"
    assert_envelope(client.get("/api/v2/accounts/nobody%40example.com"), 404, "nobody@example.com")


VALID_PATCH = {"first_name": "Renamed", "warmup": {"limit": 25}}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"nickname": "x"}, ["nickname"]),
        ({"warmup": {"limitt": 3}}, ["limitt"]),
        ({"warmup": {"advanced": {"turbo": True}}}, ["turbo"]),
        ({"daily_limit": "50"}, ["daily_limit"]),
        ({"daily_limit": True}, ["daily_limit"]),
        ({"sending_gap": 1441}, ["sending_gap"]),
        ({"sending_gap": -1}, ["sending_gap"]),
        ({"inbox_placement_test_limit": -1}, ["inbox_placement_test_limit"]),
        ({"warmup": {"increment": "5"}}, ["increment"]),
        ({"warmup": {"increment": 1}}, ["increment"]),
        ({"enable_slow_ramp": "true"}, ["enable_slow_ramp"]),
        ({"warmup": {"advanced": {"warm_ctd": 1}}}, ["warm_ctd"]),
        ({"reply_to": "not-an-email"}, ["reply_to"]),
        ({"first_name": None}, ["first_name"]),
        ({}, ["fewer than 1"]),
        ([], ["body"]),
    ],
)
def test_patch_is_strict_and_changes_nothing(
    client: httpx.Client, body: Any, words: list[str]
) -> None:
    before = client.get(f"/api/v2/accounts/{ZOE}").json()
    resp = client.patch(f"/api/v2/accounts/{ZOE}", json=body)
    assert_envelope(resp, 400, *words)
    assert client.get(f"/api/v2/accounts/{ZOE}").json() == before


def test_patch_invalid_json_and_empty_body(client: httpx.Client) -> None:
    headers = {"Content-Type": "application/json"}
    assert_envelope(client.patch(f"/api/v2/accounts/{ZOE}", content=b"{x", headers=headers), 400)
    assert_envelope(client.patch(f"/api/v2/accounts/{ZOE}", content=b"", headers=headers), 400)


def test_patch_merges_warmup_and_updates_timestamp(client: httpx.Client) -> None:
    before = client.get(f"/api/v2/accounts/{ZOE}").json()
    resp = client.patch(
        f"/api/v2/accounts/{ZOE}",
        json={
            "daily_limit": None,
            "sending_gap": 12.5,
            "signature": "Zoë — Müller",
            "reply_to": "replies+x@acme-outreach.com",
            "warmup": {"limit": 33, "advanced": {"weekday_only": True}},
            "skip_cname_check": True,
        },
    )
    assert resp.status_code == 200
    after = resp.json()
    assert after["daily_limit"] is None and after["sending_gap"] == 12.5
    assert after["signature"] == "Zoë — Müller"
    assert after["warmup"]["limit"] == 33
    assert after["warmup"]["increment"] == before["warmup"]["increment"]
    assert after["warmup"]["reply_rate"] == before["warmup"]["reply_rate"]
    assert after["warmup"]["advanced"]["weekday_only"] is True
    assert after["warmup"]["advanced"]["open_rate"] == before["warmup"]["advanced"]["open_rate"]
    assert "skip_cname_check" not in after
    assert after["timestamp_updated"] > before["timestamp_updated"]
    assert after["timestamp_created"] == before["timestamp_created"]
    assert client.get(f"/api/v2/accounts/{ZOE}").json() == after
    again = client.patch(f"/api/v2/accounts/{ZOE}", json={"last_name": "Müller-Weiß"}).json()
    assert again["timestamp_updated"] > after["timestamp_updated"]


def test_patch_remove_tracking_domain(client: httpx.Client) -> None:
    with_ctd = next(a for a in all_accounts(client) if a["tracking_domain_name"])
    email = with_ctd["email"]
    after = client.patch(f"/api/v2/accounts/{email}", json={"remove_tracking_domain": True}).json()
    assert after["tracking_domain_name"] is None
    assert "remove_tracking_domain" not in after
    filtered = {a["email"] for a in all_accounts(client, filter="ACC_FILTER_NO_CTD")}
    assert email in filtered


def test_patch_unknown_account_is_404(client: httpx.Client) -> None:
    assert_envelope(client.patch("/api/v2/accounts/ghost@x.io", json={"first_name": "A"}), 404)


# -- pause / resume ------------------------------------------------------------------------


def test_pause_and_resume_single(client: httpx.Client) -> None:
    paused = client.post(f"/api/v2/accounts/{PLUS.replace('+', '%2B')}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == 2
    assert client.get(f"/api/v2/accounts/{PLUS.replace('+', '%2B')}").json()["status"] == 2
    resumed = client.post(f"/api/v2/accounts/{PLUS.replace('+', '%2B')}/resume")
    assert resumed.json()["status"] == 1
    assert_envelope(client.post("/api/v2/accounts/ghost@x.io/pause"), 404)
    assert_envelope(client.post("/api/v2/accounts/ghost@x.io/resume"), 404)


def test_bodyless_post_with_json_content_type_is_rejected(client: httpx.Client) -> None:
    headers = {"Content-Type": "application/json"}
    resp = client.post(f"/api/v2/accounts/{ZOE}/pause", headers=headers)
    assert_envelope(resp, 400, "Body cannot be empty")


JOSE = "jose.garcia@fabrikam-sales.com"


def test_bulk_pause_reports_failures(client: httpx.Client) -> None:
    assert client.get(f"/api/v2/accounts/{PLUS}").json()["status"] == 1
    assert client.get(f"/api/v2/accounts/{JOSE}").json()["status"] == 3
    assert client.get(f"/api/v2/accounts/{ZOE}").json()["status"] == 2  # seeded paused
    resp = client.post(
        "/api/v2/accounts/pause", json={"emails": [JOSE, "ghost@x.io", PLUS, ZOE, PLUS]}
    )
    # Each unique email once; an already paused account's status did not change: failed.
    assert resp.json() == {"paused_emails": [JOSE, PLUS], "failed_emails": ["ghost@x.io", ZOE]}
    assert client.get(f"/api/v2/accounts/{JOSE}").json()["status"] == 2
    again = client.post("/api/v2/accounts/pause", json={"emails": [JOSE]}).json()
    assert again == {"paused_emails": [], "failed_emails": [JOSE]}
    assert_envelope(client.post("/api/v2/accounts/pause", json={"emails": []}), 400, "emails")
    many = [f"u{i}@x.io" for i in range(101)]
    assert_envelope(client.post("/api/v2/accounts/pause", json={"emails": many}), 400, "100")
    assert_envelope(client.post("/api/v2/accounts/pause", json={"email": [ZOE]}), 400, "email")


# -- warmup jobs ---------------------------------------------------------------------------


def test_warmup_job_lifecycle(client: httpx.Client) -> None:
    paused = [a["email"] for a in all_accounts(client, filter="ACC_FILTER_W_PAUSED")][:3]
    job = client.post("/api/v2/accounts/warmup/enable", json={"emails": paused}).json()
    assert job["status"] == "pending" and job["progress"] == 0
    assert len(job["id"]) == 24 and int(job["id"], 16) >= 0
    assert job["type"] == "update-warmup-accounts"
    states = []
    for _ in range(3):
        polled = client.get(f"/api/v2/background-jobs/{job['id']}").json()
        states.append((polled["status"], polled["progress"]))
        if polled["status"] == "in-progress":
            assert client.get(f"/api/v2/accounts/{paused[0]}").json()["warmup_status"] == 0
    assert states == [("in-progress", 50), ("success", 100), ("success", 100)]
    for email in paused:
        assert client.get(f"/api/v2/accounts/{email}").json()["warmup_status"] == 1
    job = client.post("/api/v2/accounts/warmup/disable", json={"emails": paused[:1]}).json()
    client.get(f"/api/v2/background-jobs/{job['id']}")
    client.get(f"/api/v2/background-jobs/{job['id']}")
    assert client.get(f"/api/v2/accounts/{paused[0]}").json()["warmup_status"] == 0


def test_warmup_job_with_unknown_email_fails_and_changes_nothing(client: httpx.Client) -> None:
    target = all_accounts(client, filter="ACC_FILTER_W_PAUSED")[0]["email"]
    job = client.post(
        "/api/v2/accounts/warmup/enable", json={"emails": [target, "ghost@x.io"]}
    ).json()
    client.get(f"/api/v2/background-jobs/{job['id']}")
    final = client.get(f"/api/v2/background-jobs/{job['id']}").json()
    assert final["status"] == "failed"
    assert client.get(f"/api/v2/accounts/{target}").json()["warmup_status"] == 0


def test_warmup_include_all_with_exclusions(client: httpx.Client) -> None:
    paused = [a["email"] for a in all_accounts(client, filter="ACC_FILTER_W_PAUSED")]
    job = client.post(
        "/api/v2/accounts/warmup/enable",
        json={
            "include_all_emails": True,
            "filter": {"filter": "ACC_FILTER_W_PAUSED"},
            "excluded_emails": paused[:1],
        },
    ).json()
    for _ in range(2):
        client.get(f"/api/v2/background-jobs/{job['id']}")
    still_paused = {a["email"] for a in all_accounts(client, filter="ACC_FILTER_W_PAUSED")}
    assert still_paused == {paused[0]}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"emails": []},
        {"emails": "a@b.co"},
        {"emails": [f"u{i}@x.io" for i in range(101)]},
        {"emails": ["a@b.co"], "bogus": 1},
        {"include_all_emails": True, "filter": {"filter": "NOPE"}},
    ],
)
def test_warmup_validation(client: httpx.Client, body: dict[str, Any]) -> None:
    assert_envelope(client.post("/api/v2/accounts/warmup/enable", json=body), 400)


def test_unknown_job_is_404(client: httpx.Client) -> None:
    assert_envelope(client.get("/api/v2/background-jobs/" + "0" * 24), 404)


# -- tags ----------------------------------------------------------------------------------


def test_seed_tags_and_campaign_mapping(client: httpx.Client) -> None:
    tags = tag_ids(client)
    assert {"Client A", "Client B", "Pool: Google", "Warm pool", "Équipe Paris"} <= set(tags)
    mappings = client.get(
        "/api/v2/custom-tag-mappings", params={"resource_ids": SEED_CAMPAIGN_ID}
    ).json()["items"]
    assert [(m["tag_id"], m["resource_type"]) for m in mappings] == [(tags["Client A"], 2)]
    zoe_tags = client.get("/api/v2/custom-tags", params={"resource_ids": ZOE}).json()["items"]
    assert "Équipe Paris" in {t["label"] for t in zoe_tags}
    found = client.get("/api/v2/custom-tags", params={"search": "client"}).json()["items"]
    assert {t["label"] for t in found} == {"Client A", "Client B"}
    one = client.get("/api/v2/custom-tags", params={"tag_ids": tags["Warm pool"]}).json()
    assert [t["label"] for t in one["items"]] == ["Warm pool"]


def test_tag_crud_and_conflict(client: httpx.Client) -> None:
    created = client.post(
        "/api/v2/custom-tags", json={"label": "  Night shift ", "description": None}
    )
    assert created.status_code == 200
    tag = created.json()
    assert tag["label"] == "Night shift"
    assert_envelope(client.post("/api/v2/custom-tags", json={"label": "client a"}), 409, "Client A")
    assert_envelope(client.post("/api/v2/custom-tags", json={"label": "   "}), 400, "label")
    assert_envelope(client.post("/api/v2/custom-tags", json={"name": "x"}), 400, "label")
    assert client.get(f"/api/v2/custom-tags/{tag['id']}").json() == tag
    renamed = client.patch(
        f"/api/v2/custom-tags/{tag['id']}", json={"label": "Day shift", "description": "Days"}
    ).json()
    assert renamed["label"] == "Day shift" and renamed["description"] == "Days"
    assert_envelope(
        client.patch(f"/api/v2/custom-tags/{tag['id']}", json={"label": "WARM POOL"}),
        409,
        "Warm pool",
    )
    assert_envelope(client.patch(f"/api/v2/custom-tags/{tag['id']}", json={}), 400)
    client.post(
        "/api/v2/custom-tags/toggle-resource",
        json={"tag_ids": [tag["id"]], "resource_type": 1, "resource_ids": [ZOE], "assign": True},
    )
    deleted = client.delete(f"/api/v2/custom-tags/{tag['id']}")
    assert deleted.status_code == 200 and deleted.json()["id"] == tag["id"]
    assert_envelope(client.get(f"/api/v2/custom-tags/{tag['id']}"), 404)
    assert_envelope(client.delete(f"/api/v2/custom-tags/{tag['id']}"), 404)
    left = client.get("/api/v2/custom-tag-mappings", params={"resource_ids": ZOE}).json()
    assert tag["id"] not in {m["tag_id"] for m in left["items"]}


def test_toggle_assign_and_unassign(client: httpx.Client) -> None:
    tags = tag_ids(client)
    tid = tags["Do not touch"]

    def mapped() -> set[str]:
        got = set()
        for email in (ZOE, PLUS):
            items = client.get(
                "/api/v2/custom-tag-mappings", params={"resource_ids": email}
            ).json()["items"]
            got |= {m["resource_id"] for m in items if m["tag_id"] == tid}
        return got

    assert mapped() == set()
    body = {"tag_ids": [tid], "resource_type": 1, "resource_ids": [ZOE, PLUS], "assign": True}
    resp = client.post("/api/v2/custom-tags/toggle-resource", json=body)
    assert resp.json() == {"success": True}
    assert mapped() == {ZOE, PLUS}
    before = client.get("/api/v2/custom-tag-mappings", params={"resource_ids": ZOE}).json()
    client.post("/api/v2/custom-tags/toggle-resource", json=body)  # assigning twice is a no-op
    after = client.get("/api/v2/custom-tag-mappings", params={"resource_ids": ZOE}).json()
    assert after == before
    assert {a["email"] for a in all_accounts(client, tag_ids=tid)} == {ZOE, PLUS}
    unassign = {**body, "assign": False, "resource_ids": [ZOE]}
    assert client.post("/api/v2/custom-tags/toggle-resource", json=unassign).status_code == 200
    assert mapped() == {PLUS}
    bad = {**body, "tag_ids": ["00000000-0000-4000-8000-000000000000"]}
    assert_envelope(client.post("/api/v2/custom-tags/toggle-resource", json=bad), 404)
    assert_envelope(
        client.post("/api/v2/custom-tags/toggle-resource", json={**body, "resource_type": 3}), 400
    )
    assert_envelope(
        client.post("/api/v2/custom-tags/toggle-resource", json={**body, "extra": 1}), 400, "extra"
    )
    no_ids = {k: v for k, v in body.items() if k != "resource_ids"}
    assert_envelope(client.post("/api/v2/custom-tags/toggle-resource", json=no_ids), 400)
    assert mapped() == {PLUS}


def test_toggle_selected_all_with_filter(client: httpx.Client) -> None:
    tid = tag_ids(client)["Do not touch"]
    client.post(
        "/api/v2/custom-tags/toggle-resource",
        json={
            "tag_ids": [tid],
            "resource_type": 1,
            "assign": True,
            "selected_all": True,
            "filter": "ACC_FILTER_PAUSED",
        },
    )
    paused = {a["email"] for a in all_accounts(client, filter="ACC_FILTER_PAUSED")}
    assert {a["email"] for a in all_accounts(client, tag_ids=tid)} == paused


def test_tags_and_mappings_paginate_past_100(client: httpx.Client, sbx_store: Store) -> None:
    new_ids = sbx_store.seed_extra_tags(110, [ZOE, PLUS])
    assert len(new_ids) == 110
    tags: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["starting_after"] = cursor
        page = client.get("/api/v2/custom-tags", params=params).json()
        tags += [t["id"] for t in page["items"]]
        cursor = page.get("next_starting_after")
        if not cursor:
            break
    assert len(tags) == len(set(tags)) == 116
    mapping_ids: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 30, "resource_ids": f"{ZOE},{PLUS}"}
        if cursor:
            params["starting_after"] = cursor
        page = client.get("/api/v2/custom-tag-mappings", params=params).json()
        pages += 1
        mapping_ids += [m["id"] for m in page["items"]]
        cursor = page.get("next_starting_after")
        if not cursor:
            break
    assert len(mapping_ids) == len(set(mapping_ids)) >= 220
    assert pages >= 8
    every = []
    cursor = None
    while True:
        params = {"limit": 100}
        if cursor:
            params["starting_after"] = cursor
        page = client.get("/api/v2/custom-tag-mappings", params=params).json()
        every += page["items"]
        cursor = page.get("next_starting_after")
        if not cursor:
            break
    assert len(every) == len({m["id"] for m in every}) > 300
    assert_envelope(client.get("/api/v2/custom-tag-mappings", params={"limit": 101}), 400)


# -- auth, routing -------------------------------------------------------------------------


def test_auth_required(app: SandboxApp) -> None:
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url="http://sandbox") as anon:
        assert_envelope(anon.get("/api/v2/accounts"), 401)
        assert_envelope(anon.get("/api/v2/accounts", headers={"Authorization": "Bearer nope"}), 401)
        assert_envelope(anon.get("/api/v2/accounts", headers={"Authorization": "Bearer "}), 401)
        assert anon.get("/api/v2/accounts", headers=AUTH).status_code == 200
    assert all(KEY not in repr(r) for r in app.requests)


def test_any_key_accepted_without_configured_key(sbx_store: Store) -> None:
    open_app = SandboxApp(sbx_store)
    with httpx.Client(transport=httpx.WSGITransport(app=open_app), base_url="http://s") as c:
        assert c.get("/api/v2/accounts", headers={"Authorization": "Bearer x"}).status_code == 200
        assert_envelope(c.get("/api/v2/accounts"), 401)
    validate_recorded(open_app)


def test_unknown_route_and_method(client: httpx.Client) -> None:
    assert_envelope(client.get("/api/v2/leads"), 404, "/api/v2/leads")
    assert_envelope(client.get("/nothing"), 404)
    assert_envelope(client.delete("/api/v2/accounts"), 404)
    assert_envelope(client.put(f"/api/v2/accounts/{ZOE}", json={"a": 1}), 404)


def test_contract_validator_catches_wrong_names() -> None:
    with pytest.raises(AssertionError):
        validate_request("GET", "/api/v2/accounts", "limitt=3", None)
    with pytest.raises(AssertionError):
        validate_request("GET", "/api/v2/accounts", "limit=0", None)
    with pytest.raises(AssertionError):
        validate_request("PATCH", "/api/v2/accounts/a%40b.co", "", b'{"dailylimit": 3}')
    with pytest.raises(AssertionError):
        validate_request("POST", "/api/v2/accounts/a%40b.co/pause", "", b'{"x": 1}')
    with pytest.raises(AssertionError):
        validate_request("GET", "/api/v2/leads", "", None)
    validate_request("POST", "/api/v2/accounts/pause", "", b'{"emails": ["a@b.co"]}')
    validate_request("POST", "/api/v2/accounts/warmup/enable", "", b'{"emails": ["a@b.co"]}')


# -- scale and persistence -----------------------------------------------------------------


def test_a_large_store_pages_in_order_without_duplicates() -> None:
    # How fast 100,000 accounts seed and page is benchmarks/sandbox_scale.py's claim.
    store = Store()
    store.ensure_seeded(6_000)
    assert store.count_accounts() == 6_000
    app = SandboxApp(store, record=False)
    seen: set[str] = set()
    with httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="http://s", headers=AUTH
    ) as c:
        cursor = None
        last = None
        for _ in range(50):
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["starting_after"] = cursor
            page = c.get("/api/v2/accounts", params=params).json()
            assert len(page["items"]) == 100
            for item in page["items"]:
                key = (item["timestamp_created"], item["email"])
                assert last is None or key < last
                last = key
                seen.add(item["email"])
            cursor = page["next_starting_after"]
    assert len(seen) == 5000
    store.close()


def test_state_persists_across_store_instances(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    first = Store(path)
    first.ensure_seeded(40)
    first.patch_account(ZOE, {"first_name": "Persisted"})
    second = Store(path)
    second.ensure_seeded(40)  # already seeded: must not wipe
    acc = second.get_account(ZOE)
    assert acc is not None and acc["first_name"] == "Persisted"
    second.set_status(ZOE, 2)
    again = first.get_account(ZOE)
    assert again is not None and again["status"] == 2
    second.reset(40)
    fresh = first.get_account(ZOE)
    assert fresh is not None and fresh["first_name"] == "Zoë"
    first.close()
    second.close()
