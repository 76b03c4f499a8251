"""``instantly api``: raw requests, typed -F fields, --input, --paginate, the error envelope."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from instantly_cli.commands.api import build_body, normalize_path, parse_fields, typed_value
from tests.conftest import TEST_KEY, envelope

# A workspace id (ids are UUIDs; a value of another shape is looked up as a name).
WS_9 = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "method": request.method})


# -- argument handling ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "path"),
    [
        ("accounts", "/api/v2/accounts"),
        ("/accounts", "/api/v2/accounts"),
        ("/api/v2/accounts", "/api/v2/accounts"),
        ("api/v2/custom-tags", "/api/v2/custom-tags"),
        ("accounts/ops+eu@acme.io", "/api/v2/accounts/ops%2Beu@acme.io"),
        ("accounts/ops%2Beu@acme.io", "/api/v2/accounts/ops%2Beu@acme.io"),
    ],
)
def test_path_with_or_without_prefix(given: str, path: str) -> None:
    assert normalize_path(given)[0] == path


def test_typed_values() -> None:
    assert typed_value("5") == 5
    assert typed_value("-3") == -3
    assert typed_value("2.5") == 2.5
    assert typed_value("true") is True
    assert typed_value("false") is False
    assert typed_value("null") is None
    assert typed_value("007") == "007"
    assert typed_value("ops@acme.io") == "ops@acme.io"
    assert typed_value("") == ""


def test_dotted_keys_nest_and_arrays_append() -> None:
    body = build_body(parse_fields(
        ["daily_limit=40", "warmup.limit=5", "warmup.advanced.open_rate=0.5",
         "emails[]=a@x.io", "emails[]=b@x.io", "signature=null"]
    ))
    assert body == {
        "daily_limit": 40,
        "warmup": {"limit": 5, "advanced": {"open_rate": 0.5}},
        "emails": ["a@x.io", "b@x.io"],
        "signature": None,
    }


def test_get_sends_fields_as_typed_query(cli, mock_api) -> None:
    seen = mock_api(ok)
    result = cli(["api", "GET", "accounts", "-F", "limit=5", "-F", "include_tags=true",
                  "-F", "search=ops"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    (req,) = seen
    assert req.method == "GET"
    assert req.url.path == "/api/v2/accounts"
    assert dict(req.url.params) == {"limit": "5", "include_tags": "true", "search": "ops"}
    assert req.content == b""
    assert json.loads(result.stdout) == {"ok": True, "method": "GET"}
    assert result.stderr == ""


def test_query_in_path_is_kept(cli, mock_api) -> None:
    seen = mock_api(ok)
    result = cli(["api", "GET", "/api/v2/accounts?limit=2&search=a", "-F", "search=b"])
    assert result.exit_code == 0, result.stderr
    assert dict(seen[0].url.params) == {"limit": "2", "search": "b"}


def test_patch_sends_fields_as_nested_json_body(cli, mock_api) -> None:
    seen = mock_api(ok)
    result = cli(["api", "patch", "accounts/ops+eu@acme.io", "-F", "daily_limit=40",
                  "-F", "warmup.limit=20", "-F", "enable_slow_ramp=false", "-F", "reply_to=null"],
                 catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    (req,) = seen
    assert req.method == "PATCH"
    assert req.url.raw_path == b"/api/v2/accounts/ops%2Beu@acme.io"
    assert req.headers["content-type"] == "application/json"
    assert json.loads(req.content) == {
        "daily_limit": 40, "warmup": {"limit": 20}, "enable_slow_ramp": False, "reply_to": None
    }


def test_post_without_fields_sends_no_body(cli, mock_api) -> None:
    seen = mock_api(ok)
    result = cli(["api", "POST", "accounts/a@b.io/pause"])
    assert result.exit_code == 0, result.stderr
    assert seen[0].content == b""
    assert "content-type" not in seen[0].headers


def test_input_file_and_stdin(cli, mock_api, tmp_path: Path) -> None:
    seen = mock_api(ok)
    body = {"emails": ["a@b.io"], "nested": {"x": [1, 2]}}
    file = tmp_path / "body.json"
    file.write_text(json.dumps(body))
    assert cli(["api", "POST", "accounts/warmup/enable", "--input", str(file)]).exit_code == 0
    result = cli(["api", "POST", "accounts/warmup/enable", "--input", "-", "-F", "dry=true"],
                 input=json.dumps(body))
    assert result.exit_code == 0, result.stderr
    assert [json.loads(r.content) for r in seen] == [body, body]
    # With --input, -F fields travel in the query.
    assert dict(seen[1].url.params) == {"dry": "true"}


@pytest.mark.parametrize(
    "args",
    [
        ["api", "FETCH", "accounts"],
        ["api", "GET", "accounts", "-F", "limit"],
        ["api", "GET", "accounts", "-F", "=5"],
        ["api", "POST", "accounts", "-F", "a=1", "-F", "a.b=2"],
        ["api", "POST", "accounts", "--input", "-"],
        ["api", "POST", "accounts", "--input", "/nonexistent/body.json"],
        ["api", "POST", "accounts", "--paginate"],
        ["api", "GET", "accounts", "--input", "-"],
        ["api", "GET", "https://api.instantly.ai/api/v2/accounts"],
    ],
)
def test_invalid_input_exits_2_and_sends_nothing(cli, mock_api, args: list[str]) -> None:
    seen = mock_api(ok)
    result = cli(args, input="{not json")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert seen == []
    assert result.stdout == ""
    assert result.stderr.startswith("Error:")


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [(400, "Bad Request", 1), (401, "Unauthorized", 3), (402, "Payment Required", 3),
     (403, "Forbidden", 3), (404, "Not Found", 4), (409, "Conflict", 1)],
)
def test_error_envelope_on_stderr_with_exit_code(cli, mock_api, status, error, code) -> None:
    mock_api(lambda r: envelope(status, error, "Nope"))
    result = cli(["api", "GET", "accounts/x@y.io"])
    assert result.exit_code == code
    assert result.stdout == ""
    assert json.loads(result.stderr) == {"statusCode": status, "error": error, "message": "Nope"}


def test_non_json_error_falls_back_to_message(cli, mock_api) -> None:
    mock_api(lambda r: httpx.Response(404, text="<html>gone</html>",
                                      headers={"Content-Type": "text/html"}))
    result = cli(["api", "GET", "nowhere"])
    assert result.exit_code == 4
    assert result.stderr.startswith("Error:")


def test_post_is_not_retried_on_5xx(cli, mock_api) -> None:
    seen = mock_api(lambda r: envelope(503, "Service Unavailable", "busy"))
    result = cli(["api", "POST", "custom-tags", "-F", "label=x"])
    assert result.exit_code == 1
    assert len(seen) == 1
    assert json.loads(result.stderr)["statusCode"] == 503


def test_paginate_prints_items_as_json_lines(cli, mock_api) -> None:
    pages = {
        None: {"items": [{"id": 1}, {"id": 2}],
               "next_starting_after": "2026-01-01T00:00:00.000Z&b@x.io"},
        "2026-01-01T00:00:00.000Z&b@x.io": {"items": [{"id": 3}], "next_starting_after": "c3"},
        "c3": {"items": [], "next_starting_after": None},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("starting_after")])

    seen = mock_api(handler)
    result = cli(["api", "GET", "accounts", "--paginate", "-F", "limit=2", "-F", "search=x"],
                 catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"id": 1}, {"id": 2}, {"id": 3}
    ]
    assert b"starting_after=2026-01-01T00%3A00%3A00.000Z%26b%40x.io" in seen[1].url.query
    assert all(r.url.params["limit"] == "2" and r.url.params["search"] == "x" for r in seen)


def test_json_pretty_on_tty_compact_when_piped(runtime, cli, mock_api, monkeypatch) -> None:
    mock_api(lambda r: httpx.Response(200, json={"a": {"b": [1, 2]}}))
    piped = cli(["api", "GET", "accounts"])
    assert piped.stdout == '{"a":{"b":[1,2]}}\n'
    runtime.terminal = runtime.terminal._replace(stdout_isatty=True)
    tty = cli(["api", "GET", "accounts"])
    assert tty.stdout == json.dumps({"a": {"b": [1, 2]}}, indent=2) + "\n"


def test_workspace_and_auth_apply_and_key_never_shown(cli, mock_api) -> None:
    seen = mock_api(lambda r: envelope(401, "Unauthorized", "bad key"))
    result = cli(["--workspace", WS_9, "-v", "api", "GET", "accounts"])
    assert result.exit_code == 3
    assert seen[0].headers["x-as-workspace"] == WS_9
    assert seen[0].headers["authorization"] == f"Bearer {TEST_KEY}"
    assert TEST_KEY not in result.stdout + result.stderr


def test_missing_key_is_exit_3(cli, monkeypatch) -> None:
    result = cli(["api", "GET", "accounts"])
    assert result.exit_code == 3
    assert "auth login" in result.stderr


# -- against the sandbox -------------------------------------------------------------------------


def test_against_the_sandbox(cli, sandbox) -> None:
    listed = cli(["api", "GET", "accounts", "-F", "limit=2"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.stderr
    page = json.loads(listed.stdout)
    assert len(page["items"]) == 2
    email = page["items"][0]["email"]
    patched = cli(["api", "PATCH", f"/api/v2/accounts/{email}", "-F", "daily_limit=33"])
    assert patched.exit_code == 0, patched.stderr
    got = cli(["api", "GET", f"accounts/{email}"])
    assert json.loads(got.stdout)["daily_limit"] == 33
    missing = cli(["api", "GET", "accounts/nobody@nowhere.invalid"])
    assert missing.exit_code == 4
    assert json.loads(missing.stderr)["statusCode"] == 404


def test_paginate_the_sandbox(cli, sandbox) -> None:
    result = cli(["api", "GET", "accounts", "--paginate"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    emails = [json.loads(line)["email"] for line in result.stdout.splitlines()]
    assert len(emails) == 120 == len(set(emails))


def test_new_endpoints_through_the_raw_command(cli, sandbox) -> None:
    vitals = cli(["api", "POST", "/api/v2/accounts/test/vitals",
                  "-F", "accounts[]=ops+eu@acme-outreach.com",
                  "-F", "accounts[]=x@ses.tailspin.dev"], catch_exceptions=False)
    assert vitals.exit_code == 0, vitals.stderr
    result = json.loads(vitals.stdout)
    assert [d["domain"] for d in result["success_list"]] == ["acme-outreach.com"]
    assert [(d["domain"], d["mx"]) for d in result["failure_list"]] == [("ses.tailspin.dev", False)]
    ctd = cli(["api", "GET", "accounts/ctd/status", "-F", "host=track.getacme.io"])
    assert ctd.exit_code == 0, ctd.stderr
    assert json.loads(ctd.stdout) == {
        "success": False, "ssl": False, "cname": True, "host": "track.getacme.io"
    }
    daily = cli(["api", "GET", "accounts/analytics/daily", "-F", "emails=ops+eu@acme-outreach.com",
                 "-F", "start_date=2026-01-02", "-F", "end_date=2026-01-03"])
    assert daily.exit_code == 0, daily.stderr
    rows = json.loads(daily.stdout)
    assert [(r["date"], r["email_account"]) for r in rows] == [
        ("2026-01-02", "ops+eu@acme-outreach.com"), ("2026-01-03", "ops+eu@acme-outreach.com")
    ]
    too_big = cli(["api", "GET", "accounts/analytics/daily"])  # 120 accounts x 30 days
    assert too_big.exit_code == 1
    assert json.loads(too_big.stderr)["statusCode"] == 413
    jobs = cli(["api", "GET", "background-jobs"])
    assert jobs.exit_code == 0 and json.loads(jobs.stdout) == {"items": []}


def test_move_then_workspace_flag_sees_the_account(cli, sandbox) -> None:
    from instantly_cli.sandbox.seed import DEFAULT_WORKSPACE_ID, SEED_WORKSPACES

    other = SEED_WORKSPACES[1]
    email = "ops+eu@acme-outreach.com"
    moved = cli(["api", "POST", "accounts/move", "-F", f"emails[]={email}",
                 "-F", f"source_workspace_id={DEFAULT_WORKSPACE_ID}",
                 "-F", f"destination_workspace_id={other}"], catch_exceptions=False)
    assert moved.exit_code == 0, moved.stderr
    assert json.loads(moved.stdout) == {"status": "success"}
    there = cli(["--workspace", other, "api", "GET", "accounts"])
    assert [a["email"] for a in json.loads(there.stdout)["items"]] == [email]
    here = cli(["api", "GET", f"accounts/{email}"])
    assert here.exit_code == 4
    unknown = cli(["--workspace", "00000000-0000-4000-8000-000000000000", "api", "GET",
                   "accounts"])
    assert unknown.exit_code == 3
    assert json.loads(unknown.stderr)["statusCode"] == 403
