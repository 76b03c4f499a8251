"""The root app: global options, --version, and the registration of each noun. Nothing else."""

# No `from __future__ import annotations` here or in command modules: Typer would have to
# eval every annotation string while building the command tree, on every start-up.

from typing import Annotated

import typer

from instantly_cli import __version__
from instantly_cli.commands import accounts, auth, config, jobs, sandbox, tags
from instantly_cli.commands import api as api_cmd
from instantly_cli.commands import completion as completion_cmd
from instantly_cli.context import runtime
from instantly_cli.errors import REDACTOR
from instantly_cli.options import (
    BaseUrlOpt,
    ProfileOpt,
    SandboxOpt,
    VerboseOpt,
    WorkspaceOpt,
    complete_profiles,
    examples,
)
from instantly_cli.settings import GlobalOptions

HELP = """Administer Instantly.ai sending accounts (API V2). Try it safely with --sandbox.

The global options --profile, --workspace, --base-url, --sandbox and -v also work after the
noun or the verb (instantly accounts list --profile client-b); given twice, the one nearest
the command wins. Tables fit the terminal (less important columns are shortened, then left
out); --wide shows them all.
"""

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


def _version(value: bool) -> None:
    if value:
        from instantly_cli import output

        output.emit_text(f"instantly-cli {__version__}")
        raise typer.Exit()


@app.callback()
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
        typer.Option("--workspace", envvar="INSTANTLY_WORKSPACE", metavar="ID",
                     help="Act on this workspace id (sends x-as-workspace)."),
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


# The global options right after a noun (`instantly accounts --profile b list`).
for _noun in (accounts.app, accounts.warmup_app, tags.app, auth.app, config.app):
    _noun.callback()(_noun_options)

app.add_typer(accounts.app, name="accounts")
app.add_typer(tags.app, name="tags")
app.add_typer(jobs.app, name="jobs")
app.add_typer(auth.app, name="auth")
app.add_typer(config.app, name="config")
# A summary that fits 80 columns (sandbox.py's own is longer).
app.add_typer(
    sandbox.app,
    name="sandbox",
    help="Run a local emulator of the API, or reset its state.\n\n"
    "The emulator is stateful (SQLite) and also serves --sandbox in-process.",
)
# Single commands: their Typer apps have no name, so their command joins the root.
app.add_typer(api_cmd.app)
app.add_typer(completion_cmd.app)
completion_cmd.enable_shell_completion()


def main() -> None:
    """Console-script entry point."""
    try:
        # One name however it is started (python -m, a renamed shim): help says `instantly`
        # and completion listens to _INSTANTLY_COMPLETE.
        app(prog_name="instantly")
    except BrokenPipeError:
        from instantly_cli import output

        output.silence_broken_pipe()
