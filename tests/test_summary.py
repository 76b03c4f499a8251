"""``accounts summary`` (fleet health, the gate, the roll-up) and the filters it shares with
``accounts list`` (several values, exact domain, score range, health class).

The big test compares the summary's numbers with numbers computed here, independently, from
``accounts list --all -o jsonl`` over 4,000 sandbox accounts (40 pages, every class and error
kind; the 20,000 of the README's figures are for benchmarks/); expectations never depend on the
seed's exact values.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from typer.testing import Result

from instantly_cli.config_file import Profile, update_config
from instantly_cli.context import Runtime
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.seed import DEFAULT_WORKSPACE_ID
from instantly_cli.sandbox.store import AccountQuery, Store
from instantly_cli.services.accounts import summary as health
from tests.conftest import TEST_KEY

Cli = Callable[..., Result]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def truth(store: Store, **query: Any) -> list[dict[str, Any]]:
    items, _ = store.list_accounts(AccountQuery(limit=1_000_000, **query))
    return items


def list_queries(app: SandboxApp) -> list[dict[str, list[str]]]:
    return [
        parse_qs(r.query, keep_blank_values=True)
        for r in app.requests
        if r.method == "GET" and r.path == "/api/v2/accounts"
    ]


# -- an independent model of the rules (literal codes on purpose) ------------------------------


def score(a: Mapping[str, Any]) -> float | None:
    s = a.get("stat_warmup_score")
    return float(s) if isinstance(s, int | float) and not isinstance(s, bool) else None


def klass(a: Mapping[str, Any], risk: float = 70, watch: float = 90) -> str:
    """Issue 23's classes: errors first; no data (warmup paused, no score); then the score."""
    s = score(a)
    if a["status"] in (-1, -2, -3) or a["warmup_status"] in (-1, -2, -3):
        return "at-risk"
    if s is None or a["warmup_status"] == 0:
        return "no-data"
    if s < risk:
        return "at-risk"
    if a["status"] == 2 or s < watch:
        return "watch"
    return "healthy"


def nearest_rank(values: list[int], p: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def expected(accounts: list[dict[str, Any]]) -> dict[str, Any]:
    scores = [math.floor(s) for a in accounts if (s := score(a)) is not None]
    active = [a for a in accounts if a["status"] == 1]
    classes = Counter(klass(a) for a in accounts)
    errors = [a for a in accounts if a["status"] < 0]
    buckets = [
        sum(1 for s in scores if lo <= s <= (lo + 9 if lo < 90 else 100))
        for lo in range(0, 100, 10)
    ]
    return {
        "total": len(accounts),
        "status": Counter(a["status"] for a in accounts),
        "warmup": Counter(a["warmup_status"] for a in accounts),
        "provider": Counter(a["provider_code"] for a in accounts),
        "classes": classes,
        "unscored": len(accounts) - len(scores),
        "median": nearest_rank(scores, 50),
        "p10": nearest_rank(scores, 10),
        "buckets": buckets,
        "capacity": sum(a["daily_limit"] for a in active if a.get("daily_limit") is not None),
        "active": len(active),
        "active_without_limit": sum(1 for a in active if a.get("daily_limit") is None),
        "errors": len(errors),
        "error_emails": {a["email"] for a in errors},
    }


def counts(rows: list[dict[str, Any]]) -> dict[Any, int]:
    return {r["code"]: r["count"] for r in rows if r["count"]}


# -- 4,000 accounts -----------------------------------------------------------------------------

BIG = 4_000


@pytest.fixture(scope="module")
def big_app() -> Iterator[SandboxApp]:
    store = Store(":memory:")
    store.ensure_seeded(BIG)
    yield SandboxApp(store, api_key=TEST_KEY, record=False)
    store.close()


@pytest.fixture
def big(big_app: SandboxApp, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> SandboxApp:
    runtime.transport = httpx.WSGITransport(app=big_app)
    monkeypatch.setenv("INSTANTLY_API_KEY", TEST_KEY)
    monkeypatch.setenv("INSTANTLY_BASE_URL", "http://sandbox.test")
    return big_app


def test_summary_numbers_equal_those_computed_from_the_listing(cli: Cli, big: SandboxApp) -> None:
    listed = lines(ok(cli(["accounts", "list", "--all", "-o", "jsonl"])))
    assert len(listed) == BIG
    want = expected(listed)
    result = ok(cli(["accounts", "summary", "--json", "--by", "domain"]))
    assert result.stderr == ""
    doc = json.loads(result.stdout)
    assert doc["total"] == want["total"]
    assert counts(doc["status"]) == want["status"]
    assert counts(doc["warmup_status"]) == want["warmup"]
    assert counts(doc["provider"]) == want["provider"]
    assert counts(doc["health"]) == want["classes"]
    assert sum(want["classes"].values()) == BIG
    score_doc = doc["score"]
    assert score_doc["unscored"] == want["unscored"] == doc["metrics"]["unscored"]
    assert score_doc["scored"] == BIG - want["unscored"]
    assert score_doc["median"] == want["median"] and score_doc["p10"] == want["p10"]
    assert [b["count"] for b in score_doc["buckets"]] == want["buckets"]
    assert [(b["from"], b["to"]) for b in score_doc["buckets"]][-1] == (90, 100)
    cap = doc["capacity"]
    assert cap["daily_limit_total"] == want["capacity"] == doc["metrics"]["capacity"]
    assert cap["active"] == want["active"]
    assert cap["active_without_limit"] == want["active_without_limit"]
    assert doc["errors"]["count"] == want["errors"] == doc["metrics"]["errors"]
    reasons = doc["errors"]["reasons"]
    assert sum(r["count"] for r in reasons) == want["errors"]
    # The same error on many accounts is one row: far fewer rows than accounts in error.
    assert len(reasons) < want["errors"] / 10
    for r in reasons:
        assert 1 <= len(r["examples"]) <= 3 and set(r["examples"]) <= want["error_emails"]
    metrics = doc["metrics"]
    assert metrics == {
        "at-risk": want["classes"]["at-risk"], "watch": want["classes"]["watch"],
        "healthy": want["classes"]["healthy"], "no-data": want["classes"]["no-data"],
        "errors": want["errors"],
        "capacity": want["capacity"], "unscored": want["unscored"], "total": BIG,
    }
    # --by domain: one row per domain with the same counts, worst at-risk share first.
    by_domain: dict[str, list[dict[str, Any]]] = {}
    for a in listed:
        by_domain.setdefault(a["email"].rsplit("@", 1)[1].lower(), []).append(a)
    rows = doc["groups"]["rows"]
    assert doc["groups"]["by"] == "domain"
    assert {r["key"] for r in rows} == set(by_domain)
    for row in rows:
        sub = expected(by_domain[row["key"]])
        assert row["total"] == sub["total"]
        assert (row["at_risk"], row["watch"], row["healthy"]) == (
            sub["classes"]["at-risk"], sub["classes"]["watch"], sub["classes"]["healthy"])
        assert row["errors"] == sub["errors"] and row["capacity"] == sub["capacity"]
    shares = [r["at_risk"] / r["total"] for r in rows]
    assert shares == sorted(shares, reverse=True)


def test_list_health_filter_and_column_agree_with_the_summary(cli: Cli, big: SandboxApp) -> None:
    doc = json.loads(ok(cli(["accounts", "summary", "--json", "--provider", "google"])).stdout)
    at_risk = lines(ok(cli(["accounts", "list", "--provider", "google", "--health", "at-risk",
                            "--all", "-o", "jsonl", "--fields", "email,status,health"])))
    assert len(at_risk) == doc["metrics"]["at-risk"] > 0
    assert {r["health"] for r in at_risk} == {"at-risk"}
    assert set(at_risk[0]) == {"email", "status", "health"}


# -- the gate -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "breached"),
    [
        ("total>119", True), ("total>120", False),
        ("total>=120", True), ("total>=121", False),
        ("total<121", True), ("total<120", False),
        ("total<=120", True), ("total<=119", False),
        ("total==120", True), ("total==119", False),
        ("total!=119", True), ("total!=120", False),
    ],
)
def test_each_operator(cli: Cli, sandbox: SandboxApp, condition: str, breached: bool) -> None:
    result = cli(["accounts", "summary", "--json", "--fail-if", condition])
    assert result.exit_code == (1 if breached else 0), result.stderr
    doc = json.loads(result.stdout)
    assert doc["total"] == 120
    assert doc["gate"] == [{"condition": condition, "value": 120, "percent": False,
                            "breached": breached}]
    gate_lines = [ln for ln in result.stderr.splitlines() if "gate" in ln]
    assert gate_lines == ([f"Health gate breached: {condition}: total is 120"] if breached else [])


def test_percentages_are_of_the_total(cli: Cli, sandbox: SandboxApp) -> None:
    doc = json.loads(ok(cli(["accounts", "summary", "--json"])).stdout)
    at_risk = doc["metrics"]["at-risk"]
    share = 100 * at_risk / 120
    below, above = math.floor(share) - 1, math.ceil(share) + 1
    hit = cli(["accounts", "summary", "--json", "--fail-if", f"at-risk > {below} %"])
    assert hit.exit_code == 1
    assert f"at-risk>{below}%: at-risk is {round(share, 2):g}% ({at_risk} of 120 accounts)" in (
        hit.stderr)
    ok(cli(["accounts", "summary", "--json", "--fail-if", f"at-risk>{above}%"]))
    ok(cli(["accounts", "summary", "--json", "--fail-if", "errors>100%"]))
    assert cli(["accounts", "summary", "--json", "--fail-if", "errors<=100%"]).exit_code == 1


def test_several_conditions_one_line_per_breach(cli: Cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "summary", "-o", "tsv", "--fail-if", "at-risk>0",
                  "--fail-if", "errors>=3", "--fail-if", "capacity<1", "--fail-if", "total==0"])
    assert result.exit_code == 1
    breaches = [ln for ln in result.stderr.splitlines() if ln.startswith("Health gate")]
    assert len(breaches) == 2
    assert breaches[0].startswith("Health gate breached: at-risk>0: at-risk is ")
    assert breaches[1].startswith("Health gate breached: errors>=3: errors is ")
    # The summary itself is still printed (metrics as key/value lines when piped).
    assert "total\t120" in result.stdout.splitlines()


@pytest.mark.parametrize(
    "condition",
    ["at-risk", "at-risk>", ">5", "at-risk=>5", "at-risk=5", "risk>5", "at-risk>five",
     "at-risk>-1", "capacity>5%", "total<50%", "at-risk>5%%", ""],
)
def test_malformed_condition_is_exit_2_before_any_request(
    cli: Cli, sandbox: SandboxApp, condition: str
) -> None:
    result = cli(["accounts", "summary", "--fail-if", "errors>0", "--fail-if", condition])
    assert result.exit_code == 2, result.stderr
    assert "--fail-if" in result.stderr and result.stdout == ""
    assert sandbox.requests == []


def test_bad_thresholds_and_grouping_are_usage_errors(cli: Cli, sandbox: SandboxApp) -> None:
    for args in (["--at-risk-below", "90", "--watch-below", "80"], ["--watch-below", "200"],
                 ["--by", "colour"], ["--min-score", "70", "--max-score", "60"],
                 ["--domain", "not a domain"], ["--health", "sick"]):
        result = cli(["accounts", "summary", *args])
        assert result.exit_code == 2, (args, result.stderr)
    assert sandbox.requests == []


def test_thresholds_are_settable(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    everything = truth(store)
    doc = json.loads(ok(cli(["accounts", "summary", "--json", "--at-risk-below", "70",
                             "--watch-below", "95"])).stdout)
    assert counts(doc["health"]) == Counter(klass(a, 70, 95) for a in everything)
    assert doc["thresholds"] == {"at_risk_below": 70, "watch_below": 95}


# -- output forms -------------------------------------------------------------------------------


def test_by_tag_uses_include_tags_and_counts_every_tag(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    doc = json.loads(ok(cli(["accounts", "summary", "--json", "--by", "tag"])).stdout)
    assert all(q.get("include_tags") == ["true"] for q in list_queries(sandbox))
    listed = lines(ok(cli(["accounts", "list", "--all", "--include-tags", "-o", "jsonl"])))
    want: Counter[str] = Counter()
    for a in listed:
        for label in {t["label"] for t in a["tags"]} or {"(no tag)"}:
            want[label] += 1
    assert {r["key"]: r["total"] for r in doc["groups"]["rows"]} == dict(want)


def test_by_tables_in_tsv_and_csv(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    doc = json.loads(ok(cli(["accounts", "summary", "--json", "--by", "provider"])).stdout)
    rows = doc["groups"]["rows"]
    tsv = ok(cli(["accounts", "summary", "--by", "provider"])).stdout.splitlines()
    assert [ln.split("\t")[:3] for ln in tsv] == [
        [r["key"], str(r["total"]), str(r["at_risk"])] for r in rows]
    table = list(csv.DictReader(io.StringIO(
        ok(cli(["accounts", "summary", "--by", "status", "-o", "csv"])).stdout)))
    assert sum(int(r["total"]) for r in table) == 120
    assert {"key", "total", "at_risk", "at_risk_share", "watch", "healthy", "errors",
            "capacity"} <= set(table[0])
    one_line = ok(cli(["accounts", "summary", "-o", "jsonl", "--by", "provider"])).stdout
    assert len(one_line.splitlines()) == 1 and json.loads(one_line)["groups"]["rows"] == rows


def dashboard(runtime: Runtime, cli: Cli, columns: int, *args: str) -> list[str]:
    runtime.terminal = runtime.terminal._replace(stdout_isatty=True)
    result = ok(cli(["accounts", "summary", *args], env={"COLUMNS": str(columns)}))
    return ANSI.sub("", result.stdout).splitlines()


@pytest.mark.parametrize("columns", [80, 120])
def test_dashboard_fits_the_terminal(
    runtime: Runtime, cli: Cli, sandbox: SandboxApp, columns: int
) -> None:
    shown = dashboard(runtime, cli, columns, "--by", "domain")
    assert max(len(line) for line in shown) <= columns
    text = "\n".join(shown)
    for heading in ("Health", "Status", "Warmup score", "Capacity", "Errors", "By domain"):
        assert f"─ {heading}" in text
    assert shown[0].startswith("Fleet health: 120 accounts")
    assert "median" in text and "p10" in text


def test_dashboard_uses_the_house_colours(
    runtime, cli: Cli, sandbox: SandboxApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.terminal = runtime.terminal._replace(stdout_isatty=True)
    raw = ok(cli(["accounts", "summary"], env={"COLUMNS": "80"})).stdout
    assert "\x1b[1;31mAt risk" in raw and "\x1b[32mHealthy" in raw


def test_all_profiles_reports_a_failing_key_and_runs_the_others(
    cli: Cli, sandbox: SandboxApp
) -> None:
    update_config(lambda cfg: cfg.profiles.update({
        "agency-a": Profile("agency-a", api_key=TEST_KEY, workspace=DEFAULT_WORKSPACE_ID),
        "agency-b": Profile("agency-b", api_key="wrong-key-0000000000"),
        "agency-c": Profile("agency-c", api_key=TEST_KEY),
    }))
    result = cli(["accounts", "summary", "--all-profiles", "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    rows = {r["profile"]: r for r in doc["profiles"]}
    # Sorted by workspace name (a failing key's is unknown: its profile name stands in).
    assert list(rows) == ["agency-a", "agency-c", "agency-b"]
    assert rows["agency-c"]["workspace_name"] == "Acme Agency"
    assert rows["agency-a"]["total"] == rows["agency-c"]["total"] == 120
    assert rows["agency-a"]["workspace"] == DEFAULT_WORKSPACE_ID
    assert rows["agency-b"]["error"]["code"] and rows["agency-b"]["summary"] is None
    assert rows["agency-b"]["result"].startswith("failed")
    assert doc["total"]["total"] == 240
    assert doc["total"]["metrics"]["at-risk"] == 2 * rows["agency-a"]["at_risk"]
    assert "agency-b" in result.stderr and "1 of 3 workspaces" in result.stderr
    # Each profile sent its own workspace (and key: agency-b's was refused).
    assert any(r.headers.get("x-as-workspace") == DEFAULT_WORKSPACE_ID for r in sandbox.requests)
    assert rows["agency-b"]["error"]["status"] == 401


def test_all_profiles_table_has_a_row_per_profile_and_a_total(
    runtime: Runtime, cli: Cli, sandbox: SandboxApp
) -> None:
    update_config(lambda cfg: cfg.profiles.update({
        "one": Profile("one", api_key=TEST_KEY), "two": Profile("two", api_key=TEST_KEY)}))
    shown = dashboard(runtime, cli, 80, "--all-profiles")
    assert max(len(line) for line in shown) <= 80
    text = "\n".join(shown)
    assert re.search(r"│ one +Acme Agency +120 ", text) and re.search(r"│ Total +240 ", text)
    tsv = ok(cli(["accounts", "summary", "--all-profiles", "-o", "tsv"])).stdout.splitlines()
    assert [ln.split("\t")[0] for ln in tsv] == ["one", "two"]


def test_a_failed_workspace_reads_failed_at_80_columns_and_the_numbers_stay_whole(
    runtime: Runtime, cli: Cli, sandbox: SandboxApp
) -> None:
    # The error message (on stderr) once filled the Result column and squeezed every number
    # of the table into an ellipsis.
    update_config(lambda cfg: cfg.profiles.update({
        "one": Profile("one", api_key=TEST_KEY), "bad": Profile("bad", api_key="wrong-key-0000")}))
    runtime.terminal = runtime.terminal._replace(stdout_isatty=True)
    result = cli(["accounts", "summary", "--all-profiles"], env={"COLUMNS": "80"})
    assert result.exit_code == 1
    shown = ANSI.sub("", result.stdout).splitlines()
    assert max(len(line) for line in shown) <= 80
    text = "\n".join(shown)
    assert re.search(r"│ bad +failed │", text)
    assert re.search(r"│ one +Acme Agency +120 +\d+ +\d+ +\d+ +\d+ +[\d,]+ +ok +│", text)


# -- filters shared with accounts list (issue 15: items 3, 11, 13) -------------------------------


def emails(result: Result) -> list[str]:
    return [r["email"] for r in lines(ok(result))]


def in_api_order(accounts: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(accounts, key=lambda a: (a["timestamp_created"], a["email"]), reverse=True)
    return [a["email"] for a in ordered]


@pytest.mark.parametrize(
    "args",
    [["--status", "connection-error", "--status", "sending-error"],
     ["--status", "connection-error,sending-error"],
     ["--status", "-1", "--status", "sending-error,connection-error"]],
)
def test_repeated_status_means_any_of(
    cli: Cli, sandbox: SandboxApp, store: Store, args: list[str]
) -> None:
    got = emails(cli(["accounts", "list", "--all", "-o", "jsonl", *args]))
    want = in_api_order(truth(store, status=-1) + truth(store, status=-3))
    assert got == want and len(set(got)) == len(got)
    # One request stream per value (the API takes one status).
    assert {q["status"][0] for q in list_queries(sandbox)} == {"-1", "-3"}


def test_overlapping_filters_are_merged_without_duplicates(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    got = emails(cli(["accounts", "list", "--all", "-o", "jsonl", "--filter", "error",
                      "--filter", "warmup-error", "--provider", "google,microsoft"]))
    union = {a["email"]: a for f in ("ACC_FILTER_ERROR", "ACC_FILTER_W_ERROR")
             for p in (2, 3) for a in truth(store, filter=f, provider_code=p)}
    assert got == in_api_order(list(union.values()))
    assert len(got) == len(set(got)) and len(list_queries(sandbox)) >= 4


def test_multi_value_listing_honours_limit_and_summary_takes_the_same_filters(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    got = emails(cli(["accounts", "list", "--limit", "5", "-o", "jsonl",
                      "--status", "paused,active"]))
    assert got == in_api_order(truth(store, status=1) + truth(store, status=2))[:5]
    doc = json.loads(ok(cli(["accounts", "summary", "--json", "--status", "paused,active"])).stdout)
    assert doc["total"] == len(truth(store, status=1)) + len(truth(store, status=2))


@pytest.mark.parametrize(("sort", "direction"), [("warmup-score", "--asc"),
                                               ("status", "--desc"), ("email", "--asc")])
def test_merged_streams_keep_a_sorted_order(
    cli: Cli, sandbox: SandboxApp, store: Store, sort: str, direction: str
) -> None:
    got = emails(cli(["accounts", "list", "--all", "-o", "jsonl", "--provider", "google,aws",
                      "--sort", sort, direction]))
    column = {"warmup-score": "stat_warmup_score", "status": "status", "email": "email"}[sort]
    order = "asc" if direction == "--asc" else "desc"
    want = [a for a in truth(store, sort_by=column, sort_order=order)
            if a["provider_code"] in (2, 4)]
    if column == "stat_warmup_score":  # accounts without a score come last
        want = [a for a in want if a.get(column) is not None] + [
            a for a in want if a.get(column) is None]
    assert got == [a["email"] for a in want]


def test_too_many_combinations_are_refused_before_sending(cli: Cli, sandbox: SandboxApp) -> None:
    everything = ["--status", "active,paused,maintenance,-1,-2,-3", "--provider", "1,2,3,4,8,11",
                  "--filter", "error,dfy"]
    for command in ("list", "summary"):
        result = cli(["accounts", command, *everything])
        assert result.exit_code == 2 and "72 request streams" in result.stderr
    assert sandbox.requests == []


def test_all_with_limit_is_a_usage_error(cli: Cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "list", "--all", "--limit", "5"])
    assert result.exit_code == 2 and "--all" in result.stderr and "--limit" in result.stderr
    assert sandbox.requests == []


def test_domain_is_an_exact_match(cli: Cli, sandbox: SandboxApp, store: Store) -> None:
    everything = truth(store)[::-1]  # --all lists oldest first
    want = [a["email"] for a in everything if a["email"].endswith("@getacme.io")]
    assert want
    assert emails(cli(["accounts", "list", "--all", "-o", "jsonl", "--domain", "GetAcme.io"])) \
        == want
    # acme.io is a substring of getacme.io, never a match for it.
    assert emails(cli(["accounts", "list", "--all", "-o", "jsonl", "--domain", "acme.io"])) == []
    both = emails(cli(["accounts", "list", "--all", "-o", "jsonl", "--domain", "getacme.io",
                       "--domain", "@acme-outreach.com"]))
    assert both == [a["email"] for a in everything
                    if a["email"].rsplit("@", 1)[1] in ("getacme.io", "acme-outreach.com")]
    doc = json.loads(ok(cli(["accounts", "summary", "--json", "--domain", "getacme.io"])).stdout)
    assert doc["total"] == len(want)


def test_score_range_excludes_unscored_unless_asked(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    everything = truth(store)[::-1]  # --all lists oldest first
    assert any(score(a) is None for a in everything)
    base = ["accounts", "list", "--all", "-o", "jsonl", "--min-score", "60", "--max-score", "70"]
    want = [a["email"] for a in everything if (s := score(a)) is not None and 60 <= s <= 70]
    assert want and emails(cli(base)) == want
    with_unscored = [a["email"] for a in everything
                     if (s := score(a)) is None or 60 <= s <= 70]
    assert emails(cli([*base, "--include-unscored"])) == with_unscored
    low = emails(cli(["accounts", "list", "--all", "-o", "jsonl", "--max-score", "49"]))
    assert low == [a["email"] for a in everything if (s := score(a)) is not None and s <= 49]
    doc = json.loads(ok(cli(["accounts", "summary", "--json", "--min-score", "60",
                             "--max-score", "70"])).stdout)
    assert doc["total"] == len(want) and doc["score"]["unscored"] == 0


def test_health_field_in_tables(
    cli: Cli, sandbox: SandboxApp, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = ok(cli(["accounts", "list", "--all", "--fields", "email,health"])).stdout.splitlines()
    want = {a["email"]: klass(a) for a in truth(store)}
    label = {"at-risk": "At risk", "watch": "Watch", "healthy": "Healthy", "no-data": "No data"}
    assert dict(r.split("\t") for r in rows) == {e: label[k] for e, k in want.items()}
    # Not a default column; plain JSON stays the API's objects.
    plain = lines(ok(cli(["accounts", "list", "--limit", "3", "-o", "jsonl"])))
    assert all("health" not in r for r in plain)


# -- the service, directly ----------------------------------------------------------------------


def test_the_same_error_with_different_details_is_one_reason() -> None:
    tally = health.Tally()
    for i in range(40):
        tally.add({
            "email": f"box{i}@example.com", "status": -1, "warmup_status": 1,
            "status_message": {"code": "ECONNECTION", "e_message":
                               f"421 4.7.0 Try again later; session {i:08x}a from "
                               f"10.0.{i}.7 for box{i}@example.com after {100 + i} ms"},
        })
    tally.add({"email": "other@example.com", "status": -1, "warmup_status": 1,
               "status_message": {"e_message": "Invalid login: 535-5.7.8 rejected"}})
    reasons = tally.to_json()["errors"]["reasons"]
    assert [(r["count"], len(r["examples"])) for r in reasons] == [(40, 3), (1, 1)]
    assert reasons[0]["reason"] == ("421 4.7.0 Try again later; session <id> from <ip> for "
                                    "<email> after <n> ms")
    assert reasons[0]["code"] == "ECONNECTION"
    assert reasons[1]["reason"] == "Invalid login: 535-5.7.8 rejected"


def test_memory_is_counters_not_accounts() -> None:
    tally = health.Tally(by="provider")
    for i in range(5000):
        tally.add({"email": f"a{i}@x.io", "status": 1, "warmup_status": 1,
                   "provider_code": 2, "stat_warmup_score": i % 101, "daily_limit": 10})
    assert len(tally.histogram) == 101 and len(tally.groups) == 1
    assert tally.metrics()["capacity"] == 50_000
    assert tally.percentile(50) == nearest_rank([i % 101 for i in range(5000)], 50)
    assert tally.percentile(10) == nearest_rank([i % 101 for i in range(5000)], 10)


def test_the_account_iterator_is_one_argument(sandbox: SandboxApp, store: Store) -> None:
    """A lister (e.g. a concurrent one) plugs in through ``lister=``; the pass is the same."""
    from instantly_cli.client import InstantlyClient
    from instantly_cli.services.accounts import list as fleet

    calls: list[dict[str, Any]] = []

    def lister(client: Any, params: dict[str, Any], *, limit: int | None, offset: bool) -> Any:
        calls.append(params)
        return client.list_accounts(params, limit=limit, offset=offset)

    client = InstantlyClient(api_key=TEST_KEY, base_url="http://sandbox.test",
                             transport=httpx.WSGITransport(app=sandbox))
    with client:
        listing = fleet.list_accounts(
            client, fleet.ListQuery(status=["active,paused"]), limit=None, lister=lister)
        tally = health.summarize(fleet.accounts_of(listing))
    assert [c["status"] for c in calls] == [1, 2]
    assert tally.counts.total == len(truth(store, status=1)) + len(truth(store, status=2))


# -- the concurrent lister ------------------------------------------------------------------------


def _offset_pages(app: SandboxApp) -> int:
    return sum(q.get("sort_by") == ["timestamp_created"] and "skip" in q
               for q in list_queries(app))


@pytest.fixture
def concurrent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages in flight whatever the latency (the in-process sandbox has next to none)."""
    from instantly_cli.services.accounts import list as fleet

    monkeypatch.setattr(fleet, "CURSOR_UP_TO", 0)


def test_summary_reads_by_the_concurrent_lister_unless_told_not_to(
    cli: Cli, sandbox: SandboxApp, store: Store, concurrent: None
) -> None:
    store.reset(450)
    fast = json.loads(ok(cli(["accounts", "summary", "--json"])).stdout)
    assert fast["total"] == 450 and _offset_pages(sandbox) >= 5
    sandbox.requests.clear()
    slow = json.loads(ok(cli(["accounts", "summary", "--json", "--no-parallel"])).stdout)
    def counts(doc: dict[str, Any]) -> dict[str, Any]:
        # The example emails of each error reason are the first met: they follow the order.
        errors = doc["errors"]
        reasons = [{k: v for k, v in r.items() if not isinstance(v, list)}
                   for r in errors["reasons"]]
        return {**doc, "errors": {**errors, "reasons": reasons}}

    assert counts(slow) == counts(fast)
    assert _offset_pages(sandbox) == 0 and len(list_queries(sandbox)) == 5
    # Several streams (any of two statuses) keep the cursor walk; the numbers still add up.
    sandbox.requests.clear()
    two = json.loads(ok(cli(["accounts", "summary", "--json", "--status", "active,paused"])).stdout)
    assert _offset_pages(sandbox) == 0
    assert two["total"] == len(truth(store, status=1)) + len(truth(store, status=2))


def test_all_profiles_summary_reads_each_profile_concurrently(
    cli: Cli, sandbox: SandboxApp, store: Store, concurrent: None
) -> None:
    store.reset(300)
    update_config(lambda cfg: cfg.profiles.update({
        "one": Profile("one", api_key=TEST_KEY), "two": Profile("two", api_key=TEST_KEY)}))
    doc = json.loads(ok(cli(["accounts", "summary", "--all-profiles", "--json"])).stdout)
    assert doc["total"]["total"] == 600
    assert _offset_pages(sandbox) >= 2 * 3
