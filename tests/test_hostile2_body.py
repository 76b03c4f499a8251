"""Bounded ``--body``/``--set`` reads, lone surrogates and invisible characters (issue 26,
items 1 and 9).

``--body @/dev/zero`` once grew to 23.9 GB; a lone surrogate in ``--body`` or ``--set`` passed
validation and was sent five times (500s each); a zero-width character in an email made a
look-alike account. Each is now exit 2, one line naming the problem, nothing sent.
"""

from __future__ import annotations

import json
import resource
import subprocess
from pathlib import Path

import pytest
from typer.testing import Result

from instantly_cli import fields
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.settings import state_dir
from tests.conftest import invoke
from tests.test_e2e_server import base_env, instantly

OPS = "ops+eu@acme-outreach.com"
LIMIT = 1 << 20
UPDATE = ["accounts", "update", OPS, "--yes"]


def refused(result: Result, *needles: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Internal error" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("Error:") and lines[-1].startswith("Hint:"), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, result.stderr)
    return result.stderr


# -- item 1: the size of --body and --set ------------------------------------------------------


def padded_body(size: int) -> str:
    """A valid PATCH body of ``size`` bytes (white space is legal JSON)."""
    core = '{"daily_limit": 7}'
    return " " * (size - len(core)) + core


def test_a_body_file_past_the_limit_is_refused(sandbox: SandboxApp, tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_text(padded_body(LIMIT + 1))
    refused(invoke([*UPDATE, "--body", f"@{path}"]), "larger than the 1 MiB limit", str(path))
    assert sandbox.requests == []


def test_a_body_file_at_the_limit_is_taken(sandbox: SandboxApp, tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_text(padded_body(LIMIT))
    result = invoke([*UPDATE, "--body", f"@{path}", "--json"])
    assert result.exit_code == 0, result.stderr
    assert [r.method for r in sandbox.requests].count("PATCH") == 1


def test_a_body_on_stdin_past_the_limit_is_refused(sandbox: SandboxApp) -> None:
    result = invoke([*UPDATE, "--body", "@-"], input=padded_body(LIMIT + 10).encode())
    refused(result, "--body from stdin", "1 MiB")
    assert sandbox.requests == []


def test_inline_body_and_set_past_the_limit_are_refused(sandbox: SandboxApp) -> None:
    refused(invoke([*UPDATE, "--body", padded_body(LIMIT + 1)]), "--body", "1 MiB")
    refused(invoke([*UPDATE, "--set", "first_name=" + "x" * LIMIT]), "--set", "1 MiB")
    assert sandbox.requests == []


def test_body_from_dev_zero_stops_at_the_limit(tmp_path: Path) -> None:
    """The real thing, as a user runs it: a subprocess with 1 GiB of address space at most.

    Before the cap this read until the memory limit and died with an internal error."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    env = {
        **base_env(tmp_path),
        "INSTANTLY_API_KEY": "body-cap-key-0123456789",
        "INSTANTLY_BASE_URL": "http://127.0.0.1:9",  # nothing may be sent: nothing listens
    }
    env.pop("PYTHONUNBUFFERED", None)  # as users run it
    for body in ("@/dev/zero", "@-"):
        proc = subprocess.run(
            [*instantly(), "accounts", "update", OPS, "--body", body, "--yes"],
            env=env,
            stdin=open("/dev/zero", "rb"),  # noqa: SIM115 - closed with the process
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=limit_memory,
        )
        assert proc.returncode == 2, (body, proc.returncode, proc.stderr)
        assert "1 MiB" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


# -- item 9: lone surrogates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "source"),
    [
        (["--body", '{"first_name": "Jo\\ud800e"}'], "--body"),
        (["--body", '{"warmup": {"warmup_custom_ftag": "\\udfff"}}'], "--body"),
        (["--body", '{"first_name\\udc80": "x"}'], "--body"),
        (["--set", 'first_name="\\ud83d"'], "--set"),
        (["--set", "first_name=Jo\udcffe"], "--set"),  # a byte that was not UTF-8 in argv
        (["--set", "signature=\ud800"], "--set"),
        (["--first-name", "Jo\udcffe"], "first_name"),
    ],
    ids=repr,
)
def test_a_lone_surrogate_is_refused_before_anything_is_sent(
    sandbox: SandboxApp, args: list[str], source: str
) -> None:
    stderr = refused(invoke([*UPDATE, *args]), source)
    assert "surrogate" in stderr.splitlines()[0]
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in stderr), stderr
    assert sandbox.requests == []
    assert not (state_dir() / "runs").exists() or not any((state_dir() / "runs").iterdir())


def test_a_body_file_with_a_lone_surrogate_escape_is_refused(
    sandbox: SandboxApp, tmp_path: Path
) -> None:
    path = tmp_path / "body.json"
    path.write_text('{"last_name": "\\ud800"}')
    refused(invoke([*UPDATE, "--body", f"@{path}"]), str(path), "surrogate", "\\ud800")
    assert sandbox.requests == []


def test_paired_surrogates_are_an_ordinary_character(sandbox: SandboxApp) -> None:
    body = json.dumps({"first_name": "Zoë \U0001f600"})  # json.dumps writes \ud83d\ude00
    assert "\\ud83d" in body
    assert fields.load_body(body) == {"first_name": "Zoë \U0001f600"}
    result = invoke([*UPDATE, "--body", body, "--json"])
    assert result.exit_code == 0, result.stderr


# -- item 9: invisible characters in emails ----------------------------------------------------

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u00ad", "\u2060", "\ufeff"]


@pytest.mark.parametrize("char", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
def test_invisible_characters_in_an_email_are_refused(sandbox: SandboxApp, char: str) -> None:
    lookalike = f"ops{char}+eu@acme-outreach.com"
    shown = f"\\u{ord(char):04x}" if ord(char) > 0xFF else f"\\x{ord(char):02x}"
    refused(invoke(["accounts", "update", lookalike, "--daily-limit", "5", "--yes"]), shown)
    refused(invoke(["accounts", "pause", "-", "--yes"], input=f"{lookalike}\n"), "line 1")
    create = [
        "accounts", "create", "--email", lookalike, "--first-name", "Ops", "--last-name", "Team",
        "--imap-host", "imap.acme.io", "--smtp-host", "smtp.acme.io", "--password-stdin", "--yes",
    ]  # fmt: skip
    result = invoke(create, input="imap-pass-123\n")
    # (Showing the refused address escaped is services/accounts/create.py's part of item 9.)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert [r.method for r in sandbox.requests if r.method != "GET"] == []


# -- item 9: an absurd INSTANTLY_TIMEOUT --------------------------------------------------------


@pytest.mark.parametrize("value", ["1e10", "3601", "1e308", "9" * 400])
def test_an_absurd_timeout_is_a_usage_error(sandbox: SandboxApp, monkeypatch, value) -> None:
    monkeypatch.setenv("INSTANTLY_TIMEOUT", value)
    refused(invoke(["accounts", "list"]), "INSTANTLY_TIMEOUT", "at most 3600")
    assert sandbox.requests == []


def test_an_hour_is_still_a_timeout(sandbox: SandboxApp, monkeypatch) -> None:
    monkeypatch.setenv("INSTANTLY_TIMEOUT", "3600")
    assert invoke(["accounts", "list", "--json"]).exit_code == 0
