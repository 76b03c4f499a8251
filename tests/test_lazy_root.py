"""The root builds only the noun it runs; stand-ins must look exactly like the real nouns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from instantly_cli import cli

ROOT = Path(__file__).resolve().parent.parent


def help_text(app: typer.Typer, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], prog_name="instantly")
    assert result.exit_code == 0, result.output
    return result.output


def test_root_help_with_stand_ins_is_the_full_root_help() -> None:
    assert help_text(cli.build("")) == help_text(cli.build())


@pytest.mark.parametrize("noun", list(cli.NOUNS))
def test_a_noun_built_alone_shows_the_same_root_and_own_help(noun: str) -> None:
    alone = cli.build(noun)
    assert help_text(alone) == help_text(cli.build())
    if cli.NOUNS[noun].group:
        assert help_text(alone, noun) == help_text(cli.build(), noun)


@pytest.mark.parametrize(
    ("argv", "word"),
    [
        (["accounts", "list"], "accounts"),
        (["--profile", "work", "--sandbox", "tags", "list"], "tags"),
        (["--base-url=http://x", "-v", "api", "GET", "accounts"], "api"),
        (["--workspace", "accounts", "config"], "config"),  # the option's value is not the noun
        (["--help"], None),
        (["acounts"], None),
        ([], None),
        (["--", "accounts"], None),
    ],
)
def test_command_word(argv: list[str], word: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("_INSTANTLY_COMPLETE", raising=False)
    assert cli.command_word(argv) == word


def test_command_word_during_completion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_INSTANTLY_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "instantly --profile x accounts list --status ")
    assert cli.command_word([]) == "accounts"
    monkeypatch.setenv("COMP_WORDS", "instantly ")
    assert cli.command_word([]) is None


@pytest.mark.slow
def test_main_runs_the_noun_after_root_options_and_suggests_on_a_typo(tmp_path: Path) -> None:
    env = {**os.environ, "INSTANTLY_CONFIG_DIR": str(tmp_path)}
    ok = subprocess.run(
        [sys.executable, "-m", "instantly_cli", "--profile", "x", "accounts", "list", "--help"],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT,
    )
    assert ok.returncode == 0
    assert ok.stdout.startswith("Usage: instantly accounts list")
    typo = subprocess.run(
        [sys.executable, "-m", "instantly_cli", "acounts"],
        capture_output=True, text=True, timeout=60, env=env, cwd=ROOT,
    )
    assert typo.returncode == 2
    assert "Did you mean 'accounts'?" in typo.stderr
