"""The HTTP of fleet history: the audit log (through the client) and alert webhooks.

Kept out of ``client.py`` (which stays one job, under 600 lines); the second module allowed to
import httpx, for webhooks only: they are not the Instantly API, so they get no key, no base URL
and no rate limiter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from instantly_cli.client import API, USER_AGENT, InstantlyClient
from instantly_cli.paging import Pager
from instantly_cli.ratelimit import parse_retry_after

AUDIT_LOGS = f"{API}/audit-logs"
WEBHOOK_TIMEOUT = 5.0
WEBHOOK_ATTEMPTS = 3
# The longest Retry-After a 429 from a webhook is waited out; a longer one ends the attempts.
WEBHOOK_MAX_WAIT = 30.0


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

    Retried (a bounded number of times) only when the hook surely did not act: the connection
    failed, or it answered 429 (after its ``Retry-After``, at most :data:`WEBHOOK_MAX_WAIT`
    seconds). A POST is not safe to repeat, so a read timeout or a 5xx is final: the hook may
    have posted the alert already. Returns None when the webhook took it (2xx), else a short
    reason.
    """
    reason = "not sent"
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    wait = 0.0
    with httpx.Client(timeout=httpx.Timeout(timeout), transport=transport,
                      follow_redirects=False) as http:
        for attempt in range(max(1, attempts)):
            if attempt:
                sleep(wait)
            wait = min(4.0, 0.5 * 2 ** attempt)
            try:
                resp = http.post(url, content=body, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                reason = f"cannot connect ({type(exc).__name__})"
                continue
            except httpx.TimeoutException:
                return f"no answer within {timeout:g} s"
            except httpx.HTTPError as exc:
                return f"failed ({type(exc).__name__})"
            if 200 <= resp.status_code < 300:
                return None
            reason = f"HTTP {resp.status_code}"
            if resp.status_code != 429:
                break
            asked = parse_retry_after(resp.headers.get("Retry-After"))
            if asked is not None:
                if asked > WEBHOOK_MAX_WAIT:
                    return f"{reason}, Retry-After over {WEBHOOK_MAX_WAIT:g} s"
                wait = asked
    return reason
