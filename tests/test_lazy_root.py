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


def test_accounts_verbs_built_alone_look_like_the_real_ones() -> None:
    """The stand-in verbs of `accounts` carry the real commands' names, order and help lines."""
    full = help_text(cli.build(), "accounts")
    assert help_text(cli.build("accounts"), "accounts") == full
    for verb in ["list", "get", "warmup"]:
        alone = cli.build("accounts", verb)
        assert help_text(alone, "accounts") == full
        assert help_text(alone, "accounts", verb) == help_text(cli.build(), "accounts", verb)
    assert help_text(cli.build("accounts", "warmup"), "accounts", "warmup", "stats") == help_text(
        cli.build(), "accounts", "warmup", "stats"
    )


def test_an_invocation_imports_only_the_module_of_its_verb() -> None:
    code = (
        "import sys; sys.argv = ['instantly', 'accounts', 'get', '--help']\n"
        "from instantly_cli import cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "pkg = 'instantly_cli.commands.accounts.'\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(pkg))\n"
        "print(','.join(loaded), file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.stderr.strip().splitlines()[-1] == "instantly_cli.commands.accounts.get"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["accounts", "list", "--all"], ["accounts", "list"]),
        (["accounts", "--profile", "b", "warmup", "enable"], ["accounts", "warmup"]),
        (["-v", "accounts"], ["accounts"]),
        (["acounts", "list"], []),
    ],
)
def test_command_words(argv: list[str], words: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("_INSTANTLY_COMPLETE", raising=False)
    assert cli.command_words(argv) == words
