"""The root app: global options, --version, and the registration of each noun. Nothing else.

A process builds only the noun it runs: ``main()`` reads the command word from the arguments (or
from ``COMP_WORDS`` during completion) and imports that one module; every other noun is
registered as an empty stand-in with the same name and help line, so ``instantly --help`` and
``instantly <TAB>`` list them all without importing any command module. ``app`` (what tests and
``typer.testing.CliRunner`` use) is the full tree, built on first access.
"""

# No `from __future__ import annotations` here or in command modules: Typer would have to
# eval every annotation string while building the command tree, on every start-up.

import contextlib
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Annotated, NamedTuple

import typer

from instantly_cli import __version__
from instantly_cli.errors import REDACTOR
from instantly_cli.options import examples
from instantly_cli.options_global import (
    BaseUrlOpt,
    ProfileOpt,
    SandboxOpt,
    VerboseOpt,
    WorkspaceOpt,
    complete_profiles,
)

HELP = """Administer Instantly.ai sending accounts (API V2). Try it safely with --sandbox.

The global options --profile, --workspace, --base-url, --sandbox and -v also work after the
noun or the verb (instantly accounts list --profile client-b); given twice, the one nearest
the command wins. Tables fit the terminal (less important columns are shortened, then left
out); -o tsv, or --wide where a command has it, shows them all.
"""


class Noun(NamedTuple):
    module: str
    # The line the root --help shows; a test checks it matches the module's own help.
    help: str
    # A group (``instantly accounts …``) or a single command joining the root (``instantly api``).
    group: bool = True


NOUNS: dict[str, Noun] = {
    "accounts": Noun("accounts", "List, inspect and change sending accounts."),
    "tags": Noun("tags", "Custom tags and their mappings to accounts."),
    "campaigns": Noun("campaigns", "Campaigns: accounts, capacity, risk; attach and detach."),
    "jobs": Noun("jobs", "Background jobs: list, inspect and wait for them."),
    "workspaces": Noun("workspaces", "Workspaces of the key: names, ids and status."),
    "runs": Noun("runs", "Journals of bulk runs: list, show, forget."),
    "auth": Noun("auth", "Log in, check, switch and log out of API keys (profiles)."),
    "config": Noun("config", "Show the config file's path and contents."),
    "history": Noun("history", "The fleet's snapshots: list and prune them."),
    "sandbox": Noun("sandbox", "Run a local emulator of the API, or reset its state."),
    "api": Noun("api", "Send a raw, authenticated request to any API path.", group=False),
    "completion": Noun(
        "completion", "Print the shell completion script for bash, zsh or fish.", group=False
    ),
}
# Root options that take a value: the word after them is not the command.
_VALUE_OPTIONS = ("--profile", "--base-url", "--workspace")


def _version(value: bool) -> None:
    if value:
        from instantly_cli import output

        output.emit_text(f"instantly-cli {__version__}")
        raise typer.Exit()


def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option("--profile", envvar="INSTANTLY_PROFILE", metavar="NAME",
                     help="Config profile to use.",
                     autocompletion=complete_profiles),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", envvar="INSTANTLY_BASE_URL", metavar="URL",
                     help="API base URL [default: https://api.instantly.ai]."),
    ] = None,
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", envvar="INSTANTLY_WORKSPACE", metavar="ID|NAME",
                     help="Act on this workspace, by id or name (sends x-as-workspace)."),
    ] = None,
    sandbox: Annotated[
        bool,
        typer.Option("--sandbox", envvar="INSTANTLY_SANDBOX",
                     help="Use the built-in local emulator instead of the real API."),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Log each HTTP exchange on stderr (key redacted)."),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """The global options (see HELP)."""
    # Each invocation starts with no remembered secrets (tests run many in one process).
    from instantly_cli.context import runtime
    from instantly_cli.settings import GlobalOptions

    REDACTOR.reset()
    runtime(ctx).options = GlobalOptions(
        profile=profile, base_url=base_url, workspace=workspace, sandbox=sandbox, verbose=verbose
    )


def _noun_options(
    _profile: ProfileOpt = None,
    _workspace: WorkspaceOpt = None,
    _base_url: BaseUrlOpt = None,
    _sandbox: SandboxOpt = False,
    _verbose: VerboseOpt = False,
) -> None:
    # No docstring: the noun's own help stays its help. The options store themselves.
    pass


def build(only: str | None = None, verb: str | None = None) -> typer.Typer:
    """The root app with every noun, or with only ``only`` real and the others stand-ins (and,
    for a noun that loads its verbs lazily, only ``verb`` real)."""
    app = typer.Typer(
        name="instantly",
        help=HELP,
        epilog=examples(
            "instantly --sandbox accounts list",
            "instantly accounts get ops@acme.io --profile client-b",
        ),
        no_args_is_help=True,
        add_completion=False,
        # Plain help keeps start-up fast (no rich import); never show locals in tracebacks.
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(root)
    for name, noun in NOUNS.items():
        if only is None or name == only:
            module = importlib.import_module(f"instantly_cli.commands.{noun.module}")
            if hasattr(module, "load"):
                module.load(verb, everything=only is None)
            if noun.group:
                # The global options right after a noun (`instantly accounts --profile b list`).
                for group in (module.app, getattr(module, "warmup_app", None)):
                    if group is not None:
                        group.callback()(_noun_options)
            # Single commands: their Typer apps have no name, so their command joins the root.
            app.add_typer(module.app, name=name if noun.group else None)
        elif noun.group:
            app.add_typer(typer.Typer(help=noun.help), name=name)
        else:
            single = typer.Typer()
            single.command(name, help=noun.help)(_stand_in)
            app.add_typer(single)
    if only in (None, "completion") or os.environ.get("_INSTANTLY_COMPLETE"):
        # Typer's shell classes, for the completion protocol and `instantly completion`.
        from instantly_cli.commands import completion as completion_cmd

        completion_cmd.enable_shell_completion()
    return app


def _stand_in() -> None:
    """Never run: main() builds the real command for the word it is given."""


def command_words(argv: Sequence[str]) -> list[str]:
    """The noun and verb an invocation runs (the first words that are not global options)."""
    words = list(argv)
    if os.environ.get("_INSTANTLY_COMPLETE"):
        # Completion: the words typed so far, the program name first.
        words = os.environ.get("COMP_WORDS", "").split()[1:]
    found: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in _VALUE_OPTIONS:
            skip = True
        elif word == "--":
            break
        elif not word.startswith("-"):
            found.append(word)
            if len(found) == 2:
                break
    if not found or found[0] not in NOUNS:
        return []
    return found


def command_word(argv: Sequence[str]) -> str | None:
    """The noun an invocation runs (the first word that is not a root option), if known."""
    words = command_words(argv)
    return words[0] if words else None


def __getattr__(name: str) -> typer.Typer:
    # ``from instantly_cli.cli import app``: the full tree, built once.
    if name == "app":
        full = build()
        globals()["app"] = full
        return full
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point."""
    # What start-up loaded (Typer, the modules) lives until exit: frozen, no collection walks
    # it again. That is ~4% of the CPU of a one-shot command.
    gc.freeze()
    words = command_words(sys.argv[1:])
    # No known noun (root --help, a typo, a bare `instantly`): stand-ins are enough to list them
    # and to say "No such command"; completion of the first word needs only their names.
    app = build(words[0] if words else "", words[1] if len(words) > 1 else None)
    code: int | str | None = None
    try:
        # One name however it is started (python -m, a renamed shim): help says `instantly`
        # and completion listens to _INSTANTLY_COMPLETE.
        app(prog_name="instantly")
    except BrokenPipeError:
        from instantly_cli import output

        output.silence_broken_pipe()
    except SystemExit as done:
        code = done.code
    except OSError as exc:
        # Outside any command (help, usage, --version): a write that failed. Told as an
        # error, never as a traceback.
        code = _outside_error(exc)
    sys.exit(close_stdout(code))


def _outside_error(exc: OSError) -> int:
    """An OSError that escaped every command: Typer writing help, usage or a completion script
    (commands handle their own). One without a file name is such a write; never a traceback."""
    from instantly_cli import output
    from instantly_cli.errors import EXIT_FAILED, OutputError

    with contextlib.suppress(OSError, ValueError):
        if exc.filename is None:
            output.silence_broken_pipe()
            output.print_error(OutputError.from_os_error(exc))
        else:
            output.print_internal_error(exc)
    return EXIT_FAILED


def close_stdout(code: int | str | None) -> int | str | None:
    """Flush and close stdout here, so a failure is reported as the tool's own error.

    Left to the interpreter, a write that fails at exit (a full disk; stdout block-buffered into
    a file, as without PYTHONUNBUFFERED) prints "Exception ignored … OSError" and exits 120. A
    reader that left (EPIPE) stays quiet, as everywhere else; the exit code is kept.
    """
    stream = sys.stdout
    if stream is None or stream.closed:
        return code
    try:
        stream.flush()
        stream.close()
    except BrokenPipeError:
        from instantly_cli import output

        output.silence_broken_pipe()
    except OSError as exc:
        from instantly_cli import output
        from instantly_cli.errors import EXIT_FAILED, OutputError

        output.silence_broken_pipe()
        with contextlib.suppress(OSError, ValueError):
            output.print_error(OutputError.from_os_error(exc))
        return code if isinstance(code, int) and code else EXIT_FAILED
    return code
