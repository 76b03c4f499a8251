"""Typed errors and exit codes.

Imports nothing from the package: every layer may raise these. The handler that turns them into
a message and an exit code lives with the commands (``instantly_cli.commands.handled``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
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


# A run of this many characters (or bytes, once decoded) of a secret is redacted wherever it
# appears: a server that splits the key across ``error`` and ``message``, or echoes half a
# password, still shows nothing usable. Shorter pieces are too likely to be ordinary text.
FRAGMENT = 8
_HEX_RUN = re.compile(r"[0-9a-fA-F]{16,}")
# Hex pairs with one separator between them (``73 6b 2d …``, ``73:6b:2d…``), as dumps show bytes.
_HEX_SPACED = re.compile(r"(?:[0-9a-fA-F]{2}[ :,.\-]){7,}[0-9a-fA-F]{2}")
_HEX_PAIR = re.compile(r"[0-9a-fA-F]{2}")
_HEXDIGITS = frozenset(b"0123456789abcdefABCDEF")
_JSON_ESCAPES = {
    ord("\\"): 0x5C, ord('"'): 0x22, ord("/"): 0x2F, ord("b"): 0x08, ord("f"): 0x0C,
    ord("n"): 0x0A, ord("r"): 0x0D, ord("t"): 0x09,
}  # fmt: skip

# One byte of a decoded view of a text: its value and the span of the text it came from.
_Unit = tuple[int, int, int]


def _hex_value(units: list[_Unit], at: int, count: int) -> int | None:
    """The number written by ``count`` hex-digit units from ``at``, if they are all hex."""
    if at + count > len(units):
        return None
    digits = units[at : at + count]
    if not all(u[0] in _HEXDIGITS for u in digits):
        return None
    return int(bytes(u[0] for u in digits), 16)


def _decode_pass(units: list[_Unit]) -> list[_Unit] | None:
    """Undo one layer of ``%XX``, ``\\xXX``, ``\\uXXXX`` and JSON escapes; None if none."""
    out: list[_Unit] = []
    changed = False
    i, n = 0, len(units)
    while i < n:
        value, start, _ = units[i]
        decoded: bytes | None = None
        width = 1
        if value == 0x25:  # %XX
            code = _hex_value(units, i + 1, 2)
            if code is not None:
                decoded, width = bytes([code]), 3
        elif value == 0x5C and i + 1 < n:  # a backslash escape
            kind = units[i + 1][0]
            if kind == 0x78:  # \xXX
                code = _hex_value(units, i + 2, 2)
                if code is not None:
                    decoded, width = bytes([code]), 4
            elif kind == 0x75:  # \uXXXX
                code = _hex_value(units, i + 2, 4)
                if code is not None:
                    decoded = chr(code).encode("utf-8", "surrogatepass")
                    width = 6
            elif kind in _JSON_ESCAPES:
                decoded, width = bytes([_JSON_ESCAPES[kind]]), 2
        if decoded is None:
            out.append(units[i])
            i += 1
            continue
        end = units[i + width - 1][2]
        out.extend((byte, start, end) for byte in decoded)
        changed = True
        i += width
    return out if changed else None


class Redactor:
    """The secrets of one run (API keys, passwords), scrubbed from every message shown.

    One per process (the CLI resets it at the start of each invocation, so tests never share
    secrets); code that shows text calls :func:`redact`.

    Whole forms (raw, URL-encoded, base64 at any alignment, escaped) are replaced; beyond that,
    any run of :data:`FRAGMENT` or more characters of a secret is replaced, as it stands, in hex
    (either case, plain or byte-separated), and under any mix of ``%XX`` (either case, nested),
    ``\\xXX``, ``\\uXXXX`` and JSON escapes.
    """

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._ordered: list[str] = []
        # Every FRAGMENT-long piece of every secret, as text and as UTF-8 bytes.
        self._pieces: set[str] = set()
        self._byte_pieces: set[bytes] = set()

    def reset(self) -> None:
        self._secrets.clear()
        self._ordered = []
        self._pieces.clear()
        self._byte_pieces.clear()

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
            raw.hex(),
            raw.hex().upper(),
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
        # Longest first, so a form that contains another is replaced whole.
        self._ordered = sorted(self._secrets, key=len, reverse=True)
        self._pieces.update(value[i : i + FRAGMENT] for i in range(len(value) - FRAGMENT + 1))
        self._byte_pieces.update(raw[i : i + FRAGMENT] for i in range(len(raw) - FRAGMENT + 1))

    def __call__(self, text: str) -> str:
        if not self._ordered:
            return text
        for secret in self._ordered:
            if secret in text:
                text = text.replace(secret, "****")
        spans = self._fragments(text)
        if not spans:
            return text
        hidden = bytearray(len(text))
        for start, end in spans:
            hidden[start:end] = b"\1" * (end - start)
        out: list[str] = []
        i = 0
        while i < len(text):
            if hidden[i]:
                out.append("****")
                while i < len(text) and hidden[i]:
                    i += 1
            else:
                j = hidden.find(b"\1", i)
                j = len(text) if j < 0 else j
                out.append(text[i:j])
                i = j
        return "".join(out)

    def _fragments(self, text: str) -> list[tuple[int, int]]:
        """The spans of ``text`` that show a FRAGMENT-long piece of a secret, in any view."""
        spans: list[tuple[int, int]] = []
        pieces, byte_pieces = self._pieces, self._byte_pieces
        # A few secrets: search for each piece (C speed). Many (passwords of a CSV): look each
        # window of the text up instead, which costs the same however many there are.
        if len(pieces) <= 100:
            for piece in pieces:
                at = text.find(piece)
                while at >= 0:
                    spans.append((at, at + FRAGMENT))
                    at = text.find(piece, at + 1)
        else:
            for i in range(len(text) - FRAGMENT + 1):
                if text[i : i + FRAGMENT] in pieces:
                    spans.append((i, i + FRAGMENT))
        if not byte_pieces:
            return spans
        # Hex: every run of hex digits, at both alignments.
        for match in _HEX_RUN.finditer(text):
            run, base = match.group(), match.start()
            for align in (0, 1):
                data = bytes.fromhex(run[align : align + (len(run) - align) // 2 * 2])
                for j in range(len(data) - FRAGMENT + 1):
                    if data[j : j + FRAGMENT] in byte_pieces:
                        spans.append((base + align + 2 * j, base + align + 2 * (j + FRAGMENT)))
        units: list[_Unit]
        for match in _HEX_SPACED.finditer(text):
            units = [(int(m.group(), 16), m.start(), m.end()) for m in _HEX_PAIR.finditer(
                text, match.start(), match.end())]  # fmt: skip
            spans += self._unit_spans(units)
        # Escapes: decode layer after layer (``%2573`` is ``%73`` is ``s``).
        if "%" in text or "\\" in text:
            units = [
                (byte, i, i + 1)
                for i, char in enumerate(text)
                for byte in char.encode("utf-8", "surrogatepass")
            ]
            for _ in range(4):
                decoded = _decode_pass(units)
                if decoded is None:
                    break
                units = decoded
                spans += self._unit_spans(units)
        return spans

    def _unit_spans(self, units: list[_Unit]) -> list[tuple[int, int]]:
        data = bytes(u[0] for u in units)
        return [
            (units[j][1], units[j + FRAGMENT - 1][2])
            for j in range(len(data) - FRAGMENT + 1)
            if data[j : j + FRAGMENT] in self._byte_pieces
        ]


REDACTOR = Redactor()


def register_secret(value: str | None) -> None:
    """Remember a secret (an API key, a password) so that no message can show it."""
    REDACTOR.add(value)


def redact(text: str) -> str:
    """Replace every registered secret in ``text``."""
    return REDACTOR(text)


def check_profile_name(value: str | None, source: str = "--profile") -> None:
    """Refuse a profile name that is empty, blank, padded, or holds a control character.

    ``None`` is "not given". An empty ``--profile ""`` used to fall back to the default profile,
    so ``auth login`` overwrote its key and ``auth logout`` removed it; a name nobody can see
    (a space, a zero-width or control character) would be just as surprising.
    """
    if value is None:
        return
    import unicodedata

    shown = value.encode("unicode_escape").decode("ascii")
    if not value.strip():
        problem = "is empty" if not value else f"is only blank space ('{shown}')"
    elif value != value.strip():
        problem = f"has blank space around it ('{shown}')"
    elif any(unicodedata.category(ch).startswith(("C", "Z")) and ch != " " for ch in value):
        problem = f"holds a control or invisible character ('{shown}')"
    else:
        return
    raise UsageError(
        f"The profile name given by {source} {problem}.",
        hint="Name a profile, e.g. --profile client-b; `instantly auth status` lists them"
        + ("; or unset INSTANTLY_PROFILE." if source == "INSTANTLY_PROFILE" else "."),
    )


def check_profile_names(flag: str | None, env: str | None) -> None:
    """Check the profile names a command was given: ``--profile``, else ``INSTANTLY_PROFILE``.

    An empty ``INSTANTLY_PROFILE=`` is refused too: it most likely means a script meant to name
    a profile and did not, and the default profile is the one a mistake should not touch.
    """
    if flag is not None:
        check_profile_name(flag, "INSTANTLY_PROFILE" if flag == env else "--profile")
    else:
        check_profile_name(env, "INSTANTLY_PROFILE")


def _split_userinfo(url: str) -> tuple[str, str, str]:
    """``scheme://user:pass@host/path`` → (``scheme://``, ``user:pass``, ``host/path``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "", "", url
    # The authority ends at the first / ? or #; an @ after it is part of the path.
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    return scheme + sep, userinfo if at else "", host + rest[end:]


def register_url_secret(url: str | None) -> None:
    """Remember the password of a base URL's ``user:pass@`` (as written and %-decoded)."""
    if not url:
        return
    from urllib.parse import unquote

    _, userinfo, _ = _split_userinfo(url)
    password = userinfo.partition(":")[2]
    for value in {password, unquote(password)}:
        register_secret(value)


def safe_url(url: str | None) -> str:
    """A URL fit to show or record: any ``user:pass@`` dropped, and the rest redacted.

    ``https://bob:pw@proxy.example/api`` → ``https://proxy.example/api``.
    """
    scheme, _, rest = _split_userinfo(str(url or ""))
    return redact(scheme + rest)


# -- decoding an answer into its JSON or the typed error ------------------------------------------


def decode_answer(
    status: int,
    reason: str,
    kind: str,
    raw: bytes,
    *,
    parse_constant: Callable[[str], Any] | None = None,
) -> Any:
    """The JSON of an answer (``kind``: its content type), or the typed error it carries: an
    error status, or an error envelope inside a 2xx (some gateways report errors that way).
    ``parse_constant`` is json's (the client refuses NaN and Infinity with it)."""
    import json

    data: Any = None
    parsed = False
    if raw:
        try:
            data = json.loads(raw, parse_constant=parse_constant)
            parsed = True
        except (ValueError, RecursionError):
            parsed = False
    if 200 <= status < 300:
        if raw and not parsed:
            raise InvalidResponseError(
                f"The API answered {status} with a body that is not JSON ({kind})."
            )
        if (
            _is_envelope(data)
            and isinstance(data.get("statusCode"), int)
            and data["statusCode"] >= 400
        ):
            raise _with_body(
                error_for_status(data["statusCode"], _message(data, status, reason)), data
            )
        return data
    if not parsed:
        raise error_for_status(status, f"HTTP {status} {reason} with a non-JSON body ({kind})")
    raise _with_body(error_for_status(status, _message(data, status, reason)), data)


def _is_envelope(data: object) -> bool:
    return (
        isinstance(data, dict) and "statusCode" in data and ("message" in data or "error" in data)
    )


def _with_body(err: CliError, body: Any) -> CliError:
    err.body = body
    return err


def _message(data: Any, status: int, reason: str) -> str:
    if isinstance(data, dict):
        message = data.get("message")
        if isinstance(message, list):
            message = "; ".join(str(m) for m in message)
        if message:
            return str(message)
        if data.get("error"):
            return str(data["error"])
    return f"HTTP {status} {reason}"
