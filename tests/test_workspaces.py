"""Agency scale (issue 25): workspaces by name, roll-ups over every workspace and profile side
by side, and `accounts find`.

In-process tests use the sandbox's agency layout (Acme Agency administers Client North, South
and East — accepted —, West — pending — and Legacy — rejected); the side-by-side tests run
real loopback servers (one per profile), so each profile has its own server and rate limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import Result

from instantly_cli.client import InstantlyClient
from instantly_cli.config_file import Profile, update_config
from instantly_cli.context import Runtime
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.seed import (
    DEFAULT_WORKSPACE_ID,
    DEFAULT_WORKSPACE_NAME,
    SUB_WORKSPACES,
)
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import Store
from instantly_cli.services import workspaces
from tests.conftest import TEST_KEY

Cli = Callable[..., Result]
WS = {name: (ws_id, status) for ws_id, name, status, _ in SUB_WORKSPACES}
ACCEPTED = {name: ws_id for name, (ws_id, status) in WS.items() if status == "accepted"}
NOT_ACCEPTED = {ws_id for ws_id, status in WS.values() if status != "accepted"}
NORTH = WS["Client North"][0]
SOUTH = WS["Client South"][0]
SUB = 7  # accounts seeded into each sub-workspace


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def acted_as(app: SandboxApp) -> set[str]:
    return {r.headers.get("x-as-workspace", "") for r in app.requests}


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store(":memory:")
    s.ensure_seeded(120, sub_accounts=SUB)
    yield s
    s.close()


# -- the client methods (every exchange is contract-checked by the sandbox fixture) ----------------


def test_client_reads_the_workspace_and_its_members(sandbox: SandboxApp) -> None:
    transport = httpx.WSGITransport(app=sandbox)
    with InstantlyClient(api_key=TEST_KEY, base_url="http://s", transport=transport) as c:
        assert c.current_workspace()["name"] == DEFAULT_WORKSPACE_NAME
        members = [m for page in c.workspace_members() for m in page]
        assert {m["sub_workspace_id"]: m["status"] for m in members} == dict(WS.values())
    with InstantlyClient(api_key=TEST_KEY, base_url="http://s", transport=transport,
                         workspace=NORTH) as c:
        assert c.current_workspace()["id"] == NORTH
        assert [m for page in c.workspace_members() for m in page] == []


# -- names ↔ ids --------------------------------------------------------------------------------


def test_workspaces_list_shows_the_key_and_its_sub_workspaces(
    cli: Cli, sandbox: SandboxApp
) -> None:
    rows = as_json(cli(["workspaces", "list", "--json"]))
    assert rows[0] == {"id": DEFAULT_WORKSPACE_ID, "name": DEFAULT_WORKSPACE_NAME,
                       "status": "current"}
    assert {r["name"]: (r["id"], r["status"]) for r in rows[1:]} == WS
    tsv = ok(cli(["workspaces", "list", "-o", "tsv"])).stdout.splitlines()
    assert tsv[0].split("\t") == [DEFAULT_WORKSPACE_NAME, DEFAULT_WORKSPACE_ID, "current"]


def test_workspace_by_name_any_case_and_cached(
    cli: Cli, sandbox: SandboxApp, store: Store, isolated: Path
) -> None:
    north = as_json(cli(["--workspace", "client NORTH", "accounts", "list", "--all", "--json"]))
    assert len(north) == SUB and {a["organization"] for a in north} == {NORTH}
    assert list((isolated / "state" / "workspaces").iterdir())
    sandbox.requests.clear()
    # Cached: no directory request the second time; the accounts are asked as Client North.
    ok(cli(["accounts", "list", "--workspace", "Client North", "--json"]))
    assert not [r for r in sandbox.requests if "workspace" in r.path]
    assert acted_as(sandbox) == {NORTH}
    # A workspace added since the names were cached: the miss reads them again.
    store.add_workspace("0f0e0d0c-0b0a-4909-8807-060504030201", "Client New")
    ok(cli(["--workspace", "Client New", "accounts", "list", "--json"]))


def test_unknown_ambiguous_and_truncated_names_are_usage_errors(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    unknown = cli(["--workspace", "Client Nort", "accounts", "list"])
    assert unknown.exit_code == 2 and "Client North" in unknown.stderr
    truncated = cli(["--workspace", NORTH[:8], "accounts", "list"])
    assert truncated.exit_code == 2
    assert "Did you mean Client North" in truncated.stderr and "scope" not in truncated.stderr
    store.add_workspace("0f0e0d0c-0b0a-4909-8807-060504030201", "client north")
    ok(cli(["workspaces", "list"]))  # reads the names again (the cache still had one)
    twice = cli(["--workspace", "Client North", "accounts", "list"])
    assert twice.exit_code == 2 and "names 2 workspaces" in twice.stderr
    assert NORTH in twice.stderr
    # Nothing but the workspace lists was asked.
    assert all("workspace" in r.path for r in sandbox.requests)
    assert not acted_as(sandbox) - {""}


def test_match_unit() -> None:
    known = [workspaces.Workspace("a" * 8 + "-1111-4111-8111-" + "1" * 12, "Client A", "current"),
             workspaces.Workspace("b" * 8 + "-1111-4111-8111-" + "1" * 12, "Client B",
                                  "accepted")]
    assert workspaces.match("client b", known) == known[1].id
    assert workspaces.match(known[0].id.upper(), known) == known[0].id
    with pytest.raises(workspaces.UnknownWorkspaceError) as err:
        workspaces.match("Client C", known, option="--to")
    assert "--to" in err.value.message and "Client A" in str(err.value.hint)


def test_move_to_a_name_takes_the_source_from_each_account(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    north = as_json(cli(["--workspace", "Client North", "accounts", "list", "--json"]))
    admin = as_json(cli(["accounts", "list", "--limit", "1", "--json"]))
    # One account of the admin workspace (read as is) and one of Client North (found by its
    # organization while acting as North).
    for email in (admin[0]["email"],):
        ok(cli(["accounts", "move", email, "--to", "Client South", "--yes"]))
    ok(cli(["--workspace", "Client North", "accounts", "move", north[0]["email"],
            "--to", "client south", "--yes"]))
    moves = [json.loads(r.body or b"{}") for r in sandbox.requests
             if r.path == "/api/v2/accounts/move"]
    assert [(m["source_workspace_id"], m["destination_workspace_id"]) for m in moves] == [
        (DEFAULT_WORKSPACE_ID, SOUTH), (NORTH, SOUTH)]
    south = as_json(cli(["--workspace", "Client South", "accounts", "list", "--all", "--json"]))
    assert {admin[0]["email"], north[0]["email"]} <= {a["email"] for a in south}
    bad = cli(["accounts", "move", admin[0]["email"], "--to", "Client Sout", "--yes"])
    assert bad.exit_code == 2 and "Client South" in bad.stderr


# -- --all-workspaces ---------------------------------------------------------------------------


def test_all_workspaces_is_the_admin_run_plus_each_accepted_one(
    cli: Cli, sandbox: SandboxApp
) -> None:
    single = [as_json(cli(["accounts", "summary", "--json"]))]
    single += [as_json(cli(["--workspace", name, "accounts", "summary", "--json"]))
               for name in sorted(ACCEPTED)]
    sandbox.requests.clear()
    doc = as_json(cli(["accounts", "summary", "--all-workspaces", "--json"]))
    rows = doc["profiles"]
    assert [r["workspace_name"] for r in rows] == [DEFAULT_WORKSPACE_NAME, *sorted(ACCEPTED)]
    assert [r["workspace_id"] for r in rows] == [DEFAULT_WORKSPACE_ID,
                                                 *(ACCEPTED[n] for n in sorted(ACCEPTED))]
    assert [r["summary"]["metrics"] for r in rows] == [s["metrics"] for s in single]
    for key in ("total", "at-risk", "watch", "healthy", "errors", "capacity"):
        assert doc["total"]["metrics"][key] == sum(s["metrics"][key] for s in single)
    # Pending and rejected sub-workspaces are never queried.
    assert acted_as(sandbox) == {"", *ACCEPTED.values()}
    assert not acted_as(sandbox) & NOT_ACCEPTED


def test_list_all_workspaces_labels_every_record(cli: Cli, sandbox: SandboxApp) -> None:
    records = as_json(cli(["accounts", "list", "--all-workspaces", "--all", "--json"]))
    by_ws: dict[str, int] = {}
    for r in records:
        assert r["workspace_id"] == r["organization"] and r["profile"] == "default"
        by_ws[r["workspace_name"]] = by_ws.get(r["workspace_name"], 0) + 1
    assert by_ws == {DEFAULT_WORKSPACE_NAME: 120, **dict.fromkeys(ACCEPTED, SUB)}
    names = [r["workspace_name"] for r in records]
    assert names == sorted(names, key=str.casefold)
    tsv = ok(cli(["accounts", "list", "--all-workspaces", "--limit", "2", "-o", "tsv"]))
    assert [ln.split("\t")[0] for ln in tsv.stdout.splitlines()] == [
        n for n in [DEFAULT_WORKSPACE_NAME, *sorted(ACCEPTED)] for _ in range(2)]


def test_find_locates_addresses_in_any_case_across_workspaces(
    cli: Cli, sandbox: SandboxApp
) -> None:
    north = as_json(cli(["--workspace", "Client North", "accounts", "list", "--json"]))[0]
    admin = as_json(cli(["accounts", "list", "--limit", "1", "--json"]))[0]
    result = cli(["accounts", "find", north["email"].upper(), admin["email"], "nobody@x.io",
                  "--json"])
    assert result.exit_code == 4 and "1 of 3" in result.stderr
    rows = {r["email"].casefold(): r for r in json.loads(result.stdout)}
    assert rows[north["email"].casefold()]["workspace_name"] == "Client North"
    assert rows[admin["email"].casefold()]["workspace_id"] == DEFAULT_WORKSPACE_ID
    assert rows["nobody@x.io"]["result"] == "not found"
    assert not acted_as(sandbox) & NOT_ACCEPTED
    assert cli(["accounts", "find", "not-an-address"]).exit_code == 2


# -- side by side over loopback ------------------------------------------------------------------


@pytest.fixture
def servers(runtime: Runtime) -> Iterator[Callable[..., tuple[SandboxServer, Store]]]:
    made: list[tuple[SandboxServer, Store]] = []

    def make(accounts: int, **kwargs: Any) -> tuple[SandboxServer, Store]:
        store = Store(":memory:")
        store.ensure_seeded(accounts, sub_accounts=kwargs.pop("sub_accounts", 0))
        server = SandboxServer(SandboxApp(store, api_key=TEST_KEY), **kwargs).start()
        made.append((server, store))
        return server, store

    yield make
    for server, store in made:
        server.stop()
        store.close()


def test_all_profiles_side_by_side_equals_the_sum_of_single_runs(
    cli: Cli, servers: Callable[..., tuple[SandboxServer, Store]]
) -> None:
    made = [servers(60 + 10 * i, latency_ms=5, rate_limit=True) for i in range(10)]
    update_config(lambda cfg: cfg.profiles.update({
        f"client-{i:02d}": Profile(f"client-{i:02d}", api_key=TEST_KEY, base_url=srv.url)
        for i, (srv, _) in enumerate(made)}))
    single = [as_json(cli(["--profile", f"client-{i:02d}", "accounts", "summary", "--json"]))
              for i in range(10)]
    doc = as_json(cli(["accounts", "summary", "--all-profiles", "--json"]))
    assert doc["total"]["total"] == sum(60 + 10 * i for i in range(10))
    for key in ("at-risk", "watch", "healthy", "errors", "capacity", "unscored"):
        assert doc["total"]["metrics"][key] == sum(s["metrics"][key] for s in single)
    assert sorted(r["total"] for r in doc["profiles"]) == sorted(s["total"] for s in single)
    assert all(r["workspace_name"] == DEFAULT_WORKSPACE_NAME for r in doc["profiles"])
    assert [r["profile"] for r in doc["profiles"]] == [f"client-{i:02d}" for i in range(10)]
    assert sum(srv.status_counts[429] for srv, _ in made) == 0
    records = as_json(cli(["accounts", "list", "--all-profiles", "--all", "--json"]))
    assert len(records) == doc["total"]["total"]
    assert {r["profile"] for r in records} == {f"client-{i:02d}" for i in range(10)}


def test_a_failing_workspace_is_reported_and_the_others_complete(
    cli: Cli, servers: Callable[..., tuple[SandboxServer, Store]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = servers(60, sub_accounts=SUB)
    monkeypatch.setenv("INSTANTLY_API_KEY", TEST_KEY)
    monkeypatch.setenv("INSTANTLY_BASE_URL", server.url)
    server.inject("500", 1000, workspace=SOUTH)
    result = cli(["accounts", "summary", "--all-workspaces", "--json"])
    assert result.exit_code == 1
    rows = {r["workspace_name"]: r for r in json.loads(result.stdout)["profiles"]}
    assert rows["Client South"]["error"]["status"] == 500
    assert rows["Client South"]["summary"] is None
    assert {n: r["total"] for n, r in rows.items() if n != "Client South"} == {
        DEFAULT_WORKSPACE_NAME: 60, "Client North": SUB, "Client East": SUB}
    assert json.loads(result.stdout)["total"]["total"] == 60 + 2 * SUB
    assert "Client South" in result.stderr and "1 of 4 workspaces" in result.stderr
    listed = cli(["accounts", "list", "--all-workspaces", "--all", "--json"])
    assert listed.exit_code == 1 and len(json.loads(listed.stdout)) == 60 + 2 * SUB


def test_diff_all_workspaces_compares_each_with_its_own_history(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    assert as_json(cli(["accounts", "diff", "--all-workspaces", "--json"])) == []
    north = as_json(cli(["--workspace", "Client North", "accounts", "list", "--status",
                         "active", "--json"]))[0]
    store.simulate(north["email"], status=-1)
    records = as_json(cli(["accounts", "diff", "--all-workspaces", "--json"]))
    assert {(r["workspace_name"], r["workspace_id"], r["email"]) for r in records} == {
        ("Client North", NORTH, north["email"])}
    # The same history a single run of that workspace reads: nothing new since.
    assert as_json(cli(["--workspace", NORTH, "accounts", "diff", "--json"])) == []
    assert not acted_as(sandbox) & NOT_ACCEPTED
    gate = cli(["accounts", "diff", "--all-workspaces", "--json", "--no-record",
                "--fail-if", "transitions>=0"])
    assert gate.exit_code == 1 and "Gate breached" in gate.stderr
    refused = cli(["accounts", "diff", "--all-profiles", "--notify", "https://h.example/x"])
    assert refused.exit_code == 2


def test_a_key_that_may_not_read_workspaces_is_told_to_use_the_id(
    cli: Cli, sandbox: SandboxApp
) -> None:
    sandbox.forbidden.add("workspaces")
    named = cli(["--workspace", "Client North", "accounts", "list"])
    assert named.exit_code == 3 and "workspace id" in named.stderr
    ok(cli(["--workspace", NORTH, "accounts", "list"]))  # an id needs no look-up
    # A roll-up over profiles still reads the accounts; only the name stays unknown.
    update_config(lambda cfg: cfg.profiles.update({"one": Profile("one", api_key=TEST_KEY)}))
    [row] = as_json(cli(["accounts", "summary", "--all-profiles", "--json"]))["profiles"]
    assert row["total"] == 120 and row["workspace_name"] is None and row["error"] is None


def test_a_workspace_the_key_may_not_act_on_points_at_workspaces_list(
    cli: Cli, sandbox: SandboxApp
) -> None:
    pending = WS["Client West"][0]
    result = cli(["--workspace", pending, "accounts", "list"])
    assert result.exit_code == 3
    assert pending in result.stderr and "instantly workspaces list" in result.stderr
