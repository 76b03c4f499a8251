"""InstantlyClient: the only code that speaks HTTP.

Auth, User-Agent, timeouts, retries, decoding, the size cap and error parsing live here, so every
command gets the same behaviour. Pacing lives in :mod:`~instantly_cli.ratelimit`, paging in
:mod:`~instantly_cli.paging`, the answers' shapes in :mod:`~instantly_cli.schema`. It knows
nothing of settings, the sandbox or the terminal: the transport, ``sleep`` and the ``--verbose``
hook (``on_exchange``) are handed in.
"""

from __future__ import annotations

import functools
import json
import random
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast
from urllib.parse import quote

import httpx

from instantly_cli import __version__
from instantly_cli.campaign_api import CampaignEndpoints
from instantly_cli.errors import (
    ForbiddenError,
    InvalidResponseError,
    NetworkError,
    RateLimitedError,
    decode_answer,
)
from instantly_cli.paging import Pager, account_page, not_json_number
from instantly_cli.ratelimit import MAX_RETRY_AFTER, RateLimiter, parse_retry_after
from instantly_cli.schema import (
    Account,
    AccountPage,
    BackgroundJob,
    CtdStatus,
    Exchange,
    PauseAnswer,
    Tag,
    Vitals,
    Workspace,
)

API = "/api/v2"
USER_AGENT = f"instantly-cli/{__version__}"
# Seconds: between two bytes of an answer (INSTANTLY_TIMEOUT), and to connect (never more than
# the read timeout).
READ_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0
MAX_ATTEMPTS = 5
# 429s say "nothing was done, come back later": they get a larger budget than other failures.
MAX_429_ATTEMPTS = 10
# Decoded answers larger than this are refused (a gzip bomb must not exhaust memory).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
Json = Any


def account_path(email_address: str) -> str:
    """The account's path with the email percent-encoded (``+`` must travel as ``%2B``)."""
    return f"{API}/accounts/{quote(email_address, safe='@')}"


class InstantlyClient(CampaignEndpoints):
    """A thin, typed wrapper over the Instantly API V2 (campaigns: :mod:`.campaign_api`)."""

    backoff_cap = 8.0

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        workspace: str | None = None,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
        read_timeout: float = READ_TIMEOUT,
        # As many as the bulk runner's most workers (64): at 250 ms a request, 100/s needs ~32
        # in flight, and a worker queued for a connection only looks like latency. Connections
        # open on demand, so a one-shot command still opens one.
        max_connections: int = 64,
        on_exchange: Callable[[Exchange], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff_base: float = 0.5,
        max_retry_after: float = MAX_RETRY_AFTER,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ):
        headers = {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}
        if workspace:
            headers["x-as-workspace"] = workspace
        self.workspace = workspace
        self.on_exchange = on_exchange
        self.limiter = limiter
        self._sleep_fn = sleep
        self.backoff_base = backoff_base
        self.max_retry_after = max_retry_after
        self.max_response_bytes = max_response_bytes
        connect = min(CONNECT_TIMEOUT, read_timeout)
        # One attempt may take two read timeouts in all (a slow but steady answer); the whole
        # retry sequence, five.
        self.attempt_deadline = 2 * read_timeout + connect
        self.retry_budget = 5 * read_timeout + connect
        self._http = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(read_timeout, connect=connect),
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections),
            follow_redirects=False,
            # A handed-in transport (the sandbox, tests) never uses it: no CA bundle to load.
            verify=_tls() if transport is None else True,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> InstantlyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one request loop ---------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Json | None = None,
        safe_to_repeat: bool | None = None,
    ) -> Json:
        """Send one request with retries; return the parsed JSON or raise a typed error.

        429 and connection failures (nothing reached the server) are retried for every method;
        5xx, read timeouts and dropped connections only when ``safe_to_repeat`` (GET/PATCH and the
        callers that say so), because a create repeated blindly can create twice.
        """
        return self.request_later(
            method, path, params=params, body=body, safe_to_repeat=safe_to_repeat
        ).json()

    def request_later(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Json | None = None,
        safe_to_repeat: bool | None = None,
    ) -> Answer:
        """:meth:`request`, but a successful answer's JSON is parsed when ``json()`` is called.

        Errors (statuses, the network) are raised here, by the thread that sent the request.
        """
        resp, raw = self._final_answer(method, path, params, body, safe_to_repeat)
        answer = Answer(resp, raw)
        if not 200 <= resp.status_code < 300:
            try:
                answer.json()  # raises the typed error for any status outside 2xx
            except ForbiddenError as exc:
                if self.workspace:  # a workspace the key may not act on, or a missing scope
                    exc.hint = (f"The key may lack the scope, or may not act on workspace "
                                f"{self.workspace} (`instantly workspaces list` shows those "
                                "it can).")
                raise
        if self.limiter is not None:
            self.limiter.on_success()
        return answer

    def _final_answer(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Json | None,
        safe_to_repeat: bool | None,
    ) -> tuple[httpx.Response, bytes]:
        """The retry loop: the first answer that is not retried, with its body."""
        method = method.upper()
        if safe_to_repeat is None:
            # Not DELETE: a repeated delete that had worked answers 404 and looks like failure.
            safe_to_repeat = method in ("GET", "HEAD", "PATCH")
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        content = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"} if content is not None else None
        attempt = 0
        sent = 0  # every try, 429s included: the number --verbose shows
        throttled = 0
        # However a server behaves, the whole retry sequence ends within this budget.
        give_up_at = time.monotonic() + self.retry_budget

        def retry(wait: float | None = None) -> bool:
            if attempt >= MAX_ATTEMPTS or time.monotonic() >= give_up_at:
                return False
            self._sleep(attempt, wait)
            return True

        while True:
            attempt += 1
            sent += 1
            if self.limiter is not None:
                self.limiter.acquire()
            started = time.perf_counter()
            request = self._http.build_request(
                method, path, params=clean, content=content, headers=headers
            )
            target = _target(request.url)
            try:
                resp, raw = self._send_within(request, self.attempt_deadline)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                self._log(method, target, "connect-error", started, sent)
                if retry():
                    continue
                raise NetworkError(f"Cannot connect to the API: {_describe(exc)}.") from None
            except (httpx.ReadTimeout, httpx.WriteTimeout, _AttemptTimeout) as exc:
                self._log(method, target, "timeout", started, sent)
                if safe_to_repeat and retry():
                    continue
                raise NetworkError(f"The API did not answer in time ({_describe(exc)}).") from None
            except httpx.TransportError as exc:
                # The connection broke mid-exchange: the server may have acted.
                self._log(method, target, "conn-lost", started, sent)
                if safe_to_repeat and retry():
                    continue
                raise NetworkError(f"The connection broke: {_describe(exc)}.") from None
            self._log(method, target, resp.status_code, started, sent)
            status = resp.status_code
            if status == 429:
                throttled += 1
                retry_after = self._retry_after(resp)
                if self.limiter is not None:
                    self.limiter.on_throttled()
                if throttled < MAX_429_ATTEMPTS:
                    attempt -= 1  # a 429 does not use up the budget for real failures
                    # Paced by the shared limiter and told no wait: the limiter (just slowed)
                    # is the back-off, and the retry waits for its slot. A worker asleep on its
                    # own back-off is lost throughput; only a request refused again backs off.
                    paced = self.limiter is not None and retry_after is None
                    if not paced or throttled > 1:
                        self._sleep(throttled - paced, retry_after, throttled=True)
                    continue
                raise RateLimitedError(
                    f"Still rate limited after {throttled} attempts.", status=429
                )
            if status >= 500 and safe_to_repeat and retry(self._retry_after(resp)):
                continue
            return resp, raw

    def _send_within(self, request: httpx.Request, seconds: float) -> tuple[httpx.Response, bytes]:
        """Send and read the whole answer within ``seconds`` (httpx's timeouts are per read, so
        a server trickling bytes could hold a request forever). The exchange runs in a helper
        thread; one that overruns is abandoned, and closing the client ends it."""
        box: dict[str, Any] = {}
        done = threading.Event()

        def exchange() -> None:
            try:
                box["value"] = self._exchange(request)
            except BaseException as exc:  # handed to the waiting thread
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=exchange, name="http-exchange", daemon=True).start()
        if not done.wait(seconds):
            raise _AttemptTimeout(f"no complete answer within {seconds:g} s")
        if "error" in box:
            raise box["error"]
        value: tuple[httpx.Response, bytes] = box["value"]
        return value

    def _exchange(self, request: httpx.Request) -> tuple[httpx.Response, bytes]:
        """One exchange, the body read with a cap on its decoded size."""
        resp = self._http.send(request, stream=True)
        try:
            declared = resp.headers.get("Content-Length", "")
            if declared.isdigit() and not resp.headers.get("Content-Encoding"):
                if int(declared) > self.max_response_bytes:
                    raise _too_large(self.max_response_bytes)
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise _too_large(self.max_response_bytes)
                chunks.append(chunk)
        finally:
            resp.close()
            # httpx (0.28) binds the response and its stream to each other, a cycle that only
            # the garbage collector frees. A response kept past a few collections (a page
            # waiting its turn in the concurrent lister) then lingers, with its request and
            # connection state, until a full collection: memory grew with every page. The
            # body is read and the stream closed, so an empty one breaks the cycle.
            resp.stream = httpx.ByteStream(b"")
        return resp, b"".join(chunks)

    def _retry_after(self, resp: httpx.Response) -> float | None:
        wait = parse_retry_after(resp.headers.get("Retry-After"))
        return None if wait is None else min(wait, self.max_retry_after)

    def _sleep(self, attempt: int, retry_after: float | None, *, throttled: bool = False) -> None:
        if retry_after is not None:
            delay = retry_after
        else:
            cap = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
            delay = cap * random.uniform(0.5, 1.0)
        if self.limiter is None:
            return self._sleep_fn(delay)
        self.limiter.rest_for(delay, self._sleep_fn, throttled=throttled)

    def _log(
        self, method: str, target: str, status: int | str, started: float, attempt: int
    ) -> None:
        if self.on_exchange is not None:
            ms = (time.perf_counter() - started) * 1000
            self.on_exchange(Exchange(method, target, status, ms, attempt))

    # -- pagination ---------------------------------------------------------------------------

    def pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        page_size: int = 100,
        offset: bool = False,
    ) -> Pager:
        return Pager(
            self, path, dict(params or {}), limit=limit, page_size=page_size, offset=offset
        )

    # -- accounts -----------------------------------------------------------------------------

    def verify(self) -> None:
        """Check the key works: ``GET /accounts?limit=1`` (raises the typed error if not)."""
        self.request("GET", f"{API}/accounts", params={"limit": 1})

    def list_accounts(
        self, params: Mapping[str, Any], *, limit: int | None = None, offset: bool = False
    ) -> Pager:
        """``GET /accounts``: pages by cursor, or by ``skip`` when ``offset`` (sorted lists)."""
        return self.pages(f"{API}/accounts", params, limit=limit, offset=offset)

    def accounts_page_later(self, params: Mapping[str, Any]) -> Callable[[], AccountPage]:
        """One ``GET /accounts`` page with exactly these parameters, fetched now; parsed and
        checked (``items``) when the result is called.

        A worker thread fetches and the thread that consumes the page parses it: objects built
        in one thread and freed in another fragment glibc's per-thread arenas, and a concurrent
        listing's memory then grew with every page (12 MiB more at 100,000 accounts than at
        20,000).
        """
        answer = self.request_later("GET", f"{API}/accounts", params=params)
        return lambda: account_page(answer.json())

    def get_account(self, email_address: str) -> Account:
        return cast(Account, self._object("GET", account_path(email_address)))

    def create_account(self, body: Mapping[str, Any]) -> Account:
        # Never repeated blindly: a retry after a lost answer could create the account twice.
        return cast(
            Account, self._object("POST", f"{API}/accounts", body=dict(body), safe_to_repeat=False)
        )

    def update_account(self, email_address: str, body: Mapping[str, Any]) -> Account:
        return cast(Account, self._object("PATCH", account_path(email_address), body=dict(body)))

    def delete_account(self, email_address: str) -> Account:
        return cast(Account, self._object("DELETE", account_path(email_address)))

    def resume_account(self, email_address: str) -> Account:
        return self._account_action(email_address, "resume")

    def mark_fixed(self, email_address: str) -> Account:
        return self._account_action(email_address, "mark-fixed")

    def _account_action(self, email_address: str, action: str) -> Account:
        path = f"{account_path(email_address)}/{action}"
        return cast(Account, self._object("POST", path, safe_to_repeat=True))

    def pause_accounts(self, emails: Sequence[str]) -> PauseAnswer:
        body = {"emails": list(emails)}
        return cast(
            PauseAnswer,
            self._object("POST", f"{API}/accounts/pause", body=body, safe_to_repeat=True),
        )

    def warmup(self, enable: bool, emails: Sequence[str]) -> BackgroundJob:
        action = "enable" if enable else "disable"
        body = {"emails": list(emails)}
        return cast(
            BackgroundJob,
            self._object("POST", f"{API}/accounts/warmup/{action}", body=body, safe_to_repeat=True),
        )

    def test_vitals(self, emails: Sequence[str]) -> Vitals:
        body = {"accounts": list(emails)}
        return cast(
            Vitals,
            self._object("POST", f"{API}/accounts/test/vitals", body=body, safe_to_repeat=True),
        )

    def warmup_analytics(self, emails: Sequence[str]) -> dict[str, Any]:
        body = {"emails": list(emails)}
        return self._object(
            "POST", f"{API}/accounts/warmup-analytics", body=body, safe_to_repeat=True
        )

    def daily_analytics(
        self, emails: Sequence[str], start_date: str | None, end_date: str | None
    ) -> list[dict[str, Any]]:
        # ``emails`` is an array parameter (form style, exploded): emails=a&emails=b.
        params = {"emails": Repeated(emails), "start_date": start_date, "end_date": end_date}
        data = self.request("GET", f"{API}/accounts/analytics/daily", params=params)
        if not isinstance(data, list):
            raise InvalidResponseError("The API answered daily analytics without a list.")
        return [d for d in data if isinstance(d, dict)]

    def ctd_status(self, host: str) -> CtdStatus:
        return cast(CtdStatus, self._object("GET", f"{API}/accounts/ctd/status", {"host": host}))

    def move_accounts(
        self, emails: Sequence[str], source_workspace_id: str, destination_workspace_id: str
    ) -> dict[str, Any]:
        body = {
            "emails": list(emails),
            "source_workspace_id": source_workspace_id,
            "destination_workspace_id": destination_workspace_id,
        }
        # Not repeated blindly: a repeat of a move that happened answers 404 (not in the source).
        return self._object("POST", f"{API}/accounts/move", body=body, safe_to_repeat=False)

    # -- background jobs ------------------------------------------------------------------------

    def get_job(self, job_id: str) -> BackgroundJob:
        return cast(
            BackgroundJob, self._object("GET", f"{API}/background-jobs/{quote(job_id, safe='')}")
        )

    def list_jobs(self, params: Mapping[str, Any], *, limit: int | None = None) -> Pager:
        return self.pages(f"{API}/background-jobs", params, limit=limit)

    # -- custom tags ----------------------------------------------------------------------------

    def list_tags(self, params: Mapping[str, Any] | None = None) -> Pager:
        return self.pages(f"{API}/custom-tags", params)

    def list_tag_mappings(self, params: Mapping[str, Any] | None = None) -> Pager:
        return self.pages(f"{API}/custom-tag-mappings", params)

    def create_tag(self, label: str, description: str | None = None) -> Tag:
        body: dict[str, Any] = {"label": label}
        if description is not None:
            body["description"] = description
        # A create is never repeated blindly: a retry could create the tag twice.
        return cast(
            Tag, self._object("POST", f"{API}/custom-tags", body=body, safe_to_repeat=False)
        )

    def update_tag(self, tag_id: str, body: Mapping[str, Any]) -> Tag:
        return cast(
            Tag,
            self._object("PATCH", f"{API}/custom-tags/{quote(tag_id, safe='')}", body=dict(body)),
        )

    def delete_tag(self, tag_id: str) -> Tag | None:
        data = self.request("DELETE", f"{API}/custom-tags/{quote(tag_id, safe='')}")
        return cast(Tag, data) if isinstance(data, dict) else None

    def toggle_tags(self, tag_ids: Sequence[str], emails: Sequence[str], assign: bool) -> bool:
        """Assign or remove tags; False when the API answered ``success: false``."""
        body = {
            "tag_ids": list(tag_ids),
            "resource_type": 1,
            "resource_ids": list(emails),
            "assign": assign,
        }
        data = self.request(
            "POST", f"{API}/custom-tags/toggle-resource", body=body, safe_to_repeat=True
        )
        return not (isinstance(data, dict) and data.get("success") is False)

    # -- workspaces -----------------------------------------------------------------------------

    def current_workspace(self) -> Workspace:
        """``GET /workspaces/current``: the key's workspace, or the one acted as."""
        return cast(Workspace, self._object("GET", f"{API}/workspaces/current"))

    def workspace_members(self) -> Pager:
        """``GET /workspace-group-members``: the sub-workspaces of an admin workspace."""
        return self.pages(f"{API}/workspace-group-members")

    def _object(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        body: Json | None = None,
        safe_to_repeat: bool | None = None,
    ) -> dict[str, Any]:
        """A request whose answer must be a JSON object (typed methods rely on it)."""
        data = self.request(method, path, params=params, body=body, safe_to_repeat=safe_to_repeat)
        if not isinstance(data, dict):
            raise InvalidResponseError(
                f"The API answered {method} {path.removeprefix(API)} without a JSON object."
            )
        return data


def wsgi_transport(app: Callable[..., Any]) -> httpx.BaseTransport:
    """A transport that calls a WSGI app in-process (the sandbox) instead of the network."""
    return httpx.WSGITransport(app=app)


_TLS_LOCK = threading.Lock()


def _tls() -> ssl.SSLContext:
    """One TLS context per process: building one (the CA bundle) costs ~35 ms of CPU, once per
    client otherwise, and a roll-up opens a client per workspace. Contexts are thread-safe."""
    # Roll-ups open their clients in worker threads at once: without the lock each one misses
    # the cache and builds its own.
    with _TLS_LOCK:
        return _tls_context()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


class Answer:
    """A successful answer, its JSON parsed on demand (:meth:`InstantlyClient.request_later`)."""

    __slots__ = ("_raw", "_resp")

    def __init__(self, resp: httpx.Response, raw: bytes):
        self._resp = resp
        self._raw = raw

    def json(self) -> Json:
        return _decode(self._resp, self._raw)


class Repeated(tuple[str, ...]):
    """A query parameter sent once per value (an OpenAPI array), not as a comma list."""


def _param(value: Any) -> Any:
    if isinstance(value, Repeated):
        return list(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return value


def _target(url: httpx.URL) -> str:
    query = url.query.decode("ascii", "replace")
    return url.raw_path.decode("ascii", "replace").split("?")[0] + (f"?{query}" if query else "")


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.rstrip(".")


class _AttemptTimeout(Exception):
    """One attempt did not complete within its total deadline."""


def _too_large(limit: int) -> InvalidResponseError:
    return InvalidResponseError(
        f"The API's answer is larger than {limit // (1024 * 1024)} MB; refused.",
        hint="Set INSTANTLY_MAX_RESPONSE_MB higher if this answer is expected.",
    )


def _decode(resp: httpx.Response, raw: bytes) -> Json:
    kind = resp.headers.get("Content-Type", "unknown type").split(";")[0]
    return decode_answer(resp.status_code, resp.reason_phrase, kind, raw,
                         parse_constant=not_json_number)
