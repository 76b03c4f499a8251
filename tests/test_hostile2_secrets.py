"""No key or mailbox password in any encoding, nor a large piece of one (issue 26, item 6).

A server may echo the key in hex (either case), fully %-encoded (every byte, either case, even
twice), as ``\\xNN`` escapes, or split across its ``error`` and ``message`` fields; a mailbox
password in hex or by halves. ``Redactor`` replaces each of those, and any run of 8 or more
characters of a secret, wherever text is shown or written: messages, ``-v`` lines, the ``api``
command's envelope, failure files and journals. The CLI cases run over real loopback sockets.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from instantly_cli.errors import Redactor
from tests.hostile import HostileServer, Request, answer
from tests.test_e2e_server import base_env, instantly

KEY = "sk_Leak+Check/9f8e7d6c5b4a=="
PASSWORD = "Mailbox-Pass-2024!xyz"
OPS = "ops+eu@acme-outreach.com"
FRAGMENT = 8  # the documented shortest piece of a secret that is redacted


def hexed(text: str) -> str:
    return text.encode().hex()


def percent(text: str, fmt: str = "%{:02X}") -> str:
    return "".join(fmt.format(b) for b in text.encode())


def mixed_case(text: str) -> str:
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(text))


def halves(text: str) -> tuple[str, str]:
    mid = len(text) // 2
    return text[:mid], text[mid:]


def forms(secret: str) -> dict[str, str]:
    """What a hostile server echoes: each form of ``secret`` a careless redaction lets through."""
    first, second = halves(secret)
    return {
        "hex": hexed(secret),
        "HEX": hexed(secret).upper(),
        "hEx mixed": mixed_case(hexed(secret)),
        "hex of Bearer": hexed(f"Bearer {secret}"),
        "hex at odd offset": "a" + hexed(secret),
        "hex spaced": " ".join(f"{b:02x}" for b in secret.encode()),
        "hex colons": ":".join(f"{b:02X}" for b in secret.encode()),
        "\\x escapes": percent(secret, "\\x{:02x}"),
        "%-encoded every byte, upper": percent(secret),
        "%-encoded every byte, lower": percent(secret, "%{:02x}"),
        "%-encoded every byte, mixed": mixed_case(percent(secret)),
        "%-encoded twice": percent(secret, "%25{:02X}"),
        "%-encoded in part": secret[:5] + percent(secret[5:]),
        "\\u escapes": "".join(f"\\u{ord(c):04x}" for c in secret),
        "halves apart": f"{first} and later {second}",
        "first half": f"starts {first}",
        "second half": f"ends {second}",
        "half in hex": hexed(second),
        "middle piece": secret[3 : 3 + FRAGMENT],
    }


def leaks(secret: str, text: str) -> list[str]:
    """The forms (and raw pieces) of ``secret`` still visible in ``text``."""
    found = [name for name, form in forms(secret).items() if form in text]
    raw = secret.encode()
    pieces = {secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)}
    hexes = {raw[i : i + FRAGMENT].hex() for i in range(len(raw) - FRAGMENT + 1)}
    lowered = text.lower()
    found += [f"piece {p!r}" for p in pieces if p in text]
    found += [f"hex piece {h}" for h in hexes if h in lowered]
    return found


@pytest.mark.parametrize("secret", [KEY, PASSWORD])
@pytest.mark.parametrize("name", list(forms(KEY)))
def test_each_form_is_redacted(secret: str, name: str) -> None:
    redact = Redactor()
    redact.add(secret)
    shown = redact(f"upstream said: {forms(secret)[name]} (end)")
    assert "****" in shown and not leaks(secret, shown), shown
    assert shown.startswith("upstream said: ") and shown.endswith(" (end)"), shown


@pytest.mark.parametrize("name", list(forms(KEY)))
def test_each_form_is_redacted_among_many_secrets(name: str) -> None:
    """A CSV of mailboxes registers hundreds of passwords: the pieces are then looked up by
    window instead of searched one by one; the result is the same."""
    redact = Redactor()
    for n in range(50):
        redact.add(f"mailbox-{n:03d}-passphrase")
    redact.add(KEY)
    shown = redact(f"upstream said: {forms(KEY)[name]} (end)")
    assert "****" in shown and not leaks(KEY, shown), shown
    assert redact("ops+eu@acme-outreach.com mailbox") == "ops+eu@acme-outreach.com mailbox"


def test_ordinary_text_is_left_alone() -> None:
    redact = Redactor()
    redact.add(KEY)
    redact.add(PASSWORD)
    texts = [
        "ops+eu@acme-outreach.com has 0123456789abcdef0123456789abcdef as its id",
        "550e8400-e29b-41d4-a716-446655440000 %41%42 \\x41 \\u0041 sk_Leak Pass-20 (7 each)",
        hexed("a different secret entirely"),
        percent("a different secret entirely"),
        "****" + KEY[-4:],  # the masked form auth status shows
    ]
    for text in texts:
        assert redact(text) == text


def test_nothing_registered_means_nothing_changes() -> None:
    assert Redactor()(forms(KEY)["hex"]) == forms(KEY)["hex"]


# -- the CLI against a server that echoes the secrets --------------------------------------------


def echo_body(secret: str, status: int) -> dict[str, object]:
    """An error envelope: every form in ``error``, the halves of the secret split across
    ``error`` and ``message`` (neither field holds it whole)."""
    first, second = halves(secret)
    every = "; ".join(f"{name}: {form}" for name, form in forms(secret).items())
    return {
        "statusCode": status,
        "error": f"{every}; then {first}",
        "message": f"{every}; then {second} bad",
    }


def echoing(secret: str) -> Callable[[socket.socket, Request, threading.Event], None]:
    def respond(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
        status = 500 if request.method == "GET" and "/accounts/" in request.target else 400
        answer(conn, status, json.dumps(echo_body(secret, status)).encode())

    return respond


@pytest.fixture
def key_echo() -> Iterator[HostileServer]:
    srv = HostileServer(echoing(KEY)).start()
    yield srv
    srv.stop()


def user_env(server: HostileServer, tmp_path: Path) -> dict[str, str]:
    env = {
        **base_env(tmp_path),
        "INSTANTLY_BASE_URL": server.url,
        "INSTANTLY_API_KEY": KEY,
        "INSTANTLY_STATE_DIR": str(tmp_path / "state"),
    }
    env.pop("PYTHONUNBUFFERED", None)  # as users run it
    return env


def run(args: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None):
    return subprocess.run(
        [*instantly(), *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def written(*folders: Path) -> dict[str, str]:
    """Every file the run left behind (failure files, journals), by path."""
    out = {}
    for folder in folders:
        for root, _, names in os.walk(folder):
            for name in names:
                path = Path(root, name)
                out[str(path)] = path.read_text(errors="replace")
    return out


COMMANDS = [
    ["accounts", "list"],
    ["accounts", "list", "--json"],
    ["-v", "accounts", "get", OPS],
    ["accounts", "update", OPS, "--daily-limit", "9", "--yes"],
    ["accounts", "update", OPS, "--daily-limit", "9", "--yes", "--json"],
    ["api", "GET", "/api/v2/accounts"],
    ["api", "PATCH", f"/api/v2/accounts/{OPS}", "-F", "daily_limit=3"],
]


@pytest.mark.slow
@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_an_echoing_server_never_gets_the_key_shown(key_echo, tmp_path: Path, args) -> None:
    work = tmp_path / "work"
    work.mkdir()
    proc = run(args, user_env(key_echo, tmp_path), work)
    assert key_echo.requests >= 1
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "****" in proc.stderr, proc.stderr
    assert not leaks(KEY, proc.stderr), (leaks(KEY, proc.stderr), proc.stderr)
    assert not leaks(KEY, proc.stdout), proc.stdout
    files = written(work, tmp_path / "state")
    if args[1] == "update":
        assert any("runs" in p for p in files), files  # the run's journal (and failure file)
    for path, text in files.items():
        assert not leaks(KEY, text), (path, leaks(KEY, text), text)
    if args[0] == "api":  # the envelope is printed whole, every field redacted
        envelope = json.loads(proc.stderr.strip().splitlines()[-1])
        assert set(envelope) >= {"statusCode", "error", "message"}
        assert envelope["message"].endswith("**** bad"), envelope


@pytest.fixture
def password_echo() -> Iterator[HostileServer]:
    srv = HostileServer(echoing(PASSWORD)).start()
    yield srv
    srv.stop()


@pytest.mark.slow
@pytest.mark.parametrize("fmt", [[], ["--json"]], ids=["text", "json"])
def test_a_mailbox_password_echoed_by_create_is_never_shown(
    password_echo, tmp_path: Path, fmt: list[str]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "new.csv").write_text(
        "email,first_name,last_name,imap_host,smtp_host\n"
        "new1@acme-outreach.com,New,One,imap.acme.io,smtp.acme.io\n"
        "new2@acme-outreach.com,New,Two,imap.acme.io,smtp.acme.io\n"
    )
    args = ["accounts", "create", "--from", "new.csv", "--password-stdin", "--yes", *fmt]
    proc = run(args, user_env(password_echo, tmp_path), work, stdin=PASSWORD + "\n")
    assert password_echo.requests >= 1, proc.stderr
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for text in (proc.stderr, proc.stdout, *written(work, tmp_path / "state").values()):
        assert not leaks(PASSWORD, text), (leaks(PASSWORD, text), text)
