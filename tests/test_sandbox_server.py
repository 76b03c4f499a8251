"""The sandbox loopback server: keep-alive, latency, rate limit, scripted and random faults."""

from __future__ import annotations

import io
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import Store
from tests.contract import validate_recorded
from tests.waiting import PATIENCE, wait_until

KEY = "server-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ZOE = "zoe.muller@acme-outreach.com"
ACTIVE = "ops%2Beu%40acme-outreach.com"  # seeded with status 1 (active)


@pytest.fixture
def app() -> Iterator[SandboxApp]:
    store = Store()
    store.ensure_seeded(120)
    application = SandboxApp(store, api_key=KEY)
    yield application
    validate_recorded(application)
    store.close()


def make(app: SandboxApp, **knobs: Any) -> SandboxServer:
    return SandboxServer(app, seed=7, **knobs).start()


@pytest.fixture
def server(app: SandboxApp) -> Iterator[SandboxServer]:
    srv = make(app)
    yield srv
    srv.stop()


@pytest.fixture
def client(server: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as c:
        yield c


def test_basic_get_with_keep_alive(server: SandboxServer, client: httpx.Client) -> None:
    assert server.url == f"http://127.0.0.1:{server.port}" and server.port > 0
    peers = []

    def remember(response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        peers.append(stream.get_extra_info("client_addr") if stream else None)

    client.event_hooks["response"] = [remember]
    first = client.get("/api/v2/accounts", params={"limit": 2})
    second = client.get("/api/v2/accounts/zoe.muller%40acme-outreach.com")
    assert first.status_code == 200 and len(first.json()["items"]) == 2
    assert first.http_version == "HTTP/1.1"
    assert int(first.headers["content-length"]) == len(first.content)
    assert second.json()["first_name"] == "Zoë"
    assert peers[0] is not None and peers[0] == peers[1]  # same local port: one connection
    assert server.stats["total"] == 2 and server.status_counts[200] == 2


def test_plus_email_and_cursor_over_the_wire(client: httpx.Client, app: SandboxApp) -> None:
    resp = client.get("/api/v2/accounts/ops%2Beu%40acme-outreach.com")
    assert resp.json()["email"] == "ops+eu@acme-outreach.com"
    assert app.requests[-1].path == "/api/v2/accounts/ops%2Beu%40acme-outreach.com"
    seen = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 50}
        if cursor:
            params["starting_after"] = cursor
        page = client.get("/api/v2/accounts", params=params).json()
        seen += [a["email"] for a in page["items"]]
        cursor = page.get("next_starting_after")
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 120


def test_latency_knob(app: SandboxApp) -> None:
    with make(app, latency_ms=150) as srv, httpx.Client(base_url=srv.url, headers=AUTH) as c:
        started = time.monotonic()
        assert c.get("/api/v2/accounts", params={"limit": 1}).status_code == 200
        assert time.monotonic() - started >= 0.15


class FakeClock:
    """The limiter's clock: time moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limit_counts_requests_per_second(app: SandboxApp) -> None:
    clock = FakeClock()
    with make(app, rate_limit=True, rps=20, retry_after="always", clock=clock) as srv:
        with httpx.Client(base_url=srv.url, headers=AUTH) as c:
            statuses = [c.get("/api/v2/custom-tags").status_code for _ in range(40)]
            assert statuses == [200] * 20 + [429] * 20
            resp = c.get("/api/v2/custom-tags")
            assert resp.status_code == 429 and resp.headers["retry-after"] == "1"
            assert resp.json()["error"] == "Too Many Requests"
            clock.now += 0.999  # still the same second: refusals did not count, the 20 do
            assert c.get("/api/v2/custom-tags").status_code == 429
            clock.now += 0.001
            statuses = [c.get("/api/v2/custom-tags").status_code for _ in range(21)]
            assert statuses == [200] * 20 + [429]
        assert srv.status_counts == {200: 40, 429: 23}


def test_rate_limit_default_100_rps(app: SandboxApp) -> None:
    with make(app, rate_limit=True, retry_after="never", clock=FakeClock()) as srv:
        with httpx.Client(base_url=srv.url, headers=AUTH) as c:
            statuses = [c.get("/api/v2/custom-tags", params={"limit": 1}) for _ in range(101)]
    assert [r.status_code for r in statuses] == [200] * 100 + [429]
    assert "retry-after" not in statuses[-1].headers
    assert srv.status_counts == {200: 100, 429: 1}


def test_rate_limit_per_minute(app: SandboxApp) -> None:
    clock = FakeClock()
    with make(app, rate_limit=True, rps=5, rpm=12, clock=clock) as srv:
        with httpx.Client(base_url=srv.url, headers=AUTH) as c:

            def second() -> list[int]:
                codes = [c.get("/api/v2/custom-tags").status_code for _ in range(6)]
                clock.now += 1.0
                return codes

            assert second() == [200] * 5 + [429]
            assert second() == [200] * 5 + [429]
            assert second() == [200] * 2 + [429] * 4  # 12 in this minute
            clock.now += 57.0  # the first second's five leave the minute
            assert second() == [200] * 5 + [429]


def test_retry_after_mixed_alternates(app: SandboxApp) -> None:
    with make(app, rate_limit=True, rps=1, retry_after="mixed", clock=FakeClock()) as srv:
        with httpx.Client(base_url=srv.url, headers=AUTH) as c:
            c.get("/api/v2/custom-tags")
            headers = [c.get("/api/v2/custom-tags").headers.get("retry-after") for _ in range(4)]
    assert headers == ["1", None, "1", None]


@pytest.mark.parametrize(
    ("kind", "status", "retry_after"),
    [
        ("429", 429, "1"),
        ("429-no-retry-after", 429, None),
        ("500", 500, None),
        ("502", 502, None),
        ("503", 503, None),
    ],
)
def test_scripted_status_faults_change_nothing(
    server: SandboxServer, client: httpx.Client, kind: str, status: int, retry_after: str | None
) -> None:
    server.inject(kind, 1, path_contains="/pause", method="POST")
    # Not matching: another path and another method go through.
    assert client.get(f"/api/v2/accounts/{ACTIVE}").json()["status"] == 1
    resp = client.post(f"/api/v2/accounts/{ACTIVE}/pause")
    assert resp.status_code == status
    assert resp.json()["statusCode"] == status
    assert resp.headers.get("retry-after") == retry_after
    assert client.get(f"/api/v2/accounts/{ACTIVE}").json()["status"] == 1  # nothing happened
    assert client.post(f"/api/v2/accounts/{ACTIVE}/pause").json()["status"] == 2  # fault used up


def test_fault_count(server: SandboxServer, client: httpx.Client) -> None:
    server.inject("503", 3)
    codes = [client.get("/api/v2/custom-tags").status_code for _ in range(4)]
    assert codes == [503, 503, 503, 200]


def test_slow_fault_triggers_read_timeout(server: SandboxServer) -> None:
    server.slow_seconds = 600  # never over by itself: the fixture's stop() ends the wait
    server.inject("slow")
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=0.2) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.get("/api/v2/custom-tags")
    assert server.in_flight == 1  # still waiting; the next request does not queue behind it
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=5) as c:
        assert c.get("/api/v2/custom-tags").status_code == 200


def test_drop_fault_runs_the_app_then_cuts_the_connection(
    server: SandboxServer, client: httpx.Client
) -> None:
    server.inject("drop", path_contains="/pause")
    assert client.get(f"/api/v2/accounts/{ACTIVE}").json()["status"] == 1
    with pytest.raises(httpx.TransportError):
        client.post(f"/api/v2/accounts/{ACTIVE}/pause")
    assert client.get(f"/api/v2/accounts/{ACTIVE}").json()["status"] == 2  # the write happened


def test_html_and_invalid_json_faults(server: SandboxServer, client: httpx.Client) -> None:
    server.inject("html")
    server.inject("invalid-json")
    html = client.get("/api/v2/accounts")
    assert html.status_code == 502 and html.headers["content-type"].startswith("text/html")
    assert "Bad Gateway" in html.text
    broken = client.get("/api/v2/accounts")
    assert broken.status_code == 200 and broken.text == "{not json"
    with pytest.raises(ValueError):
        broken.json()
    assert client.get("/api/v2/accounts", params={"limit": 1}).status_code == 200


def test_unknown_fault_kind_rejected(server: SandboxServer) -> None:
    with pytest.raises(ValueError):
        server.inject("teapot")


def test_fail_rate(app: SandboxApp) -> None:
    with make(app, fail_rate=0.5) as srv, httpx.Client(base_url=srv.url, headers=AUTH) as c:
        codes = [c.post(f"/api/v2/accounts/{ZOE}/resume").status_code for _ in range(60)]
    failures = [s for s in codes if s != 200]
    assert 10 < len(failures) < 50
    assert set(failures) <= {500, 502, 503}
    # A faulted request never reached the app.
    assert app.request_count == codes.count(200)


def test_state_shared_between_clients(server: SandboxServer, client: httpx.Client) -> None:
    client.patch(f"/api/v2/accounts/{ZOE}", json={"first_name": "Shared"})
    with httpx.Client(base_url=server.url, headers=AUTH) as other:
        assert other.get(f"/api/v2/accounts/{ZOE}").json()["first_name"] == "Shared"


def test_errors_over_the_wire(client: httpx.Client, server: SandboxServer) -> None:
    resp = client.get("/api/v2/accounts", headers={"Authorization": "Bearer wrong"})
    assert resp.status_code == 401 and resp.json()["error"] == "Unauthorized"
    assert client.get("/api/v2/nope").status_code == 404
    assert server.status_counts[401] == 1 and server.status_counts[404] == 1


def test_clean_stop_releases_port(app: SandboxApp) -> None:
    srv = make(app)
    port = srv.port
    with httpx.Client(base_url=srv.url, headers=AUTH) as c:
        assert c.get("/api/v2/custom-tags").status_code == 200
    srv.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


# -- stopping with requests in flight ------------------------------------------------------


class GatedApp(SandboxApp):
    """Holds every PATCH inside the app until the test opens the gate."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, api_key=KEY)
        self.entered = threading.Event()
        self.gate = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "PATCH":
            self.entered.set()
            assert self.gate.wait(PATIENCE)
        return super().__call__(environ, start_response)


def in_thread(func: Any) -> tuple[threading.Thread, list[Any]]:
    got: list[Any] = []

    def run() -> None:
        try:
            got.append(func())
        except Exception as exc:  # noqa: BLE001 - the test asserts on it
            got.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, got


def assert_shutting_down(resp: httpx.Response) -> None:
    assert resp.status_code == 503
    body = resp.json()
    assert body == {"statusCode": 503, "error": "Service Unavailable", "message": body["message"]}
    assert "shutting down" in body["message"]


def test_stop_lets_a_request_inside_the_app_finish_and_turns_new_ones_away() -> None:
    store = Store()
    store.ensure_seeded(20)
    app = GatedApp(store)
    errors = io.StringIO()
    srv = SandboxServer(app, errors=errors).start()
    with (
        httpx.Client(base_url=srv.url, headers=AUTH, timeout=PATIENCE) as idle,
        httpx.Client(base_url=srv.url, headers=AUTH, timeout=PATIENCE) as busy,
    ):
        assert idle.get("/api/v2/custom-tags").status_code == 200  # a kept-alive connection
        patch, patched = in_thread(
            lambda: busy.patch(f"/api/v2/accounts/{ZOE}", json={"first_name": "Drained"})
        )
        assert app.entered.wait(PATIENCE)
        stopper, stopped = in_thread(srv.stop)
        wait_until(lambda: srv.closing, "stop() to begin")
        # A request that arrives during the stop gets a clean envelope, not the store.
        assert_shutting_down(idle.get("/api/v2/custom-tags"))
        # (The 503's handler counts itself out just after its answer was sent.)
        wait_until(lambda: srv.in_flight == 1, "only the PATCH in flight")
        assert stopper.is_alive()  # stop() waits for the PATCH
        app.gate.set()
        patch.join(PATIENCE)
        stopper.join(PATIENCE)
    assert stopped == [True]  # drained
    [resp] = patched
    assert resp.status_code == 200 and resp.json()["first_name"] == "Drained"
    store.close()  # safe now: no handler is left to touch it
    assert errors.getvalue() == ""
    assert srv.status_counts == {200: 2, 503: 1}


def test_stop_ends_injected_waits_with_503_and_closes_idle_connections(app: SandboxApp) -> None:
    errors = io.StringIO()
    srv = SandboxServer(app, latency_ms=600_000, errors=errors).start()  # ten minutes
    clients = [httpx.Client(base_url=srv.url, headers=AUTH, timeout=PATIENCE) for _ in range(3)]
    try:
        calls = [in_thread(lambda c=c: c.get("/api/v2/custom-tags")) for c in clients]
        wait_until(lambda: srv.in_flight == 3, "three requests in flight")
        assert srv.stop() is True
        for thread, got in calls:
            thread.join(PATIENCE)
            [resp] = got
            assert_shutting_down(resp)
        assert app.request_count == 0  # none of them reached the app
    finally:
        for c in clients:
            c.close()
    assert errors.getvalue() == ""
    assert srv.stats == {"received": 3, "total": 3, "in_flight": 0, "status_counts": {503: 3}}


def test_stop_gives_up_draining_after_its_timeout() -> None:
    store = Store()
    store.ensure_seeded(20)
    app = GatedApp(store)
    srv = SandboxServer(app, errors=io.StringIO()).start()
    with httpx.Client(base_url=srv.url, headers=AUTH, timeout=PATIENCE) as c:
        patch, patched = in_thread(
            lambda: c.patch(f"/api/v2/accounts/{ZOE}", json={"first_name": "Late"})
        )
        assert app.entered.wait(PATIENCE)
        assert srv.stop(timeout=0.05) is False  # the PATCH is still inside the app
        app.gate.set()
        patch.join(PATIENCE)
    wait_until(lambda: srv.in_flight == 0, "the PATCH to finish")
    assert patched[0].status_code == 200
    store.close()


def test_a_closed_store_is_a_503_not_a_traceback(app: SandboxApp) -> None:
    errors = io.StringIO()
    with make(app, errors=errors) as srv, httpx.Client(base_url=srv.url, headers=AUTH) as c:
        app.store.close()
        assert_shutting_down(c.get("/api/v2/custom-tags"))
    assert errors.getvalue() == ""


def test_a_sandbox_bug_is_reported_on_the_servers_stream_only(
    app: SandboxApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("sandbox bug")

    monkeypatch.setattr(app.store, "list_tags", broken)
    errors = io.StringIO()
    elsewhere = io.StringIO()  # what sys.stderr is by the time the handler runs
    with make(app, errors=errors) as srv, httpx.Client(base_url=srv.url, headers=AUTH) as c:
        monkeypatch.setattr(sys, "stderr", elsewhere)
        resp = c.get("/api/v2/custom-tags")
    assert resp.status_code == 500 and resp.json()["statusCode"] == 500
    assert "RuntimeError: sandbox bug" in errors.getvalue()
    assert elsewhere.getvalue() == ""


def test_a_fault_can_hit_one_workspace_only(server: SandboxServer, client: httpx.Client) -> None:
    from instantly_cli.sandbox.seed import SUB_WORKSPACES

    north, south = SUB_WORKSPACES[0][0], SUB_WORKSPACES[1][0]
    server.inject("500", 3, workspace=north)
    assert client.get("/api/v2/accounts", headers={"x-as-workspace": north}).status_code == 500
    assert client.get("/api/v2/accounts", headers={"x-as-workspace": south}).status_code == 200
    assert client.get("/api/v2/accounts").status_code == 200
    server.inject("503", 1, workspace="")
    assert client.get("/api/v2/accounts", headers={"x-as-workspace": south}).status_code == 200
    assert client.get("/api/v2/accounts").status_code == 503
