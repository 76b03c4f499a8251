"""``accounts list`` and ``accounts get`` driven against the sandbox (in-process).

The ``sandbox`` fixture contract-checks every request and response at teardown; the store is the
ground truth the output is compared with.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from typer.testing import Result

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import AccountQuery, Store
from tests.conftest import TEST_KEY, envelope

Cli = Callable[..., Result]
MockApi = Callable[[Callable[[httpx.Request], httpx.Response]], list[httpx.Request]]


def truth(store: Store, **query: Any) -> list[dict[str, Any]]:
    """Every account matching ``query``, in the API's order, straight from the store."""
    items, _ = store.list_accounts(AccountQuery(limit=1_000_000, **query))
    return items


def tag_id(store: Store, label: str) -> str:
    tags, _ = store.list_tags()
    return next(str(t["id"]) for t in tags if t["label"] == label)


def lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def list_queries(app: SandboxApp) -> list[dict[str, list[str]]]:
    return [
        parse_qs(r.query, keep_blank_values=True)
        for r in app.requests
        if r.method == "GET" and r.path == "/api/v2/accounts"
    ]


def first_error_account(store: Store, status: int, code: int | None = None) -> dict[str, Any]:
    """The newest account in that error status (with that SMTP responseCode, if given)."""
    return next(
        a
        for a in truth(store, status=status)
        if code is None or a["status_message"]["responseCode"] == code
    )


# -- pagination ---------------------------------------------------------------------------------


def test_all_fetches_every_seed_account_exactly(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    result = ok(
        cli(["accounts", "list", "--all", "--no-parallel", "-o", "jsonl"], catch_exceptions=False)
    )
    assert lines(result) == truth(store)
    assert len(lines(result)) == 120
    queries = list_queries(sandbox)
    assert [q["limit"] for q in queries] == [["100"], ["100"]]
    assert "starting_after" not in queries[0]
    # The cursor holds '&': it must arrive percent-encoded, as one parameter.
    raw = [r.query for r in sandbox.requests if r.path == "/api/v2/accounts"][1]
    assert "%26" in raw
    cursor = queries[1]["starting_after"][0]
    last = truth(store)[99]
    assert cursor == f"{last['timestamp_created']}&{last['email']}"
    assert result.stderr == ""


def test_many_pages_with_encoded_cursors(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    store.reset(250)
    result = ok(cli(["accounts", "list", "--all", "--no-parallel", "-o", "jsonl"]))
    got = lines(result)
    assert got == truth(store) and len({a["email"] for a in got}) == 250
    queries = list_queries(sandbox)
    assert len(queries) == 3
    assert all("&" in q["starting_after"][0] for q in queries[1:])
    raw = [r.query for r in sandbox.requests if r.path == "/api/v2/accounts"]
    assert all("starting_after=" in q and "%26" in q for q in raw[1:])


def test_limit_stops_with_a_working_cursor_hint(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    everything = truth(store)
    first = ok(cli(["accounts", "list", "--limit", "30", "-o", "jsonl"]))
    assert lines(first) == everything[:30]
    assert list_queries(sandbox)[0]["limit"] == ["30"]
    match = re.search(r"--starting-after '([^']+)'", first.stderr)
    assert match, first.stderr
    assert "--all", "--no-parallel" in first.stderr
    second = ok(cli(["accounts", "list", "--limit", "30", "--starting-after", match.group(1),
                     "-o", "jsonl"]))
    assert lines(second) == everything[30:60]


def test_limit_above_page_size_asks_for_the_rest(cli: Cli, sandbox: SandboxApp) -> None:
    result = ok(cli(["accounts", "list", "--limit", "110", "-o", "jsonl"]))
    assert len(lines(result)) == 110
    assert [q["limit"] for q in list_queries(sandbox)] == [["100"], ["10"]]
    assert "--starting-after" in result.stderr


def test_limit_equal_to_total_gives_no_hint(cli: Cli, sandbox: SandboxApp) -> None:
    result = ok(cli(["accounts", "list", "--limit", "120", "-o", "jsonl"]))
    assert len(lines(result)) == 120
    assert "More accounts" not in result.stderr


def test_sorted_listing_pages_by_skip(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    result = ok(cli(["accounts", "list", "--sort", "email", "--asc", "--all", "--no-parallel",
                     "-o", "jsonl"]))
    emails = [a["email"] for a in lines(result)]
    assert emails == sorted(emails) and len(emails) == 120
    queries = list_queries(sandbox)
    assert [q.get("skip") for q in queries] == [None, ["100"]]
    assert all(q["sort_by"] == ["email"] and q["sort_order"] == ["asc"] for q in queries)
    assert not any("starting_after" in q for q in queries)


def test_sorted_limit_hint_has_no_cursor(cli: Cli, sandbox: SandboxApp) -> None:
    result = ok(cli(["accounts", "list", "--sort", "created", "--limit", "5", "-o", "jsonl"]))
    assert len(lines(result)) == 5
    assert "--starting-after" not in result.stderr and "--limit" in result.stderr


# -- filters reach the query string and filter ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "param", "value", "query"),
    [
        (["--status", "connection-error"], "status", "-1", {"status": -1}),
        (["--status=-2"], "status", "-2", {"status": -2}),
        (["--status", "2"], "status", "2", {"status": 2}),
        (["--status", "Maintenance"], "status", "3", {"status": 3}),
        (["--provider", "google"], "provider_code", "2", {"provider_code": 2}),
        (["--provider", "11"], "provider_code", "11", {"provider_code": 11}),
        (["--provider", "airmail"], "provider_code", "8", {"provider_code": 8}),
        (["--search", "müller"], "search", "müller", {"search": "müller"}),
        (["--filter", "error"], "filter", "ACC_FILTER_ERROR", {"filter": "ACC_FILTER_ERROR"}),
        (["--filter", "no-ctd"], "filter", "ACC_FILTER_NO_CTD", {"filter": "ACC_FILTER_NO_CTD"}),
        (
            ["--filter", "warmup-active"],
            "filter",
            "ACC_FILTER_W_ACTIVE",
            {"filter": "ACC_FILTER_W_ACTIVE"},
        ),
    ],
)
def test_filter_options(
    cli: Cli,
    sandbox: SandboxApp,
    store: Store,
    args: list[str],
    param: str,
    value: str,
    query: dict[str, Any],
) -> None:
    result = ok(cli(["accounts", "list", *args, "--all", "--no-parallel", "-o", "jsonl"]))
    assert list_queries(sandbox)[0][param] == [value]
    expected = truth(store, **query)
    assert expected, "the seed should match this filter"
    assert 0 < len(expected) < 120
    assert lines(result) == expected


def test_filtered_results_really_match(cli: Cli, sandbox: SandboxApp) -> None:
    got = lines(ok(cli(["accounts", "list", "--status", "connection-error", "--provider",
                        "google", "--all", "--no-parallel", "-o", "jsonl"])))
    assert got and all(a["status"] == -1 and a["provider_code"] == 2 for a in got)
    errors = lines(ok(cli(["accounts", "list", "--filter", "error", "--all", "--no-parallel",
                           "-o", "jsonl"])))
    assert errors and all(a["status"] < 0 for a in errors)
    found = lines(ok(cli(["accounts", "list", "--search", "GARCIA", "--all", "--no-parallel",
                          "-o", "jsonl"])))
    assert found and all(
        "garcia" in a["email"] or "garcía" in f"{a['first_name']} {a['last_name']}".casefold()
        for a in found
    )


@pytest.mark.parametrize("by", ["label", "id", "label-other-case"])
def test_tag_by_label_or_id(cli: Cli, sandbox: SandboxApp, store: Store, by: str) -> None:
    tid = tag_id(store, "Client A")
    spec = {"label": "Client A", "id": tid, "label-other-case": "client a"}[by]
    result = ok(cli(["accounts", "list", "--tag", spec, "--include-tags", "--all",
                     "--no-parallel", "-o", "jsonl"]))
    query = list_queries(sandbox)[0]
    assert query["tag_ids"] == [tid] and query["include_tags"] == ["true"]
    got = lines(result)
    assert got == truth(store, tag_ids=[tid], include_tags=True)
    assert got and all("Client A" in [t["label"] for t in a["tags"]] for a in got)


def test_tag_any_of_and_all_of(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    a, b = tag_id(store, "Client A"), tag_id(store, "Client B")
    any_of = lines(ok(cli(["accounts", "list", "--tag", "Client A", "--tag", b, "--all",
                           "--no-parallel", "-o", "jsonl"])))
    all_of = lines(ok(cli(["accounts", "list", "--tag-all", "Client A", "--tag-all",
                           "Client B", "--include-tags", "--all", "--no-parallel", "-o", "jsonl"])))
    queries = list_queries(sandbox)
    assert queries[0]["tag_ids"] == [f"{a},{b}"]
    assert queries[1]["tag_ids_all"] == [f"{a},{b}"]
    assert "tag_ids" not in queries[1]
    assert len(all_of) < len(any_of)
    assert {x["email"] for x in all_of} < {x["email"] for x in any_of}
    for account in all_of:
        labels = {t["label"] for t in account["tags"]}
        assert {"Client A", "Client B"} <= labels


def test_unknown_tag_is_usage_error_and_lists_nothing(cli: Cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "list", "--tag", "Client Z"])
    assert result.exit_code == 2
    assert "Client Z" in result.stderr and result.stdout == ""
    assert list_queries(sandbox) == []


@pytest.mark.parametrize(
    ("args", "field", "reverse"),
    [
        (["--sort", "email", "--asc"], "email", False),
        (["--sort", "email", "--desc"], "email", True),
        (["--sort", "warmup-score", "--desc"], "stat_warmup_score", True),
        (["--sort", "created"], "timestamp_created", True),
        (["--sort", "status", "--asc"], "status", False),
    ],
)
def test_sort_options(
    cli: Cli, sandbox: SandboxApp, args: list[str], field: str, reverse: bool
) -> None:
    got = lines(ok(cli(["accounts", "list", *args, "--all", "--no-parallel", "-o", "jsonl"])))
    query = list_queries(sandbox)[0]
    api_field = {"warmup-score": "stat_warmup_score", "created": "timestamp_created"}.get(
        args[1], args[1]
    )
    assert query["sort_by"] == [api_field]
    assert query["sort_order"] == (["desc"] if reverse else ["asc"])
    values = [a[field] for a in got if a.get(field) is not None]
    assert values == sorted(values, reverse=reverse)


# -- enum names and codes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "names"),
    [
        ("--status", "active, paused, maintenance, connection-error"),
        ("--provider", "imap, google, microsoft, aws, airmail, airmail-instant"),
        ("--filter", "paused, error, no-ctd, prewarmed"),
        ("--sort", "created, email, warmup-score, status"),
    ],
)
def test_unknown_enum_name_exits_2_listing_names_and_sends_nothing(
    cli: Cli, sandbox: SandboxApp, option: str, names: str
) -> None:
    result = cli(["accounts", "list", option, "bogus"])
    assert result.exit_code == 2
    assert "bogus" in result.stderr and names in result.stderr
    assert result.stdout == ""
    assert sandbox.requests == []


def test_unknown_numeric_code_is_refused_too(cli: Cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "list", "--status", "7"])
    assert result.exit_code == 2 and sandbox.requests == []


def test_direction_without_sort_is_usage_error(cli: Cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "list", "--asc"])
    assert result.exit_code == 2 and "--sort" in result.stderr
    assert sandbox.requests == []


STRANGE = {
    "email": "new@future.io",
    "status": 7,
    "provider_code": 99,
    "warmup_status": 42,
    "first_name": "New",
    "last_name": "Enum",
    "brand_new_field": {"x": 1},
    "timestamp_created": "2026-05-01T00:00:00.000Z",
}


def test_unknown_codes_render_as_unknown_n(cli: Cli, mock_api: MockApi) -> None:
    mock_api(lambda req: httpx.Response(200, json={"items": [STRANGE]}))
    tsv = ok(cli(["accounts", "list"]))
    row = tsv.stdout.rstrip("\n").split("\t")
    assert row[:6] == ["new@future.io", "New", "Enum", "unknown (7)", "unknown (42)",
                       "unknown (99)"]
    csv_out = ok(cli(["accounts", "list", "-o", "csv"]))
    assert "unknown (7)" in csv_out.stdout and "unknown (99)" in csv_out.stdout
    raw = ok(cli(["accounts", "list", "--json"]))
    assert json.loads(raw.stdout) == [STRANGE]


def test_unknown_codes_in_table_and_detail(
    runtime, cli: Cli, mock_api: MockApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.terminal = runtime.terminal._replace(stdout_isatty=True)
    monkeypatch.setenv("COLUMNS", "200")

    def handler(req: httpx.Request) -> httpx.Response:
        path = req.url.path
        if path == "/api/v2/accounts":
            return httpx.Response(200, json={"items": [STRANGE]})
        if path.startswith("/api/v2/accounts/"):
            return httpx.Response(200, json=STRANGE)
        return httpx.Response(200, json={"items": []})

    mock_api(handler)
    table = ok(cli(["accounts", "list"]))
    assert "unknown (7)" in table.stdout and "unknown (99)" in table.stdout
    detail = ok(cli(["accounts", "get", "new@future.io"]))
    assert "unknown (7)" in detail.stdout and "unknown (42)" in detail.stdout


# -- output formats -----------------------------------------------------------------------------


def test_json_round_trips_sandbox_objects(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    result = ok(cli(["accounts", "list", "--limit", "100", "--json"]))
    assert result.stderr == "" or "More accounts" in result.stderr
    assert json.loads(result.stdout) == truth(store)[:100]
    full = ok(cli(["accounts", "list", "--all", "--no-parallel", "--json"]))
    assert json.loads(full.stdout) == truth(store)
    assert full.stderr == ""


def test_json_keeps_raw_codes_and_every_field(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    account = first_error_account(store, -1, 535)
    got = json.loads(ok(cli(["accounts", "list", "--search", account["email"], "--json"])).stdout)
    assert got == [account]
    assert got[0]["status"] == -1 and got[0]["status_message"]["responseCode"] == 535


def test_jsonl_is_one_object_per_line(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    result = ok(cli(["accounts", "list", "--limit", "7", "-o", "jsonl"]))
    raw = result.stdout.splitlines()
    assert len(raw) == 7
    assert [json.loads(x) for x in raw] == truth(store)[:7]


def test_empty_result(cli: Cli, sandbox: SandboxApp) -> None:
    result = ok(cli(["accounts", "list", "--search", "no-such-thing", "--json"]))
    assert json.loads(result.stdout) == []
    jsonl = ok(cli(["accounts", "list", "--search", "no-such-thing", "-o", "jsonl"]))
    assert jsonl.stdout == ""


def test_csv_header_labels_and_flattened_fields(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    expected = truth(store)[:100]
    default = ok(cli(["accounts", "list", "--limit", "100", "-o", "csv"]))
    rows = list(csv.reader(io.StringIO(default.stdout)))
    assert rows[0][:6] == ["email", "first_name", "last_name", "status", "warmup_status",
                           "provider_code"]
    assert len(rows) == 101
    labels = {"1": "Active", "2": "Paused", "3": "Maintenance", "-1": "Connection error",
              "-2": "Soft bounce error", "-3": "Sending error"}
    for row, account in zip(rows[1:], expected, strict=True):
        assert row[0] == account["email"]
        assert row[3] == labels[str(account["status"])]
    picked = ok(cli(["accounts", "list", "--limit", "100", "-o", "csv", "--fields",
                     "email,status,provider_code,warmup.limit,warmup.advanced.open_rate"]))
    rows = list(csv.reader(io.StringIO(picked.stdout)))
    assert rows[0] == ["email", "status", "provider_code", "warmup.limit",
                       "warmup.advanced.open_rate"]
    for row, account in zip(rows[1:], expected, strict=True):
        assert row[0] == account["email"]
        assert row[1] in labels.values()
        assert row[3] == str(account["warmup"]["limit"])
        assert float(row[4]) == account["warmup"]["advanced"]["open_rate"]


def test_tsv_when_piped_has_no_header_and_no_colour(
    cli: Cli, sandbox: SandboxApp, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLICOLOR_FORCE", "1")
    result = ok(cli(["accounts", "list", "--limit", "10"]))
    assert "\x1b" not in result.stdout
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    expected = truth(store)[:10]
    assert [r[0] for r in rows] == [a["email"] for a in expected]
    assert all(len(r) == 9 for r in rows)
    assert rows[0][0] != "email" and "Email" not in rows[0]
    # Exact timestamps, labels for enums.
    assert rows[0][8] == expected[0]["timestamp_created"]
    assert all(r[3] in ("Active", "Paused", "Maintenance", "Connection error",
                        "Soft bounce error", "Sending error") for r in rows)


def test_tsv_escapes_tabs_and_newlines(cli: Cli, sandbox: SandboxApp) -> None:
    result = ok(cli(["accounts", "list", "--limit", "20", "--fields", "email,signature"]))
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert len(rows) == 20 and all(len(r) == 2 for r in rows)
    assert any("\\n" in r[1] for r in rows)


def test_table_on_a_terminal_has_headers_and_labels(
    runtime, cli: Cli, sandbox: SandboxApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.terminal = runtime.terminal._replace(stdout_isatty=True)
    monkeypatch.setenv("COLUMNS", "220")
    monkeypatch.setenv("NO_COLOR", "1")
    result = ok(cli(["accounts", "list", "--all", "--no-parallel", "--include-tags"]))
    header = result.stdout.splitlines()[0]
    for name in ("Email", "Status", "Warmup", "Provider", "Tags"):
        assert name in header
    for label in ("Active", "Connection error", "Google", "Microsoft", "Client A"):
        assert label in result.stdout
    assert "\x1b" not in result.stdout
    # The table shows minutes, not the exact timestamp.
    assert re.search(r"2026-01-0\d \d\d:\d\d\b", result.stdout)


def test_fields_with_json_keep_nesting(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    got = json.loads(ok(cli(["accounts", "list", "--limit", "3", "--json", "--fields",
                             "email,warmup.limit,warmup.advanced.weekday_only"])).stdout)
    expected = truth(store)[:3]
    assert got == [
        {
            "email": a["email"],
            "warmup": {
                "limit": a["warmup"]["limit"],
                "advanced": {"weekday_only": a["warmup"]["advanced"]["weekday_only"]},
            },
        }
        for a in expected
    ]
    jsonl = lines(ok(cli(["accounts", "list", "--limit", "3", "-o", "jsonl", "--fields",
                          "email,status"])))
    assert jsonl == [{"email": a["email"], "status": a["status"]} for a in expected]


def test_invalid_format_and_fields_are_usage_errors(cli: Cli, sandbox: SandboxApp) -> None:
    assert cli(["accounts", "list", "-o", "xml"]).exit_code == 2
    assert cli(["accounts", "list", "--fields", "email,,bad path"]).exit_code == 2
    assert sandbox.requests == []


# -- accounts get --------------------------------------------------------------------------------


def test_get_one_detail_view(
    runtime, cli: Cli, sandbox: SandboxApp, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.terminal = runtime.terminal._replace(stdout_isatty=True)
    monkeypatch.setenv("COLUMNS", "200")
    account = first_error_account(store, -1, 535)
    result = ok(cli(["accounts", "get", account["email"]]))
    out = result.stdout
    assert account["email"] in out
    assert "Connection error — Invalid login: 535-5.7.8 Username and Password not accepted." in out
    assert "(535)" in out
    assert "Warmup" in out and "Limit" in out and str(account["warmup"]["limit"]) in out
    assert "Increment" in out
    tids = {m["tag_id"] for m in store.list_mappings(resource_ids=[account["email"]])[0]}
    labels = [t["label"] for t in store.list_tags()[0] if t["id"] in tids]
    assert labels, "the seed gives this account a tag"
    assert all(label in out for label in labels)


def test_get_one_json_is_the_object(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    email = "zoe.muller@acme-outreach.com"
    result = ok(cli(["accounts", "get", email, "--json"]))
    assert json.loads(result.stdout) == store.get_account(email)
    assert result.stderr == ""


def test_get_plus_email_is_percent_encoded(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    email = "ops+eu@acme-outreach.com"
    result = ok(cli(["accounts", "get", email, "--json"]))
    assert json.loads(result.stdout) == store.get_account(email)
    assert "+" not in sandbox.requests[0].path


def test_get_plus_email_on_the_wire(cli: Cli, mock_api: MockApi) -> None:
    seen = mock_api(lambda req: httpx.Response(200, json={**STRANGE, "email": "ops+eu@a.io"}))
    ok(cli(["accounts", "get", "ops+eu@a.io", "--json"]))
    assert seen[0].url.raw_path == b"/api/v2/accounts/ops%2Beu@a.io"


def test_get_several_table_and_json_array(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    emails = ["zoe.muller@acme-outreach.com", "sales+us@getacme.io"]
    tsv = ok(cli(["accounts", "get", *emails]))
    assert [line.split("\t")[0] for line in tsv.stdout.splitlines()] == emails
    arr = ok(cli(["accounts", "get", *emails, "--json"]))
    assert json.loads(arr.stdout) == [store.get_account(e) for e in emails]


def test_get_missing_exits_4(cli: Cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "get", "nobody@nowhere.io"])
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr.startswith("Error:") and "nobody@nowhere.io" in result.stderr
    as_json = cli(["accounts", "get", "nobody@nowhere.io", "--json"])
    assert as_json.exit_code == 4
    err = json.loads(as_json.stderr)["error"]
    assert err["code"] == "not_found" and err["status"] == 404


def test_get_invalid_email_sends_nothing(cli: Cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "get", "not-an-email"])
    assert result.exit_code == 2 and sandbox.requests == []


# -- errors --------------------------------------------------------------------------------------


def test_wrong_key_is_exit_3_without_the_key(
    cli: Cli, sandbox: SandboxApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-key-Qq11Ww22Ee33"
    monkeypatch.setenv("INSTANTLY_API_KEY", wrong)
    result = cli(["accounts", "list"])
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "Error:" in result.stderr and "Hint:" in result.stderr
    assert wrong not in result.stderr and TEST_KEY not in result.stderr
    as_json = cli(["accounts", "list", "--json"])
    assert as_json.exit_code == 3
    assert json.loads(as_json.stderr)["error"]["code"] == "unauthorized"


def test_missing_key_is_exit_3_and_sends_nothing(
    cli: Cli, sandbox: SandboxApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INSTANTLY_API_KEY")
    result = cli(["accounts", "list"])
    assert result.exit_code == 3 and "--sandbox" in result.stderr
    assert sandbox.requests == []


def test_payment_required_is_exit_3(cli: Cli, mock_api: MockApi) -> None:
    mock_api(lambda req: envelope(402, "Payment Required", "Workspace has no paid plan"))
    result = cli(["accounts", "list", "-o", "jsonl"])
    assert result.exit_code == 3 and result.stdout == ""
    err = json.loads(result.stderr)["error"]
    assert err["code"] == "payment_required" and err["status"] == 402
    assert "paid plan" in err["message"]


@pytest.mark.parametrize("first", [429, 500, 502, 503])
def test_transient_error_then_success(cli: Cli, mock_api: MockApi, first: int) -> None:
    answers = [envelope(first, "Oops", "try again"), httpx.Response(200, json={"items": [STRANGE]})]
    seen = mock_api(lambda req: answers.pop(0))
    result = ok(cli(["accounts", "list", "--json"]))
    assert json.loads(result.stdout) == [STRANGE]
    assert len(seen) == 2 and result.stderr == ""


def test_persistent_5xx_is_exit_1(cli: Cli, mock_api: MockApi) -> None:
    seen = mock_api(lambda req: envelope(503, "Service Unavailable", "down"))
    result = cli(["accounts", "list"])
    assert result.exit_code == 1 and result.stdout == ""
    assert "down" in result.stderr
    assert len(seen) == 5


def test_success_with_json_has_empty_stderr(cli: Cli, sandbox: SandboxApp) -> None:
    result = ok(cli(["accounts", "list", "--all", "--no-parallel", "--json"]))
    assert result.stderr == ""
    assert len(json.loads(result.stdout)) == 120


# -- the concurrent lister ------------------------------------------------------------------------


@pytest.fixture
def concurrent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages in flight whatever the latency (the in-process sandbox has next to none, and the
    lister would walk the cursor: see test_listing_choice.py)."""
    from instantly_cli.services.accounts import list as fleet

    monkeypatch.setattr(fleet, "CURSOR_UP_TO", 0)


def test_all_is_concurrent_oldest_first_each_account_once(
    cli: Cli, sandbox: SandboxApp, store: Store, concurrent: None
) -> None:
    store.reset(450)
    got = lines(ok(cli(["accounts", "list", "--all", "-o", "jsonl"])))
    assert got == list(reversed(truth(store)))  # oldest first
    assert len({a["email"] for a in got}) == 450
    queries = list_queries(sandbox)
    assert all(q["sort_by"] == ["timestamp_created"] and q["sort_order"] == ["asc"]
               for q in queries)
    # Pages overlap by one; a few pages past the end may be asked for ahead.
    assert sorted(int(q["skip"][0]) for q in queries)[:5] == [0, 99, 198, 297, 396]


def test_no_parallel_walks_the_cursor_newest_first(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    store.reset(250)
    got = lines(ok(cli(["accounts", "list", "--all", "--no-parallel", "-o", "jsonl"])))
    assert got == truth(store)
    assert all("skip" not in q for q in list_queries(sandbox))


@pytest.mark.parametrize(
    "extra",
    [["--sort", "email"], ["--status", "active", "--status", "paused"], ["--limit", "5"]],
)
def test_unsafe_listings_keep_the_cursor_or_sorted_pager(
    cli: Cli, sandbox: SandboxApp, extra: list[str]
) -> None:
    args = ["accounts", "list", "-o", "jsonl", *extra]
    if "--limit" not in extra:
        args.append("--all")
    ok(cli(args))
    assert all(q.get("sort_by") != ["timestamp_created"] for q in list_queries(sandbox))


def test_all_falls_back_to_the_cursor_when_skip_is_refused(
    cli: Cli, mock_api: MockApi, store: Store
) -> None:
    items = truth(store)

    def handler(request: httpx.Request) -> httpx.Response:
        if "skip" in request.url.params:
            return httpx.Response(400, json={"statusCode": 400, "error": "Bad Request",
                                             "message": "skip is not allowed"})
        after = request.url.params.get("starting_after")
        start = 0 if after is None else next(
            i + 1 for i, a in enumerate(items)
            if f"{a['timestamp_created']}&{a['email']}" == after
        )
        page = items[start:start + 100]
        cursor = None
        if start + 100 < len(items):
            cursor = f"{page[-1]['timestamp_created']}&{page[-1]['email']}"
        return httpx.Response(200, json={"items": page, "next_starting_after": cursor})

    log = mock_api(handler)
    got = lines(ok(cli(["accounts", "list", "--all", "-o", "jsonl"])))
    assert [a["email"] for a in got] == [a["email"] for a in items]  # newest first
    assert sum("skip" in r.url.params for r in log) == 1
