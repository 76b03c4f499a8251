"""The HTTP client against a mock transport: what the sandbox cannot produce on demand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from instantly_cli import __version__
from instantly_cli.client import InstantlyClient, account_path
from instantly_cli.errors import (
    AuthError,
    InvalidResponseError,
    NetworkError,
    NotFoundError,
    PaymentRequiredError,
    ServerError,
)
from instantly_cli.paging import Pager
from instantly_cli.ratelimit import parse_retry_after
from tests.conftest import TEST_KEY, envelope


def make(handler, **kw) -> tuple[InstantlyClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    # Retries keep their logic but not their waiting.
    kw = {"backoff_base": 0.001, "max_retry_after": 0.01, **kw}
    c = InstantlyClient(
        api_key=TEST_KEY, base_url="http://mock.test", transport=httpx.MockTransport(record), **kw
    )
    return c, seen


def test_headers_auth_user_agent_workspace_and_no_content_type_without_body() -> None:
    c, seen = make(lambda r: httpx.Response(200, json={}), workspace="ws-1")
    c.request("POST", "/api/v2/accounts/a%40b.co/pause")
    c.request("PATCH", "/api/v2/accounts/x", body={"daily_limit": 5})
    bodyless, patched = seen
    assert bodyless.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert bodyless.headers["User-Agent"] == f"instantly-cli/{__version__}"
    assert bodyless.headers["x-as-workspace"] == "ws-1"
    assert "content-type" not in bodyless.headers
    assert patched.headers["content-type"] == "application/json"
    assert json.loads(patched.content) == {"daily_limit": 5}


def test_email_in_path_is_percent_encoded() -> None:
    assert account_path("ops+eu@acme.io") == "/api/v2/accounts/ops%2Beu@acme.io"
    c, seen = make(lambda r: httpx.Response(200, json={"email": "x"}))
    c.get_account("ops+eu@acme.io")
    assert seen[0].url.raw_path == b"/api/v2/accounts/ops%2Beu@acme.io"


def pages_handler(pages: list[dict]):
    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("starting_after")
        index = 0 if cursor is None else int(cursor.split("&")[1].split("@")[0][1:]) + 1
        return httpx.Response(200, json=pages[index])

    return handler


def cursor(i: int) -> str:
    return f"2026-01-0{i + 1}T00:00:00.000Z&u{i}@x.io"


def test_pagination_follows_encoded_cursor_across_three_pages() -> None:
    pages = [
        {"items": [{"email": "a@x.io"}], "next_starting_after": cursor(0)},
        {"items": [{"email": "b@x.io"}], "next_starting_after": cursor(1)},
        {"items": [{"email": "c@x.io"}]},
    ]
    c, seen = make(pages_handler(pages))
    pager = c.pages("/api/v2/accounts", {"status": 1})
    assert [i["email"] for i in pager.items()] == ["a@x.io", "b@x.io", "c@x.io"]
    assert b"starting_after=2026-01-01T00%3A00%3A00.000Z%26u0%40x.io" in seen[1].url.query
    assert seen[1].url.params["status"] == "1"
    assert pager.anomaly is None and not pager.more


def test_pagination_stops_on_empty_page_with_cursor() -> None:
    pages = [
        {"items": [{"email": "a@x.io"}], "next_starting_after": cursor(0)},
        {"items": [], "next_starting_after": cursor(1)},
    ]
    c, seen = make(pages_handler(pages))
    pager = c.pages("/api/v2/accounts")
    assert len(list(pager.items())) == 1
    assert len(seen) == 2
    assert pager.anomaly and "empty page" in pager.anomaly


def test_pagination_stops_on_repeated_cursor() -> None:
    count = iter(range(100))
    c, seen = make(
        lambda r: httpx.Response(
            200,
            json={"items": [{"email": f"{next(count)}@x.io"}], "next_starting_after": cursor(0)},
        )
    )
    pager = c.pages("/api/v2/accounts")
    assert len(list(pager.items())) == 2  # the first page, then the repeat is detected
    assert len(seen) == 2
    assert pager.anomaly and "repeated" in pager.anomaly


def test_fresh_cursors_over_items_already_seen_end_the_walk() -> None:
    """A server answering the same items with a new cursor every time must not loop forever."""
    count = iter(range(1000))
    c, seen = make(
        lambda r: httpx.Response(
            200,
            json={
                "items": [{"email": "a@x.io"}, {"email": "B@x.io"}],
                "next_starting_after": cursor(next(count)),
            },
        )
    )
    pager = c.pages("/api/v2/accounts")
    assert [i["email"] for i in pager.items()] == ["a@x.io", "B@x.io"]
    assert len(seen) == 2
    assert pager.anomaly and "already seen" in pager.anomaly


def test_items_repeated_across_pages_are_listed_once() -> None:
    pages = [
        {"items": [{"email": "a@x.io"}, {"email": "b@x.io"}], "next_starting_after": cursor(0)},
        {"items": [{"email": "b@x.io"}, {"email": "c@x.io"}]},
    ]
    c, _ = make(pages_handler(pages))
    assert [i["email"] for i in c.pages("/api/v2/accounts").items()] == [
        "a@x.io",
        "b@x.io",
        "c@x.io",
    ]


def test_limit_stops_with_cursor_to_continue() -> None:
    pages = [
        {"items": [{"email": f"{i}@x.io"} for i in range(3)], "next_starting_after": cursor(0)}
    ]
    c, seen = make(pages_handler(pages))
    pager = c.pages("/api/v2/accounts", limit=3)
    assert len(list(pager.items())) == 3
    assert seen[0].url.params["limit"] == "3"
    assert pager.more and pager.next_cursor == cursor(0)


@pytest.mark.parametrize(
    ("status", "error", "exc"),
    [
        (401, "Unauthorized", AuthError),
        (402, "Payment Required", PaymentRequiredError),
        (404, "Not Found", NotFoundError),
    ],
)
def test_error_envelope_maps_to_typed_errors(status: int, error: str, exc: type) -> None:
    c, seen = make(lambda r: envelope(status, error, "the API's words"))
    with pytest.raises(exc) as info:
        c.get_account("a@b.co")
    assert info.value.message == "the API's words"
    assert len(seen) == 1  # never retried


def test_429_then_success_is_retried_for_any_method() -> None:
    answers = [
        httpx.Response(429, headers={"Retry-After": "0"}, json={}),
        httpx.Response(200, json={"ok": 1}),
    ]
    c, seen = make(lambda r: answers.pop(0))
    assert c.request("POST", "/api/v2/custom-tags", body={"label": "x"}, safe_to_repeat=False) == {
        "ok": 1
    }
    assert len(seen) == 2


def test_500_retried_for_get_but_not_for_a_create() -> None:
    answers = [envelope(500, "Internal Server Error", "boom"), httpx.Response(200, json={"ok": 1})]
    c, seen = make(lambda r: answers.pop(0))
    assert c.request("GET", "/api/v2/accounts") == {"ok": 1}
    assert len(seen) == 2
    c2, seen2 = make(lambda r: envelope(500, "Internal Server Error", "boom"))
    with pytest.raises(ServerError):
        c2.create_tag("x")
    assert len(seen2) == 1


def test_500_retries_are_bounded() -> None:
    c, seen = make(lambda r: envelope(503, "Service Unavailable", "down"))
    with pytest.raises(ServerError):
        c.request("GET", "/api/v2/accounts")
    assert len(seen) == 5


def test_connection_refused_is_a_network_error_after_retries() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    c, seen = make(refuse)
    with pytest.raises(NetworkError) as info:
        c.request("GET", "/api/v2/accounts")
    assert "Connection refused" in info.value.message
    assert len(seen) == 5


def test_html_error_page_and_invalid_json_are_clear_errors() -> None:
    c, _ = make(
        lambda r: httpx.Response(
            502, text="<html>Bad Gateway</html>", headers={"Content-Type": "text/html"}
        )
    )
    with pytest.raises(ServerError) as info:
        c.request("POST", "/api/v2/custom-tags", body={"label": "x"}, safe_to_repeat=False)
    assert "non-JSON" in info.value.message and "text/html" in info.value.message
    c2, _ = make(lambda r: httpx.Response(200, text="{not json"))
    with pytest.raises(InvalidResponseError):
        c2.request("GET", "/api/v2/accounts")


def test_envelope_inside_200_is_an_error() -> None:
    c, _ = make(
        lambda r: httpx.Response(
            200, json={"statusCode": 404, "error": "Not Found", "message": "gone"}
        )
    )
    with pytest.raises(NotFoundError):
        c.request("GET", "/api/v2/accounts/a@b.co")


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("3600") == 3600.0  # the client caps it (below)
    future = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(future) is not None
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_retry_after_is_honoured() -> None:
    slept: list[float] = []
    answers = [
        httpx.Response(429, headers={"Retry-After": "7"}, json={}),
        httpx.Response(200, json={}),
    ]
    c, _ = make(lambda r: answers.pop(0), sleep=slept.append, max_retry_after=60.0)
    c.request("GET", "/api/v2/accounts")
    assert 7.0 in slept


@pytest.mark.parametrize(("cap", "header", "waited"), [(60.0, "3600", 60.0), (120.0, "90", 90.0),
                                                       (120.0, "nan", 0.0)])
def test_retry_after_is_capped_by_the_clients_max_only(cap, header, waited) -> None:
    # A max_retry_after above 60 s once did nothing: the header was cut to 60 s before it.
    slept: list[float] = []
    answers = [httpx.Response(429, headers={"Retry-After": header}, json={}),
               httpx.Response(200, json={})]
    c, _ = make(lambda r: answers.pop(0), sleep=slept.append, max_retry_after=cap)
    c.request("GET", "/api/v2/accounts")
    assert slept == [waited]


def test_pager_offset_mode_uses_skip() -> None:
    data = [{"email": f"{i}@x.io"} for i in range(5)]

    def handler(request: httpx.Request) -> httpx.Response:
        skip = int(request.url.params.get("skip", 0))
        limit = int(request.url.params["limit"])
        return httpx.Response(200, json={"items": data[skip : skip + limit]})

    c, seen = make(handler)
    pager = Pager(c, "/api/v2/accounts", {"sort_by": "email"}, limit=None, page_size=2, offset=True)
    assert [i["email"] for i in pager.items()] == [d["email"] for d in data]
    assert [r.url.params.get("skip") for r in seen] == [None, "2", "4"]


def test_clients_opened_at_once_share_one_tls_context() -> None:
    # A roll-up opens one client per workspace in worker threads at the same moment; each
    # building its own context (the CA bundle) cost ~35 ms of CPU apiece.
    import threading

    from instantly_cli import client as client_module

    client_module._tls_context.cache_clear()
    start = threading.Barrier(8)
    got: list[object] = []

    def open_one() -> None:
        start.wait()
        got.append(client_module._tls())

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len({id(ctx) for ctx in got}) == 1


def test_a_client_with_a_transport_builds_no_tls_context() -> None:
    # The sandbox and tests hand in their transport: loading the CA bundle was ~29 ms of a
    # 174 ms `--sandbox accounts list`, for nothing.
    from instantly_cli import client as client_module

    client_module._tls_context.cache_clear()
    with make(lambda r: httpx.Response(200, json={}))[0] as c:
        c.request("GET", "/api/v2/accounts")
    assert client_module._tls_context.cache_info().currsize == 0
    with InstantlyClient(api_key=TEST_KEY, base_url="https://api.example.test"):
        assert client_module._tls_context.cache_info().currsize == 1
