"""Agency scale (issue 25), continued: `accounts coverage --all-workspaces|--all-profiles`, and
one history per workspace whether it is named, given by id or read in a roll-up.

The agency layout and the loopback servers are test_workspaces.py's fixtures (Acme Agency
administers Client North, South and East — accepted —, West — pending — and Legacy — rejected).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import Result

from instantly_cli.config_file import Profile, update_config
from instantly_cli.context import Runtime
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.seed import DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_NAME
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import Store
from tests import test_workspaces as agency
from tests.conftest import TEST_KEY
from tests.test_workspaces import (
    ACCEPTED,
    NORTH,
    NOT_ACCEPTED,
    SOUTH,
    SUB,
    acted_as,
    as_json,
    ok,
)

# test_workspaces.py's fixtures: the agency's store (sub-workspaces with accounts), and
# loopback servers.
store = agency.store
servers = agency.servers
Cli = Callable[..., Result]
FINDINGS = ("idle", "campaigns_at_risk", "not_sending")
LABELS = ("profile", "workspace_name", "workspace_id")


def unlabelled(doc: dict[str, Any]) -> dict[str, Any]:
    """A roll-up row's coverage as a single run prints it (no labels, no gate)."""
    return {k: [{f: v for f, v in r.items() if f not in LABELS} for r in doc[k]]
            if k in FINDINGS else doc[k] for k in doc if k != "gate"}


def test_coverage_all_workspaces_is_the_admin_run_plus_each_accepted_one(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    # Campaigns in Client North too, so a sub-workspace has findings of every kind to add.
    store.seed_extra_campaigns(8, NORTH, accounts_each=3)
    single = {DEFAULT_WORKSPACE_NAME: as_json(cli(["accounts", "coverage", "--json"]))}
    single |= {name: as_json(cli(["--workspace", name, "accounts", "coverage", "--json"]))
               for name in ACCEPTED}
    assert single["Client North"]["campaigns"] == 8 and single["Client North"]["not_sending"]
    sandbox.requests.clear()
    doc = as_json(cli(["accounts", "coverage", "--all-workspaces", "--json"]))
    rows = doc["profiles"]
    names = [DEFAULT_WORKSPACE_NAME, *sorted(ACCEPTED)]
    assert [r["workspace_name"] for r in rows] == names
    assert [r["workspace_id"] for r in rows] == [DEFAULT_WORKSPACE_ID,
                                                 *(ACCEPTED[n] for n in sorted(ACCEPTED))]
    for row in rows:
        own = single[row["workspace_name"]]
        assert unlabelled(row["coverage"]) == unlabelled(own)
        assert row["error"] is None and row["result"] == "ok"
        assert (row["idle_count"], row["campaigns_at_risk_count"], row["not_sending_count"]) == (
            len(own["idle"]), len(own["campaigns_at_risk"]), len(own["not_sending"]))
    total = doc["total"]
    for key in ("idle_capacity", "accounts", "campaigns"):
        assert total[key] == sum(s[key] for s in single.values())
    for key in FINDINGS:
        assert len(total[key]) == sum(len(s[key]) for s in single.values())
        for record in total[key]:  # every record says where it is
            assert record["profile"] == "default"
            assert record["workspace_id"] == {DEFAULT_WORKSPACE_NAME: DEFAULT_WORKSPACE_ID,
                                              **ACCEPTED}[record["workspace_name"]]
    assert {(r["workspace_name"], r["name"]) for r in total["not_sending"]} == {
        (n, c["name"]) for n, s in single.items() for c in s["not_sending"]}
    # Pending and rejected sub-workspaces are never queried.
    assert acted_as(sandbox) == {"", *ACCEPTED.values()}
    assert not acted_as(sandbox) & NOT_ACCEPTED
    # The gate judges the total.
    idle = len(total["idle"])
    gate = cli(["accounts", "coverage", "--all-workspaces", "--json",
                "--fail-if", f"idle>={idle}", "--fail-if", f"campaigns-at-risk>{10**6}"])
    assert gate.exit_code == 1 and "Coverage gate breached" in gate.stderr
    assert [g["value"] for g in json.loads(gate.stdout)["gate"]][0] == idle


def test_coverage_roll_up_table_and_tsv_lead_with_the_workspace(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    store.seed_extra_campaigns(8, NORTH, accounts_each=3)
    doc = as_json(cli(["accounts", "coverage", "--all-workspaces", "--json"]))["total"]
    tsv = ok(cli(["accounts", "coverage", "--all-workspaces", "-o", "tsv"])).stdout
    lines = [ln.split("\t") for ln in tsv.splitlines()]
    assert len(lines) == sum(len(doc[k]) for k in FINDINGS)
    assert {(ln[0], ln[1]) for ln in lines if ln[1] == "not-sending"} == {
        (r["workspace_name"], "not-sending") for r in doc["not_sending"]}
    assert {ln[0] for ln in lines} >= {DEFAULT_WORKSPACE_NAME, "Client North"}
    table = ok(cli(["accounts", "coverage", "--all-workspaces", "-o", "table"]))
    assert "Workspaces: 4" in table.stdout
    total_line = next(ln for ln in table.stdout.splitlines() if ln.startswith("Total"))
    assert f" {doc['accounts']} " in total_line


def test_coverage_a_failing_workspace_is_reported_and_the_others_complete(
    runtime: Runtime, cli: Cli, servers: Callable[..., tuple[SandboxServer, Store]],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = servers(60, sub_accounts=SUB)
    monkeypatch.setenv("INSTANTLY_API_KEY", TEST_KEY)
    monkeypatch.setenv("INSTANTLY_BASE_URL", server.url)
    server.inject("500", 1000, workspace=SOUTH)
    result = cli(["accounts", "coverage", "--all-workspaces", "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    rows = {r["workspace_name"]: r for r in doc["profiles"]}
    assert rows["Client South"]["error"]["status"] == 500
    assert rows["Client South"]["coverage"] is None
    assert rows["Client South"]["result"].startswith("failed")
    assert {n: r["accounts"] for n, r in rows.items() if n != "Client South"} == {
        DEFAULT_WORKSPACE_NAME: 60, "Client North": SUB, "Client East": SUB}
    assert doc["total"]["accounts"] == 60 + 2 * SUB
    assert "Client South" in result.stderr and "1 of 4 workspaces" in result.stderr
    assert not {r["workspace_name"] for k in FINDINGS for r in doc["total"][k]} & {
        "Client South"}

    # At 80 columns its Result reads "failed" (the message is on stderr), nothing hidden.
    runtime.terminal = runtime.terminal._replace(stdout_isatty=True)
    table = cli(["accounts", "coverage", "--all-workspaces"], env={"COLUMNS": "80"})
    assert table.exit_code == 1
    shown = re.sub(r"\x1b\[[0-9;]*m", "", table.stdout).splitlines()
    assert max(len(line) for line in shown) <= 80
    assert any(re.fullmatch(r"\S+ +Client South +failed *", line) for line in shown)
    assert "columns hidden" not in table.stdout

def test_coverage_all_profiles_adds_up_the_profiles(
    cli: Cli, servers: Callable[..., tuple[SandboxServer, Store]]
) -> None:
    made = [servers(50 + 20 * i, latency_ms=5, rate_limit=True) for i in range(3)]
    update_config(lambda cfg: cfg.profiles.update({
        f"client-{i}": Profile(f"client-{i}", api_key=TEST_KEY, base_url=srv.url)
        for i, (srv, _) in enumerate(made)}))
    single = [as_json(cli(["--profile", f"client-{i}", "accounts", "coverage", "--json"]))
              for i in range(3)]
    doc = as_json(cli(["accounts", "coverage", "--all-profiles", "--json"]))
    assert [r["profile"] for r in doc["profiles"]] == ["client-0", "client-1", "client-2"]
    for row, own in zip(doc["profiles"], single, strict=True):
        assert unlabelled(row["coverage"]) == unlabelled(own)
    for key in ("idle_capacity", "accounts", "campaigns"):
        assert doc["total"][key] == sum(s[key] for s in single)
    assert doc["total"]["accounts"] == 50 + 70 + 90
    for key in FINDINGS:
        assert len(doc["total"][key]) == sum(len(s[key]) for s in single)
    records = [r for k in FINDINGS for r in doc["total"][k]]
    assert records and {r["profile"] for r in records} == {"client-0", "client-1", "client-2"}
    assert all(r["workspace_id"] == DEFAULT_WORKSPACE_ID for r in records)
    assert sum(srv.status_counts[429] for srv, _ in made) == 0
    # The three workspaces share a name: piped lines say whose each finding is.
    lines = [ln.split("\t") for ln in ok(cli(["accounts", "coverage", "--all-profiles",
                                              "-o", "tsv"])).stdout.splitlines()]
    assert len(lines) == len(records)
    assert {(ln[0], ln[1]) for ln in lines} == {
        (f"client-{i}", DEFAULT_WORKSPACE_NAME) for i in range(3)}
    listed = [ln.split("\t") for ln in ok(cli(["accounts", "list", "--all-profiles", "--all",
                                               "-o", "tsv"])).stdout.splitlines()]
    assert len(listed) == 50 + 70 + 90
    assert {(ln[0], ln[1]) for ln in listed} == {
        (f"client-{i}", DEFAULT_WORKSPACE_NAME) for i in range(3)}


# -- one history per workspace --------------------------------------------------------------------


def test_a_named_workspace_records_under_its_id(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    """`--workspace "Client North"` keeps its snapshots where its id and the roll-ups look."""
    ok(cli(["--workspace", "Client North", "accounts", "summary", "--json"]))
    north = as_json(cli(["--workspace", "client north", "accounts", "list", "--status",
                         "active", "--json"]))[0]
    store.simulate(north["email"], status=-1)
    rolled = as_json(cli(["accounts", "diff", "--all-workspaces", "--no-record", "--json"]))
    assert {(r["workspace_id"], r["email"], r["kind"]) for r in rolled} == {
        (NORTH, north["email"], "new-error")}
    by_id = as_json(cli(["--workspace", NORTH, "accounts", "diff", "--json"]))
    assert [(r["email"], r["kind"]) for r in by_id] == [(north["email"], "new-error")]
    # The name, in any case, reads that same history: nothing new since the diff above.
    assert as_json(cli(["--workspace", "CLIENT NORTH", "accounts", "diff", "--json"])) == []
    since = as_json(cli(["--workspace", "Client North", "accounts", "summary", "--since", "1h",
                         "--json"]))
    # --since reaches back to the first snapshot, the named summary before the error.
    assert since["since"]["metrics"]["errors"]["change"] == 1


@pytest.mark.parametrize("own", [DEFAULT_WORKSPACE_NAME, DEFAULT_WORKSPACE_ID])
def test_the_keys_own_workspace_named_shares_the_keys_history(
    cli: Cli, sandbox: SandboxApp, store: Store, own: str
) -> None:
    """`--workspace "Acme Agency"` or its id (the key's own), with no workspace names cached
    yet, records where a plain run and the roll-up's own row look."""
    ok(cli(["--workspace", own, "accounts", "summary", "--json"]))
    account = as_json(cli(["accounts", "list", "--status", "active", "--json"]))[0]
    store.simulate(account["email"], status=-1)
    plain = as_json(cli(["accounts", "diff", "--json"]))
    assert [(r["email"], r["kind"]) for r in plain] == [(account["email"], "new-error")]
