"""Hostile input (issue 12, items 7-9): control characters and bytes that are not UTF-8 in
targets, body keys with dots in them, contradictory or non-finite or negative values.

Each case is refused with exit 2 before anything is sent, and the offending character is shown
escaped: an ESC from the input never reaches the terminal.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import Result

from instantly_cli import fields
from instantly_cli.errors import UsageError
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.targets import parse_target_text, read_targets
from tests.conftest import invoke

OPS = "ops+eu@acme-outreach.com"
ZOE = "zoe.muller@acme-outreach.com"

# Commands reading targets from stdin, with what they need to get past confirmation.
STDIN_COMMANDS: dict[str, list[str]] = {
    "update": ["accounts", "update", "-", "--daily-limit", "5", "--yes"],
    "pause": ["accounts", "pause", "-", "--yes"],
    "resume": ["accounts", "resume", "-", "--yes"],
    "warmup enable": ["accounts", "warmup", "enable", "-", "--yes", "--no-wait"],
    "warmup disable": ["accounts", "warmup", "disable", "-", "--yes", "--no-wait"],
    "tags assign": ["tags", "assign", "Client A", "--stdin", "--yes"],
    "tags unassign": ["tags", "unassign", "Client A", "--stdin", "--yes"],
}

# (raw character, how the message must show it)
HOSTILE = [
    ("\x00", "\\x00"),
    ("\x1b", "\\x1b"),
    ("\x7f", "\\x7f"),
    ("\x07", "\\x07"),
    ("\x08", "\\x08"),
    ("\r", "\\x0d"),  # a CR inside a line (a CR before the line end is a CRLF file: fine)
    ("\x0c", "\\x0c"),
    ("\x85", "\\x85"),
    ("\x9b", "\\x9b"),  # the one-byte CSI
    ("\u202e", "\\u202e"),
    ("\u2066", "\\u2066"),
    ("\u200f", "\\u200f"),
    ("\u2028", "\\u2028"),
]


def run(args: list[str], input: bytes | str | None = None) -> Result:
    return invoke(args, input=input)


def refused(result: Result, *needles: str) -> str:
    """Exit 2, no traceback, nothing on stdout; the stderr text (checked for raw controls)."""
    shown = result.stdout + result.stderr
    assert result.exit_code == 2, (result.exit_code, shown)
    assert "Traceback" not in shown and "Internal error" not in shown, shown
    assert result.stdout == ""
    for raw, _ in HOSTILE:
        assert raw not in result.stderr, (repr(raw), result.stderr)
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    return result.stderr


def usage_error(func: Any, *args: Any) -> UsageError:
    with pytest.raises(UsageError) as info:
        func(*args)
    err = info.value
    for raw, _ in HOSTILE:
        assert raw not in err.message and raw not in (err.hint or ""), (repr(raw), err.message)
    return err


# -- item 7: targets, parsed directly -----------------------------------------------------------


@pytest.mark.parametrize(("raw", "escaped"), HOSTILE)
def test_stdin_line_with_control_character_names_line_and_escapes_it(raw, escaped) -> None:
    text = f"{OPS}\n{ZOE}\nbad{raw}one@acme.io\n"
    err = usage_error(parse_target_text, text)
    assert "line 3" in err.message and escaped in err.message
    # The same as bytes, the way a pipe delivers it.
    err = usage_error(parse_target_text, text.encode("utf-8"))
    assert "line 3" in err.message and escaped in err.message


@pytest.mark.parametrize("raw", ["\x1b", "\u202e", "\x00"])
def test_control_characters_in_json_lines_and_arrays(raw: str) -> None:
    # Escaped inside JSON the raw line is clean ASCII: the decoded email is checked too.
    lines = "\n".join([json.dumps({"email": OPS}), json.dumps({"email": f"x{raw}@acme.io"})])
    assert "\\u" in lines
    err = usage_error(parse_target_text, lines)
    assert "line 2" in err.message
    array = json.dumps([{"email": OPS}, {"email": ZOE}, {"email": f"x{raw}@acme.io"}])
    err = usage_error(parse_target_text, array)
    assert "item 2" in err.message


def test_json_may_carry_any_character_outside_the_email() -> None:
    # `accounts list -o jsonl` writes names and signatures as they are (ensure_ascii=False): a
    # bidi mark in a Hebrew name or a line separator in a signature must not refuse the line.
    odd = "\u200f\u202e\x7f\x85\u2028"
    account = {"email": OPS, "first_name": f"\u05d3\u05e0\u05d4{odd}", "signature": odd}
    line = json.dumps(account, ensure_ascii=False)
    assert "\u2028" in line and "\x85" in line
    assert parse_target_text(f"{line}\n{json.dumps({'email': ZOE})}\n") == [OPS, ZOE]
    assert parse_target_text(json.dumps([account], ensure_ascii=False, indent=2)) == [OPS]
    assert parse_target_text(f"{line}\n".encode()) == [OPS]


@pytest.mark.parametrize("raw", ["\x1c", "\x1f", "\x85", "\x0b"])
def test_controls_python_counts_as_white_space_are_not_stripped_away(raw: str) -> None:
    err = usage_error(parse_target_text, f"{OPS}\n{raw}{ZOE}\n")
    assert "line 2" in err.message
    err = usage_error(parse_target_text, f"{OPS}\n{raw}{json.dumps({'email': ZOE})}\n")
    assert "line 2" in err.message


def test_stdin_that_is_not_utf8_names_the_first_bad_line() -> None:
    data = f"{OPS}\n{ZOE}\n".encode() + b"caf\xe9@acme.io\n" + b"\xff\xfe@x.io\n"
    err = usage_error(parse_target_text, data)
    assert "line 3" in err.message and "UTF-8" in err.message and "\\xe9" in err.message
    # A text stream that kept the bytes as surrogates is refused the same way.
    err = usage_error(parse_target_text, data.decode("utf-8", "surrogateescape"))
    assert "line 3" in err.message and "\\xe9" in err.message


def test_crlf_files_a_bom_and_tabs_around_an_address_are_fine() -> None:
    assert parse_target_text(f"\ufeff{OPS}\r\n\t{ZOE} \r\n") == [OPS, ZOE]
    assert parse_target_text(b"\xef\xbb\xbf" + f"{OPS}\r\n".encode()) == [OPS]
    assert parse_target_text("caf\u00e9@acme.io\n") == ["caf\u00e9@acme.io"]


@pytest.mark.parametrize(("raw", "escaped"), [*HOSTILE, ("\udcff", "\\xff")])
def test_argument_with_control_character_is_named_escaped(raw, escaped) -> None:
    err = usage_error(read_targets, [OPS, f"a{raw}b@acme.io"])
    assert "argument 2" in err.message and escaped in err.message


def test_read_targets_reads_stdin_as_bytes_and_text(monkeypatch: pytest.MonkeyPatch) -> None:
    binary = io.TextIOWrapper(io.BytesIO(f"{OPS}\n".encode() + b"\xc3(@x.io\n"), "utf-8")
    monkeypatch.setattr(sys, "stdin", binary)
    err = usage_error(read_targets, ["-"])
    assert "line 2" in err.message and "\\xc3" in err.message
    # A plain text stream without a buffer (some test runners) still works.
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{OPS}\n{ZOE}\n"))
    assert read_targets(["-"]) == [OPS, ZOE]
    assert read_targets(["-"], f"{ZOE}\n".encode()) == [ZOE]


def test_deeply_nested_json_on_stdin_is_a_usage_error() -> None:
    err = usage_error(parse_target_text, "[" * 100_000)
    assert "not valid JSON" in err.message


# -- item 7: through the CLI, nothing sent ------------------------------------------------------


@pytest.mark.parametrize("command", list(STDIN_COMMANDS))
def test_cli_refuses_esc_on_stdin_and_sends_nothing(sandbox: SandboxApp, command: str) -> None:
    data = f"{OPS}\n\x1b[31mred@acme.io\n".encode()
    refused(run(STDIN_COMMANDS[command], input=data), "line 2", "\\x1b")
    assert sandbox.requests == []


@pytest.mark.parametrize("command", list(STDIN_COMMANDS))
def test_cli_refuses_non_utf8_stdin_and_sends_nothing(sandbox: SandboxApp, command: str) -> None:
    data = f"{OPS}\n{ZOE}\n".encode() + b"x\xffy@acme.io\n"
    refused(run(STDIN_COMMANDS[command], input=data), "line 3", "UTF-8", "\\xff")
    result = run([*STDIN_COMMANDS[command], "--json"], input=data)
    assert result.exit_code == 2
    err = json.loads(result.stderr)["error"]
    assert err["code"] == "invalid_input" and "line 3" in err["message"]
    assert sandbox.requests == []


@pytest.mark.parametrize("raw", ["\x00", "\x7f", "\u202e", "\x9b"])
def test_cli_refuses_other_controls_on_stdin(sandbox: SandboxApp, raw: str) -> None:
    refused(run(STDIN_COMMANDS["pause"], input=f"{OPS}\nx{raw}@acme.io\n"), "line 2")
    assert sandbox.requests == []


@pytest.mark.parametrize(
    "args",
    [
        ["accounts", "get", OPS, "a\x1bb@acme.io"],
        ["accounts", "pause", OPS, "a\x1bb@acme.io", "--yes"],
        ["accounts", "update", OPS, "a\x1bb@acme.io", "--daily-limit", "5", "--yes"],
        ["tags", "assign", "Client A", "--account", "a\x1bb@acme.io", "--yes"],
    ],
)
def test_cli_refuses_control_characters_in_arguments(sandbox: SandboxApp, args) -> None:
    refused(run(args), "\\x1b")
    assert sandbox.requests == []


# -- item 8: keys with dots are unknown fields --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "key", "level_field"),
    [
        ({"warmup.limit": 0}, "'warmup.limit'", "daily_limit"),
        ({"warmup": {"advanced.open_rate": 0.5}}, "'advanced.open_rate'", "reply_rate"),
        ({"warmup": {"advanced": {"open_rate.x": 0.5}}}, "'open_rate.x'", "weekday_only"),
        ({"daily_limit": 5, "warmup.advanced.open_rate": 0.5}, "'warmup.advanced.open_rate'", ""),
        ({".": 1}, "'.'", "daily_limit"),
    ],
)
def test_dotted_keys_are_unknown_fields(body, key, level_field) -> None:
    err = usage_error(fields.validate, body)
    assert key in err.message and "Unknown field" in err.message
    assert level_field in (err.hint or "")


def test_dotted_keys_refused_by_every_path_helper() -> None:
    usage_error(fields.leaves, {"warmup.limit": 1})
    usage_error(fields.leaves, {"warmup": {"advanced.open_rate": 1}})
    usage_error(fields.deep_merge, {"limit": 1}, {"advanced.open_rate": 0.5})
    usage_error(fields.set_path, {}, ("warmup.limit",), 1)
    usage_error(fields.set_path, {}, ("warmup", ""), 1)
    # A stored junk key (with a dot) is never merged back into a PATCH body.
    stored = {"limit": 5, "advanced.open_rate": 0.5, "advanced": {"open_rate": 0.9, "a.b": 1}}
    assert fields.patchable(stored, "warmup") == {"limit": 5, "advanced": {"open_rate": 0.9}}
    # Paths given as key lists or as dotted --set text build the same body.
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    fields.set_path(a, ("warmup", "advanced", "open_rate"), 0.5)
    fields.set_path(b, "warmup.advanced.open_rate", 0.5)
    assert a == b == {"warmup": {"advanced": {"open_rate": 0.5}}}
    assert fields.leaves(a) == [("warmup.advanced.open_rate", 0.5)]


def test_unknown_key_with_a_control_character_is_shown_escaped() -> None:
    err = usage_error(fields.validate, {"daily\x1blimit": 5})
    assert "daily\\x1blimit" in err.message


@pytest.mark.parametrize(
    "body", ['{"warmup.limit": 0}', '{"warmup": {"advanced.open_rate": 0.5}}']
)
def test_cli_dotted_body_keys_exit_2_nothing_sent(sandbox: SandboxApp, body: str) -> None:
    refused(run(["accounts", "update", OPS, "--body", body, "--yes"]), "Unknown field")
    assert sandbox.requests == []


def test_cli_set_with_a_dotted_path_still_nests(sandbox: SandboxApp) -> None:
    result = run(["accounts", "update", OPS, "--set", "warmup.limit=7", "--yes", "--json"])
    assert result.exit_code == 0, result.stderr
    patches = [r for r in sandbox.requests if r.method == "PATCH"]
    assert len(patches) == 1
    sent = json.loads(patches[0].body)
    assert sent["warmup"]["limit"] == 7
    assert not any("." in key for key in sent["warmup"])


KEY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
odd_keys = st.one_of(
    KEY_TEXT,
    st.sampled_from(["", ".", "a.", ".a", "warmup.limit", "advanced.open_rate", "limit.", "ü"]),
    st.builds(lambda a, b: f"{a}.{b}", st.sampled_from(fields.keys_at("")), KEY_TEXT),
)


@settings(max_examples=200, deadline=None, database=None)
@given(
    top=st.dictionaries(odd_keys, st.integers(0, 5), max_size=3),
    warmup=st.dictionaries(odd_keys, st.integers(0, 1), max_size=3),
    advanced=st.dictionaries(odd_keys, st.booleans(), max_size=3),
)
@example(top={"warmup.limit": 0}, warmup={}, advanced={})
@example(top={}, warmup={"advanced.open_rate": 1}, advanced={})
@example(top={"": 1}, warmup={"ü": 1}, advanced={"warm_ctd.": True})
def test_fuzz_keys_unknown_unless_in_the_table(top, warmup, advanced) -> None:
    body: dict[str, Any] = {**top, "warmup": {**warmup, "advanced": advanced}}
    valid = (
        set(top) <= set(fields.keys_at(""))
        and set(warmup) <= set(fields.keys_at("warmup"))
        and set(advanced) <= set(fields.keys_at("warmup.advanced"))
    )
    try:
        fields.validate(body)
    except UsageError as err:
        assert not valid or "Invalid value" in err.message or "must be" in err.message, err
        return
    assert valid
    # A body that validates has only known leaves, and rebuilds from its dotted leaves.
    rebuilt: dict[str, Any] = {}
    for path, value in fields.leaves(body):
        assert path in fields.BY_PATH or path in fields.OBJECTS, path
        fields.set_path(rebuilt, path, value)
    assert fields.leaves(rebuilt) == fields.leaves(body)


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(key=odd_keys.filter(lambda k: k not in fields.keys_at("warmup")), nest=st.booleans())
def test_fuzz_cli_odd_body_keys_exit_2_and_send_nothing(
    sandbox: SandboxApp, key: str, nest: bool
) -> None:
    body = {"warmup": {key: 1}} if nest else {key: 1}
    if not nest and key in fields.keys_at(""):
        return
    before = len(sandbox.requests)
    result = run(["accounts", "update", OPS, "--body", json.dumps(body), "--yes"])
    assert result.exit_code == 2, (body, result.stderr)
    assert "Traceback" not in result.stderr and "Internal error" not in result.stderr
    assert len(sandbox.requests) == before


# -- item 9: contradictions, non-finite and negative numbers, the body file ---------------------


def test_remove_and_set_tracking_domain_together_is_refused(sandbox: SandboxApp) -> None:
    err = usage_error(
        fields.validate, {"remove_tracking_domain": True, "tracking_domain_name": "t.acme.io"}
    )
    assert "tracking" in err.message
    fields.validate({"remove_tracking_domain": True, "tracking_domain_name": None})
    fields.validate({"remove_tracking_domain": False, "tracking_domain_name": "t.acme.io"})
    args = ["accounts", "update", OPS, "--remove-tracking-domain", "--tracking-domain", "t.io"]
    refused(run([*args, "--yes"]), "--remove-tracking-domain")
    assert sandbox.requests == []


@pytest.mark.parametrize(
    "args",
    [
        ["--set", "daily_limit=NaN"],
        ["--set", "warmup.limit=Infinity"],
        ["--set", "warmup.advanced.open_rate=-Infinity"],
        ["--set", "sending_gap=nan"],
        ["--body", '{"warmup": {"limit": NaN}}'],
        ["--body", '{"warmup": {"advanced": {"spam_save_rate": Infinity}}}'],
        ["--set", "daily_limit=" + "9" * 400],
        ["--body", '{"inbox_placement_test_limit": ' + "1" * 500 + "}"],
    ],
)
def test_non_finite_and_huge_numbers_are_usage_errors(sandbox: SandboxApp, args) -> None:
    refused(run(["accounts", "update", OPS, *args, "--yes"]), "Invalid value")
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        (["--daily-limit", "-1"], "at least 0"),
        (["--warmup-limit", "-5"], "at least 0"),
        (["--set", "warmup.limit=-0.5"], "at least 0"),
        (["--inbox-placement-test-limit", "-1"], "at least 0"),
        (["--sending-gap", "-1"], "from 0 to 1440"),
        (["--warmup-open-rate", "-0.1"], "from 0 to 1"),
        (["--warmup-open-rate", "95"], "from 0 to 1"),
        (["--warmup-reply-rate", "1.5"], "from 0 to 1"),
        (["--warmup-important-rate", "-1"], "from 0 to 1"),
        (["--warmup-spam-save-rate", "2"], "from 0 to 1"),
        (["--set", "warmup.advanced.important_rate=-0.01"], "from 0 to 1"),
    ],
)
def test_negative_counts_and_rates_outside_0_1_name_the_range(
    sandbox: SandboxApp, args, rule
) -> None:
    stderr = refused(run(["accounts", "update", OPS, *[f"{args[0]}={args[1]}"], "--yes"]), rule)
    assert stderr.splitlines()[0].endswith(f"must be {rule}."), stderr
    assert sandbox.requests == []


def test_edges_of_the_ranges_are_accepted() -> None:
    fields.validate(
        {
            "daily_limit": 0,
            "inbox_placement_test_limit": 0,
            "warmup": {"limit": 0, "reply_rate": 1, "advanced": {"open_rate": 0.0}},
        }
    )
    fields.validate({"daily_limit": None, "warmup": {"advanced": {"spam_save_rate": 1.0}}})


def test_body_file_must_be_utf8(tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_bytes(b'{"first_name":\n "Jos\xe9"}\n')
    err = usage_error(fields.load_body, f"@{path}")
    assert str(path) in err.message and "UTF-8" in err.message and "line 2" in err.message
    path.write_bytes(b'\xef\xbb\xbf{"first_name": "Jos\xc3\xa9"}')
    assert fields.load_body(f"@{path}") == {"first_name": "Jos\u00e9"}
    err = usage_error(fields.load_body, f"@{tmp_path / 'missing.json'}")
    assert "Cannot read" in err.message
    err = usage_error(fields.load_body, "[" * 100_000)
    assert "nested too deeply" in err.message
    assert fields.load_body('{"daily_limit": 5}') == {"daily_limit": 5}


def test_cli_body_file_that_is_not_utf8_is_a_usage_error(
    sandbox: SandboxApp, tmp_path: Path
) -> None:
    path = tmp_path / "body.json"
    path.write_bytes(b'{"first_name": "Jos\xe9"}')
    refused(run(["accounts", "update", OPS, "--body", f"@{path}", "--yes"]), str(path), "UTF-8")
    assert sandbox.requests == []
