"""Config writes (issue 12, items 10-12): concurrent logins, symlinked files, odd paths.

Two processes saving at once both keep their change (re-read and merge under a lock); a
symlinked config.toml stays a link and its target gets the content; a FIFO, a folder or a device
in place of the file, and a folder that cannot be written, are clear errors (exit 2), never a
hang or an internal error.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest
from typer.testing import Result

from instantly_cli import config_file
from instantly_cli.config_file import Config, Profile, load_config, update_config
from instantly_cli.errors import ConfigError
from tests.children import user_env
from tests.conftest import invoke

KEY = "key-AbCdEfGh{:04d}"


def run(args: list[str], input: str | None = None) -> Result:
    return invoke(args, input=input)


def login(profile: str, key: str, *extra: str) -> Result:
    return run(["--profile", profile, "auth", "login", "--with-token", "--no-verify", *extra], key)


def saved(path: Path | None = None) -> dict:
    return tomllib.loads((path or config_file.config_path()).read_text())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def cli_command() -> list[str]:
    exe = shutil.which("instantly", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "instantly_cli"]


# -- item 10: concurrent writers ------------------------------------------------------------


def test_a_change_applies_to_the_file_as_it_is_when_written() -> None:
    # A process that read the file before another wrote keeps nothing stale: its change is
    # applied, under the lock, to what the file holds by then.
    assert login("base", KEY.format(0)).exit_code == 0
    stale = load_config()
    assert login("p1", KEY.format(1)).exit_code == 0

    def add_p2(cfg: Config) -> None:
        cfg.profiles["p2"] = Profile("p2", api_key=KEY.format(2), workspace="ws-2")

    result = update_config(add_p2)
    doc = saved()
    assert doc["profiles"] == {
        "base": {"api_key": KEY.format(0)},
        "p1": {"api_key": KEY.format(1)},
        "p2": {"api_key": KEY.format(2), "workspace": "ws-2"},
    }
    assert doc["default_profile"] == "base"
    # The caller sees the result; what it read before is not written back.
    assert set(result.profiles) == {"base", "p1", "p2"} and set(stale.profiles) == {"base"}


def test_first_logins_one_after_the_other_keep_the_first_default() -> None:
    assert login("p1", KEY.format(1)).exit_code == 0
    assert login("p2", KEY.format(2)).exit_code == 0
    doc = saved()
    assert sorted(doc["profiles"]) == ["p1", "p2"]
    assert doc["default_profile"] == "p1"


def test_removals_and_cleared_keys_apply_to_a_fresh_read() -> None:
    for name in ("a", "b", "c"):
        assert login(name, KEY.format(ord(name))).exit_code == 0

    def remove_a(cfg: Config) -> None:  # e.g. logout of a profile with nothing else in it
        del cfg.profiles["a"]
        cfg.default_profile = "c"

    def clear_b(cfg: Config) -> None:
        cfg.profiles["b"].api_key = None
        cfg.profiles["b"].base_url = "http://b.test"

    update_config(remove_a)
    update_config(clear_b)
    doc = saved()
    assert doc["profiles"] == {"b": {"base_url": "http://b.test"}, "c": {"api_key": KEY.format(99)}}
    assert doc["default_profile"] == "c"


def test_a_stale_read_does_not_resurrect_a_removed_profile() -> None:
    assert login("a", KEY.format(1)).exit_code == 0
    assert login("b", KEY.format(2)).exit_code == 0
    stale = load_config()
    assert run(["--profile", "a", "auth", "logout"]).exit_code == 0
    assert "a" in stale.profiles
    update_config(lambda cfg: cfg.profiles.update(c=Profile("c", api_key=KEY.format(3))))
    assert sorted(saved()["profiles"]) == ["b", "c"]


def test_a_failing_change_writes_nothing() -> None:
    assert login("a", KEY.format(1)).exit_code == 0
    before = config_file.config_path().read_bytes()

    def refuse(cfg: Config) -> None:
        cfg.profiles.clear()
        raise ConfigError("no")

    with pytest.raises(ConfigError):
        update_config(refuse)
    assert config_file.config_path().read_bytes() == before
    assert not config_file.config_path().with_name("config.toml.lock").exists()


def test_update_config_applies_the_change_to_a_fresh_read() -> None:
    assert login("a", KEY.format(1)).exit_code == 0
    stale = load_config()
    assert login("b", KEY.format(2)).exit_code == 0

    def add_c(cfg: Config) -> None:
        assert "b" in cfg.profiles  # the file as it is now, not as `stale` saw it
        cfg.profiles["c"] = Profile("c", api_key=KEY.format(3))

    result = update_config(add_c)
    assert sorted(result.profiles) == sorted(saved()["profiles"]) == ["a", "b", "c"]
    assert "b" not in stale.profiles


def test_a_held_lock_makes_the_writer_wait_then_give_up(monkeypatch) -> None:
    import fcntl

    assert login("a", KEY.format(1)).exit_code == 0
    monkeypatch.setattr(config_file, "LOCK_TIMEOUT", 0.05)
    lock = config_file.config_path().with_name("config.toml.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result = login("b", KEY.format(2))
        assert result.exit_code == 2, result.stderr
        assert "Another instantly process" in result.stderr and str(lock) in result.stderr
    finally:
        os.close(fd)
    assert sorted(saved()["profiles"]) == ["a"]
    assert login("b", KEY.format(2)).exit_code == 0
    assert sorted(saved()["profiles"]) == ["a", "b"]
    assert not lock.exists()  # its holder removes it


@pytest.mark.slow
def test_concurrent_logins_in_separate_processes_keep_every_profile(tmp_path: Path) -> None:
    env = user_env()
    env["INSTANTLY_CONFIG_DIR"] = str(tmp_path / "shared-config")
    names = [f"p{n}" for n in range(8)]
    procs = [
        subprocess.Popen(
            [*cli_command(), "--profile", name, "auth", "login", "--with-token", "--no-verify"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for name in names
    ]
    for n, proc in enumerate(procs):
        _, err = proc.communicate(KEY.format(n), timeout=120)
        assert proc.returncode == 0, err
    path = tmp_path / "shared-config" / "config.toml"
    doc = saved(path)
    assert doc["profiles"] == {name: {"api_key": KEY.format(n)} for n, name in enumerate(names)}
    assert doc["default_profile"] in names
    assert mode(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]


# -- item 11: symlinks --------------------------------------------------------------------------


def link_config(target: Path) -> Path:
    path = config_file.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


def test_symlinked_config_is_written_through_to_its_target(tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "instantly.toml"
    target.write_text('[profiles.old]\napi_key = "old-key-12345678"\n')
    os.chmod(target, 0o600)
    path = link_config(Path("..") / "dotfiles" / "instantly.toml")
    assert login("new", KEY.format(1)).exit_code == 0
    assert path.is_symlink()
    assert os.readlink(path) == os.path.join("..", "dotfiles", "instantly.toml")
    assert sorted(saved(target)["profiles"]) == ["new", "old"]
    assert mode(target) == 0o600
    # No temp file left behind next to the target, and the link's folder holds only the link.
    assert sorted(p.name for p in dotfiles.iterdir()) == ["instantly.toml"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]


def test_chained_and_dangling_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "real.toml"
    middle = tmp_path / "middle.toml"
    middle.symlink_to(real)  # dangling until the first save
    path = link_config(middle)
    assert login("a", KEY.format(1)).exit_code == 0
    assert path.is_symlink() and middle.is_symlink()
    assert saved(real)["profiles"] == {"a": {"api_key": KEY.format(1)}}
    assert mode(real) == 0o600


def test_a_symlink_loop_is_a_clear_error(tmp_path: Path) -> None:
    loop = tmp_path / "loop.toml"
    loop.symlink_to(loop)
    link_config(loop)
    result = login("a", KEY.format(1))
    assert result.exit_code == 2, result.stderr
    assert "Error: Cannot" in result.stderr and "Traceback" not in result.stderr


# -- item 12: odd files and unwritable folders --------------------------------------------------


def test_fifo_as_config_is_an_error_not_a_hang(tmp_path: Path) -> None:
    folder = tmp_path / "fifo-config"
    folder.mkdir()
    os.mkfifo(folder / "config.toml")
    env = user_env()
    env["INSTANTLY_CONFIG_DIR"] = str(folder)
    for args, stdin in ((["config", "show"], ""), (["auth", "login", "--with-token"], "k" * 20)):
        # The timeout only turns a regression (a hang) into a failure; it is not a wait.
        proc = subprocess.run(
            [*cli_command(), *args], input=stdin, capture_output=True, text=True, env=env,
            timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        assert str(folder / "config.toml") in proc.stderr and "FIFO" in proc.stderr
        assert "Hint:" in proc.stderr
    assert stat.S_ISFIFO(os.stat(folder / "config.toml").st_mode)  # left alone


def test_fifo_and_device_in_process_both_forms() -> None:
    path = config_file.config_path()
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    result = run(["config", "show", "--json"])
    assert result.exit_code == 2
    err = json.loads(result.stderr)["error"]
    assert err["code"] == "config_error" and str(path) in err["message"]
    # update_config on its own refuses to replace it, too.
    with pytest.raises(ConfigError, match="FIFO"):
        update_config(lambda cfg: cfg.profiles.update(a=Profile("a", api_key=KEY.format(1))), path)
    path.unlink()
    path.symlink_to("/dev/zero")  # a device that would never stop giving bytes
    result = run(["config", "show"])
    assert result.exit_code == 2 and "character device" in result.stderr, result.stderr


def test_unwritable_folder_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    result = login("a", KEY.format(1))
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"Error: Cannot write {config_file.config_path()}: Permission denied."
    assert lines[1].startswith("Hint: ") and "INSTANTLY_CONFIG_DIR" in lines[1]
    assert not config_file.config_path().exists()


def test_config_folder_under_a_file_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    path = blocker / "instantly" / "config.toml"
    with pytest.raises(ConfigError) as info:
        update_config(lambda cfg: cfg.profiles.update(a=Profile("a", api_key=KEY.format(1))), path)
    assert str(blocker / "instantly") in info.value.message
    assert info.value.hint and "INSTANTLY_CONFIG_DIR" in info.value.hint


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_config_folder_stays_read_only_and_is_reported() -> None:
    folder = config_file.config_path().parent
    folder.mkdir(parents=True)
    os.chmod(folder, 0o500)
    try:
        result = login("a", KEY.format(1))
        assert result.exit_code == 2, result.stderr
        assert "Cannot write" in result.stderr and str(folder) in result.stderr
        assert mode(folder) == 0o500
    finally:
        os.chmod(folder, 0o700)


def test_open_folder_is_tightened_to_owner_only() -> None:
    folder = config_file.config_path().parent
    folder.mkdir(parents=True)
    os.chmod(folder, 0o755)
    assert login("a", KEY.format(1)).exit_code == 0
    assert mode(folder) == 0o700
    assert mode(config_file.config_path()) == 0o600
