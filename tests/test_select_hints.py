"""Every hint that names an `instantly …` command names one that parses: each ``hint=`` written
in the source is read (f-string parts as a placeholder word), its commands are parsed by the CLI
with --help (which stops before running anything) and no "No such option/command" is allowed.
Plus the small hints of the operator's loop: bare domains for vitals, unscored last, unknown
tags, --domain typos and --status error."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import instantly_cli
from instantly_cli.cli import app
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import AccountQuery, Store

Cli = Callable[..., Result]
PACKAGE = Path(instantly_cli.__file__).parent
PLACEHOLDER = "X"


def _nouns() -> frozenset[str]:
    import typer.main

    return frozenset(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


# "instantly" in prose ("… instantly creates it") is not a command.
NOUNS = _nouns()


def _render(node: ast.AST) -> list[str]:
    """The texts a hint expression can produce (expressions as a placeholder word)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        parts = [v.value if isinstance(v, ast.Constant) else PLACEHOLDER for v in node.values]
        return ["".join(str(p) for p in parts)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [a + b for a in _render(node.left) for b in _render(node.right)][:16]
    if isinstance(node, ast.IfExp):
        return _render(node.body) + _render(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [t for v in node.values for t in _render(v)]
    return [PLACEHOLDER]


def hints() -> Iterator[tuple[str, str]]:
    """(where, text) of every ``hint=`` argument in the package (the sandbox aside)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if "sandbox" in path.relative_to(PACKAGE).parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "hint":
                        where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
                        for text in _render(keyword.value):
                            yield where, text


# A command ends at a backtick, a closing parenthesis, a pipe, "; ", " or ", or the end.
_COMMAND = re.compile(r"instantly((?: [^`|;()\n]*?)?)(?=`|\)|\||; | or |\.?\s*$|, then )")


def commands_in(text: str) -> list[str]:
    found = []
    for match in _COMMAND.finditer(text):
        words = match.group(1).replace("…", PLACEHOLDER).split()
        words = [w.strip("'\"") for w in words if w not in ("<", ">")]
        if words and words[0] in NOUNS:
            found.append(" ".join(words))
    return found


def every_hint_command() -> list[tuple[str, str]]:
    return sorted({(where, c) for where, text in hints() for c in commands_in(text)})


def parses(command: str) -> Result:
    return CliRunner().invoke(app, [*command.split(), "--help"])


def test_the_collector_finds_hint_commands() -> None:
    found = {c.split()[0] for _, c in every_hint_command()}
    assert {"auth", "runs", "tags", "accounts"} <= found


def test_the_check_catches_an_option_that_does_not_exist() -> None:
    assert commands_in("Run it on a terminal, or preview: `instantly tags delete X --dry-run`.") \
        == ["tags delete X --dry-run"]
    result = parses("tags delete X --dry-run")
    assert result.exit_code != 0 and "No such option" in result.output


@pytest.mark.parametrize(("where", "command"), every_hint_command())
def test_every_hint_command_parses(where: str, command: str) -> None:
    result = parses(command)
    assert result.exit_code == 0, (where, command, result.output[-400:])


# -- the small ones ---------------------------------------------------------------------------


def test_vitals_takes_a_bare_domain(cli: Cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "vitals", "ses.tailspin.dev", "GetAcme.io", "--json"])
    assert result.exit_code in (0, 1), result.stderr
    assert {r["domain"] for r in json.loads(result.stdout)} == {"ses.tailspin.dev", "getacme.io"}
    sent = [json.loads(r.body) for r in sandbox.requests if r.path.endswith("/test/vitals")]
    assert sent == [{"accounts": ["ses.tailspin.dev", "getacme.io"]}]
    bad = cli(["accounts", "vitals", "ses"])
    assert bad.exit_code == 2 and "Not an email address or a domain" in bad.stderr


@pytest.mark.parametrize("direction", ["--asc", "--desc"])
def test_unscored_accounts_come_last_when_sorted_by_score(
    cli: Cli, sandbox: SandboxApp, store: Store, direction: str
) -> None:
    every, _ = store.list_accounts(AccountQuery(limit=1_000_000))
    unscored = {a["email"] for a in every if a.get("stat_warmup_score") is None}
    assert unscored
    result = cli(["accounts", "list", "--sort", "warmup-score", direction, "-o", "jsonl"])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len(every)
    tail = rows[len(rows) - len(unscored):]
    assert {r["email"] for r in tail} == unscored
    scores = [r["stat_warmup_score"] for r in rows[: len(rows) - len(unscored)]]
    assert scores == sorted(scores, reverse=direction == "--desc")
    first = cli(["accounts", "list", "--sort", "warmup-score", direction, "--limit", "5",
                 "-o", "jsonl"])
    assert all(json.loads(line).get("stat_warmup_score") is not None
               for line in first.stdout.splitlines())


def test_an_unknown_tag_suggests_creating_it(cli: Cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "list", "--tag", "Client Q"])
    assert result.exit_code == 2
    assert "instantly tags create 'Client Q'" in result.stderr
    assert "Client B" not in result.stderr and "Client A" not in result.stderr
    typo = cli(["accounts", "list", "--tag", "Clent A"])
    assert "did you mean 'Client A'" in typo.stderr


def test_a_mistyped_domain_gets_the_closest_domains(cli: Cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "list", "--domain", "getacme.iio", "-o", "jsonl"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "Did you mean: --domain getacme.io?" in result.stderr
    found = cli(["accounts", "list", "--domain", "getacme.io", "--limit", "1", "-o", "jsonl"])
    assert "Did you mean" not in found.stderr


def test_status_error_points_at_filter_error(cli: Cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "list", "--status", "active,error"])
    assert result.exit_code == 2
    assert "--filter error" in result.stderr
    assert not sandbox.requests
    assert parses("accounts list --filter error").exit_code == 0


# -- hints of errors raised at run time: every option they name exists where they are said ----

# Failing invocations (no terminal: the confirmations refuse) and the command each runs.
FAILING = [
    ["tags", "delete", "Client A"],
    ["accounts", "delete", "X"],
    ["accounts", "list", "--status", "error"],
    ["accounts", "list", "--tag", "Nope at all"],
    ["accounts", "list", "--limit", "0"],
    ["accounts", "list", "--all", "--limit", "5"],
    ["accounts", "list", "--asc"],
    ["accounts", "list", "--fields", "emial"],
    ["accounts", "list", "--error", " "],
    ["accounts", "summary", "--fail-if", "nonsense"],
    ["accounts", "vitals", "ses"],
    ["jobs", "list", "--limit", "0"],
]


def _options_of(path: list[str]) -> set[str]:
    import typer.main

    command = typer.main.get_command(app)
    for word in path:
        command = command.commands[word]  # type: ignore[attr-defined]
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("args", FAILING, ids=" ".join)
def test_runtime_hints_name_options_that_exist(
    cli: Cli, sandbox: SandboxApp, store: Store, args: list[str]
) -> None:
    email = str(store.list_accounts(AccountQuery(limit=1))[0][0]["email"])
    args = [email if a == "X" else a for a in args]
    result = cli(args)
    assert result.exit_code != 0
    hint_lines = [line for line in result.stderr.splitlines() if line.startswith("Hint:")]
    assert hint_lines, result.stderr
    known = _options_of(args[:2])
    for line in hint_lines:
        for command in commands_in(line):
            assert parses(command).exit_code == 0, (args, command)
        rest = _COMMAND.sub("", line)
        for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest):
            assert option in known, (args, line, option)
