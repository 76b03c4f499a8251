"""Threaded HTTP/1.1 loopback server for the sandbox, with latency, rate-limit and faults.

wsgiref's server speaks HTTP/1.0 without keep-alive, which makes every request pay a TCP
handshake; this handler keeps connections open and always sends Content-Length.

Limits (each a constructor argument): a request body above ``max_body`` (1 MiB, Fastify's
default ``bodyLimit``) is a 413 and is never read; a ``Content-Length`` that is not a
non-negative integer is a 400 and a ``Transfer-Encoding`` body a 411 (the connection is closed
after each, since the rest of the stream cannot be trusted); a connection idle between
requests for ``idle_timeout`` seconds (30) is closed; a request whose line, headers and body
have not all arrived ``request_timeout`` seconds (10) after its first byte is cut off; at
most ``max_connections`` (128) connections are served at once, one thread each, and a
connection beyond that is answered 503 with ``Retry-After: 1`` and closed at once.
"""

from __future__ import annotations

import collections
import io
import json
import random
import select
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import unquote

from .app import SandboxApp

FAULT_KINDS = (
    "429",
    "429-no-retry-after",
    "500",
    "502",
    "503",
    "slow",
    "drop",
    "html",
    "invalid-json",
)
MAX_BODY = 1024 * 1024
IDLE_TIMEOUT = 30.0
REQUEST_TIMEOUT = 10.0
MAX_CONNECTIONS = 128
_HTML = b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"


@dataclass
class Fault:
    """A scripted fault waiting for matching requests."""

    kind: str
    remaining: int
    path_contains: str | None = None
    method: str | None = None
    # Serve every ``every``-th matching request (1: each one); the others pass untouched.
    every: int = 1
    matched: int = 0
    # Only requests acting as this workspace (x-as-workspace; "" = sent without the header).
    workspace: str | None = None

    def matches(self, method: str, target: str, workspace: str = "") -> bool:
        """Whether this fault applies to the request."""
        if self.method and self.method.upper() != method:
            return False
        if self.workspace is not None and self.workspace != workspace:
            return False
        return (
            not self.path_contains
            or self.path_contains in unquote(target)
            or (self.path_contains in target)
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # A backstop per read; the whole request's deadline is the reaper's (and counted).
        self.connection.settimeout(self.server.sandbox.request_timeout + 1.0)
        # Small request/response pairs on a kept-alive connection stall on Nagle otherwise.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        """Serve requests on this connection until either side closes it.

        Between requests it polls instead of blocking, so that once ``stop()`` has drained the
        requests in flight an idle kept-alive connection closes itself (until then, a request
        sent on it is answered 503). A pipelined request already in the read buffer would wait
        for the next byte; no client of the sandbox pipelines.
        """
        self.close_connection = False
        sandbox = self.server.sandbox
        while not self.close_connection and sandbox._request_waiting(self.connection):
            try:
                self.handle_one_request()
            finally:
                sandbox._request_read(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the client already closed the connection

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        """Stay quiet: the sandbox must not print (and never logs the key)."""

    def _handle(self) -> None:
        self.server.sandbox._handle(self)

    # No HEAD: the app always answers with a body, which would corrupt a kept-alive stream.
    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_OPTIONS = _handle

    def send_raw(
        self, status: int, body: bytes, content_type: str, extra: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Write the whole response with one send (headers and body together).

        Counted before it is sent, so a client that has its answer sees it in the stats.
        """
        self.server.sandbox._count(status)
        lines = [
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in extra),
        ]
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        self.wfile.flush()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sandbox: SandboxServer

    def process_request(self, request: Any, client_address: Any) -> None:
        # Registered here, in the accept loop, so stop() knows every connection accepted
        # before the loop ended, even one whose thread has not run yet.
        if not self.sandbox._opened(request):
            self.sandbox._refuse(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.sandbox._closed(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.sandbox._closed(request)

    def service_actions(self) -> None:
        super().service_actions()
        self.sandbox._reap()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up is not an error; anything else goes to the server's stream.

        Never ``sys.stderr`` as it is at that moment: in a test run it may belong to another
        test's CliRunner by then.
        """
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | ValueError) and (
            isinstance(exc, ConnectionError) or self.sandbox.closing
        ):
            return
        traceback.print_exc(file=self.sandbox.errors)


class SandboxServer:
    """Serve a ``SandboxApp`` on a loopback port in a daemon thread.

    ``clock`` (seconds, monotonic) drives the rate limiter's windows, so tests can count
    requests per simulated second. ``errors`` receives the tracebacks of sandbox bugs (default:
    ``sys.stderr`` as it is when the server is made). ``stop()`` drains the requests in flight
    before it returns, so the store can be closed right after it.
    """

    def __init__(
        self,
        app: SandboxApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency_ms: float = 0,
        rate_limit: bool = False,
        rps: int = 100,
        rpm: int = 6000,
        fail_rate: float = 0.0,
        retry_after: str = "mixed",
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        errors: TextIO | None = None,
        max_body: int = MAX_BODY,
        idle_timeout: float = IDLE_TIMEOUT,
        request_timeout: float = REQUEST_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        if retry_after not in ("mixed", "always", "never"):
            raise ValueError("retry_after must be 'mixed', 'always' or 'never'")
        self.app = app
        self.host = host
        self.latency_ms = latency_ms
        self.rate_limit = rate_limit
        self.rps = rps
        self.rpm = rpm
        self.fail_rate = fail_rate
        self.retry_after = retry_after
        self.slow_seconds = 2.0
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.request_timeout = request_timeout
        self.max_connections = max_connections
        self.refused = 0
        self.timed_out = 0
        self._deadlines: dict[socket.socket, float] = {}
        self.status_counts: collections.Counter[int] = collections.Counter()
        self.total = 0
        self.received = 0
        self.errors: TextIO = errors if errors is not None else sys.stderr
        self._clock = clock
        self._in_flight = 0
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._drained = threading.Event()  # set by stop() once no request is in flight
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._faults: list[Fault] = []
        self._second: collections.deque[float] = collections.deque()
        self._minute: collections.deque[float] = collections.deque()
        self._limited = 0
        self._httpd = _HTTPServer((host, port), _Handler, bind_and_activate=True)
        self._httpd.sandbox = self
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8765``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        """Serve in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def _reap(self) -> None:
        """Cut off requests still arriving past their deadline (slow or stalled clients).

        Run by the accept loop between polls (no thread of its own: a server's threads are
        its accept loop and one per connection).
        """
        now = time.monotonic()
        with self._lock:
            late = [c for c, deadline in self._deadlines.items() if deadline <= now]
            for conn in late:
                del self._deadlines[conn]
                self.timed_out += 1
        for conn in late:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # closed meanwhile

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop serving, drain the requests in flight, release the port.

        From the first moment of the stop, new requests (on connections already open) are
        answered 503, and requests waiting on ``latency_ms`` or a ``slow`` fault stop waiting and
        are answered 503 too; a request inside the app is let finish. Then idle connections
        close. Waits at most ``timeout`` seconds in all; returns whether everything was done
        (a request still inside the app after that closes its connection once answered).
        """
        deadline = time.monotonic() + timeout
        self._closing.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=timeout)
            self._thread = None
        with self._idle:
            self._wait_for(lambda: self._in_flight == 0, deadline)
            self._drained.set()
            done = self._wait_for(lambda: not self._connections, deadline)
        self._httpd.server_close()
        return done

    def _wait_for(self, condition: Callable[[], bool], deadline: float) -> bool:
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._idle.wait(left)
        return True

    @property
    def closing(self) -> bool:
        """Whether ``stop()`` has begun."""
        return self._closing.is_set()

    @property
    def in_flight(self) -> int:
        """Requests received and not yet answered."""
        with self._lock:
            return self._in_flight

    def _opened(self, conn: socket.socket) -> bool:
        """Register a connection; False when ``max_connections`` are being served already."""
        with self._lock:
            if len(self._connections) >= self.max_connections:
                self.refused += 1
                return False
            self._connections.add(conn)
            return True

    def _refuse(self, conn: socket.socket) -> None:
        """Answer a connection over the limit with a 503, from the accept loop (no thread)."""
        body = json.dumps(
            SandboxApp.envelope(503, "Too many connections to the sandbox; try again.")
        ).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8"
            f"\r\nContent-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        )
        self._count(503)
        try:
            conn.settimeout(0.5)
            conn.sendall(head.encode("latin-1") + body)
        except OSError:
            pass  # the client is gone or does not read: it gets the close

    def _closed(self, conn: socket.socket) -> None:
        with self._idle:
            self._connections.discard(conn)
            self._deadlines.pop(conn, None)
            self._idle.notify_all()

    def _request_read(self, conn: socket.socket) -> None:
        """The request on ``conn`` has fully arrived (or failed): no deadline any more."""
        with self._lock:
            self._deadlines.pop(conn, None)

    @property
    def connections(self) -> int:
        """Connections being served now."""
        with self._lock:
            return len(self._connections)

    def _request_waiting(self, conn: socket.socket) -> bool:
        """Wait until the client sends something (or hangs up); False once the stop drained
        or after ``idle_timeout`` seconds of silence. The request's deadline starts here."""
        idle_until = time.monotonic() + self.idle_timeout
        while True:
            try:
                readable, _, _ = select.select([conn], [], [], 0.05)
            except (OSError, ValueError):
                return False
            if readable:
                with self._lock:
                    self._deadlines[conn] = time.monotonic() + self.request_timeout
                return True
            if self._drained.is_set():
                return False
            if time.monotonic() >= idle_until:
                with self._lock:
                    self.timed_out += 1
                return False

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- knobs ---------------------------------------------------------------------------

    def inject(
        self,
        kind: str,
        count: int = 1,
        *,
        path_contains: str | None = None,
        method: str | None = None,
        every: int = 1,
        workspace: str | None = None,
    ) -> None:
        """Serve ``kind`` to the next ``count`` matching requests, or with ``every=N`` to every
        N-th matching request (``count`` times; the others are answered normally).

        ``workspace`` limits it to requests sent with ``x-as-workspace: workspace`` ("" for
        requests without the header): one sub-workspace failing while the others answer.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if every < 1:
            raise ValueError("every must be 1 or more")
        with self._lock:
            self._faults.append(
                Fault(kind, count, path_contains, method, every, workspace=workspace)
            )

    def clear_faults(self) -> None:
        """Forget every scripted fault still waiting."""
        with self._lock:
            self._faults.clear()

    @property
    def stats(self) -> dict[str, Any]:
        """Snapshot: requests received, answered (``total``) and in flight, answers by status."""
        with self._lock:
            return {
                "received": self.received,
                "total": self.total,
                "in_flight": self._in_flight,
                "status_counts": dict(self.status_counts),
            }

    def _count(self, status: int) -> None:
        with self._lock:
            self.status_counts[status] += 1
            self.total += 1

    def _take_fault(self, method: str, target: str, workspace: str = "") -> str | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(method, target, workspace):
                    fault.matched += 1
                    if fault.matched % fault.every:
                        continue
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault.kind
        return None

    def _over_limit(self) -> bool:
        """Sliding one-second and one-minute windows; refused requests do not count."""
        now = self._clock()
        with self._lock:
            while self._second and now - self._second[0] >= 1.0:
                self._second.popleft()
            while self._minute and now - self._minute[0] >= 60.0:
                self._minute.popleft()
            if len(self._second) >= self.rps or len(self._minute) >= self.rpm:
                return True
            self._second.append(now)
            self._minute.append(now)
            return False

    def _retry_after_header(self, kind: str) -> list[tuple[str, str]]:
        if kind == "429":
            return [("Retry-After", "1")]
        if kind == "429-no-retry-after" or self.retry_after == "never":
            return []
        if self.retry_after == "always":
            return [("Retry-After", "1")]
        with self._lock:
            self._limited += 1
            odd = self._limited % 2 == 1
        return [("Retry-After", "1")] if odd else []

    # -- one request -------------------------------------------------------------------

    def _envelope(
        self,
        handler: _Handler,
        status: int,
        message: str,
        extra: Sequence[tuple[str, str]] = (),
    ) -> None:
        body = json.dumps(SandboxApp.envelope(status, message)).encode()
        handler.send_raw(status, body, "application/json; charset=utf-8", extra)

    def _shutting_down(self, handler: _Handler) -> None:
        handler.close_connection = True
        self._envelope(handler, 503, "The sandbox is shutting down; try again when it is back.")

    def _handle(self, handler: _Handler) -> None:
        with self._lock:
            self.received += 1
            self._in_flight += 1
        try:
            if self._closing.is_set():
                self._shutting_down(handler)
            else:
                self._handle_one(handler)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _read_body(self, handler: _Handler) -> bytes | None:
        """The request body, or None when it was refused (answered) or did not arrive."""
        raw = (handler.headers.get("Content-Length") or "").strip()
        if handler.headers.get("Transfer-Encoding"):
            handler.close_connection = True
            self._envelope(handler, 411, "Send the body with a Content-Length, not chunked.")
            return None
        if raw and not (raw.isascii() and raw.isdigit()):
            handler.close_connection = True
            self._envelope(handler, 400, "Content-Length must be a non-negative integer")
            return None
        length = int(raw) if raw else 0
        if length > self.max_body:
            # Never read: closing the connection is the only way not to.
            handler.close_connection = True
            self._envelope(
                handler,
                413,
                f"Request body is too large: {length:,} bytes (the limit is {self.max_body:,}).",
            )
            return None
        try:
            body = handler.rfile.read(length) if length > 0 else b""
        except OSError:
            body = b""
        if len(body) < length:  # cut off by the deadline, or the client hung up
            handler.close_connection = True
            # Counted as done (nginx's 499, "client closed request"): nothing is left in flight,
            # so whoever waits for the server to drain is not waiting for it.
            self._count(499)
            return None
        self._request_read(handler.connection)
        return body

    def _handle_one(self, handler: _Handler) -> None:
        method, target = handler.command, handler.path
        body = self._read_body(handler)
        if body is None:
            return
        # Waits end early when the server stops: a stop never waits for an injected delay.
        if self.latency_ms and self._closing.wait(self.latency_ms / 1000):
            self._shutting_down(handler)
            return
        kind = self._take_fault(method, target, handler.headers.get("x-as-workspace", "").strip())
        if kind in ("429", "429-no-retry-after"):
            self._envelope(handler, 429, "Too Many Requests", self._retry_after_header(kind))
            return
        if kind in ("500", "502", "503"):
            status = int(kind)
            self._envelope(handler, status, f"Injected fault {status}")
            return
        if kind == "html":
            handler.send_raw(502, _HTML, "text/html")
            return
        if kind == "invalid-json":
            handler.send_raw(200, b"{not json", "application/json")
            return
        if kind == "slow" and self._closing.wait(self.slow_seconds):
            self._shutting_down(handler)
            return
        if kind is None and self.rate_limit and self._over_limit():
            self._envelope(handler, 429, "Too Many Requests", self._retry_after_header("mixed"))
            return
        if kind is None and self.fail_rate > 0:
            with self._lock:
                hit = self._rng.random() < self.fail_rate
                status = self._rng.choice((500, 502, 503))
            if hit:
                self._envelope(handler, status, f"Random fault {status}")
                return
        if self._closing.is_set():
            self._shutting_down(handler)
            return
        status, headers, payload = self._call_app(handler, method, target, body)
        if self._closing.is_set():
            handler.close_connection = True
        if kind == "drop":
            # The app ran (state changed) but the client sees a connection cut mid-response.
            handler.close_connection = True
            self._count(status)
            handler.wfile.write(f"HTTP/1.1 {status} OK\r\nContent-Ty".encode())
            handler.wfile.flush()
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        content_type = headers.get("content-type", "application/json")
        handler.send_raw(status, payload, content_type)

    def _call_app(
        self, handler: _Handler, method: str, target: str, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        path, _, query = target.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            # PEP 3333: PATH_INFO is the decoded path as latin-1 text.
            "PATH_INFO": unquote(path, encoding="latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": target,
            "SERVER_NAME": self.host,
            "SERVER_PORT": str(self.port),
            "SERVER_PROTOCOL": handler.request_version,
            "REMOTE_ADDR": handler.client_address[0],
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": self.errors,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if handler.headers.get("Content-Type"):
            environ["CONTENT_TYPE"] = handler.headers["Content-Type"]
        for name, value in handler.headers.items():
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[f"HTTP_{key}"] = value
        seen: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            seen["status"], seen["headers"] = status, headers
            return lambda _data: None

        chunks = self.app(environ, start_response)
        payload = b"".join(chunks)
        status_code = int(str(seen["status"]).split(" ", 1)[0])
        headers = {k.lower(): v for k, v in seen["headers"]}
        return status_code, headers, payload
