"""What one invocation resolves once: its settings (and the too-open config warning), its
sandbox (and the banner); and base URLs httpx would refuse, refused first as usage errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from instantly_cli.config_file import config_path
from instantly_cli.context import Runtime
from instantly_cli.sandbox.app import SandboxApp
from tests.conftest import TEST_KEY

READABLE = "is readable by other users"
BANNER = "Using the sandbox"


def write_config(text: str, mode: int = 0o600) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)
    return path


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return result


@pytest.mark.parametrize("args", [["accounts", "summary", "--json"],
                                  ["accounts", "list", "--json"]])
def test_a_too_open_config_is_warned_about_once(cli, sandbox: SandboxApp, args) -> None:
    # Every part that read the settings (thresholds, notify, history, the client) once read
    # the file again and warned again: four times for a summary.
    path = write_config(f'[profiles.default]\napi_key = "{TEST_KEY}"\n', 0o644)
    result = ok(cli(args))
    assert result.stderr.count(READABLE) == 1
    assert f"Warning: {path} {READABLE}; run: chmod 600 {path}" in result.stderr
    assert sandbox.requests


def test_the_sandbox_is_opened_and_announced_once_per_invocation(
    runtime: Runtime, cli
) -> None:
    # A roll-up opens a client per workspace: each once opened (and seeded) its own sandbox
    # store and printed the banner again (five times for this summary).
    runtime.terminal = runtime.terminal._replace(stderr_isatty=True)
    result = ok(cli(["--sandbox", "accounts", "summary", "--all-workspaces", "--json"]))
    assert result.stderr.count(BANNER) == 1
    assert '"workspace"' in result.stdout
    # The next invocation has a sandbox (and a banner) of its own.
    assert ok(cli(["--sandbox", "tags", "list", "--json"])).stderr.count(BANNER) == 1


@pytest.mark.parametrize("url", ["http://host:abc/", "http://[::1", "http://host:99999/",
                                 "http://:80/", "http:///api", "http://host/\n",
                                 "http://ho st/"])
@pytest.mark.parametrize("where", ["flag", "env"])
def test_a_malformed_base_url_is_a_usage_error(
    cli, sandbox: SandboxApp, monkeypatch: pytest.MonkeyPatch, url: str, where: str
) -> None:
    # Each once passed the scheme check and ended in httpx's InvalidURL: "Internal error …
    # this is a bug", exit 1 (or a connection attempt to no host).
    if where == "env":
        monkeypatch.setenv("INSTANTLY_BASE_URL", url)
        result = cli(["accounts", "list"])
    else:
        result = cli(["--base-url", url, "accounts", "list"])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("Error: Invalid base URL '")
    assert "Hint: Use a full URL such as https://api.instantly.ai." in result.stderr
    assert "Internal error" not in result.stderr and "Traceback" not in result.stderr
    assert sandbox.requests == []


def test_a_profiles_malformed_base_url_names_the_profile(
    cli, sandbox: SandboxApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INSTANTLY_BASE_URL")
    path = write_config('default_profile = "work"\n\n'
                        '[profiles.work]\nbase_url = "http://host:abc/"\n')
    result = cli(["accounts", "list"])
    assert result.exit_code == 2, result.stderr
    assert "Invalid base URL 'http://host:abc/'" in result.stderr
    assert f"(base_url of profile 'work' in {path})" in result.stderr
    assert sandbox.requests == []


def test_well_formed_base_urls_still_pass(cli, sandbox: SandboxApp) -> None:
    for url in ("http://sandbox.test", "http://sandbox.test:80/", "http://[::1]:8080"):
        result = cli(["--base-url", url, "tags", "list", "--json"])
        # The sandbox answers whatever host is named: only that no usage error came first.
        assert result.exit_code == 0, (url, result.stderr)


def test_auth_login_refuses_a_malformed_base_url_before_saving(
    cli, sandbox: SandboxApp
) -> None:
    result = cli(["auth", "login", "--with-token", "--base-url", "http://host:abc/"],
                 input=TEST_KEY + "\n")
    assert result.exit_code == 2, result.stderr
    assert "Invalid base URL 'http://host:abc/'" in result.stderr
    assert "Internal error" not in result.stderr
    assert not config_path().exists() and sandbox.requests == []
