"""The API key never shows: not on stdout, stderr, --verbose lines, logs, tracebacks or files.

test_config_auth.py proves the basics (0600 save, masked ``auth status``/``config show``); this
file runs every command, succeeding and failing, with a recognisable key and looks for it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import Result

from instantly_cli import client as client_mod
from instantly_cli import config_file
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import Store
from tests.contract import validate_recorded

KEY = "sk-LEAKCHECK-9f8e7d6c5b4a"
MASKED = "****" + KEY[-4:]
# Pieces a careless redaction could still leak (the key minus its visible tail).
FRAGMENTS = (KEY, KEY[:-4], "LEAKCHECK-9f8e7d")
OPS = "ops+eu@acme-outreach.com"
ZOE = "zoe.muller@acme-outreach.com"
GHOST = "nobody@nowhere-at-all.io"

# Every command, as a user would run it against a working API.
COMMANDS: list[list[str]] = [
    ["accounts", "list", "--limit", "3"],
    ["accounts", "list", "--all", "-o", "jsonl"],
    ["accounts", "get", OPS],
    ["accounts", "get", OPS, ZOE, "--json"],
    ["accounts", "update", OPS, "--daily-limit", "12", "--json"],
    ["accounts", "update", OPS, ZOE, "--warmup-limit", "9", "--dry-run", "--yes"],
    ["accounts", "pause", OPS, "--json"],
    ["accounts", "resume", OPS],
    ["accounts", "warmup", "enable", OPS, "--json"],
    ["accounts", "warmup", "disable", OPS, "--no-wait"],
    ["tags", "list"],
    ["tags", "list", "--json"],
    ["auth", "status"],
    ["auth", "status", "--json"],
    ["config", "show"],
    ["config", "show", "--json"],
    ["config", "path"],
    ["api", "GET", "/api/v2/accounts"],
]


def write_config(text: str, mode: int = 0o600) -> Path:
    path = config_file.config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text)
    os.chmod(path, mode)
    return path


def profile_with_key(mode: int = 0o600) -> Path:
    return write_config(
        f'default_profile = "default"\n[profiles.default]\napi_key = "{KEY}"\n'
        f'[profiles.other]\napi_key = "{KEY}"\nworkspace = "ws-1"\n',
        mode,
    )


class Leaks:
    """Collects everything the CLI showed or wrote and asserts the key is not in it."""

    def __init__(self, caplog: pytest.LogCaptureFixture, folder: Path) -> None:
        self.caplog = caplog
        self.folder = folder
        self.texts: list[str] = []

    def add(self, result: Result) -> Result:
        self.texts += [result.stdout, result.stderr]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            self.texts.append(repr(result.exception))
        return result

    def check(self) -> None:
        blobs = [*self.texts, self.caplog.text]
        blobs += [p.read_text(errors="replace") for p in self.folder.glob("*.jsonl")]
        for blob in blobs:
            for fragment in FRAGMENTS:
                assert fragment not in blob, blob


@pytest.fixture
def leaks(
    caplog: pytest.LogCaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Leaks]:
    caplog.set_level(logging.DEBUG)  # httpx / httpcore debug lines included
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # default failure files land here
    found = Leaks(caplog, work)
    yield found
    found.check()


@pytest.fixture
def keyed_sandbox(monkeypatch: pytest.MonkeyPatch, runtime) -> Iterator[SandboxApp]:
    """The in-process sandbox accepting KEY, which comes from env and from the profile."""
    store = Store(":memory:")
    store.ensure_seeded(30)
    app = SandboxApp(store, api_key=KEY)
    runtime.transport = httpx.WSGITransport(app=app)
    monkeypatch.setenv("INSTANTLY_API_KEY", KEY)
    monkeypatch.setenv("INSTANTLY_BASE_URL", "http://sandbox.test")
    profile_with_key()
    yield app
    validate_recorded(app)
    store.close()


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_no_command_shows_the_key(cli, keyed_sandbox: SandboxApp, leaks: Leaks, verbose) -> None:
    prefix = ["--verbose"] if verbose else []
    for args in COMMANDS:
        result = leaks.add(cli([*prefix, *args]))
        assert result.exit_code == 0, (args, result.stderr)
        if verbose and args[0] not in ("config",):
            assert re.search(r"^\* (GET|PATCH|POST) /api/v2/\S* → 2\d\d", result.stderr, re.M), args
    assert keyed_sandbox.requests  # the commands really talked to the API
    # The key did travel, where it belongs: in the Authorization header (recorded redacted).
    assert all(r.headers["authorization"] == "Bearer [REDACTED]" for r in keyed_sandbox.requests)


def test_auth_status_and_config_show_mask_to_last_four(cli, keyed_sandbox, leaks: Leaks) -> None:
    rows = json.loads(leaks.add(cli(["auth", "status", "--json"])).stdout)
    assert {r["profile"]: r["key"] for r in rows} == {"default": MASKED, "other": MASKED}
    assert {r["profile"]: r["key_source"] for r in rows} == {"default": "env", "other": "config"}
    shown = leaks.add(cli(["config", "show", "--json"]))
    doc = json.loads(shown.stdout)
    assert doc["profiles"]["default"]["api_key"] == MASKED
    assert doc["profiles"]["other"] == {"api_key": MASKED, "workspace": "ws-1"}
    table = leaks.add(cli(["config", "show", "-o", "table"]))
    assert MASKED in table.stdout
    status = leaks.add(cli(["auth", "status", "-o", "tsv"]))
    assert MASKED in status.stdout


# -- failures: 401, 500 with the key echoed, connection refused, bulk failures -----------------

FAILING: list[list[str]] = [
    ["accounts", "list", "-o", "json"],
    ["accounts", "get", OPS, "--json"],
    ["accounts", "update", OPS, "--daily-limit", "3", "--json"],
    ["accounts", "update", OPS, ZOE, "--daily-limit", "3", "--yes", "-o", "jsonl"],
    ["accounts", "pause", OPS, ZOE, "--yes", "--json"],
    ["accounts", "resume", OPS, "--json"],
    ["accounts", "warmup", "enable", OPS, "--json"],
    ["tags", "list", "--json"],
    ["auth", "status", "--json"],
    ["api", "GET", "/api/v2/accounts"],
]


def run_failing(
    cli: Callable[..., Result], leaks: Leaks, expected: set[int], *, quiet_too: bool = True
) -> list[Result]:
    results = []
    for verbose in ([], ["--verbose"]) if quiet_too else (["--verbose"],):
        for args in FAILING:
            result = leaks.add(cli([*verbose, *args]))
            assert result.exit_code in expected, (args, result.exit_code, result.stderr)
            assert "Traceback" not in result.stderr
            results.append(result)
    return results


def json_errors(result: Result) -> list[dict]:
    out = []
    for line in result.stderr.splitlines():
        if line.startswith('{"error"'):
            out.append(json.loads(line)["error"])
    return out


def test_rejected_key_401(cli, monkeypatch, leaks: Leaks, runtime) -> None:
    store = Store(":memory:")
    store.ensure_seeded(5)
    app = SandboxApp(store, api_key="a-different-key-0000")
    runtime.transport = httpx.WSGITransport(app=app)
    monkeypatch.setenv("INSTANTLY_API_KEY", KEY)
    monkeypatch.setenv("INSTANTLY_BASE_URL", "http://sandbox.test")
    results = run_failing(cli, leaks, {1, 3})
    assert any(e["code"] == "unauthorized" for r in results for e in json_errors(r))
    assert {r.status for r in app.requests} == {401}


def test_api_errors_that_echo_the_key_are_redacted(cli, mock_api, monkeypatch, leaks) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"]
        status = 401 if "accounts?" in str(request.url) and "limit=1" in str(request.url) else 500
        return httpx.Response(
            status,
            json={
                "statusCode": status,
                "error": f"Bad token {token}",
                "message": f"Key {token.removeprefix('Bearer ')} failed on {request.url.path}",
            },
        )

    seen = mock_api(handler)
    monkeypatch.setenv("INSTANTLY_API_KEY", KEY)
    profile_with_key()
    results = run_failing(cli, leaks, {1, 3})
    assert len(seen) > len(FAILING)  # 5xx on safe requests was retried
    messages = [e["message"] for r in results for e in json_errors(r)]
    assert any("****" in m for m in messages), messages  # the echoed key was replaced
    # The journal of a bulk run holds the API's message, redacted.
    from instantly_cli.settings import state_dir

    files = list((state_dir() / "runs").glob("*.jsonl"))
    assert files
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    rows = [r for r in rows if r["kind"] == "outcome"]
    assert rows and all("****" in (r["error"] or "") for r in rows if r["status"] == 500)
    assert not any(KEY in f.read_text() for f in files)


def test_connection_refused(cli, monkeypatch, leaks: Leaks) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The port is closed now: every connection attempt is refused.
    monkeypatch.setenv("INSTANTLY_API_KEY", KEY)
    monkeypatch.setenv("INSTANTLY_BASE_URL", f"http://127.0.0.1:{port}")
    results = run_failing(cli, leaks, {1, 3}, quiet_too=False)
    assert any(e["code"] == "network_error" for r in results for e in json_errors(r))
    verbose = [r for r in results if "connect-error" in r.stderr]
    assert verbose  # --verbose showed the attempts (without the key)


def test_bulk_failure_file_and_outcomes_hold_no_key(cli, mock_api, monkeypatch, leaks) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH" and "zoe" in request.url.path:
            return httpx.Response(
                400,
                json={"statusCode": 400, "error": "Bad Request", "message": f"token={KEY}"},
            )
        if request.method == "PATCH":
            return httpx.Response(200, json={"email": OPS, "daily_limit": 7})
        return httpx.Response(404, json={"statusCode": 404, "error": "Not Found", "message": KEY})

    mock_api(handler)
    monkeypatch.setenv("INSTANTLY_API_KEY", KEY)
    failures = Path.cwd() / "fails.jsonl"
    args = ["accounts", "update", OPS, ZOE, "--daily-limit", "7", "--yes", "--failures"]
    result = leaks.add(cli(["--verbose", *args, str(failures), "--json"]))
    assert result.exit_code == 1
    rows = {r["email"]: r for r in json.loads(result.stdout)}
    assert rows[ZOE]["result"] == "failed" and rows[ZOE]["error"] == "token=****"
    [line] = failures.read_text().splitlines()
    assert json.loads(line)["email"] == ZOE and "****" in line


# -- internal errors with INSTANTLY_DEBUG=1 ----------------------------------------------------


def _explode(*args: object, **kwargs: object) -> None:
    api_key = KEY  # a local holding the key: a locals dump would show it
    raise RuntimeError(f"could not use {api_key} for this request")


@pytest.mark.parametrize("fmt", [[], ["--json"]])
def test_internal_error_traceback_without_key_or_locals(
    cli, keyed_sandbox, leaks: Leaks, monkeypatch, fmt
) -> None:
    monkeypatch.setenv("INSTANTLY_DEBUG", "1")
    monkeypatch.setattr(client_mod.InstantlyClient, "get_account", _explode)
    result = leaks.add(cli(["--verbose", "accounts", "get", OPS, *fmt]))
    assert result.exit_code == 1
    err = result.stderr
    assert "Traceback (most recent call last)" in err and "RuntimeError" in err
    assert "could not use **** for this request" in err
    # No locals: neither rich's locals panel nor "name = value" lines of frames.
    assert "api_key = '" not in err and "locals" not in err.lower()
    assert "self = " not in err and "kwargs = " not in err
    if fmt:
        last = json.loads(err.strip().splitlines()[-1])["error"]
        assert last["code"] == "internal_error" and "****" in last["message"]


def test_internal_error_in_bulk_run_is_redacted_in_failure_file(
    cli, keyed_sandbox, leaks: Leaks, monkeypatch
) -> None:
    monkeypatch.setattr(client_mod.InstantlyClient, "update_account", _explode)
    failures = Path.cwd() / "internal.jsonl"
    result = leaks.add(
        cli(
            [
                "accounts",
                "update",
                OPS,
                ZOE,
                "--daily-limit",
                "4",
                "--yes",
                "--failures",
                str(failures),
                "-o",
                "jsonl",
            ]
        )
    )
    assert result.exit_code == 1
    rows = [json.loads(line) for line in failures.read_text().splitlines()]
    assert {r["email"] for r in rows} == {OPS, ZOE}
    assert all(r["code"] == "internal_error" and "****" in r["error"] for r in rows)


# -- auth login / logout -------------------------------------------------------------------------


def test_login_never_echoes_the_key_and_writes_0600_in_0700(
    cli, monkeypatch: pytest.MonkeyPatch, leaks: Leaks, runtime
) -> None:
    store = Store(":memory:")
    store.ensure_seeded(3)
    app = SandboxApp(store, api_key=KEY)
    runtime.transport = httpx.WSGITransport(app=app)
    monkeypatch.setenv("INSTANTLY_BASE_URL", "http://sandbox.test")
    folder = config_file.config_dir()
    folder.mkdir(parents=True, mode=0o755)
    os.chmod(folder, 0o755)  # an existing, too-open folder is tightened
    old = os.umask(0)
    try:
        first = leaks.add(cli(["--verbose", "auth", "login", "--with-token"], input=KEY + "\n"))
        second = leaks.add(
            cli(["--profile", "b", "auth", "login", "--with-token", "--no-verify"], input=KEY)
        )
    finally:
        os.umask(old)
    assert first.exit_code == 0 and second.exit_code == 0, first.stderr + second.stderr
    assert MASKED in first.stderr
    path = config_file.config_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert path.read_text().count(KEY) == 2  # saved, only in the file
    # A rejected key is not echoed either.
    runtime.transport = httpx.WSGITransport(app=SandboxApp(store, api_key="another-key-1111"))
    rejected = leaks.add(cli(["--profile", "c", "auth", "login", "--with-token"], input=KEY))
    assert rejected.exit_code == 3
    for args in (["auth", "logout"], ["--profile", "b", "auth", "logout"], ["auth", "logout"]):
        assert leaks.add(cli(args)).exit_code == 0
    assert KEY not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    store.close()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_config_readable_by_others_warns_on_every_command(
    cli, keyed_sandbox, leaks: Leaks, mode: int
) -> None:
    path = profile_with_key(mode)
    for args in (["accounts", "list", "--limit", "1"], ["auth", "status"], ["config", "show"]):
        result = leaks.add(cli(args))
        assert result.exit_code == 0, result.stderr
        assert f"Warning: {path} is readable by other users" in result.stderr
        assert "chmod 600" in result.stderr
    os.chmod(path, 0o600)
    quiet = leaks.add(cli(["accounts", "list", "--limit", "1"]))
    assert "Warning" not in quiet.stderr
