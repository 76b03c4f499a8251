"""Only a full pass is recorded in the fleet's history: every filter of ``ListQuery`` narrows a
pass (a partial pass saved as the fleet reads as accounts added or removed on the next diff,
which feeds --notify webhooks and --fail-if)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any

import httpx
import pytest
from typer.testing import Result

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.services.accounts.list import SHAPING, ListQuery

Cli = Callable[..., Result]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def _sample(f: Any) -> Any:
    """A value other than the default for a ListQuery field, by its default's kind."""
    if f.default_factory is list:
        return ["x"]
    if f.default is False:
        return True
    if f.default is None:
        return 0.0 if "float" in str(f.type) else "x"
    raise AssertionError(f"ListQuery.{f.name}: teach this test a value for its kind")


def test_every_filter_field_narrows_and_only_shaping_fields_do_not() -> None:
    names = {f.name for f in fields(ListQuery)}
    assert SHAPING <= names  # a renamed field must not silently leave the list
    assert not ListQuery().narrows()
    for f in fields(ListQuery):
        if f.name in SHAPING:
            continue
        query = ListQuery(**{f.name: _sample(f)})
        assert query.narrows(), f.name
    # Sorting, tags shown, unscored accounts kept or other thresholds leave every account in.
    assert not ListQuery(sort="email", asc=True, include_tags=True, include_unscored=True,
                         search="").narrows()
    # A score bound of 0 still narrows (unscored accounts are left out).
    assert ListQuery(min_score=0.0).narrows()
    assert all(f.default is not MISSING or f.default_factory is not MISSING
               for f in fields(ListQuery))


def _snapshots(cli: Cli) -> list[str]:
    return [s["source"] for s in json.loads(ok(cli(["history", "list", "--json"])).stdout)]


@pytest.mark.parametrize("args", [
    ["accounts", "summary", "--json", "--error-code", "EAUTH"],
    ["accounts", "summary", "--json", "--error", "password"],
    ["accounts", "list", "--all", "--json", "--error", "password"],
    ["accounts", "list", "--all", "--json", "--not-tag", "TAG"],
])
def test_a_narrowed_pass_is_not_recorded(cli: Cli, sandbox: SandboxApp, args: list[str]) -> None:
    tags = json.loads(ok(cli(["tags", "list", "--json"])).stdout)
    args = [tags[0]["label"] if a == "TAG" else a for a in args]
    ok(cli(["accounts", "summary", "--json"]))  # the full pass: one snapshot
    assert _snapshots(cli) == ["summary"]
    ok(cli(args))
    assert _snapshots(cli) == ["summary"], args
    # The next diff compares whole fleets: nothing was added or removed.
    records = json.loads(ok(cli(["accounts", "diff", "--json"])).stdout)
    assert not [r for r in records if r["kind"] in ("added", "removed")]


@pytest.mark.parametrize("narrowing", [["--error-code", "EAUTH"], ["--error", "password"],
                                       ["--not-tag", "whatever"]])
def test_since_and_notify_refuse_a_narrowed_summary(
    cli: Cli, sandbox: SandboxApp, narrowing: list[str]
) -> None:
    for extra in (["--since", "1d"], ["--notify", "https://hooks.example/x"]):
        result = cli(["accounts", "summary", *extra, *narrowing])
        assert result.exit_code == 2, (extra, narrowing, result.stderr)
        assert "take no filters" in result.stderr


def test_a_roll_up_diff_whose_listing_ended_early_says_so_and_records_nothing(
    cli: Cli, mock_api: Callable[..., list[httpx.Request]]
) -> None:
    from instantly_cli.config_file import Profile, update_config

    def looping(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/workspaces/current":
            return httpx.Response(200, json={"id": "w-1", "name": "Client Loop"})
        # Every page sends the client back to the same cursor: the listing is cut.
        return httpx.Response(200, json={"items": [{"email": "a@x.io", "status": 1}],
                                         "next_starting_after": "stuck"})

    mock_api(looping)
    update_config(lambda cfg: cfg.profiles.update({"loop": Profile("loop", api_key="k-loop")}))
    result = cli(["accounts", "diff", "--all-profiles", "--no-parallel", "--json"])
    assert result.exit_code == 0, result.stderr
    assert "Listing ended early (Profile 'loop', workspace 'Client Loop')" in result.stderr
    assert "no snapshot is recorded" in result.stderr
    assert json.loads(ok(cli(["--profile", "loop", "history", "list", "--json"])).stdout) == []
