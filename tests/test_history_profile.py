"""A profile's defaults for fleet history: its `notify` webhooks and its health thresholds."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import Store
from tests.test_history import Cli, Receiver, _query, ok


def write_config(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "config"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(body)
    os.chmod(path, 0o600)
    return path


def test_the_profiles_notify_urls_get_one_post_a_flag_replaces_them(
    cli: Cli, sandbox: SandboxApp, store: Store, tmp_path: Path
) -> None:
    hook, other = Receiver(), Receiver()
    try:
        write_config(tmp_path, f'[profiles.default]\nnotify = ["{hook.url}"]\n')
        ok(cli(["accounts", "diff"]))
        assert hook.bodies == []  # the first run: nothing to compare
        email = next(a["email"] for a in store.list_accounts(_query())[0] if a["status"] == 1)
        store.patch_account(email, {"daily_limit": 3})
        result = ok(cli(["accounts", "diff", "--json"]))
        assert len(hook.bodies) == 1 and "sent 1 transitions" in result.stderr
        doc = json.loads(hook.bodies[0])
        assert [(t["kind"], t["email"]) for t in doc["transitions"]] == [
            ("limit-changed", email)]
        ok(cli(["accounts", "diff"]))
        assert len(hook.bodies) == 1  # nothing new
        # --notify on the command line replaces the profile's list.
        store.patch_account(email, {"daily_limit": 4})
        ok(cli(["accounts", "diff", "--notify", other.url]))
        assert len(hook.bodies) == 1 and len(other.bodies) == 1
        # summary uses the profile's list too; a filtered summary just does not send.
        store.patch_account(email, {"daily_limit": 5})
        ok(cli(["accounts", "summary", "--provider", "google"]))
        ok(cli(["accounts", "summary", "--json"]))
        assert len(hook.bodies) == 2
        shown = ok(cli(["config", "show", "--json"])).stdout
        # Host and port only: a webhook's path carries its secret.
        host = urlsplit(hook.url).netloc
        assert json.loads(shown)["profiles"]["default"]["notify"] == [f"http://{host}/…"]
    finally:
        hook.stop()
        other.stop()


def test_profile_thresholds_are_the_default_and_flags_win(
    cli: Cli, sandbox: SandboxApp, tmp_path: Path
) -> None:
    write_config(tmp_path, "[profiles.default]\nat_risk_below = 40\nwatch_below = 60\n")
    doc = json.loads(ok(cli(["accounts", "summary", "--json", "--no-record"])).stdout)
    assert doc["thresholds"] == {"at_risk_below": 40, "watch_below": 60}
    doc = json.loads(ok(cli(["accounts", "summary", "--json", "--no-record",
                             "--at-risk-below", "50"])).stdout)
    assert doc["thresholds"] == {"at_risk_below": 50, "watch_below": 60}
    shown = ok(cli(["config", "show", "-o", "tsv"])).stdout
    assert "profiles.default.at_risk_below\t40\n" in shown
    # A flag against the profile's other line is checked as a pair.
    bad = cli(["accounts", "diff", "--watch-below", "30"])
    assert bad.exit_code == 2
    assert "the profile's at_risk_below (40) is above --watch-below (30)" in bad.stderr
    bad = cli(["accounts", "list", "--at-risk-below", "65"])
    assert bad.exit_code == 2
    assert "--at-risk-below (65) is above the profile's watch_below (60)" in bad.stderr


def test_a_wrong_type_in_the_profile_is_a_config_error_naming_the_file(
    cli: Cli, sandbox: SandboxApp, tmp_path: Path
) -> None:
    for body, says in (
        ('notify = "http://x"', "profiles.default.notify must be a list of URL strings"),
        ('notify = ["ftp://x"]', "not an http(s) URL"),
        ("at_risk_below = true", "profiles.default.at_risk_below must be a score"),
        ("watch_below = 200", "profiles.default.watch_below must be a score"),
        ("at_risk_below = 80\nwatch_below = 50", "at_risk_below (80) is above watch_below (50)"),
    ):
        path = write_config(tmp_path, f"[profiles.default]\n{body}\n")
        result = cli(["accounts", "diff"])
        assert result.exit_code == 2, (body, result.stderr)
        assert str(path) in result.stderr and says in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_summary_since_in_tsv_and_csv_carries_each_change(
    cli: Cli, sandbox: SandboxApp, store: Store
) -> None:
    import csv
    import io

    ok(cli(["accounts", "summary", "--by", "provider"]))
    store.delete_account(store.list_accounts(_query())[0][0]["email"])
    tsv = ok(cli(["accounts", "summary", "--since", "1", "-o", "tsv"])).stdout
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in tsv.splitlines()}
    assert rows["total"] == ["119", "-1", "120"]  # value, change, then
    text = ok(cli(["accounts", "summary", "--since", "1", "--by", "provider", "-o", "csv"])).stdout
    table = list(csv.DictReader(io.StringIO(text)))
    assert list(table[0])[:4] == ["key", "total", "total_change", "at_risk"]
    assert sum(int(r["total_change"]) for r in table) == -1
    assert sum(int(r["total"]) for r in table) == 119
    plain = ok(cli(["accounts", "summary", "-o", "tsv", "--no-record"])).stdout
    assert plain.splitlines()[0].count("\t") == 1  # without --since: key and value, as before


def test_list_campaigns_and_coverage_classify_with_the_profiles_thresholds(
    cli: Cli, sandbox: SandboxApp, tmp_path: Path
) -> None:
    def at_risk_shares(args: list[str]) -> list[float]:
        doc = json.loads(ok(cli(["campaigns", "list", "--json", *args])).stdout)
        return [c["at_risk_share"] for c in doc]

    def listed(args: list[str]) -> int:
        return len(ok(cli(["accounts", "list", "--all", "--health", "at-risk", "-o", "jsonl",
                           "--no-record", *args])).stdout.splitlines())

    def campaigns_at_risk(args: list[str]) -> int:
        doc = json.loads(ok(cli(["accounts", "coverage", "--json", *args])).stdout)
        return len(doc["campaigns_at_risk"])

    default_list, default_shares = listed([]), at_risk_shares([])
    default_coverage = campaigns_at_risk([])
    write_config(tmp_path, "[profiles.default]\nat_risk_below = 85\nwatch_below = 95\n")
    doc = json.loads(ok(cli(["accounts", "summary", "--json", "--no-record"])).stdout)
    assert listed([]) == doc["metrics"]["at-risk"] > default_list
    assert sum(at_risk_shares([])) > sum(default_shares)
    assert campaigns_at_risk([]) > default_coverage
    # Flags still win over the profile.
    flags = ["--at-risk-below", "70", "--watch-below", "90"]
    assert listed(flags) == default_list
    assert at_risk_shares(flags) == default_shares
    assert campaigns_at_risk(flags) == default_coverage
