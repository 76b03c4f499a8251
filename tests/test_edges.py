"""Edge cases found in review: each pins a promise that once broke."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from instantly_cli.client import InstantlyClient
from instantly_cli.errors import ServerError
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.services import bulk
from tests.conftest import envelope

OPS = "ops+eu@acme-outreach.com"
ZOE = "zoe.muller@acme-outreach.com"
GHOST = "nobody@nowhere-at-all.io"


def test_key_with_stray_line_end_is_stripped(cli, sandbox: SandboxApp, monkeypatch) -> None:
    from tests.conftest import TEST_KEY

    monkeypatch.setenv("INSTANTLY_API_KEY", TEST_KEY + "\r\n")
    result = cli(["accounts", "list", "--limit", "1", "--json"])
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("bad", ["sk live key 1234", "sk-\x07-bell-1234", "sk-ünïcode-1234"])
def test_key_a_header_cannot_carry_is_refused_without_showing_it(
    cli, sandbox: SandboxApp, monkeypatch, bad: str
) -> None:
    monkeypatch.setenv("INSTANTLY_API_KEY", bad)
    result = cli(["accounts", "list", "--json"])
    assert result.exit_code == 2
    assert "INSTANTLY_API_KEY" in result.stderr
    assert bad not in result.stderr and bad not in result.stdout
    assert sandbox.requests == []


def test_escaped_form_of_a_key_is_redacted() -> None:
    from instantly_cli.errors import redact, register_secret

    register_secret("sk-line-end-9999\r")
    assert "sk-line-end" not in redact("Illegal header value b'Bearer sk-line-end-9999\\r'")


def test_json_and_csv_stdout_stay_empty_when_the_first_request_fails(cli, mock_api) -> None:
    mock_api(lambda r: envelope(401, "Unauthorized", "Invalid API key"))
    for fmt in ("json", "csv"):
        result = cli(["accounts", "list", "-o", fmt])
        assert result.exit_code == 3 and result.stdout == ""


def test_overlapping_fields_are_a_usage_error(cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "list", "-o", "json", "--fields", "email,email.x"])
    assert result.exit_code == 2 and "--fields" in result.stderr
    assert result.stdout == "" and sandbox.requests == []


def test_config_show_csv(cli) -> None:
    result = cli(["config", "show", "-o", "csv"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "key,value"


def test_bad_stdin_line_numbers_count_leading_blank_lines(cli, sandbox: SandboxApp) -> None:
    result = cli(
        ["accounts", "update", "-", "--daily-limit", "3", "--yes"], input="\n\n# header\n\nfoo\n"
    )
    assert result.exit_code == 2 and "line 5" in result.stderr


def test_no_failure_file_is_written_unless_asked(
    cli, sandbox: SandboxApp, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("INSTANTLY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    for _ in range(3):
        assert cli(["accounts", "resume", GHOST]).exit_code == 4
    assert not list(tmp_path.rglob("instantly-failures-*.jsonl"))
    assert len(list((tmp_path / "state" / "runs").glob("*.jsonl"))) == 3


def test_delete_is_not_retried_after_a_5xx() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope(503, "Service Unavailable", "down")

    client = InstantlyClient(
        api_key="k-123456789012",
        base_url="http://mock.test",
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(ServerError):
        client.delete_tag("0f0e0d0c-0b0a-4090-8070-605040302010")
    assert len(seen) == 1


def test_get_several_shows_the_found_then_fails_for_the_missing(cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "get", OPS, GHOST, ZOE, "-o", "jsonl"])
    assert result.exit_code == 4
    assert [json.loads(line)["email"] for line in result.stdout.splitlines()] == [OPS, ZOE]
    assert GHOST in result.stderr


def test_pausing_a_single_missing_account_exits_4(
    cli, sandbox: SandboxApp, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli(["accounts", "pause", GHOST, "--json"])
    assert result.exit_code == 4
    assert json.loads(result.stdout)[0]["code"] == "not_found"


def test_bulk_outcome_json_shape() -> None:
    o = bulk.Outcome("a@b.co", "failed", error="x", code="c", status=500)
    assert o.to_json() == {
        "email": "a@b.co",
        "result": "failed",
        "error": "x",
        "code": "c",
        "status": 500,
    }
