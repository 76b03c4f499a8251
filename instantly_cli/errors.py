"""Typed errors, exit codes, and the one handler that turns any error into message + hint + exit.

Every command is wrapped by :func:`handled`, so the mapping applies under the test runner too,
not only in ``main()``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import typer

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """Base of every error the CLI reports on purpose."""

    exit_code = EXIT_FAILED
    code = "error"
    default_hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.status = status
        # The API's parsed error answer, when there was one (``instantly api`` prints it).
        self.body: Any = None


class UsageError(CliError):
    """Invalid input: nothing was sent."""

    exit_code = EXIT_USAGE
    code = "invalid_input"
    default_hint = "Run the command with --help to see what it accepts."


class ConfigError(UsageError):
    code = "config_error"
    default_hint = "Fix or delete the file; `instantly auth login` writes a fresh one."


class MissingKeyError(CliError):
    exit_code = EXIT_AUTH
    code = "missing_api_key"
    default_hint = (
        "Run `instantly auth login`, set INSTANTLY_API_KEY, or try the sandbox with --sandbox."
    )


class AuthError(CliError):
    """401: the key is missing, invalid or revoked."""

    exit_code = EXIT_AUTH
    code = "unauthorized"
    default_hint = (
        "Check the key with `instantly auth status`; log in again with `instantly auth login`."
    )


class PaymentRequiredError(AuthError):
    code = "payment_required"
    default_hint = "The workspace has no active paid plan; API access needs one."


class ForbiddenError(AuthError):
    code = "forbidden"
    default_hint = (
        "The key lacks the scope for this call (e.g. accounts:update); create a key with it."
    )


class NotFoundError(CliError):
    exit_code = EXIT_NOT_FOUND
    code = "not_found"
    default_hint = "Check the spelling; `instantly accounts list --search TEXT` finds accounts."


class ApiError(CliError):
    """Any other error answer from the API."""

    code = "api_error"


class BadRequestError(ApiError):
    code = "bad_request"
    default_hint = "The API rejected the request; the message above says which field."


class ConflictError(ApiError):
    code = "conflict"


class RateLimitedError(ApiError):
    code = "rate_limited"
    default_hint = "The workspace is over 100 requests/s or 6,000/min; retry later or lower --rate."


class ServerError(ApiError):
    code = "server_error"
    default_hint = "Instantly had a problem; retry in a moment."


class NetworkError(CliError):
    code = "network_error"
    default_hint = "Check the connection and --base-url; run with -v to see each request."


class InvalidResponseError(CliError):
    code = "invalid_response"
    default_hint = (
        "A proxy or the API returned something that is not the API's JSON; retry, or use -v."
    )


class PartialFailure(CliError):
    """Some targets of a bulk run failed; details were already reported."""

    code = "partial_failure"


class Interrupted(CliError):
    exit_code = EXIT_INTERRUPTED
    code = "interrupted"


# Ordered: the first matching status wins; 5xx is handled by range below.
_STATUS_ERRORS: dict[int, type[CliError]] = {
    400: BadRequestError,
    401: AuthError,
    402: PaymentRequiredError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    422: BadRequestError,
    429: RateLimitedError,
}


def error_for_status(status: int, message: str) -> CliError:
    """Map an HTTP status and the API's message to a typed error."""
    cls = _STATUS_ERRORS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else ApiError
    return cls(message, status=status)


# Secrets registered here are scrubbed from every message before it is shown.
_SECRETS: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret (an API key) so that no message can show it."""
    if value and len(value) >= 4:
        _SECRETS.add(value)
        # Libraries quote odd characters when they complain about a header value.
        for form in (value.encode("unicode_escape").decode("ascii"), repr(value)[1:-1]):
            if form != value:
                _SECRETS.add(form)


def redact(text: str) -> str:
    """Replace every registered secret in ``text``."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "****")
    return text


P = ParamSpec("P")
R = TypeVar("R")


def _error_format(kwargs: dict[str, Any]) -> str:
    """The format errors are written in: JSON when the command's output is json/jsonl."""
    if kwargs.get("json_output"):
        return "json"
    chosen = kwargs.get("output_") or os.environ.get("INSTANTLY_OUTPUT") or ""
    return "json" if str(chosen).lower() in ("json", "jsonl") else "text"


def handled(func: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so every error becomes one message, a hint and the right exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from instantly_cli import output

        fmt = _error_format(kwargs)
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except CliError as err:
            if not isinstance(err, PartialFailure):
                output.print_error(err, fmt)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            output.print_error(Interrupted("Interrupted."), fmt)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            output.silence_broken_pipe()
            raise typer.Exit(EXIT_OK) from None
        except Exception as exc:  # the last line of defence: never a raw traceback
            output.print_internal_error(exc, fmt)
            raise typer.Exit(EXIT_FAILED) from None

    wrapper.__instantly_handled__ = True  # type: ignore[attr-defined]
    return wrapper
