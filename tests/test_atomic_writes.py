"""Files written whole or not at all (the failure file, the workspace name cache, the config):
a write that fails leaves the old file as it was and no temp file beside it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from instantly_cli.config_file import atomic_write
from instantly_cli.enums import FAILED
from instantly_cli.errors import CliError
from instantly_cli.services import bulk
from instantly_cli.services.workspaces import NameCache, Workspace

WS = Workspace("0b6b2c1e-5f0a-4d2e-9c3b-7a1d2e3f4a5b", "Acme Agency", "current")


def test_atomic_write_replaces_the_file_whole_and_0600(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")
    atomic_write(path, "naïve\n")
    assert path.read_text(encoding="utf-8") == "naïve\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_a_failure_file_that_cannot_be_replaced_leaves_no_temp_file(tmp_path: Path) -> None:
    # A folder where the file should go: os.replace fails (as root too) after the temp is written.
    target = tmp_path / "failures.jsonl"
    target.mkdir()
    with pytest.raises(CliError, match="Cannot write the failure file"):
        bulk.write_failures([bulk.Outcome("a@x.io", FAILED, error="nope")], target)
    assert [p.name for p in tmp_path.iterdir()] == ["failures.jsonl"]
    assert target.is_dir() and not any(target.iterdir())


def test_a_name_cache_that_cannot_be_replaced_leaves_no_temp_file(tmp_path: Path) -> None:
    cache = NameCache.of(tmp_path, "default", "https://api.instantly.ai", "key")
    cache.path.mkdir(parents=True)
    cache.save([WS])  # a cache that cannot be written costs a request next time, nothing else
    assert [p.name for p in cache.path.parent.iterdir()] == [cache.path.name]
    assert cache.load() is None
    cache.path.rmdir()
    cache.save([WS])
    assert cache.load() == [WS]
    assert json.loads(cache.path.read_text())["workspaces"][0]["name"] == "Acme Agency"
    assert [p.name for p in cache.path.parent.iterdir()] == [cache.path.name]
