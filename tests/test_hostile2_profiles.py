"""An empty, blank or invisible profile name is refused (issue 26, item 8).

``--profile ""`` used to mean "the default profile": ``auth login`` overwrote its key and
``auth logout`` removed it. Every place a profile name is taken now refuses such a name with
exit 2, one line and a hint, before the config file is read or written.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest


def config_path() -> Path:
    """Where the CLI reads its config in this test (conftest points the folder at tmp)."""
    return Path(os.environ["INSTANTLY_CONFIG_DIR"]) / "config.toml"


DEFAULT_KEY = "default-key-0123456789ab"
NEW_KEY = "replacing-key-9876543210"
CONFIG = f'default_profile = "default"\n[profiles.default]\napi_key = "{DEFAULT_KEY}"\n'

BAD_NAMES = ["", " ", "\t", "  \n", "a\x1b[2Jb", "de\u200bfault", "nul\x00l", " default", "x\u00a0"]


@pytest.fixture
def config():
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(CONFIG)
    path.chmod(0o600)
    return path


def refused(result, source: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("Error: The profile name given by " + source), result.stderr
    assert lines[1].startswith("Hint:") and len(lines) == 2, result.stderr
    assert "\x1b" not in result.stderr and "\x00" not in result.stderr


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
@pytest.mark.parametrize("where", ["root", "noun", "verb"])
def test_login_and_logout_refuse_the_name_and_leave_the_default_alone(
    cli, config, name: str, where: str
) -> None:
    for verb, extra in (("login", ["--with-token", "--no-verify"]), ("logout", [])):
        if where == "root":
            args = ["--profile", name, "auth", verb, *extra]
        elif where == "noun":
            args = ["auth", "--profile", name, verb, *extra]
        else:
            args = ["auth", verb, *extra, "--profile", name]
        refused(cli(args, input=NEW_KEY), "--profile")
        assert config.read_text() == CONFIG  # not overwritten, not removed


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_the_environment_variable_is_refused_too(cli, config, monkeypatch, name: str) -> None:
    if "\x00" in name:
        pytest.skip("an environment variable cannot hold NUL")
    monkeypatch.setenv("INSTANTLY_PROFILE", name)
    result = cli(["auth", "logout"])
    refused(result, "INSTANTLY_PROFILE")
    assert "INSTANTLY_PROFILE" in result.stderr.splitlines()[1]
    assert config.read_text() == CONFIG
    refused(cli(["accounts", "list"]), "INSTANTLY_PROFILE")


def test_an_explicit_flag_wins_over_an_empty_environment_variable(cli, config, monkeypatch):
    monkeypatch.setenv("INSTANTLY_PROFILE", "")
    result = cli(["--profile", "default", "auth", "status", "--offline", "--json"])
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_auth_switch_refuses_the_name(cli, config, name: str) -> None:
    refused(cli(["auth", "switch", name]), "auth switch")
    assert config.read_text() == CONFIG


@pytest.mark.parametrize("name", ["client-b", "client b", "Ünïcode"])
def test_ordinary_names_still_work(cli, config, name: str) -> None:
    result = cli(["--profile", name, "auth", "login", "--with-token", "--no-verify"], input=NEW_KEY)
    assert result.exit_code == 0, result.stderr
    profiles = tomllib.loads(config_path().read_text())["profiles"]
    assert profiles[name]["api_key"] == NEW_KEY
    assert profiles["default"]["api_key"] == DEFAULT_KEY
