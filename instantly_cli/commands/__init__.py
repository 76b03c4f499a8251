"""One module (or package) per noun; this file holds the error handler every command wears."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import typer

from instantly_cli.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    CliError,
    Interrupted,
    OutputError,
    StdoutError,
)

P = ParamSpec("P")
R = TypeVar("R")


def _error_format(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """JSON when the command resolved a json/jsonl output format (see context.output_format)."""
    from instantly_cli.context import Runtime

    for value in (*args, *kwargs.values()):
        # Typer hands commands its click-level context, so look for the shape, not the class.
        if callable(getattr(value, "find_root", None)):
            obj = value.find_root().obj
            fmt = obj.fmt if isinstance(obj, Runtime) else None
            return "json" if fmt in ("json", "jsonl") else "text"
    return "text"


def handled(func: Callable[P, int | None]) -> Callable[P, None]:
    """Wrap a command: any error becomes one message, a hint and the right exit code.

    A command returns its exit code (or None for 0); it never raises ``typer.Exit`` to finish.
    Errors are written in the format the command resolved, never guessed from parameter names.
    """

    from instantly_cli.options_global import with_global_options

    own = inspect.signature(func, eval_str=True)
    signature = with_global_options(own)
    added = [name for name in signature.parameters if name not in own.parameters]

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        from instantly_cli import output

        # The global options added to the signature below store themselves; drop them here.
        for name in added:
            kwargs.pop(name, None)
        code: int | None = None
        try:
            code = func(*args, **kwargs)
            # The output is part of the result: written now, while a failure can still be told
            # in the command's format, not at exit by the interpreter.
            output.flush_stdout()
        except typer.Exit:
            raise
        except StdoutError as exc:
            output.print_error(OutputError.from_os_error(exc), _error_format(args, kwargs))
            raise typer.Exit(max(code or EXIT_OK, EXIT_FAILED)) from None
        except CliError as err:
            output.print_error(err, _error_format(args, kwargs))
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            output.print_error(Interrupted("Interrupted."), _error_format(args, kwargs))
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            output.silence_broken_pipe()
            raise typer.Exit(EXIT_OK) from None
        except Exception as exc:  # the last line of defence: never a raw traceback
            output.print_internal_error(exc, _error_format(args, kwargs))
            raise typer.Exit(EXIT_FAILED) from None
        if code:
            raise typer.Exit(code)

    wrapper.__signature__ = signature  # type: ignore[attr-defined]
    return wrapper
