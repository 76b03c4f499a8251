"""Fits the shell: completion scripts and values, light start-up, gh's output rules, --verbose,
and help for every command (with an example; docs/reference.md is checked by test_docs)."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer

from instantly_cli import columns, output
from instantly_cli.cli import app
from instantly_cli.config_file import Profile, update_config
from instantly_cli.enums import ACCOUNT_STATUS, LIST_FILTER, OUTPUT_FORMAT, PROVIDER, SORT_FIELD
from instantly_cli.terminal import Terminal
from tests.conftest import TEST_KEY, envelope

ROOT = Path(__file__).resolve().parent.parent
COMPLETIONS = ROOT / "completions"
SHELLS = ("bash", "zsh", "fish")
ESC = "\x1b["

# -- completion scripts --------------------------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_committed_script_matches_the_command(cli, shell: str) -> None:
    result = cli(["completion", shell], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    committed = (COMPLETIONS / f"instantly.{shell}").read_text()
    assert result.stdout == committed, (
        f"completions/instantly.{shell} is stale; regenerate it with: "
        f"python -m instantly_cli completion {shell} > completions/instantly.{shell}"
    )


@pytest.mark.parametrize("shell", SHELLS)
def test_command_prints_what_the_environment_protocol_prints(cli, shell: str) -> None:
    result = cli([], env={"_INSTANTLY_COMPLETE": f"source_{shell}"})
    assert result.exit_code == 0, result.stderr
    assert "_INSTANTLY_COMPLETE=complete_" + shell in result.stdout
    assert result.stdout.strip() == (COMPLETIONS / f"instantly.{shell}").read_text().strip()


def test_zsh_script_starts_with_compdef() -> None:
    # compinit only picks up files from $fpath whose *first* line is #compdef.
    assert (COMPLETIONS / "instantly.zsh").read_text().startswith("#compdef instantly\n")


def test_unknown_shell_is_a_usage_error(cli) -> None:
    result = cli(["completion", "tcsh"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "bash, zsh, fish" in result.stderr


def test_shell_argument_is_required_never_guessed(cli) -> None:
    result = cli(["completion"], env={"SHELL": "/bin/zsh"})
    assert result.exit_code == 2
    assert result.stdout == ""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_committed_bash_script_completes_in_a_real_bash(tmp_path: Path) -> None:
    # The program the script calls back is this checkout's CLI, whatever is installed.
    shim = tmp_path / "bin" / "instantly"
    shim.parent.mkdir()
    shim.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m instantly_cli \"$@\"\n")
    shim.chmod(0o755)
    script = (
        f"source {shlex.quote(str(COMPLETIONS / 'instantly.bash'))}\n"
        "COMP_WORDS=(instantly accounts list --status con); COMP_CWORD=4\n"
        "_instantly_completion instantly\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                          text=True, timeout=60, env=env, cwd=ROOT)
    assert proc.stdout.split() == ["connection-error"], proc.stderr


# -- completion values, through the protocol the scripts use ------------------------------------


def complete_bash(cli, line: str) -> list[str]:
    words = line.split(" ")
    result = cli([], env={"_INSTANTLY_COMPLETE": "complete_bash", "COMP_WORDS": line,
                          "COMP_CWORD": str(len(words) - 1)})
    assert result.exit_code == 0, result.stderr
    return result.stdout.split()


def complete_zsh(cli, line: str) -> str:
    result = cli([], env={"_INSTANTLY_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": line})
    assert result.exit_code == 0, result.stderr
    return result.stdout


def complete_fish(cli, line: str) -> list[str]:
    result = cli([], env={"_INSTANTLY_COMPLETE": "complete_fish",
                          "_TYPER_COMPLETE_FISH_ACTION": "get-args", "_TYPER_COMPLETE_ARGS": line})
    assert result.exit_code == 0, result.stderr
    return [entry.split("\t")[0] for entry in result.stdout.splitlines() if entry]


@pytest.mark.parametrize(
    ("option", "names"),
    [
        ("--status", ACCOUNT_STATUS.names),
        ("--provider", PROVIDER.names),
        ("--filter", LIST_FILTER.names),
        ("--sort", SORT_FIELD.names),
        ("-o", OUTPUT_FORMAT.names),
        ("--output", OUTPUT_FORMAT.names),
    ],
)
def test_bash_offers_enum_names(cli, option: str, names: list[str]) -> None:
    assert complete_bash(cli, f"instantly accounts list {option} ") == list(names)


def test_completion_filters_by_prefix(cli) -> None:
    assert complete_bash(cli, "instantly accounts list --status con") == ["connection-error"]
    assert complete_bash(cli, "instantly accounts list --provider air") == [
        n for n in PROVIDER.names if n.startswith("air")
    ]


def test_zsh_and_fish_offer_enum_names(cli) -> None:
    zsh = complete_zsh(cli, "instantly accounts list --status ")
    assert all(f'"{name}"' in zsh for name in ACCOUNT_STATUS.names)
    assert complete_fish(cli, "instantly accounts list --provider ") == list(PROVIDER.names)


def test_profiles_are_offered_for_profile(cli) -> None:
    assert complete_bash(cli, "instantly --profile ") == []  # no config file: nothing, no error
    update_config(lambda cfg: cfg.profiles.update({
        "default": Profile("default", api_key="k1"),
        "client-a": Profile("client-a", api_key="k2"),
        "client-b": Profile("client-b", api_key="k3"),
    }))
    assert complete_bash(cli, "instantly --profile ") == ["client-a", "client-b", "default"]
    assert complete_bash(cli, "instantly --profile client") == ["client-a", "client-b"]
    assert complete_fish(cli, "instantly --profile d") == ["default"]


def test_commands_and_shells_are_offered(cli) -> None:
    top = complete_bash(cli, "instantly ")
    assert {"accounts", "api", "completion", "auth", "config"} <= set(top)
    assert complete_bash(cli, "instantly completion ") == list(SHELLS)


def test_completion_never_calls_the_api(cli, mock_api) -> None:
    seen = mock_api(lambda r: httpx.Response(200, json={"items": []}))
    complete_bash(cli, "instantly accounts list --status ")
    assert seen == []


# -- start-up: help and completion never load HTTP, the client or the sandbox -------------------

PROBE = textwrap.dedent(
    """
    import sys
    sys.argv = ["instantly", *sys.argv[1:]]
    from instantly_cli.cli import main
    try:
        main()
    except SystemExit:
        pass
    heavy = ("httpx", "httpcore", "instantly_cli.client", "instantly_cli.sandbox", "pydantic",
             "rich")
    prefixes = tuple(h + "." for h in heavy)
    loaded = sorted(m for m in sys.modules if m in heavy or m.startswith(prefixes))
    sys.stderr.write("LOADED=" + ",".join(loaded) + "\\n")
    """
)


def loaded_modules(args: list[str], env: dict[str, str] | None = None) -> tuple[list[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})}, cwd=ROOT,
    )
    line = [x for x in proc.stderr.splitlines() if x.startswith("LOADED=")]
    assert line, proc.stderr
    found = line[-1].removeprefix("LOADED=")
    return (found.split(",") if found else []), proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["accounts", "--help"], ["accounts", "list", "--help"],
     ["api", "--help"], ["completion", "zsh"]],
)
def test_help_never_imports_httpx_client_or_sandbox(args: list[str]) -> None:
    loaded, stdout = loaded_modules(args)
    assert loaded == []
    assert stdout  # the probe really ran the command


@pytest.mark.slow
def test_completion_request_never_imports_httpx_client_or_sandbox() -> None:
    loaded, stdout = loaded_modules([], {
        "_INSTANTLY_COMPLETE": "complete_bash",
        "COMP_WORDS": "instantly accounts list --status ", "COMP_CWORD": "4",
    })
    assert loaded == []
    assert stdout.split() == list(ACCOUNT_STATUS.names)


@pytest.mark.slow
def test_probe_detects_a_heavy_import() -> None:
    # Guard against a probe that can never fail: a real command does load the client.
    loaded, _ = loaded_modules(["config", "show"])
    assert loaded == []
    loaded, _ = loaded_modules(["--sandbox", "api", "GET", "accounts", "-F", "limit=1"],
                               {"INSTANTLY_DATA_DIR": os.environ["INSTANTLY_DATA_DIR"]})
    assert "httpx" in loaded and "instantly_cli.client" in loaded


@pytest.mark.slow
def test_get_as_json_loads_neither_tables_nor_bulk_work(store) -> None:
    """`accounts get EMAIL -o json` is a one-shot call: no rich, views, tags or bulk runner."""
    from instantly_cli.sandbox.app import SandboxApp
    from instantly_cli.sandbox.server import SandboxServer

    email = store.select_emails()[0]
    server = SandboxServer(SandboxApp(store, api_key=TEST_KEY), "127.0.0.1", 0).start()
    try:
        probe = PROBE.replace(
            'heavy = ("httpx",',
            'import gc; sys.stderr.write(f"FROZEN={gc.get_freeze_count()}\\n")\n'
            'heavy = ("instantly_cli.views", "instantly_cli.services.bulk", '
            '"instantly_cli.services.tags", "instantly_cli.services.accounts.update", "httpx",',
        )
        proc = subprocess.run(
            [sys.executable, "-c", probe, "accounts", "get", email, "-o", "json"],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
            env={**os.environ, "INSTANTLY_BASE_URL": server.url, "INSTANTLY_API_KEY": TEST_KEY},
        )
    finally:
        server.stop()
    assert json.loads(proc.stdout)["email"] == email
    loaded = proc.stderr.split("LOADED=")[-1].split()[0].split(",")
    assert "instantly_cli.client" in loaded  # the probe sees a real import
    assert not {"rich", "instantly_cli.views", "instantly_cli.services.bulk",
                "instantly_cli.services.tags",
                "instantly_cli.services.accounts.update"} & set(loaded)
    # Start-up's objects are frozen: no collection walks them again.
    assert int(proc.stderr.split("FROZEN=")[1].split()[0]) > 10_000


# -- output rules (gh's) -------------------------------------------------------------------------

LONG = "L" * 300
ACCOUNT: dict[str, Any] = {
    "email": "long.value@acme.io",
    "first_name": LONG,
    "last_name": "O'Brien",
    "status": -1,
    "warmup_status": 1,
    "provider_code": 2,
    "daily_limit": 30,
    "stat_warmup_score": 97,
    "timestamp_created": "2026-01-05T10:00:00.123Z",
    "unknown_field": {"kept": True},
}


@pytest.fixture
def one_account(mock_api) -> list[httpx.Request]:
    return mock_api(lambda r: httpx.Response(200, json={"items": [ACCOUNT]}))


@pytest.fixture
def tty(runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime.terminal = runtime.terminal._replace(stdout_isatty=True)


def test_piped_is_tsv_without_header_colour_or_truncation(cli, one_account) -> None:
    result = cli(["accounts", "list"], env={"COLUMNS": "20"}, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert ESC not in result.stdout
    lines = result.stdout.splitlines()
    assert len(lines) == 1  # no header, no reflow at 20 columns
    cells = lines[0].split("\t")
    assert cells[0] == "long.value@acme.io"
    assert LONG in cells  # 300 characters, intact
    assert "2026-01-05T10:00:00.123Z" in cells  # exact timestamp
    assert ACCOUNT_STATUS.label(-1) in cells  # labels, not codes


def test_clicolor_force_never_colours_tsv(cli, one_account) -> None:
    result = cli(["accounts", "list"], env={"CLICOLOR_FORCE": "1"})
    assert ESC not in result.stdout
    assert LONG in result.stdout


def test_tty_is_a_coloured_table(cli, one_account, tty) -> None:
    result = cli(["accounts", "list"], env={"COLUMNS": "1000"}, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert ESC in result.stdout
    assert "Email" in result.stdout  # a header row
    assert "\t" not in result.stdout
    assert "2026-01-05 10:00" in result.stdout  # short timestamps are for humans


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"NO_COLOR": ""}, {"CLICOLOR": "0"}])
def test_no_color_and_clicolor_0_turn_colour_off(cli, one_account, tty, env) -> None:
    result = cli(["accounts", "list"], env=env)
    assert result.exit_code == 0, result.stderr
    assert "Email" in result.stdout
    assert ESC not in result.stdout


def test_clicolor_force_keeps_colour_when_piped(cli, one_account) -> None:
    plain = cli(["accounts", "list", "-o", "table"])
    assert "Email" in plain.stdout and ESC not in plain.stdout
    forced = cli(["accounts", "list", "-o", "table"], env={"CLICOLOR_FORCE": "1"})
    assert ESC in forced.stdout


def test_colour_rules_table(monkeypatch: pytest.MonkeyPatch) -> None:
    def decide(env: dict[str, str], is_tty: bool) -> bool:
        for name in ("NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return output.Output.resolve(Terminal(stdout_isatty=is_tty)).color

    assert decide({}, True) is True
    assert decide({}, False) is False
    assert decide({"NO_COLOR": ""}, True) is False
    assert decide({"NO_COLOR": "0"}, True) is False
    assert decide({"CLICOLOR": "0"}, True) is False
    assert decide({"CLICOLOR_FORCE": "1"}, False) is True
    assert decide({"CLICOLOR_FORCE": "1", "NO_COLOR": "1"}, False) is False


def test_format_follows_the_tty() -> None:
    def choose(is_tty: bool, given: str | None) -> str:
        return output.Output.resolve(Terminal(stdout_isatty=is_tty)).choose(given)

    assert choose(True, None) == "table"
    assert choose(False, None) == "tsv"
    assert choose(True, "json") == "json"


def test_json_compact_when_piped_pretty_on_tty(runtime, cli, one_account, monkeypatch) -> None:
    piped = cli(["accounts", "list", "--json"], catch_exceptions=False)
    assert piped.stdout.count("\n") == 1
    assert json.loads(piped.stdout) == [ACCOUNT]  # unchanged objects, unknown fields kept
    runtime.terminal = runtime.terminal._replace(stdout_isatty=True)
    pretty = cli(["accounts", "list", "--json"])
    assert json.loads(pretty.stdout) == [ACCOUNT]
    assert '\n  {\n    "email": "long.value@acme.io"' in pretty.stdout
    assert ESC not in pretty.stdout  # machine output is never styled


def test_jsonl_and_csv_are_written_whole(cli, one_account) -> None:
    jsonl = cli(["accounts", "list", "-o", "jsonl"], env={"COLUMNS": "20"})
    assert [json.loads(x) for x in jsonl.stdout.splitlines()] == [ACCOUNT]
    csv_out = cli(["accounts", "list", "-o", "csv"], env={"COLUMNS": "20"})
    header, row = csv_out.stdout.splitlines()
    assert header.startswith("email,")
    assert LONG in row


def test_error_colour_follows_stderr(runtime, cli, mock_api, monkeypatch) -> None:
    mock_api(lambda r: envelope(404, "Not Found", "Account not found"))
    plain = cli(["accounts", "get", "x@y.io"])
    assert plain.exit_code == 4
    assert plain.stderr.startswith("Error: Account not found")
    runtime.terminal = runtime.terminal._replace(stderr_isatty=True)
    coloured = cli(["accounts", "get", "x@y.io"])
    assert ESC in coloured.stderr
    no_color = cli(["accounts", "get", "x@y.io"], env={"NO_COLOR": "1"})
    assert ESC not in no_color.stderr


# -- --verbose -----------------------------------------------------------------------------------

LOG_LINE = re.compile(r"^\* (GET|POST|PATCH|PUT|DELETE) (\S+) → (\S+) (\d+) ms( retry (\d+))?$")


def exchanges(stderr: str) -> list[tuple[str, str, str, str | None]]:
    out = []
    for line in stderr.splitlines():
        m = LOG_LINE.match(line)
        if m:
            out.append((m[1], m[2], m[3], m[6]))
    return out


def test_verbose_logs_each_exchange_with_retry_number(cli, mock_api) -> None:
    answers = iter([envelope(503, "Service Unavailable", "busy"),
                    httpx.Response(429, json={"statusCode": 429, "error": "Too Many Requests",
                                              "message": "slow down"}),
                    httpx.Response(200, json={"items": []})])
    mock_api(lambda r: next(answers))
    result = cli(["-v", "api", "GET", "accounts", "-F", "limit=1", "-F", "search=a b"],
                 catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert exchanges(result.stderr) == [
        ("GET", "/api/v2/accounts?limit=1&search=a+b", "503", None),
        ("GET", "/api/v2/accounts?limit=1&search=a+b", "429", "1"),
        ("GET", "/api/v2/accounts?limit=1&search=a+b", "200", "2"),
    ]


def test_verbose_never_shows_the_key(cli, mock_api) -> None:
    mock_api(lambda r: envelope(401, "Unauthorized", f"Invalid key {TEST_KEY}"))
    result = cli(["-v", "api", "GET", "accounts"])
    assert result.exit_code == 3
    assert exchanges(result.stderr) == [("GET", "/api/v2/accounts", "401", None)]
    everything = result.stdout + result.stderr
    assert TEST_KEY not in everything
    assert "Bearer" not in everything and "Authorization" not in everything


def test_verbose_is_silent_without_the_flag(cli, mock_api) -> None:
    mock_api(lambda r: httpx.Response(200, json={"items": []}))
    result = cli(["api", "GET", "accounts"])
    assert exchanges(result.stderr) == []


def test_verbose_against_the_sandbox(cli, sandbox) -> None:
    result = cli(["-v", "accounts", "list", "--limit", "3", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert exchanges(result.stderr) == [("GET", "/api/v2/accounts?limit=3", "200", None)]
    assert len(json.loads(result.stdout)) == 3
    assert TEST_KEY not in result.stderr


# -- help: every command has a summary and an example -------------------------------------------


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        if sub.hidden:
            continue
        yield path + (name,), sub
        yield from walk(sub, path + (name,))


def is_group(command: Any) -> bool:
    return bool(getattr(command, "commands", None))


ROOT_COMMAND = typer.main.get_command(app)
ALL_COMMANDS = list(walk(ROOT_COMMAND))
LEAVES = [(path, cmd) for path, cmd in ALL_COMMANDS if not is_group(cmd)]


def test_the_walk_sees_the_tree() -> None:
    paths = {" ".join(p) for p, _ in LEAVES}
    assert {"accounts list", "accounts get", "api", "completion", "config show"} <= paths


@pytest.mark.parametrize(("path", "command"), ALL_COMMANDS, ids=lambda v: " ".join(v)
                         if isinstance(v, tuple) else "")
def test_every_command_has_a_one_line_summary(path: tuple[str, ...], command: Any) -> None:
    summary = (command.help or "").strip().splitlines()
    assert summary and summary[0].strip(), f"`instantly {' '.join(path)}` has no help text"
    assert command.get_short_help_str(limit=200) == summary[0].strip()


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=lambda v: " ".join(v)
                         if isinstance(v, tuple) else "")
def test_every_command_has_an_example(path: tuple[str, ...], command: Any) -> None:
    epilog = command.epilog or ""
    assert "Examples:" in epilog, f"`instantly {' '.join(path)}` has no Examples: epilog"
    example_lines = [x.strip() for x in epilog.split("Examples:", 1)[1].splitlines()]
    assert any(x.startswith("instantly ") or " instantly " in x for x in example_lines)


def test_help_shows_the_examples(cli) -> None:
    for path, _ in LEAVES:
        result = cli([*path, "--help"])
        assert result.exit_code == 0, path
        assert "Examples:" in result.stdout, path


# -- the output object: streams and terminal facts are arguments -------------------------------


def test_a_command_writes_to_the_streams_of_its_runtime(runtime, cli, one_account) -> None:
    screen = io.StringIO()
    runtime.terminal = Terminal(stdout=screen, stdout_isatty=True)
    result = cli(["accounts", "list", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # nothing went to the process's stdout
    assert json.loads(screen.getvalue()) == [ACCOUNT]
    assert screen.getvalue().startswith("[\n  {")  # a terminal: pretty JSON
    assert output.current().stdout is not screen  # the command's output ended with it


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("json", '[{"email":"a@x.io"},{"email":"b@x.io"}]\n'),
        ("jsonl", '{"email":"a@x.io"}\n{"email":"b@x.io"}\n'),
        ("tsv", "A\nB\n"),
        ("csv", "email\nA\nB\n"),
    ],
)
def test_records_are_written_in_the_chosen_format(fmt: str, expected: str) -> None:
    screen = io.StringIO()
    out = output.Output.resolve(Terminal(stdout=screen, stdout_isatty=False))
    assert out.choose(fmt) == fmt
    data = [{"email": "a@x.io", "x": 1}, {"email": "b@x.io", "x": 2}]
    remove = output.install(out)
    try:
        machine = fmt in ("json", "jsonl")
        output.emit_records(
            [data if machine else [{"email": r["email"].split("@")[0].upper()} for r in data]],
            fmt,
            [columns.Column("email", "Email")],
            fields=["email"],
        )
    finally:
        remove()
    assert screen.getvalue() == expected
