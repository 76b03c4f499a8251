"""services/tags.py called directly (no CliRunner): the sandbox's WSGI app or a MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from instantly_cli.client import InstantlyClient
from instantly_cli.enums import (
    ASSIGNED,
    FAILED,
    UNASSIGNED,
    UNCHANGED,
    WOULD_ASSIGN,
    WOULD_UNASSIGN,
)
from instantly_cli.errors import ConflictError, NetworkError, UsageError
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import SEED_TAGS, Store
from instantly_cli.services import bulk
from instantly_cli.services import tags as service
from tests.conftest import TEST_KEY, envelope

OPS = "ops+eu@acme-outreach.com"
ZOE = "zoe.muller@acme-outreach.com"
TAGS = "/api/v2/custom-tags"
MAPPINGS = "/api/v2/custom-tag-mappings"
TOGGLE = "/api/v2/custom-tags/toggle-resource"
ID_A = "11111111-1111-4111-8111-111111111111"
ID_B = "22222222-2222-4222-8222-222222222222"
ID_GONE = "99999999-9999-4999-8999-999999999999"


@pytest.fixture
def app(store: Store) -> SandboxApp:
    return SandboxApp(store, api_key=TEST_KEY)


@pytest.fixture
def client(app: SandboxApp) -> Iterator[InstantlyClient]:
    with InstantlyClient(
        api_key=TEST_KEY, base_url="http://t", transport=httpx.WSGITransport(app=app)
    ) as c:
        yield c


def mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> InstantlyClient:
    return InstantlyClient(
        api_key=TEST_KEY,
        base_url="http://t",
        transport=httpx.MockTransport(handler),
        backoff_base=0.001,
        max_retry_after=0.01,
        sleep=lambda _: None,
    )


def page(items: list[dict[str, Any]], cursor: str | None = None) -> httpx.Response:
    return httpx.Response(200, json={"items": items, "next_starting_after": cursor})


def calls(app: SandboxApp, method: str, path: str) -> list[Any]:
    return [r for r in app.requests if r.method == method and r.path == path]


def store_tag_ids(store: Store, email: str) -> set[str]:
    items, _ = store.list_mappings(limit=100, resource_ids=[email])
    return {str(m["tag_id"]) for m in items if m["resource_type"] == 1}


# -- TagIndex ----------------------------------------------------------------------------------


def test_index_reads_every_page_once_and_resolves_labels_and_ids(
    client: InstantlyClient, app: SandboxApp, store: Store
) -> None:
    ids = store.seed_extra_tags(250)
    index = service.TagIndex.fetch(client)
    pages = calls(app, "GET", TAGS)
    assert len(pages) == 3  # 256 tags at 100 a page
    assert len(index.tags) == len(SEED_TAGS) + 250
    last = store.get_tag(ids[-1])
    # A label on the last page, matched trimmed and case-insensitively; an id as itself.
    assert index.resolve(f"  {last['label'].upper()} ") == ids[-1]
    assert index.resolve(ids[-1]) == ids[-1]
    assert index.label(ids[-1]) == last["label"]
    # Several specs, one of them twice: ids in the order given, each once; no more requests.
    got = service.resolve_tag_ids(index, [last["label"], "client a", ids[-1]])
    assert got == [ids[-1], index.resolve("Client A")]
    assert service.resolve_tag_ids(index, None) == []
    assert len(calls(app, "GET", TAGS)) == 3


def test_unknown_label_suggests_close_ones_and_unknown_id_says_so(
    client: InstantlyClient,
) -> None:
    index = service.TagIndex.fetch(client)
    with pytest.raises(UsageError) as err:
        index.resolve("Client")
    assert err.value.message == "No tag is labelled 'Client'."
    # Not a near-typo of any label: the tag is new, and the hint says how to create it.
    assert err.value.hint == "Create it: instantly tags create Client"
    with pytest.raises(UsageError) as err:
        index.resolve("Clent A")
    assert "did you mean 'Client A'" in str(err.value.hint)
    with pytest.raises(UsageError) as err:
        index.resolve("zzzz qqqq")
    assert err.value.hint == "Create it: instantly tags create 'zzzz qqqq'"
    with pytest.raises(UsageError) as err:
        index.resolve(ID_GONE)
    assert err.value.message == f"No tag has the id '{ID_GONE}'."
    assert err.value.exit_code == 2


def test_ambiguous_label_lists_the_ids() -> None:
    index = service.TagIndex(
        [{"id": ID_A, "label": "Client A"}, {"id": ID_B, "label": " client a"}]
    )
    with pytest.raises(UsageError) as err:
        index.resolve("CLIENT A")
    assert err.value.message == "Tag label 'CLIENT A' matches 2 tags."
    assert ID_A in str(err.value.hint) and ID_B in str(err.value.hint)
    # Its id still picks one.
    assert index.resolve(ID_B) == ID_B


def test_pagination_anomaly_reaches_warn_and_stops() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return page([{"id": f"t{len(seen)}", "label": f"L{len(seen)}"}], cursor="same")

    warnings: list[str] = []
    with mock_client(handler) as c:
        index = service.TagIndex.fetch(c, warnings.append)
    assert len(seen) == 2 and [t["id"] for t in index.tags] == ["t1", "t2"]
    assert len(warnings) == 1
    assert warnings[0].startswith("Listing custom-tags ended early: the API repeated the cursor")


# -- the mapping join --------------------------------------------------------------------------


def test_attach_tags_and_map_rows_survive_a_mapping_whose_tag_is_gone() -> None:
    tags = [{"id": ID_A, "label": "Zeta", "description": "z"}, {"id": ID_B, "label": "alpha"}]
    mappings = [
        {"id": "m1", "tag_id": ID_A, "resource_id": OPS.upper(), "resource_type": 1},
        {"id": "m2", "tag_id": ID_GONE, "resource_id": OPS, "resource_type": 1},
        {"id": "m3", "tag_id": ID_B, "resource_id": OPS, "resource_type": 1},
        {"id": "m4", "tag_id": ID_B, "resource_id": "campaign-1", "resource_type": 2},
        {"id": "m5", "tag_id": ID_A, "resource_id": ZOE, "resource_type": 1},
    ]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == TAGS:
            return page(tags)
        assert request.url.path == MAPPINGS
        wanted = request.url.params.get("resource_ids")
        if wanted is None:
            return page(mappings)
        keep = {e.lower() for e in wanted.split(",")}
        return page([m for m in mappings if str(m["resource_id"]).lower() in keep])

    with mock_client(handler) as c:
        accounts: list[Any] = [{"email": OPS}, {"email": "nobody@x.io"}]
        service.attach_tags(c, accounts)
        # Mappings first, then the labels; the emails go as one comma-separated filter.
        assert [r.url.path for r in seen] == [MAPPINGS, TAGS]
        assert seen[0].url.params["resource_ids"] == f"{OPS},nobody@x.io"
        assert accounts[0]["tags"] == [
            {"id": ID_B, "label": "alpha", "description": None},
            {"id": ID_GONE, "label": f"unknown tag ({ID_GONE})", "description": None},
            {"id": ID_A, "label": "Zeta", "description": "z"},
        ]
        assert accounts[1]["tags"] == []

        index = service.TagIndex.fetch(c)
        rows = service.map_rows(c, index, resource_type=None)
        assert [(r["tag_label"], r["resource_id"]) for r in rows] == [
            ("alpha", OPS),
            ("alpha", "campaign-1"),
            (f"unknown tag ({ID_GONE})", OPS),
            ("Zeta", OPS.upper()),
            ("Zeta", ZOE),
        ]
        only = service.map_rows(c, index, tag_specs=["zeta"], emails=[ZOE])
        assert [r["id"] for r in only] == ["m5"]
        groups = service.group_by_resource(service.map_rows(c, index))
    assert groups == [
        {
            "resource_id": OPS,
            "resource_type": 1,
            "email": OPS,
            "tags": [
                {"id": ID_B, "label": "alpha"},
                {"id": ID_GONE, "label": f"unknown tag ({ID_GONE})"},
                {"id": ID_A, "label": "Zeta"},
            ],
        },
        {
            "resource_id": ZOE,
            "resource_type": 1,
            "email": ZOE,
            "tags": [{"id": ID_A, "label": "Zeta"}],
        },
    ]


def test_attach_tags_asks_nothing_for_no_accounts() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request {request.url}")

    with mock_client(handler) as c:
        service.attach_tags(c, [])


def test_fetch_mappings_asks_in_batches_of_100(
    client: InstantlyClient, app: SandboxApp, store: Store
) -> None:
    emails = [f"u{i:03d}@example.com" for i in range(150)] + [OPS]
    got = service.fetch_mappings(client, emails)
    asked = calls(app, "GET", MAPPINGS)
    filters = [parse_qs(r.query)["resource_ids"][0].split(",") for r in asked]
    assert [e for f in filters for e in f] == emails
    assert [len(f) for f in filters] == [100, 51]
    assert {(m["resource_id"], m["tag_id"]) for m in got if m["resource_id"] == OPS} == {
        (OPS, t) for t in store_tag_ids(store, OPS)
    }


# -- assign / unassign -------------------------------------------------------------------------


def test_toggle_work_sends_one_request_per_batch_and_reads_success_false() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == TOGGLE
        body = json.loads(request.content)
        bodies.append(body)
        ok = OPS in body["resource_ids"]
        return httpx.Response(200, json={"success": ok})

    with mock_client(handler) as c:
        work = service.toggle_work(c, [ID_A, ID_B], assign=True)
        done = work([OPS, ZOE])
        refused = work(["b@x.io", "c@x.io"])
        undo = service.toggle_work(c, [ID_A], assign=False)([OPS])
    assert bodies[0] == {
        "tag_ids": [ID_A, ID_B],
        "resource_type": 1,
        "resource_ids": [OPS, ZOE],
        "assign": True,
    }
    assert bodies[2]["assign"] is False
    assert [(o.email, o.result, o.extra) for o in done] == [
        (OPS, ASSIGNED, {"tag_ids": [ID_A, ID_B]}),
        (ZOE, ASSIGNED, {"tag_ids": [ID_A, ID_B]}),
    ]
    assert [(o.email, o.result, o.code) for o in refused] == [
        ("b@x.io", FAILED, "not_applied"),
        ("c@x.io", FAILED, "not_applied"),
    ]
    assert refused[0].error == "the API answered success: false"
    assert [o.result for o in undo] == [UNASSIGNED]
    result = bulk.RunResult([*done, *refused], False, 0.0)
    assert result.exit_code() == 1 and len(result.failed) == 2


def test_toggle_batches_are_request_sized() -> None:
    emails = [f"u{i}@x.io" for i in range(250)]
    assert [len(b) for b in service.toggle_batches(emails)] == [100, 100, 50]


def test_dry_run_plan_says_who_gains_or_loses_what_and_sends_no_toggle(
    client: InstantlyClient, app: SandboxApp, store: Store
) -> None:
    (held,) = store.seed_extra_tags(1, map_to=[OPS])
    (fresh,) = store.seed_extra_tags(1)
    index = service.TagIndex.fetch(client)
    ticks = iter([10.0, 12.5])
    plan = service.plan_toggle(
        client, index, [held, fresh], [OPS, ZOE], True, clock=lambda: next(ticks)
    )
    assert plan.elapsed == 2.5 and not plan.interrupted
    got = {
        o.email: (o.result, [(c["tag_id"], c["result"]) for c in o.extra["changes"]])
        for o in plan.outcomes
    }
    assert got == {
        OPS: (WOULD_ASSIGN, [(held, UNCHANGED), (fresh, WOULD_ASSIGN)]),
        ZOE: (WOULD_ASSIGN, [(held, WOULD_ASSIGN), (fresh, WOULD_ASSIGN)]),
    }
    assert plan.outcomes[0].extra["changes"][0]["tag_label"] == index.label(held)

    undo = service.plan_toggle(client, index, [held, fresh], [OPS, ZOE], False)
    assert [(o.email, o.result) for o in undo.outcomes] == [
        (OPS, WOULD_UNASSIGN),
        (ZOE, UNCHANGED),
    ]
    assert [c["result"] for c in undo.outcomes[0].extra["changes"]] == [WOULD_UNASSIGN, UNCHANGED]
    assert undo.exit_code() == 0
    assert calls(app, "POST", TOGGLE) == []
    assert store_tag_ids(store, OPS) >= {held} and fresh not in store_tag_ids(store, OPS)


# -- create / rename / delete ------------------------------------------------------------------


def test_create_conflict_names_the_tag_that_has_the_label(
    client: InstantlyClient, store: Store
) -> None:
    index = service.TagIndex.fetch(client)
    existing = index.resolve("Client A")
    with pytest.raises(ConflictError) as err:
        service.create_tag(client, "client a")
    assert err.value.message == f"A tag labelled 'Client A' already exists (id {existing})."
    assert "Labels are unique per workspace" in str(err.value.hint)
    made = service.create_tag(client, "Client C", "for C")
    assert made["label"] == "Client C" and store.get_tag(made["id"])["description"] == "for C"


def test_rename_conflict_ignores_the_tag_itself_and_delete_returns_the_tag(
    client: InstantlyClient, store: Store
) -> None:
    index = service.TagIndex.fetch(client)
    a, b = index.resolve("Client A"), index.resolve("Client B")
    with pytest.raises(ConflictError) as err:
        service.rename_tag(client, index, a, "Client B")
    assert err.value.message == f"A tag labelled 'Client B' already exists (id {b})."
    renamed = service.rename_tag(client, index, a, "Client A (EU)", None, change_description=True)
    assert renamed["label"] == "Client A (EU)" and store.get_tag(a)["description"] is None
    gone = service.delete_tag(client, index, b)
    assert gone["id"] == b


def test_conflict_without_a_known_holder_quotes_the_api() -> None:
    err = ConflictError("label taken", status=409)
    out = service.label_conflict(err, "New", service.TagIndex([{"id": ID_A, "label": "New"}]), ID_A)
    assert out.message == "The API refused the label 'New': label taken"
    assert out.status == 409


def test_create_network_failure_says_how_to_check() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with mock_client(handler) as c, pytest.raises(NetworkError) as err:
        service.create_tag(c, "Client C")
    assert "instantly tags list --search 'Client C'" in str(err.value.hint)


def test_conflict_envelope_from_a_mock() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return envelope(409, "Conflict", "duplicate label")
        return page([{"id": ID_A, "label": "Dup"}])

    with mock_client(handler) as c, pytest.raises(ConflictError) as err:
        service.create_tag(c, " dup")
    assert err.value.message == f"A tag labelled 'Dup' already exists (id {ID_A})."
