"""A server that echoes the key encoded (issue 12, item 15): no form of it reaches the user.

Servers and proxies echo what they were sent: the raw key, the key URL-encoded (a query string,
a redirect), base64 of the key or of the whole ``Bearer <key>`` header (debug dumps, Basic-auth
style tokens). ``Redactor`` knows each of those forms; base64 of a longer text is caught at any
offset, since the key's bytes land on one of three alignments.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import httpx
import pytest

from instantly_cli.errors import Redactor
from instantly_cli.settings import state_dir

# Characters that URL-encoding and base64 both change, and a padded base64 tail.
KEY = "sk_Leak+Check/9f8e7d6c5b4a=="


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def urlsafe(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


# What a hostile server echoes, and the encodings a careless redaction would let through.
ECHOES = {
    "raw": KEY,
    "url-encoded": quote(KEY, safe=""),
    "form-encoded": quote_plus(KEY),
    "base64": b64(KEY),
    "base64 unpadded": b64(KEY).rstrip("="),
    "urlsafe base64": urlsafe(KEY),
    "base64 of Bearer key": b64(f"Bearer {KEY}"),
    "urlsafe base64 of Bearer key": urlsafe(f"Bearer {KEY}"),
    "base64 of user:key": b64(f"user:{KEY}"),
    "base64 of key inside JSON": b64(json.dumps({"token": KEY, "n": 1})),
    "url-encoded base64 of Bearer key": quote(b64(f"Bearer {KEY}"), safe=""),
}


def leaked(text: str) -> list[str]:
    return [name for name, form in ECHOES.items() if form in text or KEY[:12] in text]


@pytest.mark.parametrize("name", list(ECHOES))
def test_every_echoed_form_is_redacted(name: str) -> None:
    redact = Redactor()
    redact.add(KEY)
    shown = redact(f"upstream said: {ECHOES[name]} (end)")
    assert "****" in shown and not leaked(shown), shown
    assert shown.startswith("upstream said: ") and shown.endswith(" (end)")


@pytest.mark.parametrize("prefix", ["", "a", "ab", "abc", "Bearer ", "token=", "x" * 40])
@pytest.mark.parametrize("suffix", ["", "!", "!?", ";and more"])
def test_base64_of_the_key_is_caught_at_any_offset(prefix: str, suffix: str) -> None:
    redact = Redactor()
    redact.add(KEY)
    shown = redact(b64(prefix + KEY + suffix))
    assert "****" in shown
    # What is left is the text around the key (and a character or two of the seams).
    left = shown.replace("****", "")
    assert len(left) <= len(b64(prefix)) + len(b64(suffix)) + 4, shown


def test_text_that_merely_resembles_base64_is_left_alone() -> None:
    redact = Redactor()
    redact.add(KEY)
    text = b64("a different secret entirely, 0123456789")
    assert redact(text) == text


def echo_everything(request: httpx.Request) -> httpx.Response:
    """Every answer an error whose message and error field echo the key in every form."""
    token = request.headers["Authorization"].removeprefix("Bearer ")
    assert token == KEY
    forms = "; ".join(f"{name}: {form}" for name, form in ECHOES.items())
    status = 500 if "/accounts/" in request.url.path else 400
    return httpx.Response(
        status,
        json={"statusCode": status, "error": f"Rejected {forms}", "message": f"Bad key {forms}"},
        headers={"Location": f"https://x.test/?k={quote(KEY, safe='')}"},
    )


COMMANDS = [
    ["accounts", "list"],
    ["accounts", "list", "--json"],
    ["-v", "accounts", "list"],
    ["-v", "accounts", "get", "ops@acme-outreach.com"],  # 500: retried, -v shows each attempt
    ["accounts", "get", "ops@acme-outreach.com", "--json"],
    ["accounts", "update", "ops@acme-outreach.com", "--daily-limit", "9", "--yes", "--json"],
    ["api", "GET", "/api/v2/accounts"],
    ["-v", "api", "GET", "/api/v2/accounts/ops@acme-outreach.com"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_the_cli_never_shows_an_echoed_key(cli, mock_api, monkeypatch, args) -> None:
    seen = mock_api(echo_everything)
    monkeypatch.setenv("INSTANTLY_API_KEY", KEY)
    result = cli(args)
    assert seen, "the command reached the server"
    assert result.exit_code == 1, result.stderr
    assert "****" in result.stderr + result.stdout  # the message was shown, redacted
    assert not leaked(result.stderr), result.stderr
    assert not leaked(result.stdout), result.stdout
    if "--json" in args and args[1] != "update":
        err = json.loads(result.stderr.strip().splitlines()[-1])["error"]
        assert "****" in err["message"] and not leaked(json.dumps(err))
    # A bulk run's journal holds the API's message, redacted too.
    files = list((state_dir() / "runs").glob("*.jsonl"))
    assert len(files) == (args[1] == "update")
    for path in files:
        text = path.read_text()
        assert "****" in text and not leaked(text), text
    if "-v" in args:
        assert "* GET" in result.stderr
