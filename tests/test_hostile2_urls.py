"""A base URL with ``user:pass@`` never shows its password (issue 26, item 7).

The password of a base URL's userinfo was saved in plain text in the journal's ``where`` and
shown by ``auth status`` and ``config show``. ``errors.safe_url`` drops the userinfo of a URL
that is shown; the password is registered as a secret, so every redacted text hides it too.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from instantly_cli.errors import REDACTOR, register_url_secret, safe_url
from tests.hostile import HostileServer, Request, answer
from tests.test_e2e_server import base_env, instantly

PASSWORD = "Proxy-Pass-Word-77"
KEY = "url-test-key-0123456789"
OPS = "ops+eu@acme-outreach.com"


def config_path() -> Path:
    """Where the CLI reads its config in this test (conftest points the folder at tmp)."""
    return Path(os.environ["INSTANTLY_CONFIG_DIR"]) / "config.toml"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://bob:pw-123456@proxy.example/api", "https://proxy.example/api"),
        ("http://bob@proxy.example:8080", "http://proxy.example:8080"),
        ("http://a:b@c@proxy.example/x?y=1#z", "http://proxy.example/x?y=1#z"),
        ("https://api.instantly.ai", "https://api.instantly.ai"),
        ("https://host/path@with-at", "https://host/path@with-at"),
        ("https://host?next=u:p@x", "https://host?next=u:p@x"),
        ("not a url", "not a url"),
        ("", ""),
    ],
)
def test_safe_url_drops_the_userinfo(url: str, shown: str) -> None:
    assert safe_url(url) == shown


def test_the_password_of_a_url_becomes_a_secret() -> None:
    REDACTOR.reset()
    try:
        register_url_secret("https://bob:Proxy%2DPass%2DWord-77@proxy.example")
        assert REDACTOR(f"echo {PASSWORD} and Proxy%2DPass%2DWord-77") == "echo **** and ****"
    finally:
        REDACTOR.reset()


def test_auth_status_and_config_show_hide_the_password(cli, monkeypatch) -> None:
    url = f"http://bob:{PASSWORD}@127.0.0.1:9"
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(f'[profiles.default]\napi_key = "{KEY}"\nbase_url = "{url}"\n')
    path.chmod(0o600)
    for args in (
        ["auth", "status", "--offline", "--json"],
        ["auth", "status", "--offline", "-o", "tsv"],
        ["config", "show", "--json"],
        ["config", "show", "-o", "tsv"],
    ):
        result = cli(args)
        assert result.exit_code == 0, result.stderr
        assert PASSWORD not in result.stdout + result.stderr, result.stdout
        assert "127.0.0.1:9" in result.stdout
    status = json.loads(cli(["auth", "status", "--offline", "--json"]).stdout)
    assert status[0]["base_url"] == "http://127.0.0.1:9"


def fail_with_echo(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
    """Every answer a 400 whose message echoes the proxy password."""
    body = {"statusCode": 400, "error": "Bad", "message": f"proxy said {PASSWORD} no"}
    answer(conn, 400, json.dumps(body).encode())


@pytest.fixture
def echo() -> Iterator[HostileServer]:
    srv = HostileServer(fail_with_echo).start()
    yield srv
    srv.stop()


@pytest.mark.slow
def test_a_bulk_run_records_no_password(echo: HostileServer, tmp_path: Path) -> None:
    url = echo.url.replace("http://", f"http://bob:{PASSWORD}@")
    env = {
        **base_env(tmp_path),
        "INSTANTLY_BASE_URL": url,
        "INSTANTLY_API_KEY": KEY,
        "INSTANTLY_STATE_DIR": str(tmp_path / "state"),
    }
    env.pop("PYTHONUNBUFFERED", None)
    proc = subprocess.run(
        [*instantly(), "-v", "accounts", "update", OPS, "--daily-limit", "4", "--yes"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert echo.requests >= 1
    assert proc.returncode == 1, proc.stderr
    assert "proxy said **** no" in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    files = [Path(root, name) for root, _, names in os.walk(tmp_path / "state") for name in names]
    assert any("runs" in str(p) for p in files), files  # the journal (and a failure file)
    for path in files:
        assert PASSWORD not in path.read_text(), path.read_text()
