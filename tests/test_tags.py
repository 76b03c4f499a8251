"""instantly tags (list, map, assign, unassign, create, rename, delete) and tag labels elsewhere."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import SEED_CAMPAIGN_ID, SEED_TAGS, Store
from tests.conftest import envelope

OPS = "ops+eu@acme-outreach.com"
ZOE = "zoe.muller@acme-outreach.com"
JOSE = "jose.garcia@fabrikam-sales.com"
GHOST = "nobody@nowhere-at-all.io"
TOGGLE = "/api/v2/custom-tags/toggle-resource"


@pytest.fixture(autouse=True)
def _in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # default failure files land here


# -- helpers -----------------------------------------------------------------------------------


def tag_id(store: Store, label: str) -> str:
    matches = [t for t in all_tags(store) if t["label"] == label]
    assert len(matches) == 1, label
    return str(matches[0]["id"])


def mappings_of(store: Store, email: str) -> set[str]:
    """Labels of the tags an account carries, straight from the store."""
    items, _ = store.list_mappings(limit=100, resource_ids=[email])
    return {store.get_tag(m["tag_id"])["label"] for m in items if m["resource_type"] == 1}


def all_mappings(store: Store) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        items, cursor = store.list_mappings(limit=100, starting_after=cursor)
        out.extend(items)
        if not cursor:
            return out


def all_tags(store: Store) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        items, cursor = store.list_tags(limit=100, starting_after=cursor)
        out.extend(items)
        if not cursor:
            return out


def requests_to(app: SandboxApp, method: str, path: str) -> list[Any]:
    return [r for r in app.requests if r.method == method and r.path == path]


def toggles(app: SandboxApp) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in requests_to(app, "POST", TOGGLE)]


def writes(app: SandboxApp) -> list[Any]:
    return [r for r in app.requests if r.method in ("POST", "PATCH", "DELETE")]


def tsv_rows(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines() if line]


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return result


# -- tags list -----------------------------------------------------------------------------------


def test_list_tsv_is_sorted_by_label_with_every_seed_tag(cli, sandbox: SandboxApp) -> None:
    rows = tsv_rows(ok(cli(["tags", "list"])).stdout)
    labels = [r[0] for r in rows]
    assert labels == sorted((label for label, _ in SEED_TAGS), key=str.casefold)
    by_label = {r[0]: r for r in rows}
    assert by_label["Client A"][2] == "Mailboxes sending for client A"
    assert re.fullmatch(r"[0-9a-f-]{36}", by_label["Client A"][1])
    assert by_label["Client A"][3] == "2025-12-01T00:00:00.000Z"  # TSV keeps exact times
    assert by_label["Warm pool"][2] == ""


def test_list_json_is_the_api_objects_unchanged(cli, sandbox: SandboxApp, store: Store) -> None:
    result = ok(cli(["tags", "list", "--json"]))
    assert result.stderr == ""
    got = json.loads(result.stdout)
    assert sorted(got, key=lambda t: t["id"]) == sorted(all_tags(store), key=lambda t: t["id"])
    assert set(got[0]) == {
        "id",
        "label",
        "description",
        "timestamp_created",
        "timestamp_updated",
        "organization_id",
    }


def test_list_jsonl_csv_table_and_fields(cli, sandbox: SandboxApp) -> None:
    lines = ok(cli(["tags", "list", "-o", "jsonl"])).stdout.splitlines()
    assert len(lines) == len(SEED_TAGS)
    assert all(json.loads(line)["organization_id"] for line in lines)

    reader = list(csv.reader(io.StringIO(ok(cli(["tags", "list", "-o", "csv"])).stdout)))
    assert reader[0] == ["label", "id", "description", "timestamp_created"]
    assert ["Équipe Paris"] == [r[0] for r in reader[1:] if r[0].startswith("É")]

    table = ok(cli(["tags", "list", "-o", "table"], env={"COLUMNS": "200"})).stdout
    assert "Label" in table and "Description" in table and "Created" in table
    assert "2025-12-01 00:00" in table and "Pool: Google" in table

    fields = ok(cli(["tags", "list", "--fields", "label,id", "--json"])).stdout
    assert all(set(t) == {"label", "id"} for t in json.loads(fields))
    tsv = tsv_rows(ok(cli(["tags", "list", "--fields", "label"])).stdout)
    assert all(len(r) == 1 for r in tsv)


def test_list_search_is_sent_to_the_api(cli, sandbox: SandboxApp) -> None:
    rows = tsv_rows(ok(cli(["tags", "list", "--search", "client"])).stdout)
    assert [r[0] for r in rows] == ["Client A", "Client B"]
    (req,) = requests_to(sandbox, "GET", "/api/v2/custom-tags")
    assert parse_qs(req.query)["search"] == ["client"]


def test_list_reads_every_page(cli, sandbox: SandboxApp, store: Store) -> None:
    store.seed_extra_tags(150)
    rows = tsv_rows(ok(cli(["tags", "list"])).stdout)
    assert len(rows) == 156
    assert len(requests_to(sandbox, "GET", "/api/v2/custom-tags")) == 2


def test_list_empty_says_so_on_stderr(cli, sandbox: SandboxApp) -> None:
    result = ok(cli(["tags", "list", "--search", "zzz-nothing", "-o", "table"]))
    assert result.stdout == ""
    assert "No tags match" in result.stderr


# -- label resolution ------------------------------------------------------------------------


def test_label_is_case_insensitive_and_an_id_works(cli, sandbox: SandboxApp, store: Store) -> None:
    by_label = ok(cli(["tags", "map", "--tag", "  client a ", "--json"])).stdout
    by_id = ok(cli(["tags", "map", "--tag", tag_id(store, "Client A"), "--json"])).stdout
    assert json.loads(by_label) == json.loads(by_id)
    assert {m["tag_label"] for m in json.loads(by_label)} == {"Client A"}
    assert ok(cli(["tags", "map", "--tag", "ÉQUIPE PARIS"])).stdout


def test_unknown_label_exits_2_with_suggestions(cli, sandbox: SandboxApp) -> None:
    result = cli(["tags", "map", "--tag", "Clint A"])
    assert result.exit_code == 2
    assert "No tag is labelled 'Clint A'" in result.stderr
    assert "did you mean 'Client A'" in result.stderr
    assert "instantly tags create 'Clint A'" in result.stderr
    assert requests_to(sandbox, "GET", "/api/v2/custom-tag-mappings") == []


def test_unknown_id_exits_2(cli, sandbox: SandboxApp) -> None:
    result = cli(["tags", "assign", "00000000-0000-4000-8000-000000000000", "--account", OPS])
    assert result.exit_code == 2
    assert "No tag has the id" in result.stderr
    assert writes(sandbox) == []


def test_ambiguous_label_asks_for_the_id(cli, mock_api) -> None:
    # The sandbox refuses labels that differ only by case; the API documents uniqueness only
    # "after trimming whitespace", so two such tags can exist: served here by a mock.
    tags = [
        {
            "id": f"00000000-0000-4000-8000-00000000000{n}",
            "label": label,
            "description": None,
            "timestamp_created": "2026-01-01T00:00:00.000Z",
            "timestamp_updated": "2026-01-01T00:00:00.000Z",
            "organization_id": "org",
        }
        for n, label in enumerate(("VIP", "vip"))
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/custom-tags":
            return httpx.Response(200, json={"items": tags})
        if request.url.path == "/api/v2/custom-tag-mappings":
            return httpx.Response(200, json={"items": []})
        return envelope(500, "Internal Server Error", "unexpected")

    seen = mock_api(handler)
    result = cli(["tags", "assign", "Vip", "--account", OPS, "--yes"])
    assert result.exit_code == 2
    assert "matches 2 tags" in result.stderr
    assert tags[0]["id"] in result.stderr and tags[1]["id"] in result.stderr
    assert [r.url.path for r in seen] == ["/api/v2/custom-tags"]
    # The id settles it.
    result = cli(["tags", "map", "--tag", str(tags[1]["id"]), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_labels_on_a_later_page_resolve_and_tags_are_fetched_once(
    cli, sandbox: SandboxApp, store: Store
) -> None:
    ids = store.seed_extra_tags(130, map_to=[OPS])
    last = store.get_tag(ids[-1])["label"]
    result = ok(
        cli(["accounts", "list", "--tag", last, "--tag-all", "client a", "--tag-all", last])
    )
    assert [r[0] for r in tsv_rows(result.stdout)] == [OPS]
    tag_pages = requests_to(sandbox, "GET", "/api/v2/custom-tags")
    # 136 tags = 2 pages, read once for the whole command (not once per option).
    assert len(tag_pages) == 2
    assert "starting_after" not in tag_pages[0].query
    assert "starting_after" in tag_pages[1].query


def test_assign_fetches_tags_once_for_several_labels(cli, sandbox: SandboxApp) -> None:
    ok(cli(["tags", "assign", "Client A", "Client B", "Warm pool", "--account", OPS]))
    assert len(requests_to(sandbox, "GET", "/api/v2/custom-tags")) == 1


# -- tags map ----------------------------------------------------------------------------------


def test_map_default_is_accounts_joined_with_labels(cli, sandbox: SandboxApp, store: Store) -> None:
    result = ok(cli(["tags", "map", "--json"]))
    got = json.loads(result.stdout)
    expected = [m for m in all_mappings(store) if m["resource_type"] == 1]
    assert len(got) == len(expected)
    labels = {t["id"]: t["label"] for t in all_tags(store)}
    for m in got:
        raw = {k: v for k, v in m.items() if k != "tag_label"}
        assert raw in expected  # the raw mapping object, unchanged
        assert m["tag_label"] == labels[m["tag_id"]]
    assert all(m["resource_type"] == 1 for m in got)


def test_map_rows_and_types(cli, sandbox: SandboxApp, store: Store) -> None:
    rows = tsv_rows(ok(cli(["tags", "map", "--account", OPS])).stdout)
    assert {r[0] for r in rows} == mappings_of(store, OPS)
    assert all(r[1] == OPS and r[2] == "Account" for r in rows)
    assert all(r[4] == tag_id(store, r[0]) for r in rows)
    assert rows[0][3].endswith("Z")
    (req,) = requests_to(sandbox, "GET", "/api/v2/custom-tag-mappings")
    assert parse_qs(req.query)["resource_ids"] == [OPS]

    campaigns = tsv_rows(ok(cli(["tags", "map", "--type", "campaign"])).stdout)
    assert campaigns == [
        ["Client A", SEED_CAMPAIGN_ID, "Campaign", "2025-12-15T00:00:00.000Z", campaigns[0][4]]
    ]
    everything = json.loads(ok(cli(["tags", "map", "--type", "all", "--json"])).stdout)
    assert len(everything) == len(all_mappings(store))
    assert {m["resource_type"] for m in everything} == {1, 2}

    bad = cli(["tags", "map", "--type", "lists"])
    assert bad.exit_code == 2 and "account, campaign, all" in bad.stderr


def test_map_tag_filter_is_client_side_and_any_of(cli, sandbox: SandboxApp, store: Store) -> None:
    got = json.loads(
        ok(cli(["tags", "map", "--tag", "Client B", "--tag", "Équipe Paris", "--json"])).stdout
    )
    assert {m["tag_label"] for m in got} == {"Client B", "Équipe Paris"}
    expected = [
        m
        for m in all_mappings(store)
        if m["resource_type"] == 1
        and m["tag_id"] in (tag_id(store, "Client B"), tag_id(store, "Équipe Paris"))
    ]
    assert len(got) == len(expected)
    for req in requests_to(sandbox, "GET", "/api/v2/custom-tag-mappings"):
        assert "tag" not in parse_qs(req.query)  # no tag filter exists on the endpoint


def test_map_joins_across_pages_of_mappings_and_tags(
    cli, sandbox: SandboxApp, store: Store
) -> None:
    ids = store.seed_extra_tags(110, map_to=[OPS, ZOE])
    got = json.loads(ok(cli(["tags", "map", "--account", OPS, "--account", ZOE, "--json"])).stdout)
    assert len(requests_to(sandbox, "GET", "/api/v2/custom-tag-mappings")) >= 3
    assert len(requests_to(sandbox, "GET", "/api/v2/custom-tags")) == 2
    extra = [m for m in got if m["tag_id"] in set(ids)]
    assert len(extra) == 220
    assert all(m["tag_label"].startswith("Bulk tag ") for m in extra)
    assert not any(m["tag_label"].startswith("unknown tag") for m in got)
    late = store.get_tag(ids[-1])["label"]
    only_late = json.loads(ok(cli(["tags", "map", "--tag", late, "--json"])).stdout)
    assert sorted(m["resource_id"] for m in only_late) == sorted([OPS, ZOE])


def test_map_every_output_format(cli, sandbox: SandboxApp, store: Store) -> None:
    expected = len(
        [m for m in all_mappings(store) if m["resource_type"] == 1 and m["resource_id"] == OPS]
    )
    base = ["tags", "map", "--account", OPS]
    jsonl = ok(cli([*base, "-o", "jsonl"])).stdout.splitlines()
    assert len(jsonl) == expected and all("tag_label" in json.loads(x) for x in jsonl)
    rows = list(csv.reader(io.StringIO(ok(cli([*base, "-o", "csv"])).stdout)))
    assert rows[0] == ["tag_label", "resource_id", "resource_type", "timestamp_created", "tag_id"]
    assert len(rows) == expected + 1 and rows[1][2] == "Account"
    table = ok(cli([*base, "-o", "table"], env={"COLUMNS": "200"})).stdout
    assert "Tag" in table and "Account" in table and "Mapped at" in table
    assert "2025-12-15 00:00" in table
    fields = json.loads(ok(cli([*base, "--json", "--fields", "tag_label,resource_id"])).stdout)
    assert all(set(m) == {"tag_label", "resource_id"} for m in fields)


def test_map_by_account_groups_labels(cli, sandbox: SandboxApp, store: Store) -> None:
    rows = tsv_rows(ok(cli(["tags", "map", "--by", "account"])).stdout)
    emails = [r[0] for r in rows]
    assert len(emails) == len(set(emails))
    by_email = {r[0]: r for r in rows}
    assert set(by_email[OPS][2].split(", ")) == mappings_of(store, OPS)
    assert by_email[OPS][1] == "Account"

    got = json.loads(ok(cli(["tags", "map", "--by", "account", "--account", OPS, "--json"])).stdout)
    assert len(got) == 1
    assert got[0]["email"] == OPS and got[0]["resource_type"] == 1
    assert {t["label"] for t in got[0]["tags"]} == mappings_of(store, OPS)
    assert all(t["id"] for t in got[0]["tags"])

    table = ok(
        cli(
            ["tags", "map", "--by", "account", "--account", OPS, "-o", "table"],
            env={"COLUMNS": "200"},
        )
    ).stdout
    assert "Tags" in table and OPS in table

    assert cli(["tags", "map", "--by", "tag"]).exit_code == 2


def test_map_by_account_json_feeds_assign_stdin(cli, sandbox: SandboxApp, store: Store) -> None:
    grouped = ok(
        cli(["tags", "map", "--by", "account", "--tag", "Équipe Paris", "-o", "jsonl"])
    ).stdout
    emails = [json.loads(line)["email"] for line in grouped.splitlines()]
    result = ok(cli(["tags", "assign", "Do not touch", "--stdin", "--yes"], input=grouped))
    assert "assigned" in result.stderr
    assert all("Do not touch" in mappings_of(store, e) for e in emails)


def test_mapping_of_a_deleted_tag_shows_unknown_tag(cli, sandbox: SandboxApp, store: Store) -> None:
    gone = tag_id(store, "Équipe Paris")
    assert mappings_of(store, ZOE) == {"Équipe Paris"}
    # A tag deleted behind our back (another client, or a mapping the API did not clean up):
    # the row goes, the mapping stays.
    store._conn.execute("DELETE FROM tags WHERE id = ?", (gone,))
    rows = tsv_rows(ok(cli(["tags", "map", "--account", ZOE])).stdout)
    assert f"unknown tag ({gone})" in [r[0] for r in rows]
    got = json.loads(ok(cli(["tags", "map", "--account", ZOE, "--json"])).stdout)
    assert {m["tag_label"] for m in got if m["tag_id"] == gone} == {f"unknown tag ({gone})"}
    grouped = tsv_rows(ok(cli(["tags", "map", "--by", "account", "--account", ZOE])).stdout)
    assert f"unknown tag ({gone})" in grouped[0][2]
    detail = ok(cli(["accounts", "get", ZOE, "-o", "table"], env={"COLUMNS": "200"})).stdout
    assert f"unknown tag ({gone})" in detail


def test_map_handles_a_mapping_to_an_unknown_tag_from_the_api(cli, mock_api) -> None:
    mapping = {
        "id": "m1",
        "tag_id": "11111111-1111-4111-8111-111111111111",
        "resource_id": OPS,
        "resource_type": 1,
        "timestamp_created": "2026-01-01T00:00:00.000Z",
        "organization_id": "org",
        "future_field": 7,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/custom-tags":
            return httpx.Response(200, json={"items": []})
        return httpx.Response(200, json={"items": [mapping]})

    mock_api(handler)
    result = ok(cli(["tags", "map", "--json"]))
    (got,) = json.loads(result.stdout)
    assert got == {**mapping, "tag_label": f"unknown tag ({mapping['tag_id']})"}


def test_map_nothing_matches(cli, sandbox: SandboxApp) -> None:
    result = ok(cli(["tags", "map", "--account", GHOST, "-o", "table"]))
    assert result.stdout == "" and "No tag mappings match" in result.stderr
    assert ok(cli(["tags", "map", "--account", GHOST, "--json"])).stdout.strip() == "[]"


# -- assign / unassign ----------------------------------------------------------------------------


def test_assign_sends_the_spec_body_and_changes_state(
    cli, sandbox: SandboxApp, store: Store
) -> None:
    assert "Do not touch" not in mappings_of(store, ZOE)
    result = ok(cli(["tags", "assign", "do not touch", "--account", ZOE]))
    assert "assigned 1" in result.stderr
    assert toggles(sandbox) == [
        {
            "tag_ids": [tag_id(store, "Do not touch")],
            "resource_type": 1,
            "resource_ids": [ZOE],
            "assign": True,
        }
    ]
    assert "Do not touch" in mappings_of(store, ZOE)
    rows = tsv_rows(ok(cli(["tags", "map", "--tag", "Do not touch", "--account", ZOE])).stdout)
    assert [r[:2] for r in rows] == [["Do not touch", ZOE]]


def test_unassign_removes_several_tags(cli, sandbox: SandboxApp, store: Store) -> None:
    before = mappings_of(store, OPS)
    assert {"Client A", "Client B"} <= before
    result = ok(
        cli(
            [
                "tags",
                "unassign",
                "Client A",
                "Client B",
                "--account",
                OPS,
                "--account",
                ZOE,
                "--yes",
                "--json",
            ]
        )
    )
    (body,) = toggles(sandbox)
    assert body == {
        "tag_ids": [tag_id(store, "Client A"), tag_id(store, "Client B")],
        "resource_type": 1,
        "resource_ids": [OPS, ZOE],
        "assign": False,
    }
    assert mappings_of(store, OPS) == before - {"Client A", "Client B"}
    got = json.loads(result.stdout)
    assert [(r["email"], r["result"]) for r in got] == [(OPS, "unassigned"), (ZOE, "unassigned")]
    assert got[0]["tag_ids"] == body["tag_ids"]


def test_assign_batches_of_100(cli, sandbox: SandboxApp, store: Store) -> None:
    store.reset(160)
    emails = store.select_emails()[:150]
    result = ok(
        cli(
            ["tags", "assign", "Warm pool", "--stdin", "--yes", "--concurrency", "1"],
            input="\n".join(emails) + "\n",
        )
    )
    bodies = toggles(sandbox)
    assert [len(b["resource_ids"]) for b in bodies] == [100, 50]
    assert [e for b in bodies for e in b["resource_ids"]] == emails
    assert "assigned 150" in result.stderr
    warm = tag_id(store, "Warm pool")
    mapped = {m["resource_id"] for m in all_mappings(store) if m["tag_id"] == warm}
    assert set(emails) <= mapped


@pytest.mark.parametrize(
    "stdin",
    [
        f"{OPS}\n{ZOE}\n\n# a comment\n{OPS}\n",
        json.dumps([{"email": OPS, "status": 1}, {"email": ZOE}]),
        json.dumps({"email": OPS, "x": [1]}) + "\n" + json.dumps({"email": ZOE}) + "\n",
    ],
    ids=["emails", "json-array", "json-lines"],
)
def test_assign_stdin_forms(cli, sandbox: SandboxApp, store: Store, stdin: str) -> None:
    result = ok(cli(["tags", "assign", "Do not touch", "--stdin", "--yes"], input=stdin))
    assert "Read 2 targets from stdin." in result.stderr  # --stdin is the target -
    (body,) = toggles(sandbox)
    assert body["resource_ids"] == [OPS, ZOE]
    assert "Do not touch" in mappings_of(store, ZOE)


def test_assign_takes_accounts_list_output(cli, sandbox: SandboxApp, store: Store) -> None:
    listed = ok(cli(["accounts", "list", "--provider", "aws", "--json"])).stdout
    emails = [a["email"] for a in json.loads(listed)]
    ok(cli(["tags", "assign", "Client B", "--stdin", "--yes"], input=listed))
    assert all("Client B" in mappings_of(store, e) for e in emails)


@pytest.mark.parametrize(
    ("args", "stdin", "needle"),
    [
        (["Client A"], None, "No accounts given"),
        (["Client A", OPS, "Client B"], None, "comes after the first account"),
        (["Client A", "--account", "not-an-email"], None, "Not an email address"),
        (["Client A", "--stdin"], "garbage line\n", "neither an email"),
        (["Client A", "--account", OPS, "--rate", "500"], None, "--rate"),
        (["  ", "--account", OPS], None, "No tag given"),
    ],
)
def test_bad_input_exits_2_and_sends_nothing(
    cli, sandbox: SandboxApp, args: list[str], stdin: str | None, needle: str
) -> None:
    result = cli(["tags", "assign", *args], input=stdin)
    assert result.exit_code == 2, result.stderr
    assert needle in result.stderr and "Hint:" in result.stderr
    assert sandbox.requests == []


def test_an_empty_selection_is_nothing_to_do(cli, sandbox: SandboxApp) -> None:
    result = cli(["tags", "assign", "Client A", "--stdin", "--yes"], input="")
    assert result.exit_code == 0 and "Nothing to do" in result.stderr
    assert sandbox.requests == []


def test_unknown_tag_sends_no_toggle(cli, sandbox: SandboxApp) -> None:
    result = cli(["tags", "unassign", "Client A", "Nope", "--account", OPS, "--yes"])
    assert result.exit_code == 2
    assert writes(sandbox) == []


def test_many_accounts_need_yes_when_not_a_tty(cli, sandbox: SandboxApp) -> None:
    result = cli(["tags", "assign", "Client A", "--account", OPS, "--account", ZOE])
    assert result.exit_code == 2
    assert "Refusing to tag 2 accounts" in result.stderr and "--yes" in result.stderr
    assert writes(sandbox) == []


def test_confirmation_on_a_tty(
    runtime, cli, sandbox: SandboxApp, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.terminal = runtime.terminal._replace(stdin_isatty=True, stdout_isatty=True)
    no = cli(["tags", "unassign", "Client A", "--account", OPS, "--account", ZOE], input="n\n")
    assert no.exit_code == 2 and "Untag 2 accounts?" in no.stderr
    assert writes(sandbox) == []
    yes = cli(["tags", "unassign", "Client A", "--account", OPS, "--account", ZOE], input="y\n")
    assert yes.exit_code == 0, yes.stderr
    assert "Client A" not in mappings_of(store, OPS)


def test_stdin_flag_refuses_a_terminal(
    runtime, cli, sandbox: SandboxApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.terminal = runtime.terminal._replace(stdin_isatty=True)
    result = cli(["tags", "assign", "Client A", "--stdin"])
    assert result.exit_code == 2 and "piped input" in result.stderr
    assert sandbox.requests == []


def test_dry_run_lists_changes_and_sends_no_toggle(cli, sandbox: SandboxApp, store: Store) -> None:
    assert "Client A" in mappings_of(store, OPS) and "Client A" not in mappings_of(store, ZOE)
    before = all_mappings(store)
    result = ok(
        cli(
            [
                "tags",
                "assign",
                "Client A",
                "Do not touch",
                "--account",
                OPS,
                "--account",
                ZOE,
                "--dry-run",
            ]
        )
    )
    assert writes(sandbox) == []
    assert all_mappings(store) == before
    rows = tsv_rows(result.stdout)
    assert [OPS, "Client A", "unchanged (already has it)"] in rows
    assert [OPS, "Do not touch", "would gain"] in rows
    assert [ZOE, "Client A", "would gain"] in rows
    assert "would-assign 2" in result.stderr

    dry = json.loads(
        ok(
            cli(
                [
                    "tags",
                    "assign",
                    "Client A",
                    "--account",
                    OPS,
                    "--account",
                    ZOE,
                    "--dry-run",
                    "--json",
                ]
            )
        ).stdout
    )
    assert [(r["email"], r["result"]) for r in dry] == [(OPS, "unchanged"), (ZOE, "would-assign")]
    assert dry[1]["changes"] == [
        {"tag_id": tag_id(store, "Client A"), "tag_label": "Client A", "result": "would-assign"}
    ]
    assert requests_to(sandbox, "POST", TOGGLE) == []


def test_unassign_dry_run(cli, sandbox: SandboxApp, store: Store) -> None:
    result = ok(
        cli(
            [
                "tags",
                "unassign",
                "Client A",
                "--account",
                OPS,
                "--account",
                ZOE,
                "--dry-run",
                "-o",
                "jsonl",
            ]
        )
    )
    got = [json.loads(x) for x in result.stdout.splitlines()]
    assert [(r["email"], r["result"]) for r in got] == [
        (OPS, "would-unassign"),
        (ZOE, "unchanged"),
    ]
    table = ok(
        cli(
            ["tags", "unassign", "Client A", "--account", OPS, "--dry-run", "-o", "table"],
            env={"COLUMNS": "200"},
        )
    ).stdout
    assert "would lose" in table
    assert requests_to(sandbox, "POST", TOGGLE) == []


def test_an_unknown_account_fails_only_itself_and_the_failure_file_is_kept(
    cli, sandbox: SandboxApp, store: Store, tmp_path: Path
) -> None:
    failures = tmp_path / "failed.jsonl"
    result = cli(["tags", "assign", "Client B", "--account", ZOE, "--account", GHOST, "--yes",
                  "--failures", str(failures), "--json"])
    assert result.exit_code == 1
    got = {r["email"]: r for r in json.loads(result.stdout)}
    assert got[ZOE]["result"] == "assigned" and got[GHOST]["result"] == "failed"
    assert "Account not found" in got[GHOST]["error"]
    assert [json.loads(x)["email"] for x in failures.read_text().splitlines()] == [GHOST]
    assert "assigned 1, failed 1" in result.stderr
    assert "Client B" in mappings_of(store, ZOE)


def test_single_unknown_account_exits_4(cli, sandbox: SandboxApp) -> None:
    result = cli(["tags", "assign", "Client B", "--account", GHOST])
    assert result.exit_code == 4
    assert "Account not found" in result.stderr


def test_success_false_is_a_failure(cli, mock_api) -> None:
    tag = {
        "id": "22222222-2222-4222-8222-222222222222",
        "label": "X",
        "description": None,
        "timestamp_created": "2026-01-01T00:00:00.000Z",
        "timestamp_updated": "2026-01-01T00:00:00.000Z",
        "organization_id": "org",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"items": [tag]})
        return httpx.Response(200, json={"success": False})

    mock_api(handler)
    result = cli(["tags", "assign", "X", "--account", OPS, "--failures", "f.jsonl"])
    assert result.exit_code == 1
    assert "success: false" in result.stderr


# -- create / rename / delete -------------------------------------------------------------------


def test_create(cli, sandbox: SandboxApp, store: Store) -> None:
    result = ok(cli(["tags", "create", "  Client C ", "--description", "For C", "--json"]))
    tag = json.loads(result.stdout)
    assert tag["label"] == "Client C" and tag["description"] == "For C"
    (req,) = requests_to(sandbox, "POST", "/api/v2/custom-tags")
    assert json.loads(req.body) == {"label": "Client C", "description": "For C"}
    assert store.get_tag(tag["id"])["label"] == "Client C"

    table = ok(cli(["tags", "create", "Client D", "-o", "table"]))
    assert table.stdout == "" and "Created tag 'Client D'" in table.stderr
    row = tsv_rows(ok(cli(["tags", "create", "Client E"])).stdout)
    assert row[0][0] == "Client E" and row[0][1] == tag_id(store, "Client E")


def test_create_duplicate_names_the_existing_tag(cli, sandbox: SandboxApp, store: Store) -> None:
    result = cli(["tags", "create", "client a"])
    assert result.exit_code == 1
    existing = tag_id(store, "Client A")
    assert f"A tag labelled 'Client A' already exists (id {existing})" in result.stderr
    assert "Hint:" in result.stderr
    assert len(requests_to(sandbox, "POST", "/api/v2/custom-tags")) == 1  # never retried
    as_json = cli(["tags", "create", "Client A", "--json"])
    assert as_json.exit_code == 1 and as_json.stdout == ""
    err = json.loads(as_json.stderr)["error"]
    assert err["code"] == "conflict" and err["status"] == 409 and existing in err["message"]


def test_create_blank_label_exits_2(cli, sandbox: SandboxApp) -> None:
    result = cli(["tags", "create", "   "])
    assert result.exit_code == 2 and "must not be blank" in result.stderr
    assert sandbox.requests == []


def test_create_is_not_retried_on_a_server_error(cli, mock_api) -> None:
    seen = mock_api(lambda request: envelope(503, "Service Unavailable", "try later"))
    result = cli(["tags", "create", "Client C"])
    assert result.exit_code == 1
    assert len(seen) == 1


def test_rename(cli, sandbox: SandboxApp, store: Store) -> None:
    old = tag_id(store, "Warm pool")
    result = ok(cli(["tags", "rename", "warm POOL", "Warm pool (EU)", "-o", "table"]))
    assert "Renamed tag 'Warm pool' to 'Warm pool (EU)'" in result.stderr
    (req,) = requests_to(sandbox, "PATCH", f"/api/v2/custom-tags/{old}")
    assert json.loads(req.body) == {"label": "Warm pool (EU)"}
    assert store.get_tag(old)["label"] == "Warm pool (EU)"

    got = json.loads(
        ok(cli(["tags", "rename", old, "Warm", "--description", "none", "--json"])).stdout
    )
    assert got["label"] == "Warm" and got["description"] is None
    reqs = requests_to(sandbox, "PATCH", f"/api/v2/custom-tags/{old}")
    assert json.loads(reqs[-1].body) == {"label": "Warm", "description": None}


def test_rename_to_a_taken_label(cli, sandbox: SandboxApp, store: Store) -> None:
    result = cli(["tags", "rename", "Client A", "client b"])
    assert result.exit_code == 1
    assert f"'Client B' already exists (id {tag_id(store, 'Client B')})" in result.stderr
    assert store.get_tag(tag_id(store, "Client A"))["label"] == "Client A"


def test_rename_unknown_tag_exits_4(cli, sandbox: SandboxApp) -> None:
    result = cli(["tags", "rename", "Nope", "Other"])
    assert result.exit_code == 4
    assert writes(sandbox) == []


def test_delete_refuses_without_yes_when_not_a_tty(cli, sandbox: SandboxApp, store: Store) -> None:
    result = cli(["tags", "delete", "Client B"])
    assert result.exit_code == 2
    assert "Refusing to delete tag 'Client B'" in result.stderr and "--yes" in result.stderr
    assert writes(sandbox) == []
    assert tag_id(store, "Client B")


def test_delete_with_yes_removes_tag_and_mappings(cli, sandbox: SandboxApp, store: Store) -> None:
    gone = tag_id(store, "Client B")
    result = ok(cli(["tags", "delete", "client b", "--yes", "--json"]))
    assert json.loads(result.stdout)["id"] == gone
    (req,) = requests_to(sandbox, "DELETE", f"/api/v2/custom-tags/{gone}")
    assert not req.body
    assert "Client B" not in {t["label"] for t in all_tags(store)}
    assert not [m for m in all_mappings(store) if m["tag_id"] == gone]


def test_delete_asks_on_a_tty(
    runtime, cli, sandbox: SandboxApp, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.terminal = runtime.terminal._replace(stdin_isatty=True, stdout_isatty=True)
    no = cli(["tags", "delete", "Warm pool"], input="n\n")
    assert no.exit_code == 2 and "Delete tag 'Warm pool'" in no.stderr
    assert writes(sandbox) == []
    yes = cli(["tags", "delete", "Warm pool"], input="y\n")
    assert yes.exit_code == 0, yes.stderr
    assert "Deleted tag 'Warm pool'" in yes.stderr
    assert "Warm pool" not in {t["label"] for t in all_tags(store)}


# -- tags shown by accounts commands ---------------------------------------------------------


def test_accounts_list_include_tags_shows_labels(cli, sandbox: SandboxApp, store: Store) -> None:
    out = ok(cli(["accounts", "list", "--include-tags", "--all", "--fields", "email,tags"])).stdout
    rows = {r[0]: r[1] for r in tsv_rows(out)}
    assert set(rows[OPS].split(", ")) == mappings_of(store, OPS)
    table = ok(
        cli(
            ["accounts", "list", "--include-tags", "--search", "ops+eu", "-o", "table"],
            env={"COLUMNS": "250"},
        )
    ).stdout
    assert "Tags" in table.splitlines()[0]
    assert "Client A" in table
    as_json = json.loads(
        ok(cli(["accounts", "list", "--include-tags", "--search", "ops+eu", "--json"])).stdout
    )
    assert {t["label"] for t in as_json[0]["tags"]} == mappings_of(store, OPS)


def test_accounts_get_shows_tags(cli, sandbox: SandboxApp, store: Store) -> None:
    detail = ok(cli(["accounts", "get", OPS, "-o", "table"], env={"COLUMNS": "200"})).stdout
    line = next(x for x in detail.splitlines() if x.strip().startswith("Tags"))
    assert set(line.split(None, 1)[1].strip().split(", ")) == mappings_of(store, OPS)
    got = json.loads(ok(cli(["accounts", "get", OPS, JOSE, "--include-tags", "--json"])).stdout)
    assert {t["label"] for t in got[0]["tags"]} == mappings_of(store, OPS)


@pytest.mark.parametrize("verb", ["assign", "unassign"])
def test_the_printed_retry_command_runs_and_finishes_the_job(
    cli, sandbox: SandboxApp, store: Store, verb: str, runtime: Any
) -> None:
    import shlex

    if verb == "unassign":
        ok(cli(["tags", "assign", "Client B", "Warm pool", "--account", ZOE, "--yes"]))
    inner = httpx.WSGITransport(app=sandbox)

    def outage(request: httpx.Request) -> httpx.Response:
        if "toggle" in request.url.path:
            return httpx.Response(503, json={"statusCode": 503, "error": "Service Unavailable",
                                             "message": "try later"})
        return inner.handle_request(request)

    runtime.transport = httpx.MockTransport(outage)
    result = cli(["tags", verb, "Client B", "Warm pool", "--account", ZOE, "--account", OPS,
                  "--rate", "20", "--yes", "-o", "jsonl"])
    assert result.exit_code == 1, result.stderr
    line = next(x for x in result.stderr.splitlines() if "finish exactly those with:" in x)
    words = shlex.split(line.split("finish exactly those with:", 1)[1])
    assert words[:4] == ["instantly", "tags", verb, "--resume"] and words[-1] == "--yes"
    runtime.transport = inner
    retry = cli(words[1:])
    assert retry.exit_code == 0, retry.stderr
    assert f"change:  {verb} 'Client B', 'Warm pool'" in retry.stderr
    assert ("assigned 2" if verb == "assign" else "unassigned 2") in retry.stderr
    for email in (ZOE, OPS):
        held = mappings_of(store, email)
        if verb == "assign":
            assert {"Client B", "Warm pool"} <= held
        else:
            assert not {"Client B", "Warm pool"} & held
