"""Config file, precedence, and the auth/config commands."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import httpx
import pytest

from instantly_cli import config_file
from instantly_cli.config_file import Profile, load_config, update_config
from instantly_cli.settings import GlobalOptions, resolve
from tests.conftest import TEST_KEY, envelope

GOOD = "good-key-AbCdEfGh1234"
BAD = "bad-key-ZZZZZZZZ9999"

# A workspace id (ids are UUIDs; a value of another shape is looked up as a name).
WS_9 = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"


def auth_handler(request: httpx.Request) -> httpx.Response:
    key = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if key in (GOOD, TEST_KEY):
        return httpx.Response(200, json={"items": []})
    return envelope(401, "Unauthorized", "Invalid API key")


def write_config(text: str) -> Path:
    path = config_file.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


def test_save_is_atomic_0600_in_0700_folder_even_with_open_umask() -> None:
    old = os.umask(0)
    try:
        update_config(lambda cfg: cfg.profiles.update(default=Profile("default", api_key=GOOD)))
    finally:
        os.umask(old)
    path = config_file.config_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert tomllib.loads(path.read_text())["profiles"]["default"]["api_key"] == GOOD
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temp file left


def test_precedence_env_over_profile_and_flags_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(
        'default_profile = "work"\n[profiles.work]\napi_key = "from-config-1234"\n'
        'base_url = "http://cfg.test"\nworkspace = "ws-cfg"\n'
        '[profiles.other]\napi_key = "other-key-5678"\n'
    )
    s = resolve(GlobalOptions())
    assert (s.profile, s.api_key, s.key_source, s.base_url, s.workspace) == (
        "work",
        "from-config-1234",
        "config",
        "http://cfg.test",
        "ws-cfg",
    )
    monkeypatch.setenv("INSTANTLY_API_KEY", "from-env-0000")
    monkeypatch.setenv("INSTANTLY_BASE_URL", "http://env.test")
    monkeypatch.setenv("INSTANTLY_WORKSPACE", "ws-env")
    s = resolve(GlobalOptions())
    assert (s.api_key, s.key_source, s.base_url, s.workspace) == (
        "from-env-0000",
        "env",
        "http://env.test",
        "ws-env",
    )
    s = resolve(GlobalOptions(base_url="http://flag.test", workspace="ws-flag"))
    assert (s.base_url, s.workspace) == ("http://flag.test", "ws-flag")
    monkeypatch.delenv("INSTANTLY_API_KEY")
    monkeypatch.setenv("INSTANTLY_PROFILE", "other")
    assert resolve(GlobalOptions()).api_key == "other-key-5678"
    assert resolve(GlobalOptions(profile="work")).api_key == "from-config-1234"


def test_broken_toml_exits_2_with_path_and_no_traceback(cli) -> None:
    path = write_config("default_profile = \n[profiles")
    result = cli(["accounts", "list"])
    assert result.exit_code == 2
    assert str(path) in result.stderr and "not valid TOML" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_wrongly_typed_config_exits_2(cli) -> None:
    write_config("[profiles.default]\napi_key = 12345\n")
    result = cli(["accounts", "list"])
    assert result.exit_code == 2
    assert "api_key must be a string" in result.stderr


def test_unknown_profile_exits_2(cli) -> None:
    write_config('[profiles.default]\napi_key = "k-123456789012"\n')
    result = cli(["--profile", "nope", "accounts", "list"])
    assert result.exit_code == 2
    assert "Unknown profile 'nope'" in result.stderr and "default" in result.stderr


def test_missing_key_exits_3_with_hint(cli) -> None:
    result = cli(["accounts", "list"])
    assert result.exit_code == 3
    assert "instantly auth login" in result.stderr and "INSTANTLY_API_KEY" in result.stderr


def test_missing_key_json_error_shape(cli) -> None:
    result = cli(["accounts", "list", "--json"])
    assert result.exit_code == 3
    err = json.loads(result.stderr)["error"]
    assert err["code"] == "missing_api_key" and err["hint"]
    assert result.stdout == ""


def test_login_with_token_verifies_and_saves(
    cli, mock_api, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = mock_api(auth_handler)
    monkeypatch.delenv("INSTANTLY_API_KEY")
    result = cli(
        ["auth", "login", "--with-token", "--workspace", WS_9],
        input=GOOD + "\n",
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    assert GOOD not in result.stdout + result.stderr
    assert seen[0].url.path == "/api/v2/accounts" and seen[0].url.params["limit"] == "1"
    data = tomllib.loads(config_file.config_path().read_text())
    assert data["profiles"]["default"] == {"api_key": GOOD, "workspace": WS_9}
    assert stat.S_IMODE(config_file.config_path().stat().st_mode) == 0o600


def test_login_rejected_key_is_not_saved(cli, mock_api, monkeypatch: pytest.MonkeyPatch) -> None:
    mock_api(auth_handler)
    monkeypatch.delenv("INSTANTLY_API_KEY")
    result = cli(["auth", "login", "--with-token"], input=BAD)
    assert result.exit_code == 3
    assert "rejected" in result.stderr and BAD not in result.stderr
    assert not config_file.config_path().exists()


def test_login_no_verify_and_profiles(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli(
        ["--profile", "client-a", "auth", "login", "--with-token", "--no-verify"], input=BAD
    )
    assert result.exit_code == 0, result.stderr
    cfg = load_config()
    assert cfg.profiles["client-a"].api_key == BAD
    assert cfg.default_profile == "client-a"


def test_login_without_tty_or_token_is_usage_error(cli) -> None:
    result = cli(["auth", "login"], input="")
    assert result.exit_code == 2 and "--with-token" in result.stderr


def test_auth_status_masks_and_checks(cli, mock_api, monkeypatch: pytest.MonkeyPatch) -> None:
    mock_api(auth_handler)
    monkeypatch.delenv("INSTANTLY_API_KEY")
    write_config(f'[profiles.default]\napi_key = "{GOOD}"\n[profiles.old]\napi_key = "{BAD}"\n')
    result = cli(["auth", "status", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    rows = {r["profile"]: r for r in json.loads(result.stdout)}
    assert rows["default"]["key"] == "****" + GOOD[-4:] and rows["default"]["check"] == "ok"
    assert rows["default"]["active"] and rows["default"]["key_source"] == "config"
    assert rows["old"]["check"].startswith("failed")
    assert GOOD not in result.stdout and BAD not in result.stdout


def test_auth_status_exits_3_when_active_key_fails(
    cli, mock_api, monkeypatch: pytest.MonkeyPatch
) -> None:
    mock_api(auth_handler)
    monkeypatch.setenv("INSTANTLY_API_KEY", BAD)
    result = cli(["auth", "status", "-o", "tsv"])
    assert result.exit_code == 3
    assert "env" in result.stdout and BAD not in result.stdout + result.stderr


def test_auth_status_without_key_exits_3(cli) -> None:
    result = cli(["auth", "status"])
    assert result.exit_code == 3


def test_logout_removes_key(cli) -> None:
    write_config(f'[profiles.default]\napi_key = "{GOOD}"\nworkspace = "w"\n')
    result = cli(["auth", "logout"])
    assert result.exit_code == 0
    assert load_config().profiles["default"].api_key is None
    assert load_config().profiles["default"].workspace == "w"


def test_config_path_and_show_masked(cli) -> None:
    write_config(f'[profiles.default]\napi_key = "{GOOD}"\n')
    assert cli(["config", "path"]).stdout.strip() == str(config_file.config_path())
    shown = cli(["config", "show"])
    assert shown.exit_code == 0 and GOOD not in shown.stdout and GOOD[-4:] in shown.stdout
    doc = json.loads(cli(["config", "show", "--json"]).stdout)
    assert doc["profiles"]["default"]["api_key"] == "****" + GOOD[-4:]


def test_world_readable_config_warns(cli) -> None:
    path = write_config(f'[profiles.default]\napi_key = "{GOOD}"\n')
    os.chmod(path, 0o644)
    result = cli(["config", "show"])
    assert "readable by other users" in result.stderr
