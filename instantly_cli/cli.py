"""The root app: global options, --version, and the registration of each noun. Nothing else."""

from __future__ import annotations

from typing import Annotated

import typer

from instantly_cli import __version__
from instantly_cli.commands import accounts, auth, config, tags
from instantly_cli.options import complete_profiles, examples
from instantly_cli.settings import GlobalOptions

app = typer.Typer(
    name="instantly",
    help="Administer Instantly.ai sending accounts (API V2). Try it safely with --sandbox.",
    epilog=examples("instantly --sandbox accounts list", "instantly accounts get ops@acme.io"),
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
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Administer Instantly.ai sending accounts (API V2). Try it safely with --sandbox."""
    ctx.obj = GlobalOptions(
        profile=profile, base_url=base_url, workspace=workspace, sandbox=sandbox, verbose=verbose
    )


app.add_typer(accounts.app, name="accounts")
app.add_typer(tags.app, name="tags")
app.add_typer(auth.app, name="auth")
app.add_typer(config.app, name="config")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except BrokenPipeError:
        from instantly_cli import output

        output.silence_broken_pipe()
