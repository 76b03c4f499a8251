"""``sandbox serve`` against hostile clients, over raw loopback sockets: bounded bodies, bad
framing answered (never dropped, never a traceback), idle and partial requests timed out,
a bounded number of connection threads. Every wait is on the server's state or a socket."""

from __future__ import annotations

import io
import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.server import MAX_BODY, SandboxServer
from instantly_cli.sandbox.store import Store
from tests.waiting import PATIENCE, wait_until

KEY = "hardening-key"
PLUS = "ops%2Beu%40acme-outreach.com"


@pytest.fixture
def app() -> Iterator[SandboxApp]:
    store = Store()
    store.ensure_seeded(20)
    yield SandboxApp(store, api_key=KEY, record=False)
    store.close()


@pytest.fixture
def errors() -> io.StringIO:
    return io.StringIO()


def serve(app: SandboxApp, errors: io.StringIO, **knobs: Any) -> SandboxServer:
    return SandboxServer(app, errors=errors, **knobs).start()


@pytest.fixture
def server(app: SandboxApp, errors: io.StringIO) -> Iterator[SandboxServer]:
    srv = serve(app, errors)
    yield srv
    srv.stop()
    assert errors.getvalue() == ""  # no traceback, whatever the client sent


def connect(server: SandboxServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    chunks: list[bytes] = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def exchange(
    server: SandboxServer, head: str, body: bytes = b""
) -> tuple[int, dict[str, Any], str]:
    """Send one raw request with ``Connection: close``; the status, JSON body and raw head."""
    with connect(server) as sock:
        sock.sendall(head.encode("latin-1") + body)
        raw = read_all(sock)
    head_text, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head_text.split(b" ", 2)[1])
    return status, json.loads(payload), head_text.decode("latin-1")


def request(method: str, path: str, headers: dict[str, str] | None = None) -> str:
    lines = [f"{method} {path} HTTP/1.1", "Host: sandbox", f"Authorization: Bearer {KEY}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return "\r\n".join(lines) + "\r\n\r\n"


def test_a_body_over_the_cap_is_413_and_never_read(server: SandboxServer) -> None:
    size = 800 * 1024 * 1024
    with connect(server) as sock:
        # Only the head is sent: the answer must come without the server reading 800 MB.
        sock.sendall(
            request("PATCH", f"/api/v2/accounts/{PLUS}", {"Content-Length": str(size)}).encode()
        )
        raw = read_all(sock)
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and b"Connection: close" in head
    body = json.loads(payload)
    assert body["statusCode"] == 413 and f"{MAX_BODY:,}" in body["message"]
    # Just under the cap is read and answered by the app.
    small = b'{"first_name": "' + b"x" * (MAX_BODY - 100) + b'"}'
    status, got, _ = exchange(
        server,
        request(
            "PATCH",
            f"/api/v2/accounts/{PLUS}",
            {
                "Content-Length": str(len(small)),
                "Connection": "close",
                "Content-Type": "application/json",
            },
        ),
        small,
    )
    assert status == 200 and len(got["first_name"]) == MAX_BODY - 100


@pytest.mark.parametrize("value", ["abc", "-5", "1e3", " ", "١٢"])
def test_a_bad_content_length_is_answered_400(server: SandboxServer, value: str) -> None:
    head = request("POST", f"/api/v2/accounts/{PLUS}/pause", {"Content-Length": value})
    if not value.strip():
        status, _, _ = exchange(server, head.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"))
        assert status == 200
        return
    with connect(server) as sock:
        sock.sendall(head.encode("utf-8"))
        raw = read_all(sock)
    assert raw.startswith(b"HTTP/1.1 400"), raw[:80]
    assert b"Content-Length" in raw.partition(b"\r\n\r\n")[2]


def test_chunked_bodies_are_411(server: SandboxServer) -> None:
    head = request("POST", "/api/v2/accounts/pause", {"Transfer-Encoding": "chunked"})
    with connect(server) as sock:
        sock.sendall(head.encode() + b"5\r\nhello\r\n0\r\n\r\n")
        raw = read_all(sock)
    assert raw.startswith(b"HTTP/1.1 411")


@pytest.mark.parametrize(
    ("method", "path", "body", "word"),
    [
        ("PATCH", f"/api/v2/accounts/{PLUS}", b'{"first_name": "\\ud800"}', "surrogate"),
        ("POST", "/api/v2/accounts/pause", b"[" * 100_000 + b"]" * 100_000, "nested"),
        (
            "PATCH",
            f"/api/v2/accounts/{PLUS}",
            b'{"warmup": ' * 50_000 + b"1" + b"}" * 50_000,
            "nested",
        ),
        ("PATCH", f"/api/v2/accounts/{PLUS}", b'{"daily_limit": NaN}', "NaN"),
        ("PATCH", f"/api/v2/accounts/{PLUS}", b'{"daily_limit": -Infinity}', "Infinity"),
        ("PATCH", f"/api/v2/accounts/{PLUS}", b'{"daily_limit": 1e400}', "1e400"),
        ("GET", "/api/v2/accounts?skip=99999999999999999999999", b"", "skip"),
        ("GET", "/api/v2/accounts?limit=99999999999999999999999", b"", "limit"),
        ("GET", "/api/v2/custom-tags?limit=-99999999999999999999999", b"", "limit"),
    ],
)
def test_hostile_values_are_400_not_500(
    server: SandboxServer, method: str, path: str, body: bytes, word: str
) -> None:
    headers = {"Connection": "close"}
    if body:
        headers |= {"Content-Length": str(len(body)), "Content-Type": "application/json"}
    status, got, _ = exchange(server, request(method, path, headers), body)
    assert status == 400 and word in got["message"], got


def test_idle_connections_are_closed(app: SandboxApp, errors: io.StringIO) -> None:
    srv = serve(app, errors, idle_timeout=0.3)
    try:
        with connect(srv) as sock:
            wait_until(lambda: srv.connections == 1, "the connection to be served")
            assert sock.recv(1) == b""  # the server hung up: nothing was ever sent
        wait_until(lambda: srv.connections == 0, "the thread to end")
        # A kept-alive connection is closed after its last answer, the same way.
        with connect(srv) as sock:
            sock.sendall(request("GET", "/api/v2/accounts?limit=1").encode())
            raw = read_all(sock)
        assert raw.startswith(b"HTTP/1.1 200") and srv.timed_out == 2
    finally:
        srv.stop()


@pytest.mark.parametrize(
    "partial",
    [
        b"GET /api/v2/accounts HT",
        b"GET /api/v2/accounts HTTP/1.1\r\nHost: x\r\n",
        b'PATCH /api/v2/accounts/x HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"first',
    ],
)
def test_partial_requests_are_cut_off(app: SandboxApp, errors: io.StringIO, partial: bytes) -> None:
    srv = serve(app, errors, request_timeout=0.3, idle_timeout=PATIENCE)
    try:
        with connect(srv) as sock:
            sock.sendall(partial)
            raw = read_all(sock)  # returns once the server closes
        assert not raw.startswith(b"HTTP/1.1 2")
        wait_until(lambda: srv.connections == 0, "the thread to end")
        assert srv.timed_out >= 1 and srv.stats["in_flight"] == 0
    finally:
        srv.stop()
    assert "Traceback" not in errors.getvalue()


def test_connections_are_bounded(app: SandboxApp, errors: io.StringIO) -> None:
    srv = serve(app, errors, max_connections=3, idle_timeout=PATIENCE)
    held = [connect(srv) for _ in range(3)]
    try:
        wait_until(lambda: srv.connections == 3, "three connections to be served")
        with connect(srv) as extra:
            raw = read_all(extra)
        assert raw.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in raw
        assert srv.refused == 1 and srv.connections == 3
        # The held ones still work, and a slot freed is a slot usable again.
        held[0].sendall(request("GET", "/api/v2/accounts?limit=1").encode())
        assert held[0].recv(12) == b"HTTP/1.1 200"
        held.pop(0).close()
        wait_until(lambda: srv.connections == 2, "a slot to free up")
        status, _, _ = exchange(
            srv, request("GET", "/api/v2/accounts?limit=1", {"Connection": "close"})
        )
        assert status == 200
    finally:
        for sock in held:
            sock.close()
        srv.stop()
    assert errors.getvalue() == ""


def test_sandbox_serve_child_with_the_new_flags(tmp_path: Path) -> None:
    """The real command, as users start it: agency layout with accounts, a forbidden resource,
    extra campaigns; and a hostile request answered while it serves."""
    from tests.test_e2e_server import finish, serve_child

    server, err_lines, url = serve_child(
        tmp_path,
        "--accounts", "6", "--sub-accounts", "2", "--extra-campaigns", "4",
        "--forbid", "audit-logs",
    )  # fmt: skip
    try:
        auth = {"Authorization": "Bearer any"}
        north = "5a4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c"
        with httpx.Client(base_url=url, headers=auth, timeout=PATIENCE) as client:
            campaigns = client.get("/api/v2/campaigns").json()["items"]
            assert len(campaigns) == 20
            there = client.get("/api/v2/accounts", headers={"x-as-workspace": north})
            assert len(there.json()["items"]) == 2
            assert client.get("/api/v2/audit-logs").status_code == 403
            bad = client.get("/api/v2/accounts", params={"skip": "9" * 23})
            assert bad.status_code == 400
        server.send_signal(signal.SIGTERM)
    finally:
        _, err = finish(server, err_lines)
    assert server.returncode == 0, err
    assert "403 for audit-logs" in err and "Traceback" not in err
