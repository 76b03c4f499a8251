"""Small misbehaving HTTP servers on 127.0.0.1, for tests that a real API cannot stage.

``HostileServer(respond)`` accepts connections on a loopback port in a thread and hands each
request to ``respond(conn, request, stopping)``, which writes whatever it likes to the socket.
Every loop is bounded: by ``stopping`` (set by ``stop()``) and by ``LIFETIME`` seconds.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass

LIFETIME = 90.0  # no connection is served longer than this, whatever a test does


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]


Respond = Callable[[socket.socket, Request, threading.Event], None]


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    hostile: HostileServer


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        hostile = self.server.hostile
        conn: socket.socket = self.request
        conn.settimeout(LIFETIME)
        buffer = b""
        try:
            while not hostile.stopping.is_set():
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                while len(buffer) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                buffer = buffer[length:]
                hostile.count()
                hostile.respond(conn, Request(method, target, headers), hostile.stopping)
        except OSError:
            return  # the client gave up or hung up: that is what these servers provoke


class HostileServer:
    """A loopback server whose answers are written by ``respond``; started and stopped by tests."""

    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.stopping = threading.Event()
        self.requests = 0
        self._changed = threading.Condition()
        self._tcp = _TCPServer(("127.0.0.1", 0), _Handler)
        self._tcp.hostile = self
        self._thread = threading.Thread(
            target=self._tcp.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._tcp.server_address[1]}"

    def count(self) -> None:
        with self._changed:
            self.requests += 1
            self._changed.notify_all()

    def start(self) -> HostileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._tcp.shutdown()
        self._thread.join(10)
        self._tcp.server_close()


def answer(
    conn: socket.socket, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    """Write one complete HTTP/1.1 answer (kept alive)."""
    fields = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    fields.update(headers or {})
    head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    conn.sendall(head.encode("latin-1") + b"\r\n" + body)
