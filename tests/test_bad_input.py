"""Bad input: exit 2, one ``Error:`` line and one ``Hint:`` line (or the JSON error), nothing sent.

test_update.py already proves the single-command cases of ``accounts update`` (unknown --set
paths, invalid --body, out-of-range flags); this file covers every other command, the enum
options, stdin, the config file and profiles, and the JSON form of each error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from typer.testing import Result

from instantly_cli import config_file
from instantly_cli.enums import (
    ACCOUNT_STATUS,
    LIST_FILTER,
    OUTPUT_FORMAT,
    PROVIDER,
    SORT_FIELD,
    WARMUP_INCREMENT,
)
from instantly_cli.sandbox.app import SandboxApp

OPS = "ops+eu@acme-outreach.com"
ZOE = "zoe.muller@acme-outreach.com"
BAD_EMAILS = ["not-an-email", "two@@x.io", "sp ace@x.io"]

# Every command that takes account targets, with the options it needs to get past confirmation.
TARGET_COMMANDS: dict[str, list[str]] = {
    "get": ["accounts", "get"],
    "update": ["accounts", "update", "--daily-limit", "5", "--yes"],
    "pause": ["accounts", "pause", "--yes"],
    "resume": ["accounts", "resume", "--yes"],
    "warmup enable": ["accounts", "warmup", "enable", "--yes"],
    "warmup disable": ["accounts", "warmup", "disable", "--yes"],
}
STDIN_COMMANDS = {k: v for k, v in TARGET_COMMANDS.items() if k != "get"}


def with_targets(command: str, *targets: str) -> list[str]:
    return [*TARGET_COMMANDS[command], *targets]


def assert_text_error(result: Result, needle: str = "") -> tuple[str, str]:
    """Exit 2; stderr is exactly ``Error: …`` then ``Hint: …``; no traceback; stdout empty."""
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, lines
    assert lines[0].startswith("Error: ") and lines[1].startswith("Hint: "), lines
    assert len(lines[1]) > len("Hint: ")
    assert needle in lines[0] + "\n" + lines[1]
    assert result.stdout == ""
    return lines[0], lines[1]


def assert_json_error(result: Result, needle: str = "", code: str = "invalid_input") -> dict:
    """Exit 2; stderr is one JSON object {"error": {code, message, status, hint}}; stdout empty."""
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    doc = json.loads(lines[0])
    assert set(doc) == {"error"}
    err = doc["error"]
    assert set(err) == {"code", "message", "status", "hint"}
    assert err["code"] == code
    assert err["status"] is None
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["hint"], str) and err["hint"]
    assert needle in err["message"] + "\n" + err["hint"]
    return err


def check_both(
    cli: Callable[..., Result],
    sandbox: SandboxApp,
    args: Sequence[str],
    needle: str,
    *,
    input: str | None = None,
    code: str = "invalid_input",
) -> None:
    """The text form, then the ``--json`` form; neither sends a request."""
    assert_text_error(cli(list(args), input=input), needle)
    assert_json_error(cli([*args, "--json"], input=input), needle, code)
    assert sandbox.requests == []


# -- malformed emails ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", list(TARGET_COMMANDS))
@pytest.mark.parametrize("bad", BAD_EMAILS)
def test_malformed_email_exit_2_nothing_sent(cli, sandbox: SandboxApp, command: str, bad: str):
    check_both(cli, sandbox, with_targets(command, bad), f"Not an email address: '{bad}'")


@pytest.mark.parametrize("command", list(TARGET_COMMANDS))
def test_one_bad_email_among_good_ones_stops_everything(cli, sandbox: SandboxApp, command: str):
    # The bad target comes last: validation happens before the first request, not per target.
    check_both(cli, sandbox, with_targets(command, OPS, ZOE, "oops"), "'oops'")


# -- unknown enum names: each lists the valid names ------------------------------------------


@pytest.mark.parametrize(
    ("args", "table"),
    [
        (["accounts", "list", "--status", "bogus"], ACCOUNT_STATUS),
        (["accounts", "list", "--status", "Activ"], ACCOUNT_STATUS),
        (["accounts", "list", "--status", "7"], ACCOUNT_STATUS),
        (["accounts", "list", "--provider", "gmail"], PROVIDER),
        (["accounts", "list", "--filter", "errors"], LIST_FILTER),
        (["accounts", "list", "--sort", "score"], SORT_FIELD),
        (["accounts", "update", OPS, "--warmup-increment", "5"], WARMUP_INCREMENT),
        (["accounts", "update", OPS, "--warmup-increment", "fast"], WARMUP_INCREMENT),
    ],
)
def test_unknown_enum_name_lists_valid_names(cli, sandbox: SandboxApp, args, table) -> None:
    _, hint = assert_text_error(cli(args), f"'{args[-1]}'")
    for name in table.names:
        assert name in hint
    err = assert_json_error(cli([*args, "--json"]))
    assert all(name in err["hint"] for name in table.names)
    assert sandbox.requests == []


@pytest.mark.parametrize(
    "args",
    [
        ["accounts", "list"],
        ["accounts", "get", OPS],
        ["accounts", "update", OPS, "--daily-limit", "5"],
        ["accounts", "pause", OPS],
        ["accounts", "resume", OPS],
        ["accounts", "warmup", "enable", OPS],
        ["config", "show"],
        ["auth", "status"],
    ],
)
def test_unknown_output_format_lists_formats(cli, sandbox: SandboxApp, args) -> None:
    _, hint = assert_text_error(cli([*args, "-o", "bogus"]), "'bogus'")
    assert all(name in hint for name in OUTPUT_FORMAT.names)
    assert sandbox.requests == []


def test_unknown_output_format_from_env(cli, sandbox: SandboxApp, monkeypatch) -> None:
    monkeypatch.setenv("INSTANTLY_OUTPUT", "yaml")
    _, hint = assert_text_error(cli(["accounts", "list"]), "'yaml'")
    assert "jsonl" in hint
    assert sandbox.requests == []


def test_instantly_output_json_makes_errors_json(cli, sandbox: SandboxApp, monkeypatch) -> None:
    monkeypatch.setenv("INSTANTLY_OUTPUT", "jsonl")
    assert_json_error(cli(["accounts", "list", "--status", "bogus"]), "Valid --status values")
    assert sandbox.requests == []


# -- fields, values and ranges ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        # mistyped field names; the hint lists the valid ones of that level
        (["--set", "daily_limt=5"], "daily_limit"),
        (["--set", "warmup.advanced.openrate=0.5"], "open_rate"),
        (["--set", "warmup.limit.x=1"], "Unknown field 'warmup.limit.x'"),
        (["--set", "warmup..limit=1"], "Invalid --set"),
        (["--set", ".limit=1"], "Invalid --set"),
        (["--set", "warmup=5"], "'warmup' must be an object"),
        (["--body", '{"dailylimit": 5}'], "daily_limit"),
        (["--body", '{"warmup": {"advanced": {"x": 1}}}'], "weekday_only"),
        (["--body", '{"warmup": {"advanced": 3}}'], "'warmup.advanced' must be an object"),
        # wrongly typed values
        (["--body", '{"first_name": 5}'], "first_name"),
        (["--body", '{"enable_slow_ramp": "yes"}'], "enable_slow_ramp"),
        (["--body", '{"skip_cname_check": null}'], "skip_cname_check"),
        (["--body", '{"warmup": {"increment": 3}}'], "warmup.increment"),
        (["--body", '{"reply_to": "nobody"}'], "reply_to"),
        # out of range or not finite
        (["--set", "sending_gap=1441"], "sending_gap"),
        (["--set", "sending_gap=1e999"], "sending_gap"),
        (["--body", '{"daily_limit": NaN}'], "daily_limit"),
        (["--body", '{"sending_gap": -Infinity}'], "sending_gap"),
        (["--inbox-placement-test-limit", "-1"], "inbox_placement_test_limit"),
        (["--daily-limit", "nan"], "daily_limit"),
        (["--warmup-limit", "1e400"], "warmup.limit"),
        (["--warmup-open-rate", "high"], "--warmup-open-rate takes a number"),
        (["--daily-limit", "5", "--rate", "0"], "--rate"),
        (["--daily-limit", "5", "--rate", "101"], "--rate"),
        (["--daily-limit", "5", "--concurrency", "0"], "--concurrency"),
        (["--daily-limit", "5", "--concurrency", "65"], "--concurrency"),
        # invalid --body
        (["--body", ""], "not valid JSON"),
        (["--body", "null"], "must be a JSON object"),
        (["--body", '{"daily_limit": 5'], "not valid JSON"),
        (["--body", "{}"], "No change given"),
        (["--body", "@/nonexistent/body.json"], "Cannot read"),
    ],
)
def test_update_bad_change_both_forms(cli, sandbox: SandboxApp, args, needle) -> None:
    check_both(cli, sandbox, ["accounts", "update", OPS, *args], needle)


def test_body_file_with_garbage_names_the_file(cli, sandbox: SandboxApp, tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_text("daily_limit: 5\n")
    check_both(cli, sandbox, ["accounts", "update", OPS, "--body", f"@{path}"], str(path))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["accounts", "list", "--limit", "0"], "--limit"),
        (["accounts", "list", "--limit", "-5"], "--limit"),
        (["accounts", "list", "--asc"], "--asc/--desc needs --sort"),
        (["accounts", "list", "--sort", "email", "--starting-after", "x"], "--starting-after"),
        (["accounts", "list", "--fields", "email,warmup..limit"], "Invalid field path"),
        (["accounts", "list", "--fields", "e-mail"], "Invalid field path"),
        (["accounts", "get", OPS, "--fields", "a b"], "Invalid field path"),
        (["accounts", "pause", OPS, "--rate", "1000"], "--rate"),
        (["accounts", "resume", OPS, "--concurrency", "0"], "--concurrency"),
        (["accounts", "warmup", "enable", OPS, "--timeout", "0"], "--timeout"),
        (["accounts", "warmup", "disable", OPS, "--rate", "-1"], "--rate"),
    ],
)
def test_out_of_range_and_conflicting_options(cli, sandbox: SandboxApp, args, needle) -> None:
    check_both(cli, sandbox, args, needle)


def test_many_targets_without_yes_both_forms(cli, sandbox: SandboxApp) -> None:
    for command in ("pause", "resume", "warmup enable"):
        args = [a for a in with_targets(command, OPS, ZOE) if a != "--yes"]
        check_both(cli, sandbox, args, "--yes")


# -- stdin ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", list(STDIN_COMMANDS))
@pytest.mark.parametrize("text", ["", "\n  \n", "# just a comment\n\n", "[]", " [ ] \n"])
def test_stdin_without_targets_is_nothing_to_do(
    cli, sandbox: SandboxApp, command: str, text: str
) -> None:
    """An upstream step that found nothing (a cron job's empty selection) is no error."""
    result = cli(with_targets(command, "-"), input=text)
    assert result.exit_code == 0 and "Nothing to do" in result.stderr
    assert sandbox.requests == []


@pytest.mark.parametrize("command", list(STDIN_COMMANDS))
def test_stdin_garbage_lines_are_numbered(cli, sandbox: SandboxApp, command: str) -> None:
    text = "\n".join(
        [
            OPS,  # 1
            "hello world",  # 2
            "",  # 3
            json.dumps({"email": ZOE}),  # 4
            '{"email": "not-an-email"}',  # 5
            "# a comment",  # 6
            '{"email": ',  # 7
            '{"name": "no email"}',  # 8
            "42",  # 9
        ]
    )
    check_both(cli, sandbox, with_targets(command, "-"), "line 2, 5, 7, 8, 9", input=text)


def test_stdin_many_garbage_lines_are_summarised(cli, sandbox: SandboxApp) -> None:
    text = "\n".join(f"junk {n}" for n in range(25))
    err, _ = assert_text_error(cli(with_targets("pause", "-"), input=text), "25 line(s)")
    assert "line 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 …" in err
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[{"email": "' + OPS + '"}, {"email": "nope"}]', "stdin item 1"),
        ('[{"email": "' + OPS + '"}, 5]', "stdin item 1"),
        ('[{"email": "' + OPS + '"', "not valid JSON"),
    ],
)
def test_stdin_bad_json_array(cli, sandbox: SandboxApp, text: str, needle: str) -> None:
    check_both(cli, sandbox, with_targets("update", "-"), needle, input=text)


# -- config file and profiles ---------------------------------------------------------------------


def write_config(content: str | bytes) -> Path:
    path = config_file.config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    os.chmod(path, 0o600)
    return path


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("default_profile = \n[profiles", "not valid TOML"),
        (b"\xff\xfe[profiles]\n", "not valid TOML"),
        ("profiles = 5\n", "[profiles] must be a table"),
        ("default_profile = 3\n", "default_profile must be a non-empty string"),
        ('default_profile = ""\n', "default_profile must be a non-empty string"),
        ('[profiles]\ndefault = "key"\n', "[profiles.default] must be a table"),
        ('[profiles.default]\napi-key = "abc"\n', "unknown key 'api-key'"),
        ("[profiles.default]\nbase_url = [1, 2]\n", "base_url must be a string"),
        ("[profiles.default]\nworkspace = true\n", "workspace must be a string"),
    ],
)
def test_broken_config_names_the_file(cli, sandbox: SandboxApp, content, needle) -> None:
    path = write_config(content)
    for args in (["accounts", "list"], ["accounts", "pause", OPS], ["config", "show"]):
        err, _ = assert_text_error(cli(args), needle)
        assert str(path) in err
        json_err = assert_json_error(cli([*args, "--json"]), needle, code="config_error")
        assert str(path) in json_err["message"]
    assert sandbox.requests == []


def test_config_path_is_a_directory(cli, sandbox: SandboxApp) -> None:
    config_file.config_path().mkdir(parents=True)
    check_both(cli, sandbox, ["accounts", "list"], "Cannot read", code="config_error")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_unknown_profile_lists_profiles(cli, sandbox: SandboxApp, monkeypatch, how) -> None:
    write_config('[profiles.default]\napi_key = "k-1234567890ab"\n[profiles.client-a]\n')
    args = ["accounts", "get", OPS]
    if how == "flag":
        args = ["--profile", "clientA", *args]
    else:
        monkeypatch.setenv("INSTANTLY_PROFILE", "clientA")
    _, hint = assert_text_error(cli(args), "Unknown profile 'clientA'")
    assert "client-a" in hint and "default" in hint
    assert_json_error(cli([*args, "--json"]), "client-a")
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("env", "value", "needle"),
    [
        ("INSTANTLY_BASE_URL", "api.instantly.ai", "Invalid base URL"),
        ("INSTANTLY_TIMEOUT", "soon", "INSTANTLY_TIMEOUT"),
        ("INSTANTLY_TIMEOUT", "0", "INSTANTLY_TIMEOUT"),
    ],
)
def test_bad_environment_values(cli, sandbox: SandboxApp, monkeypatch, env, value, needle):
    monkeypatch.setenv(env, value)
    check_both(cli, sandbox, ["accounts", "list"], needle)


def test_click_level_usage_errors_exit_2_without_traceback(cli, sandbox: SandboxApp) -> None:
    # Parsed by Typer before our code runs: the shape is Typer's, but the contract holds.
    for args in (
        ["accounts", "list", "--limit", "many"],
        ["accounts", "update", OPS, "--daily-limt", "5"],
        ["accounts", "get"],
    ):
        result = cli(args)
        assert result.exit_code == 2, result.stderr
        assert "Error:" in result.stderr and "Traceback" not in result.stderr
        assert result.stdout == ""
    assert sandbox.requests == []
