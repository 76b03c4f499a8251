"""InstantlyClient: the only code that speaks HTTP.

Auth, User-Agent, timeouts, retries, pacing, pagination and error parsing live here, so every
command gets the same behaviour. It knows nothing of settings, the sandbox or the terminal: the
transport, ``sleep`` and the ``--verbose`` hook (``on_exchange``) are handed in.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, TypedDict, cast
from urllib.parse import quote

import httpx

from instantly_cli import __version__
from instantly_cli.errors import (
    CliError,
    InvalidResponseError,
    NetworkError,
    RateLimitedError,
    error_for_status,
)

API = "/api/v2"
USER_AGENT = f"instantly-cli/{__version__}"
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
MAX_ATTEMPTS = 5
# 429s say "nothing was done, come back later": they get a larger budget than other failures.
MAX_429_ATTEMPTS = 10
MAX_RETRY_AFTER = 60.0
# Decoded answers larger than this are refused (a gzip bomb must not exhaust memory).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
API_RATE_PER_SECOND = 100
API_RATE_PER_MINUTE = 6000
PACE_HEADROOM = 0.97
# AIMD pacing: a 429 multiplies the rate by DECREASE (at most once a second); every success adds
# INCREASE x the target back. One 429 in 7 requests then costs a few percent, not 99 %.
DECREASE = 0.7
INCREASE = 0.02
MIN_RATE = 1.0

# What a pager remembers (see SeenKeys): the last 1,000 keys exactly, older ones in a 1 MiB
# Bloom filter. At 100,000 keys it takes a new key for an old one 1 time in 23,000 (1 in 37 at
# a million), and a walk only stops after 200 items in a row, two pages or more, look old.
RECENT_KEYS = 1000
HISTORY_BITS = 1 << 23
OLD_ITEMS_TO_STOP = 200
RECENT_CURSORS = 100

Json = Any


# -- what the API returns (the OpenAPI schemas; the API adds fields, so none is exhaustive) -------


class Account(TypedDict, total=False):
    email: str
    timestamp_created: str
    timestamp_updated: str
    first_name: str
    last_name: str
    warmup: dict[str, Any]
    daily_limit: float | None
    sending_gap: float
    status: int
    status_message: dict[str, Any] | None
    warmup_status: int
    provider_code: int
    stat_warmup_score: float | None
    tracking_domain_name: str | None
    tracking_domain_status: str | None
    signature: str | None
    reply_to: str | None
    tags: list[dict[str, Any]]


class AccountPage(TypedDict, total=False):
    items: list[dict[str, Any]]
    next_starting_after: str


class Tag(TypedDict, total=False):
    id: str
    label: str
    description: str | None
    timestamp_created: str
    timestamp_updated: str
    organization_id: str


class TagMapping(TypedDict, total=False):
    id: str
    tag_id: str
    resource_id: str
    resource_type: int
    timestamp_created: str
    organization_id: str


class BackgroundJob(TypedDict, total=False):
    id: str
    workspace_id: str
    type: str
    entity_id: str
    entity_type: str
    data: dict[str, Any] | None
    progress: float
    status: str
    created_at: str
    updated_at: str


class PauseAnswer(TypedDict, total=False):
    paused_emails: list[str]
    failed_emails: list[str]


class Vitals(TypedDict, total=False):
    status: str
    success_list: list[dict[str, Any]]
    failure_list: list[dict[str, Any]]


class CtdStatus(TypedDict, total=False):
    success: bool
    ssl: bool
    cname: bool
    host: str


def account_path(email_address: str) -> str:
    """The account's path with the email percent-encoded (``+`` must travel as ``%2B``)."""
    return f"{API}/accounts/{quote(email_address, safe='@')}"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, min(float(value), MAX_RETRY_AFTER))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, min(when.timestamp() - current, MAX_RETRY_AFTER))


class RateLimiter:
    """Spaces requests under a rate that backs off on 429 and recovers after successes.

    One per process, shared by every worker thread, so concurrent bulk work never exceeds the
    workspace limit (100/s and 6,000/min, shared with every other tool using the workspace).
    """

    def __init__(
        self,
        rate: float,
        *,
        per_minute: int = API_RATE_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        # Requests leave evenly spaced but arrive with network jitter; a little headroom under
        # the hard limit avoids tripping it (a 429 costs far more than 3 % of the pace).
        self.target = max(0.1, min(float(rate), API_RATE_PER_SECOND * PACE_HEADROOM))
        self.rate = self.target
        self.per_minute = per_minute
        self._lock = threading.Lock()
        self._next = 0.0
        self._minute: deque[float] = deque()
        self._last_drop = -math.inf
        self._clock = clock
        self._sleep = sleep
        self._local = threading.local()

    def thread_stats(self) -> tuple[int, float]:
        """(requests paced, seconds slept for pacing) so far by the calling thread.

        A caller subtracts the sleeping from a request's time to see the API's own latency
        (what sizing workers by Little's law needs: the queue here is not the server's).
        """
        local = self._local
        return getattr(local, "acquired", 0), getattr(local, "waited", 0.0)

    def note_sleep(self, seconds: float) -> None:
        """Count a retry's back-off sleep as waiting too: a throttled request is not slow."""
        self._local.waited = getattr(self._local, "waited", 0.0) + seconds

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            while self._minute and self._minute[0] <= slot - 60.0:
                self._minute.popleft()
            if len(self._minute) >= self.per_minute:
                slot = max(slot, self._minute[0] + 60.0)
            self._next = slot + 1.0 / self.rate
            self._minute.append(slot)
        delay = slot - self._clock()
        local = self._local
        local.acquired = getattr(local, "acquired", 0) + 1
        if delay > 0:
            local.waited = getattr(local, "waited", 0.0) + delay
            self._sleep(delay)

    def on_throttled(self) -> None:
        """A 429: halve the evidence, not the rate per response. The 429s of one burst (those
        within one spacing window) are one signal, so the rate drops once per window."""
        with self._lock:
            now = self._clock()
            if now - self._last_drop >= self._window():
                self.rate = max(MIN_RATE, self.rate * DECREASE)
                self._last_drop = now

    def on_success(self) -> None:
        """Additive increase: each success wins back a small share of the target rate."""
        with self._lock:
            if self.rate < self.target:
                self.rate = min(self.target, self.rate + self.target * INCREASE)

    def _window(self) -> float:
        # Answers to requests sent at the old rate keep arriving for about one round trip;
        # one second covers any real latency while staying short enough to react.
        return 1.0


class Exchange(NamedTuple):
    """One HTTP exchange, for --verbose."""

    method: str
    target: str
    status: int | str
    ms: float
    attempt: int


class InstantlyClient:
    """A thin, typed wrapper over the Instantly API V2."""

    backoff_cap = 8.0

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        workspace: str | None = None,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
        timeout: httpx.Timeout = TIMEOUT,
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
        read = timeout.read if timeout.read is not None else 30.0
        connect = timeout.connect if timeout.connect is not None else 5.0
        # One attempt may take two read timeouts in all (a slow but steady answer); the whole
        # retry sequence, five.
        self.attempt_deadline = 2 * read + connect
        self.retry_budget = 5 * read + connect
        self._http = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections),
            follow_redirects=False,
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
            answer.json()  # raises the typed error for any status outside 2xx
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
                        self._sleep(throttled - 1 if paced else throttled, retry_after)
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

    def _sleep(self, attempt: int, retry_after: float | None) -> None:
        if retry_after is not None:
            delay = retry_after
        else:
            cap = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
            delay = cap * random.uniform(0.5, 1.0)
        if self.limiter is not None:
            self.limiter.note_sleep(delay)
        self._sleep_fn(delay)

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

    def accounts_page(self, params: Mapping[str, Any]) -> AccountPage:
        """One ``GET /accounts`` page with exactly these parameters (``items`` is checked)."""
        return _account_page(self.request("GET", f"{API}/accounts", params=params))

    def accounts_page_later(self, params: Mapping[str, Any]) -> Callable[[], AccountPage]:
        """:meth:`accounts_page` fetched now; parsed and checked when the result is called.

        A worker thread fetches and the thread that consumes the page parses it: objects built
        in one thread and freed in another fragment glibc's per-thread arenas, and a concurrent
        listing's memory then grew with every page (12 MiB more at 100,000 accounts than at
        20,000).
        """
        answer = self.request_later("GET", f"{API}/accounts", params=params)
        return lambda: _account_page(answer.json())

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

    def pause_account(self, email_address: str) -> Account:
        return cast(
            Account,
            self._object("POST", account_path(email_address) + "/pause", safe_to_repeat=True),
        )

    def resume_account(self, email_address: str) -> Account:
        return cast(
            Account,
            self._object("POST", account_path(email_address) + "/resume", safe_to_repeat=True),
        )

    def mark_fixed(self, email_address: str) -> Account:
        return cast(
            Account,
            self._object("POST", account_path(email_address) + "/mark-fixed", safe_to_repeat=True),
        )

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


class Pager:
    """Iterates pages of ``{items, next_starting_after}``; never loops, in bounded memory.

    Stops on a missing or empty cursor, an empty page, one of the last cursors again, or items
    listed before (recorded in ``anomaly`` so the command can warn); a loop longer than the
    cursors remembered repeats its items, which ends it too. With ``offset`` (sorted lists,
    where the API has no cursor) it pages with ``skip`` until a short page. What was listed is
    remembered in :class:`SeenKeys` (``seen``), whose size does not grow with the walk.
    """

    def __init__(
        self,
        client: InstantlyClient,
        path: str,
        params: dict[str, Any],
        *,
        limit: int | None,
        page_size: int,
        offset: bool,
    ):
        self.client = client
        self.path = path
        self.params = params
        self.limit = limit
        self.page_size = max(1, min(page_size, 100))
        self.offset = offset
        self.fetched = 0
        self.next_cursor: str | None = None
        self.next_skip: int | None = None
        self.more = False  # True when --limit stopped us while the API had more
        self.anomaly: str | None = None
        self.seen = SeenKeys()
        self.cursors: deque[str] = deque(maxlen=RECENT_CURSORS)

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        # Pages whose every item looks listed long ago wait here. Once OLD_ITEMS_TO_STOP items
        # in a row (two pages or more) look old, the API is going round a loop: the walk stops
        # and they are not listed. Fewer may be a false alarm of the history filter: they are
        # listed, in their place, as soon as a page with new items follows.
        held: list[list[dict[str, Any]]] = []
        for page, old in self._walk():
            if not old:
                yield from held
                held.clear()
                yield page
                continue
            held.append(page)
            if len(held) >= 2 and sum(len(p) for p in held) >= OLD_ITEMS_TO_STOP:
                self.anomaly = "the API returned items listed long before; stopped there"
                return
        yield from held

    def _walk(self) -> Iterator[tuple[list[dict[str, Any]], bool]]:
        """(new items of a page, whether they all look listed long ago), page after page."""
        cursor = self.params.pop("starting_after", None)
        skip = int(self.params.pop("skip", 0) or 0)
        while True:
            size = self.page_size
            if self.limit is not None:
                size = min(size, self.limit - self.fetched)
                if size <= 0:
                    return
            query = dict(self.params, limit=size)
            if self.offset:
                query["skip"] = skip or None
            else:
                query["starting_after"] = cursor
            data = self.client.request("GET", self.path, params=query)
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise InvalidResponseError(
                    "The API answered a list request without an items array."
                )
            items: list[dict[str, Any]] = data["items"]
            nxt = data.get("next_starting_after")
            self.fetched += len(items)
            if not items:
                if nxt:
                    self.anomaly = "the API returned an empty page with a cursor; stopped there"
                return
            fresh, old = self.seen.admit(items)
            if not fresh:
                # A fresh cursor over items already seen would walk forever.
                self.anomaly = "the API returned a page of items already seen; stopped there"
                return
            yield fresh, old
            if self.offset:
                skip += len(items)
                if len(items) < size:
                    return
                if self.limit is not None and self.fetched >= self.limit:
                    self.more, self.next_skip = True, skip
                    return
                continue
            if not nxt or not isinstance(nxt, str):
                return
            if nxt == cursor or nxt in self.cursors:
                self.anomaly = f"the API repeated the cursor {nxt!r}; stopped to avoid a loop"
                return
            self.cursors.append(nxt)
            cursor = nxt
            if self.limit is not None and self.fetched >= self.limit:
                self.more, self.next_cursor = True, nxt
                return

    def items(self) -> Iterator[dict[str, Any]]:
        for page in self:
            yield from page


class SeenKeys:
    """The items a walk has listed, by email or id, in a size that does not grow with the walk.

    The keys of (at least) the last ``recent`` items are kept exactly: they are what a cursor
    walk can bring back (an overlap at a page boundary, a page answered twice), and a repeat
    among them is dropped. A keyset cursor over an API working as documented repeats nothing,
    also while accounts are created and deleted. Older keys go into a fixed-size Bloom filter,
    which can only take a new key for an old one (never the reverse), so it never drops an
    item: it only tells the pager when the API goes round a loop longer than the exact window.
    """

    def __init__(self, recent: int = RECENT_KEYS, history_bits: int = HISTORY_BITS):
        if history_bits < 8 or history_bits & (history_bits - 1):
            raise ValueError("history_bits must be a power of two, at least 8")
        self.recent = recent
        self.history_bits = history_bits
        self._pages: deque[list[str]] = deque()
        self._recent: set[str] = set()
        self._history: bytearray | None = None  # made when the first key leaves the window

    def __len__(self) -> int:
        """Keys held exactly (at most ``recent`` plus one page)."""
        return len(self._recent)

    @property
    def history_bytes(self) -> int:
        return 0 if self._history is None else len(self._history)

    def admit(self, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """The items not among the recent ones, and whether each of them looks listed long
        ago; the new keys are remembered."""
        fresh: list[dict[str, Any]] = []
        keys: list[str] = []
        page: set[str] = set()
        for item in items:
            key = item.get("email") or item.get("id") if isinstance(item, dict) else None
            if key is None:
                fresh.append(item)
                continue
            key = str(key).lower()
            if key in self._recent or key in page:
                continue
            page.add(key)
            keys.append(key)
            fresh.append(item)
        old = bool(keys) and len(keys) == len(fresh) and all(self._in_history(k) for k in keys)
        self._remember(keys)
        return fresh, old

    def _remember(self, keys: list[str]) -> None:
        self._pages.append(keys)
        self._recent.update(keys)
        while len(self._recent) > self.recent and len(self._pages) > 1:
            if self._history is None:
                self._history = bytearray(self.history_bits // 8)
            history, mask = self._history, self.history_bits - 1
            leaving = self._pages.popleft()
            self._recent.difference_update(leaving)
            for key in leaving:
                # Three positions from one 64-bit hash (double hashing), written out: this
                # runs for every item listed.
                digest = hash(key)
                bit, step = digest & mask, (digest >> 32) | 1
                history[bit >> 3] |= 1 << (bit & 7)
                bit = (bit + step) & mask
                history[bit >> 3] |= 1 << (bit & 7)
                bit = (bit + step) & mask
                history[bit >> 3] |= 1 << (bit & 7)

    def _in_history(self, key: str) -> bool:
        history = self._history
        if history is None:
            return False
        mask = self.history_bits - 1
        digest = hash(key)
        bit, step = digest & mask, (digest >> 32) | 1
        for _ in range(3):
            if not history[bit >> 3] >> (bit & 7) & 1:
                return False
            bit = (bit + step) & mask
        return True


class Answer:
    """A successful answer, its JSON parsed on demand (:meth:`InstantlyClient.request_later`)."""

    __slots__ = ("_raw", "_resp")

    def __init__(self, resp: httpx.Response, raw: bytes):
        self._resp = resp
        self._raw = raw

    def json(self) -> Json:
        return _decode(self._resp, self._raw)


def _account_page(data: Json) -> AccountPage:
    if not isinstance(data, dict):
        raise InvalidResponseError("The API answered GET /accounts without a JSON object.")
    if not isinstance(data.get("items"), list):
        raise InvalidResponseError("The API answered a list request without an items array.")
    return cast(AccountPage, data)


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


def _is_envelope(data: object) -> bool:
    return (
        isinstance(data, dict) and "statusCode" in data and ("message" in data or "error" in data)
    )


class _AttemptTimeout(Exception):
    """One attempt did not complete within its total deadline."""


def _too_large(limit: int) -> InvalidResponseError:
    return InvalidResponseError(
        f"The API's answer is larger than {limit // (1024 * 1024)} MB; refused.",
        hint="Set INSTANTLY_MAX_RESPONSE_MB higher if this answer is expected.",
    )


def _decode(resp: httpx.Response, raw: bytes) -> Json:
    status = resp.status_code
    data: Json = None
    parsed = False
    if raw:
        try:
            data = json.loads(raw)
            parsed = True
        except ValueError:
            parsed = False
    if 200 <= status < 300:
        if raw and not parsed:
            kind = resp.headers.get("Content-Type", "unknown type").split(";")[0]
            raise InvalidResponseError(
                f"The API answered {status} with a body that is not JSON ({kind})."
            )
        # Some gateways report errors inside a 200: be lenient and honour the envelope.
        if (
            _is_envelope(data)
            and isinstance(data.get("statusCode"), int)
            and data["statusCode"] >= 400
        ):
            raise _with_body(
                error_for_status(data["statusCode"], _message(data, status, resp)), data
            )
        return data
    if not parsed:
        kind = resp.headers.get("Content-Type", "unknown type").split(";")[0]
        raise error_for_status(
            status, f"HTTP {status} {resp.reason_phrase} with a non-JSON body ({kind})"
        )
    raise _with_body(error_for_status(status, _message(data, status, resp)), data)


def _with_body(err: CliError, body: Json) -> CliError:
    err.body = body
    return err


def _message(data: Json, status: int, resp: httpx.Response) -> str:
    if isinstance(data, dict):
        message = data.get("message")
        if isinstance(message, list):
            message = "; ".join(str(m) for m in message)
        if message:
            return str(message)
        if data.get("error"):
            return str(data["error"])
    return f"HTTP {status} {resp.reason_phrase}"


# -- fleet history: the audit log and alert webhooks ----------------------------------------------

AUDIT_LOGS = f"{API}/audit-logs"
WEBHOOK_TIMEOUT = 5.0
WEBHOOK_ATTEMPTS = 3


def list_audit_logs(
    client: InstantlyClient, params: Mapping[str, Any], *, limit: int | None = None
) -> Pager:
    """``GET /api/v2/audit-logs`` (``activity_type``, ``start_date``, ``end_date``, …), paged."""
    return client.pages(AUDIT_LOGS, params, limit=limit)


def post_webhook(
    url: str,
    body: bytes,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: float = WEBHOOK_TIMEOUT,
    attempts: int = WEBHOOK_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """POST a JSON body to an alert webhook (Slack and alike): no API key, no redirects.

    Retries a connection failure, a timeout, 429 and 5xx a bounded number of times. Returns
    None when the webhook took it (2xx), else a short reason.
    """
    reason = "not sent"
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    with httpx.Client(timeout=httpx.Timeout(timeout), transport=transport,
                      follow_redirects=False) as http:
        for attempt in range(max(1, attempts)):
            if attempt:
                sleep(min(4.0, 0.5 * 2 ** (attempt - 1)))
            try:
                resp = http.post(url, content=body, headers=headers)
            except httpx.TimeoutException:
                reason = f"no answer within {timeout:g} s"
                continue
            except httpx.HTTPError as exc:
                reason = f"cannot connect ({type(exc).__name__})"
                continue
            if 200 <= resp.status_code < 300:
                return None
            reason = f"HTTP {resp.status_code}"
            if resp.status_code != 429 and resp.status_code < 500:
                break
    return reason
