"""Campaigns: the client's endpoints, `campaigns list|get`, over the in-process sandox, each
number compared with an independent reading (tests/campaign_truth.py); every request the CLI
sends is contract-checked by the ``sandbox`` fixture."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import httpx
import pytest

from instantly_cli.client import InstantlyClient
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import SEED_CAMPAIGN_ID
from instantly_cli.terminal import Terminal
from tests import campaign_truth
from tests.conftest import TEST_KEY
from tests.contract import validate_recorded

PLUS = "ops+eu@acme-outreach.com"


@pytest.fixture
def client(sandbox: SandboxApp) -> Iterator[InstantlyClient]:
    with InstantlyClient(
        api_key=TEST_KEY, base_url="http://t", transport=httpx.WSGITransport(app=sandbox)
    ) as c:
        yield c


def test_client_campaign_endpoints_follow_the_contract(
    client: InstantlyClient, sandbox: SandboxApp
) -> None:
    campaigns = list(client.list_campaigns({"limit": 5}).items())
    assert len(campaigns) == 16
    one = client.get_campaign(SEED_CAMPAIGN_ID)
    assert one["name"] == "Client A outreach"
    status = client.sending_status(SEED_CAMPAIGN_ID)
    assert status["diagnostics"] and status["diagnostics"]["status"] == "healthy"
    mapped = list(client.account_campaigns(PLUS).items())
    assert len(mapped) == 7  # the seed's fact: ops+eu serves 7 campaigns
    patched = client.set_campaign_accounts(SEED_CAMPAIGN_ID, [PLUS])
    assert patched["email_list"] == [PLUS]
    # "+" travelled as %2B; every request and answer followed the spec.
    assert any("%2B" in r.path for r in sandbox.requests)
    assert validate_recorded(sandbox, every_request=True) == len(sandbox.requests)


def test_list_numbers_equal_an_independent_reading(cli, sandbox: SandboxApp) -> None:
    result = cli(["campaigns", "list", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    rows = {r["id"]: r for r in json.loads(result.stdout)}
    truth = campaign_truth.read(sandbox)
    assert set(rows) == {c["id"] for c in truth.campaigns}
    for c in truth.campaigns:
        emails = truth.serving(c)
        row = rows[c["id"]]
        assert row["accounts_total"] == len(emails), c["name"]
        assert row["accounts_available"] == truth.available(emails), c["name"]
        assert row["capacity"] == truth.capacity(emails), c["name"]
        risky = {e for e in emails if campaign_truth.at_risk(truth.accounts.get(e))}
        whole = truth.capacity(emails)
        expected = 100 * truth.capacity(risky) / whole if whole else 0
        assert row["at_risk_share"] == pytest.approx(expected, abs=0.01), c["name"]
        assert row["email_list"] == c["email_list"]  # the API's object, unchanged
    assert rows["0b1523da-cd46-476e-80d3-747f622e2747"]["reason"] == "all_accounts_unhealthy"


def test_list_table_fits_80_columns(cli, sandbox, runtime, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    screen = io.StringIO()
    runtime.terminal = Terminal(stdout=screen, stdout_isatty=True)
    result = cli(["campaigns", "list"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    lines = re.sub(r"\x1b\[[0-9;]*m", "", screen.getvalue()).splitlines()
    assert any("Client A outreach" in line for line in lines)
    assert any("accounts unhealthy" in line for line in lines)  # the reason stayed
    assert max(len(line) for line in lines) <= 80


def test_get_by_name_shows_accounts_health_and_how_they_serve(cli, sandbox) -> None:
    result = cli(["campaigns", "get", "  enterprise MIXED ", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    truth = campaign_truth.read(sandbox)
    campaign = next(c for c in truth.campaigns if c["name"] == "Enterprise mixed")
    assert {a["email"] for a in doc["accounts"]} == truth.serving(campaign)
    plus = next(a for a in doc["accounts"] if a["email"] == PLUS)
    assert plus["via"] == ["list", "tag:Client A"]  # listed and through the tag
    assert doc["sending_status"]["diagnostics"]["status"] == "healthy"


def test_get_table_prints_the_diagnosis(cli, sandbox) -> None:
    result = cli(["campaigns", "get", "Retail all paused", "-o", "table"])
    assert result.exit_code == 0, result.stderr
    assert "Diagnosis: no_accounts_available" in result.stderr
    assert "Retail all paused" in result.stdout


def test_unknown_name_exits_2_with_close_names(cli, sandbox) -> None:
    result = cli(["campaigns", "get", "Client A outrech"])
    assert result.exit_code == 2
    assert "No campaign is named 'Client A outrech'" in result.stderr
    assert "'Client A outreach'" in result.stderr
    assert "Traceback" not in result.stderr
    # Close names ignore case, as names themselves do.
    shouted = cli(["campaigns", "get", "CLIENT A OUTRECH"])
    assert shouted.exit_code == 2 and "'Client A outreach'" in shouted.stderr


# -- accounts coverage, accounts list --campaign / --idle -----------------------------------


def _shrink_client_a(sandbox: SandboxApp) -> None:
    """Change the state first: the tag no longer feeds "Client A outreach" (more idle)."""
    with httpx.Client(
        transport=httpx.WSGITransport(app=sandbox),
        base_url="http://sandbox.test",
        headers={"Authorization": f"Bearer {TEST_KEY}"},
    ) as raw:
        answer = raw.patch(f"/api/v2/campaigns/{SEED_CAMPAIGN_ID}", json={"email_tag_list": []})
        assert answer.status_code == 200


def test_coverage_idle_set_equals_the_independent_set(cli, sandbox: SandboxApp) -> None:
    _shrink_client_a(sandbox)
    result = cli(["accounts", "coverage", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    truth = campaign_truth.read(sandbox)
    expected = truth.idle()
    assert expected  # the test can fail: there is something to find
    assert {a["email"] for a in doc["idle"]} == expected
    assert doc["idle_capacity"] == sum(truth.accounts[e]["daily_limit"] for e in expected)
    names = {c["name"] for c in doc["not_sending"]}
    assert {c["name"] for c in truth.campaigns if c["status"] not in (1, 4)} <= names
    assert "Retail all paused" in names  # active, but no account available
    risky = {c["name"] for c in doc["campaigns_at_risk"]}
    for c in truth.active():
        emails = truth.serving(c)
        whole = truth.capacity(emails)
        bad = truth.capacity({e for e in emails if campaign_truth.at_risk(truth.accounts.get(e))})
        assert (c["name"] in risky) == bool(whole and 100 * bad / whole > 30), c["name"]


def test_list_idle_and_campaign_select_the_same_sets(cli, sandbox: SandboxApp) -> None:
    truth = campaign_truth.read(sandbox)
    result = cli(["accounts", "list", "--idle", "--all", "-o", "jsonl"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert {json.loads(line)["email"] for line in result.stdout.splitlines()} == truth.idle()
    enterprise = next(c for c in truth.campaigns if c["name"] == "Enterprise mixed")
    result = cli(["accounts", "list", "--campaign", "enterprise mixed", "--all", "-o", "tsv",
                  "--fields", "email"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert set(result.stdout.split()) == truth.serving(enterprise) & set(truth.accounts)


def test_coverage_gate_and_bad_input(cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "coverage", "--fail-if", "idle>0", "--fail-if",
                  "campaigns-at-risk>100", "-o", "tsv"])
    assert result.exit_code == 1
    assert "idle>0: idle is" in result.stderr
    assert "campaigns-at-risk" not in result.stderr.split("breached:")[-1]
    assert result.stdout.startswith("idle\t")
    for bad in (["--at-risk-share", "130%"], ["--fail-if", "campaigns-at-risk>5%"],
                ["--fail-if", "busy>0"]):
        before = len(sandbox.requests)
        result = cli(["accounts", "coverage", *bad])
        assert result.exit_code == 2, bad
        assert "Hint:" in result.stderr and "Traceback" not in result.stderr
        assert len(sandbox.requests) == before  # nothing sent


# -- accounts get --------------------------------------------------------------------------


def test_get_lists_the_campaigns_an_account_serves(cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "get", PLUS, "--include-campaigns", "--json"],
                 catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    truth = campaign_truth.read(sandbox)
    tag_labels = {t["id"]: t["label"] for t in truth.accounts[PLUS]["tags"]}
    expected = {}
    for c in truth.campaigns:
        if PLUS in truth.serving(c):
            tags = sorted(tag_labels[t] for t in c["email_tag_list"] if t in tag_labels)
            expected[c["id"]] = (PLUS in c["email_list"], tags)
    assert {c["id"]: (c["direct"], sorted(c["tags"])) for c in doc["campaigns"]} == expected
    assert "tags" not in doc  # JSON gained one key only
    detail = cli(["accounts", "get", PLUS, "-o", "table"], catch_exceptions=False)
    assert "Enterprise mixed (Active; listed, tag Client A)" in detail.stdout


# -- impact before acting --------------------------------------------------------------------


def _expected_impact(truth: campaign_truth.Truth, targets: set[str]) -> list[str]:
    lines = []
    for c in truth.active():
        emails = truth.serving(c)
        hit = {e for e in emails & targets if truth.available({e})}
        if not hit:
            continue
        lost, left = truth.capacity(hit), truth.capacity(emails - hit)
        line = f"  {c['name']}: {len(hit)} account(s), -{lost:g}/day ({left:g}/day left)"
        if truth.available(emails - hit) == 0:
            line += ": NO AVAILABLE ACCOUNT LEFT"
        lines.append(line)
    return lines


def test_pause_impact_lines_equal_an_independent_computation(cli, sandbox: SandboxApp) -> None:
    truth = campaign_truth.read(sandbox)
    client_b = next(c for c in truth.campaigns if c["name"] == "Client B founders")
    fintech = next(c for c in truth.campaigns if c["name"] == "Fintech leaning on errors")
    targets = (truth.serving(client_b) & set(truth.accounts)) | set(fintech["email_list"])
    result = cli(["accounts", "pause", *sorted(targets), "--dry-run", "-o", "json"],
                 catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("  ")]
    expected = _expected_impact(truth, targets)
    assert len(expected) >= 3 and any("NO AVAILABLE" in ln for ln in expected)
    assert lines == expected
    assert f"Active campaigns affected: {len(expected)}" in result.stderr


def test_strict_refuses_a_run_that_strands_a_campaign(cli, sandbox: SandboxApp) -> None:
    truth = campaign_truth.read(sandbox)
    fintech = next(c for c in truth.campaigns if c["name"] == "Fintech leaning on errors")
    before = len(sandbox.requests)
    for command in (["accounts", "pause"], ["accounts", "delete"],
                    ["accounts", "warmup", "disable"]):
        result = cli([*command, *fintech["email_list"], "--yes", "--strict"])
        assert result.exit_code == 1, command
        assert "Refusing (--strict)" in result.stderr
        assert "Fintech leaning on errors" in result.stderr
    writes = [r for r in sandbox.requests[before:] if r.method != "GET"]
    assert writes == []  # nothing was sent but reads
    # Without --strict and with --yes, the run goes on and reads no campaign at all.
    before = len(sandbox.requests)
    result = cli(["accounts", "pause", fintech["email_list"][0], "--yes"])
    assert result.exit_code == 0, result.stderr
    assert not any("/campaigns" in r.path for r in sandbox.requests[before:])


def test_the_confirmation_shows_the_impact_first(cli, sandbox: SandboxApp, runtime) -> None:
    runtime.terminal = Terminal(stdin_isatty=True, stdout_isatty=True)
    truth = campaign_truth.read(sandbox)
    fintech = next(c for c in truth.campaigns if c["name"] == "Fintech leaning on errors")
    result = cli(["accounts", "pause", *fintech["email_list"]], input="n\n")
    assert result.exit_code == 2  # declined: nothing changed
    text = result.stderr + result.stdout
    assert "Fintech leaning on errors" in text and "NO AVAILABLE ACCOUNT LEFT" in text
    assert text.index("NO AVAILABLE") < text.index("Pause 6 accounts?")
    assert not [r for r in sandbox.requests if r.method == "POST"]


def test_a_campaign_filtered_summary_is_not_a_full_pass() -> None:
    from instantly_cli.commands.accounts._record import is_full
    from instantly_cli.services.accounts.list import ListQuery

    assert is_full(ListQuery())
    assert not is_full(ListQuery(campaigns=["Q3"]))
    assert not is_full(ListQuery(idle=True))
