"""Typed errors and exit codes.

Imports nothing from the package: every layer may raise these. The handler that turns them into
a message and an exit code lives with the commands (``instantly_cli.commands.handled``).
"""

from __future__ import annotations

from typing import Any

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


class Interrupted(CliError):
    exit_code = EXIT_INTERRUPTED
    code = "interrupted"


class StdoutError(OSError):
    """Writing the command's output to stdout failed for a reason other than a reader that left
    (a full disk, an I/O error). An OSError still, so code that reports a lost output itself (the
    bulk summary) keeps catching it; the command handler turns it into :class:`OutputError`."""


class OutputError(CliError):
    """stdout could not be written: the command ran, its output was lost."""

    code = "output_error"
    default_hint = (
        "The command itself ran; only its output was lost. Free space where stdout goes, "
        "or send the output elsewhere."
    )

    @classmethod
    def from_os_error(cls, exc: OSError) -> OutputError:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return cls(f"Could not write to stdout: {reason}.")


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


class Redactor:
    """The secrets of one run (API keys, passwords), scrubbed from every message shown.

    One per process (the CLI resets it at the start of each invocation, so tests never share
    secrets); code that shows text calls :func:`redact`.
    """

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def reset(self) -> None:
        self._secrets.clear()

    def add(self, value: str | None) -> None:
        """Remember a secret so that no message can show it, in the forms libraries print."""
        if not value or len(value) < 4:
            return
        import base64
        from urllib.parse import quote, quote_plus

        raw = value.encode("utf-8", "replace")
        forms = {
            value,
            value.encode("unicode_escape").decode("ascii"),
            repr(value)[1:-1],
            quote(value, safe=""),
            quote_plus(value),
            base64.b64encode(raw).decode("ascii").rstrip("="),
            base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="),
        }
        if len(raw) >= 8:
            # Base64 of a longer text holding the key (``Bearer <key>``, ``user:<key>``): the key's
            # bytes land at one of three alignments, and at each the characters that depend on
            # them alone are always the same. Those are redacted wherever they appear.
            for shift in range(3):
                encoded = base64.b64encode(b"\0" * shift + raw).decode("ascii")
                core = encoded[-(-8 * shift // 6) : 8 * (shift + len(raw)) // 6]
                forms.update((core, core.replace("+", "-").replace("/", "_"), quote(core, safe="")))
        self._secrets.update(f for f in forms if len(f) >= 4)

    def __call__(self, text: str) -> str:
        # Longest first, so a form that contains another is replaced whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, "****")
        return text


REDACTOR = Redactor()


def register_secret(value: str | None) -> None:
    """Remember a secret (an API key, a password) so that no message can show it."""
    REDACTOR.add(value)


def redact(text: str) -> str:
    """Replace every registered secret in ``text``."""
    return REDACTOR(text)
