"""``instantly completion bash|zsh|fish``: print the shell completion script.

The scripts call the program back with ``_INSTANTLY_COMPLETE=complete_<shell>`` (Typer's
completion protocol); the enum and profile callbacks in options.py answer without network or
heavy imports. The committed copies in ``completions/`` are checked against this output.
"""

import contextlib
import io
from typing import Annotated, Any

import typer
import typer.completion

from instantly_cli import output
from instantly_cli.commands import handled
from instantly_cli.errors import CliError, UsageError
from instantly_cli.options import argument, examples

PROG_NAME = "instantly"
COMPLETE_VAR = "_INSTANTLY_COMPLETE"
SHELLS = ("bash", "zsh", "fish")

app = typer.Typer()


def enable_shell_completion() -> None:
    """Register Typer's bash/zsh/fish completion classes.

    Typer registers them only while it builds ``--install-completion``/``--show-completion``,
    options we leave off (they guess the shell and edit rc files). Asking Typer for those option
    definitions, without adding them to the app, registers the classes through its public module.
    """
    typer.completion.get_completion_inspect_parameters()


def _complete_shell(incomplete: str) -> list[str]:
    return [s for s in SHELLS if s.startswith(incomplete)]


@app.command(
    "completion",
    epilog=examples(
        "instantly completion bash > ~/.local/share/bash-completion/completions/instantly",
        "instantly completion zsh > ~/.zsh/instantly.zsh   # source it in ~/.zshrc after compinit",
        "instantly completion fish > ~/.config/fish/completions/instantly.fish",
    ),
)
@handled
def completion(
    ctx: typer.Context,
    shell: Annotated[str | None, argument("SHELL", _complete_shell)] = None,
) -> None:
    """Print the shell completion script for bash, zsh or fish.

    SHELL is bash, zsh or fish (never guessed).
    """
    if shell is None:
        raise UsageError("Name the shell.", hint=f"Choose one of: {', '.join(SHELLS)}.")
    shell = shell.strip().lower()
    if shell not in SHELLS:
        raise UsageError(
            f"Unsupported shell '{shell}'.", hint=f"Choose one of: {', '.join(SHELLS)}."
        )
    output.emit_text(completion_script(ctx.find_root().command, shell))


def completion_script(command: Any, shell: str) -> str:
    """The script ``_INSTANTLY_COMPLETE=source_<shell> instantly`` prints, without the blank
    lines around it (zsh only recognises ``#compdef`` on a file's first line).

    Typer's own protocol writes it, so the command and the environment variable cannot drift.
    """
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        instruction = f"source_{shell}"
        rc = typer.completion.shell_complete(command, {}, PROG_NAME, COMPLETE_VAR, instruction)
    if rc:
        raise CliError(f"Typer could not produce the {shell} completion script.")
    return buffer.getvalue().strip() + "\n"
