"""InstantlyClient: the only code that speaks HTTP.

Auth, User-Agent, timeouts, retries, pacing, pagination and error parsing live here, so every
command gets the same behaviour (and the sandbox is just another transport).
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from instantly_cli import __version__, output
from instantly_cli.errors import (
    CliError,
    InvalidResponseError,
    NetworkError,
    RateLimitedError,
    UsageError,
    error_for_status,
)
from instantly_cli.settings import Settings, sandbox_state_path

API = "/api/v2"
USER_AGENT = f"instantly-cli/{__version__}"
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def timeout_from_env() -> httpx.Timeout:
    """The read timeout, from ``INSTANTLY_TIMEOUT`` (seconds) when set; connect stays 5 s."""
    raw = os.environ.get("INSTANTLY_TIMEOUT", "").strip()
    if not raw:
        return TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        raise UsageError(f"INSTANTLY_TIMEOUT must be a number of seconds, not '{raw}'.") from None
    if seconds <= 0:
        raise UsageError("INSTANTLY_TIMEOUT must be above 0.")
    return httpx.Timeout(seconds, connect=min(5.0, seconds))
MAX_ATTEMPTS = 5
# 429s say "nothing was done, come back later": they get a larger budget than other failures.
MAX_429_ATTEMPTS = 10
MAX_RETRY_AFTER = 60.0
API_RATE_PER_SECOND = 100
API_RATE_PER_MINUTE = 6000
PACE_HEADROOM = 0.97

Json = Any

# The test seam: when set, every client built by make_client uses this transport.
TRANSPORT_OVERRIDE: httpx.BaseTransport | None = None


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

    def __init__(self, rate: float, *, per_minute: int = API_RATE_PER_MINUTE):
        # Requests leave evenly spaced but arrive with network jitter; a little headroom under
        # the hard limit avoids tripping it (a 429 costs far more than 3 % of the pace).
        self.target = max(0.1, min(float(rate), API_RATE_PER_SECOND * PACE_HEADROOM))
        self.rate = self.target
        self.per_minute = per_minute
        self._lock = threading.Lock()
        self._next = 0.0
        self._minute: deque[float] = deque()
        self._streak = 0

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            while self._minute and self._minute[0] <= slot - 60.0:
                self._minute.popleft()
            if len(self._minute) >= self.per_minute:
                slot = max(slot, self._minute[0] + 60.0)
            self._next = slot + 1.0 / self.rate
            self._minute.append(slot)
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def on_throttled(self) -> None:
        """A 429: slow everybody down (the request itself waits for its Retry-After)."""
        with self._lock:
            self._streak = 0
            self.rate = max(1.0, self.rate * 0.8)

    def on_success(self) -> None:
        with self._lock:
            self._streak += 1
            if self.rate < self.target and self._streak >= 10:
                self.rate = min(self.target, self.rate * 1.1)
                self._streak = 0


@dataclass
class Exchange:
    """One HTTP exchange, for --verbose."""

    method: str
    target: str
    status: int | str
    ms: float
    attempt: int


class InstantlyClient:
    """A thin, typed wrapper over the Instantly API V2."""

    backoff_base = 0.5
    backoff_cap = 8.0

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        workspace: str | None = None,
        verbose: bool = False,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
        timeout: httpx.Timeout = TIMEOUT,
        max_connections: int = 16,
    ):
        headers = {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}
        if workspace:
            headers["x-as-workspace"] = workspace
        self.verbose = verbose
        self.limiter = limiter
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
                resp = self._http.send(request)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                self._log(method, target, "connect-error", started, sent)
                if attempt < MAX_ATTEMPTS:
                    self._sleep(attempt, None)
                    continue
                raise NetworkError(f"Cannot connect to the API: {_describe(exc)}.") from None
            except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
                self._log(method, target, "timeout", started, sent)
                if safe_to_repeat and attempt < MAX_ATTEMPTS:
                    self._sleep(attempt, None)
                    continue
                raise NetworkError(f"The API did not answer in time ({_describe(exc)}).") from None
            except httpx.TransportError as exc:
                # The connection broke mid-exchange: the server may have acted.
                self._log(method, target, "conn-lost", started, sent)
                if safe_to_repeat and attempt < MAX_ATTEMPTS:
                    self._sleep(attempt, None)
                    continue
                raise NetworkError(f"The connection broke: {_describe(exc)}.") from None
            self._log(method, target, resp.status_code, started, sent)
            status = resp.status_code
            if status == 429:
                throttled += 1
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                if self.limiter is not None:
                    self.limiter.on_throttled()
                if throttled < MAX_429_ATTEMPTS:
                    attempt -= 1  # a 429 does not use up the budget for real failures
                    self._sleep(throttled, retry_after)
                    continue
                raise RateLimitedError(
                    f"Still rate limited after {throttled} attempts.", status=429
                )
            if status >= 500 and safe_to_repeat and attempt < MAX_ATTEMPTS:
                self._sleep(attempt, parse_retry_after(resp.headers.get("Retry-After")))
                continue
            data = _decode(resp)
            if self.limiter is not None:
                self.limiter.on_success()
            return data

    def _sleep(self, attempt: int, retry_after: float | None) -> None:
        if retry_after is not None:
            time.sleep(retry_after)
            return
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        time.sleep(delay * random.uniform(0.5, 1.0))

    def _log(
        self, method: str, target: str, status: int | str, started: float, attempt: int
    ) -> None:
        if self.verbose:
            ms = (time.perf_counter() - started) * 1000
            output.log_exchange(Exchange(method, target, status, ms, attempt))

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

    def get_account(self, email_address: str) -> Json:
        return self.request("GET", account_path(email_address))

    def update_account(self, email_address: str, body: Mapping[str, Any]) -> Json:
        return self.request("PATCH", account_path(email_address), body=dict(body))

    def resume_account(self, email_address: str) -> Json:
        return self.request("POST", account_path(email_address) + "/resume", safe_to_repeat=True)

    def pause_accounts(self, emails: list[str]) -> Json:
        return self.request(
            "POST", f"{API}/accounts/pause", body={"emails": emails}, safe_to_repeat=True
        )

    def warmup(self, enable: bool, emails: list[str]) -> Json:
        action = "enable" if enable else "disable"
        return self.request(
            "POST", f"{API}/accounts/warmup/{action}", body={"emails": emails}, safe_to_repeat=True
        )

    def get_job(self, job_id: str) -> Json:
        return self.request("GET", f"{API}/background-jobs/{quote(job_id, safe='')}")

    # -- custom tags ----------------------------------------------------------------------------

    def create_tag(self, label: str, description: str | None = None) -> Json:
        body: dict[str, Any] = {"label": label}
        if description is not None:
            body["description"] = description
        # A create is never repeated blindly: a retry could create the tag twice.
        return self.request("POST", f"{API}/custom-tags", body=body, safe_to_repeat=False)

    def update_tag(self, tag_id: str, body: Mapping[str, Any]) -> Json:
        return self.request("PATCH", f"{API}/custom-tags/{quote(tag_id, safe='')}", body=dict(body))

    def delete_tag(self, tag_id: str) -> Json:
        return self.request("DELETE", f"{API}/custom-tags/{quote(tag_id, safe='')}")

    def toggle_tags(self, tag_ids: list[str], emails: list[str], assign: bool) -> Json:
        body = {"tag_ids": tag_ids, "resource_type": 1, "resource_ids": emails, "assign": assign}
        return self.request(
            "POST", f"{API}/custom-tags/toggle-resource", body=body, safe_to_repeat=True
        )


class Pager:
    """Iterates pages of ``{items, next_starting_after}``; never loops.

    Stops on a missing or empty cursor, an empty page, or a cursor seen before (recorded in
    ``anomaly`` so the command can warn). With ``offset`` (sorted lists, where the API has no
    cursor) it pages with ``skip`` until a short page.
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

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        seen: set[str] = set()
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
            if items:
                yield items
            if not items:
                if nxt:
                    self.anomaly = "the API returned an empty page with a cursor; stopped there"
                return
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
            if nxt in seen or nxt == cursor:
                self.anomaly = f"the API repeated the cursor {nxt!r}; stopped to avoid a loop"
                return
            seen.add(nxt)
            cursor = nxt
            if self.limit is not None and self.fetched >= self.limit:
                self.more, self.next_cursor = True, nxt
                return

    def items(self) -> Iterator[dict[str, Any]]:
        for page in self:
            yield from page


def _param(value: Any) -> Any:
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


def _decode(resp: httpx.Response) -> Json:
    status = resp.status_code
    raw = resp.content
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


def make_client(settings: Settings, *, limiter: RateLimiter | None = None) -> InstantlyClient:
    """Build the client for resolved settings: the real API, or the sandbox in-process."""
    if settings.sandbox:
        from instantly_cli.sandbox.app import SandboxApp
        from instantly_cli.sandbox.store import Store

        path = sandbox_state_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        store = Store(str(path))
        store.ensure_seeded()
        output.notice("Using the sandbox (local emulator; no real workspace is touched).")
        return InstantlyClient(
            api_key=settings.api_key or "sandbox",
            base_url="http://sandbox.invalid",
            workspace=settings.workspace,
            verbose=settings.verbose,
            transport=httpx.WSGITransport(app=SandboxApp(store, record=False)),
            limiter=limiter,
            timeout=timeout_from_env(),
        )
    return InstantlyClient(
        api_key=settings.require_key(),
        base_url=settings.base_url,
        workspace=settings.workspace,
        verbose=settings.verbose,
        transport=TRANSPORT_OVERRIDE,
        limiter=limiter,
        timeout=timeout_from_env(),
    )
