"""WSGI emulator of the Instantly API V2: every operation of the OpenAPI copy (34).

Behaviour follows the published OpenAPI document. Choices where it is silent:

- ``GET /api/v2/accounts`` without ``sort_by`` pages by cursor: newest first
  (timestamp_created desc, email desc; ``sort_order=asc`` flips it) and
  ``next_starting_after`` is ``"<timestamp_created>&<email>"`` of the last item, present only
  when more items remain; ``skip`` is honoured there too (an offset after the cursor). With
  ``sort_by`` the API pages by ``skip`` instead ("used with sort_by when cursor pagination is
  not available"), so no cursor is returned and ``starting_after`` is ignored; the order is
  (column, email), both in ``sort_order`` (default desc), so ties break by email; SQLite puts
  a null score first ascending and last descending.
- Tags and mappings are ordered by id; their cursor is the last id of the page.
- Request bodies are validated strictly: unknown keys are rejected (a 400 envelope naming
  the field) at every level of the account and tag bodies (including ``warmup`` and
  ``warmup.advanced``) and at the top of the campaign PATCH; the objects nested in a campaign
  (schedule, sequences, …) take unknown keys, as the published schema leaves them open.
- Unknown routes, and known paths with another method, answer 404 like Fastify does.
- A warmup job advances one step per ``GET /api/v2/background-jobs/{id}``: pending →
  in-progress → success (or failed, changing nothing, when an email does not exist).
  Listing jobs never advances them.
- Workspaces (``workspaces.py``): every key belongs to the default workspace
  ``DEFAULT_WORKSPACE_ID`` ("Acme Agency", also the seeded accounts' ``organization``). In the
  default "agency" layout it is an admin workspace with five sub-workspaces
  (``seed.SUB_WORKSPACES``: three accepted, one pending, one rejected); ``x-as-workspace: ID``
  is allowed for the key's own workspace and its accepted sub-workspaces, and makes a request
  see only that workspace's accounts, jobs, campaigns and audit log; any other id is a 403.
  The "single" layout has no sub-workspaces. Tags and tag mappings are shared by all
  workspaces. ``POST /api/v2/accounts/move`` moves all or nothing between workspaces the key
  may act as: another source or destination, or an email not in the source, is a 404;
  source = destination is a 400; a moved account's ``organization`` becomes the destination
  and it leaves the source's campaigns.
- Campaigns (``campaigns.py``): 16 seeded in the default workspace; ``GET /campaigns`` is
  newest first (timestamp_created, id) and its cursor is the last id (an unknown one is a
  400); ``search`` is a case-insensitive substring of the name; ``tag_ids`` selects campaigns
  carrying one of the tags (custom-tag mappings with resource_type 2). PATCH replaces
  ``email_list``/``email_tag_list`` (emails must be accounts of the workspace, tags must
  exist: 400 naming the item). ``sending-status`` and ``account-campaign-mappings`` are
  derived from the accounts (see that module).
- Audit log (``audit.py``): account addition (6), deletion (7) and update (36), and campaign
  update (11), recorded per account with the key's id (a hash, never the key) and the time.
- ``POST /api/v2/accounts``: an email that exists already (in any workspace, compared
  case-insensitively) is a **409 Conflict** (the spec lists no error for it). A new account
  is active (status 1), warmup paused (0), no score; IMAP/SMTP hosts, ports, user names and
  passwords are accepted but stored nowhere and never returned (they are not Account fields).
  ``reply_to`` must be an email (the Account schema requires it of the result).
- ``DELETE /api/v2/accounts/{email}`` returns the deleted Account and drops its tag mappings.
- ``POST /api/v2/accounts/{email}/mark-fixed``: an account in an error status (< 0) goes back
  to active (1) with its ``status_message`` cleared and ``autofix_failed`` false; any other
  account is returned unchanged. No body, or ``{}`` (SDKs send one), is accepted.
- Bad input never reaches a 500: a lone surrogate, NaN, Infinity, a number out of range or
  nesting too deep to parse in a body, and a query integer beyond 2**53 - 1, are 400s.
- ``POST /api/v2/accounts/pause``: each unique email lands in ``paused_emails`` or
  ``failed_emails``; unknown accounts and accounts already paused are failed.
- ``POST /api/v2/accounts/test/vitals``: ``accounts`` holds emails (or bare domains); without
  it every domain of the workspace is checked. Results are per domain (sorted, each once) and
  decided by a stable hash of the domain (``seed.vitals``): about one domain in five fails a
  check; the failure reason is which of mx/spf/dkim/dmarc is false (the schema has no text).
  An item that is not an email or domain is a 400.
- ``GET /api/v2/accounts/ctd/status``: CNAME/SSL decided by a stable hash of the host
  (``seed.ctd_status``); a missing or malformed host is a 400.
- ``GET /api/v2/accounts/analytics/daily``: ``emails`` is repeated (``emails=a&emails=b``; a
  comma list works too); dates are ``YYYY-MM-DD``; ``end_date`` defaults to today (UTC) and
  ``start_date`` to 29 days before it. One row per (date, known email), by date then email;
  emails not in the workspace get no rows. Counts are a pure function of (email, date), zero
  before the account's creation date and after today. start after end, or more than
  31 days, is a 400. **413 Payload Too Large** when more than ``ANALYTICS_MAX_EMAILS`` (200)
  unique emails are asked for, or when accounts × days exceeds ``ANALYTICS_MAX_ACCOUNT_DAYS``
  (3,100, i.e. 100 accounts over 31 days), where accounts is the number of unique emails asked
  for or, without ``emails``, every account of the workspace (120 seeded × the default 30 days
  is too large).
- ``POST /api/v2/accounts/warmup-analytics``: the last ``WARMUP_ANALYTICS_DAYS`` (14) days
  ending today; per-day counts are a pure function of (email, date, warmup score), zero before
  warmup started; ``landed_inbox + landed_spam = sent``; ``health_score`` is the inbox share
  in percent (so it tracks ``stat_warmup_score``), ``health_score_label`` one of excellent
  (≥ 90), good (≥ 75), fair (≥ 50), poor, or "no data" when nothing was sent. Emails not in
  the workspace are left out of both maps.
- ``GET /api/v2/background-jobs``: newest first by ``created_at`` (``sort_column``,
  ``sort_order``), ties by id; the cursor is the last job's id (an unknown one is a 400);
  ``ids`` and ``included_ids`` both restrict to the listed ids, ``excluded_ids`` removes,
  ``status`` is a comma list. ``GET /api/v2/background-jobs/{id}?data_fields=a,b`` keeps only
  those keys of ``data``.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from .audit import (
    ACCOUNT_ADDED,
    ACCOUNT_DELETED,
    ACCOUNT_UPDATED,
    AUDIT_ACTIVITY_TYPES,
    CAMPAIGN_UPDATED,
    Actor,
    parse_when,
)
from .campaigns import CAMPAIGN_STATUSES
from .jobs import JOB_ENTITY_TYPES, JOB_STATUSES, JOB_TYPES
from .schemas import (
    ACCOUNT_STATUSES,
    BULK_PAUSE,
    CREATE_ACCOUNT,
    CREATE_TAG,
    FILTERS,
    MOVE_ACCOUNTS,
    PATCH_ACCOUNT,
    PATCH_CAMPAIGN,
    PATCH_TAG,
    PROVIDER_CODES,
    TOGGLE,
    VITALS,
    WARMUP_ANALYTICS,
    WARMUP_JOB,
    check,
)
from .seed import ctd_status, vitals
from .store import (
    DEFAULT_WORKSPACE_ID,
    SORT_COLUMNS,
    AccountQuery,
    ConflictError,
    InvalidError,
    NotFoundError,
    Store,
)

StartResponse = Callable[..., Any]
Json = Any

# The limits of GET /api/v2/accounts/analytics/daily (see the module docstring).
ANALYTICS_MAX_EMAILS = 200
ANALYTICS_MAX_DAYS = 31
ANALYTICS_MAX_ACCOUNT_DAYS = 3100
# POST /api/v2/accounts/warmup-analytics reports this many days, ending today.
WARMUP_ANALYTICS_DAYS = 14
MAX_SAFE_INTEGER = 2**53 - 1
# The first path segment of every route: what ``forbidden`` (``serve --forbid``) can name.
RESOURCES = (
    "accounts",
    "background-jobs",
    "custom-tags",
    "custom-tag-mappings",
    "campaigns",
    "account-campaign-mappings",
    "workspaces",
    "workspace-group-members",
    "audit-logs",
)
# Fastify's wording where it differs from Python's.
_PHRASES = {413: "Payload Too Large"}
_LIST_PARAMS = ("tag_ids", "tag_ids_all", "resource_ids", "emails")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)


class HttpError(Exception):
    """An error answered with the Instantly envelope."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class RecordedRequest:
    """One exchange, as the app saw it (the Authorization value is redacted)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    response: Json = None


@dataclass
class Request:
    """What a handler receives."""

    method: str
    segments: list[str]
    query: dict[str, str]
    body: bytes
    content_type: str
    params: dict[str, str] = field(default_factory=dict)
    workspace: str = DEFAULT_WORKSPACE_ID
    actor: Actor = field(default_factory=Actor)

    def json(self, schema: dict[str, Any]) -> Any:
        """The body parsed and validated (400 envelope on any problem)."""
        if not self.body.strip():
            raise HttpError(400, "body must be object")
        data = parse_json(self.body)
        err = check(schema, data)
        if err:
            raise HttpError(400, err)
        return data


Handler = Callable[["SandboxApp", Request], tuple[int, Json]]


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; stored, they would come back as invalid JSON.
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is out of range for a number")
    return value


def parse_json(body: bytes) -> Any:
    """A request body as JSON; 400 for bad JSON, nesting too deep to parse, or a lone
    surrogate (``"\\ud800"``: valid JSON, but no text can hold it)."""
    try:
        data = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise HttpError(400, "Body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpError(400, f"Body is not valid JSON: {exc}") from None
    try:
        bad = _has_surrogate(data)
    except RecursionError:
        raise HttpError(400, "Body is nested too deeply") from None
    if bad:
        raise HttpError(400, "Body holds a lone surrogate (\\ud800-\\udfff): not valid Unicode")
    return data


def _raw_path(environ: dict[str, Any]) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw).split("?", 1)[0]
    path = str(environ.get("PATH_INFO", ""))
    try:
        # PEP 3333 servers hand PATH_INFO over as latin-1 decoded bytes.
        path = path.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass  # httpx's WSGITransport already gives decoded text
    # Re-encode so the recorded path looks like what went over the wire.
    return quote(path, safe="/:!$&'()*,;=-._~")


class SandboxApp:
    """The WSGI application. ``api_key=None`` accepts any non-empty bearer token."""

    def __init__(
        self,
        store: Store,
        api_key: str | None = None,
        *,
        record: bool = True,
        forbidden: Iterable[str] = (),
    ) -> None:
        self.store = store
        self._api_key = api_key
        self.record = record
        # Resources (the path segment after /api/v2/, e.g. "audit-logs") the key has no scope
        # for: a 403, as the API answers a key without that scope.
        self.forbidden: set[str] = set(forbidden)
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._routes: list[tuple[str, list[str], Handler]] = [
            ("GET", ["accounts"], SandboxApp._list_accounts),
            ("POST", ["accounts"], SandboxApp._create_account),
            ("POST", ["accounts", "pause"], SandboxApp._bulk_pause),
            ("POST", ["accounts", "move"], SandboxApp._move),
            ("POST", ["accounts", "warmup", "enable"], SandboxApp._warmup_enable),
            ("POST", ["accounts", "warmup", "disable"], SandboxApp._warmup_disable),
            ("POST", ["accounts", "warmup-analytics"], SandboxApp._warmup_analytics),
            ("GET", ["accounts", "analytics", "daily"], SandboxApp._daily_analytics),
            ("GET", ["accounts", "ctd", "status"], SandboxApp._ctd_status),
            ("POST", ["accounts", "test", "vitals"], SandboxApp._vitals),
            ("GET", ["accounts", "{email}"], SandboxApp._get_account),
            ("PATCH", ["accounts", "{email}"], SandboxApp._patch_account),
            ("DELETE", ["accounts", "{email}"], SandboxApp._delete_account),
            ("POST", ["accounts", "{email}", "pause"], SandboxApp._pause),
            ("POST", ["accounts", "{email}", "resume"], SandboxApp._resume),
            ("POST", ["accounts", "{email}", "mark-fixed"], SandboxApp._mark_fixed),
            ("GET", ["background-jobs"], SandboxApp._list_jobs),
            ("GET", ["background-jobs", "{id}"], SandboxApp._get_job),
            ("GET", ["custom-tags"], SandboxApp._list_tags),
            ("POST", ["custom-tags"], SandboxApp._create_tag),
            ("POST", ["custom-tags", "toggle-resource"], SandboxApp._toggle),
            ("GET", ["custom-tags", "{id}"], SandboxApp._get_tag),
            ("PATCH", ["custom-tags", "{id}"], SandboxApp._patch_tag),
            ("DELETE", ["custom-tags", "{id}"], SandboxApp._delete_tag),
            ("GET", ["custom-tag-mappings"], SandboxApp._list_mappings),
            ("GET", ["campaigns"], SandboxApp._list_campaigns),
            ("GET", ["campaigns", "{id}"], SandboxApp._get_campaign),
            ("PATCH", ["campaigns", "{id}"], SandboxApp._patch_campaign),
            ("GET", ["campaigns", "{id}", "sending-status"], SandboxApp._sending_status),
            ("GET", ["account-campaign-mappings", "{email}"], SandboxApp._account_campaigns),
            ("GET", ["workspaces", "current"], SandboxApp._current_workspace),
            ("GET", ["workspace-group-members"], SandboxApp._group_members),
            ("GET", ["workspace-group-members", "admin"], SandboxApp._group_admin),
            ("GET", ["audit-logs"], SandboxApp._audit_logs),
        ]

    @staticmethod
    def _report(environ: dict[str, Any]) -> None:
        """A sandbox bug: its traceback goes to the server's stream (PEP 3333 wsgi.errors)."""
        traceback.print_exc(file=environ.get("wsgi.errors") or sys.stderr)

    @property
    def request_count(self) -> int:
        """How many requests the app has answered."""
        with self._lock:
            return len(self.requests)

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        raw_path = _raw_path(environ)
        query = str(environ.get("QUERY_STRING", ""))
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        headers = {
            key[5:].lower().replace("_", "-"): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.lower().replace("_", "-")] = str(environ[key])
        try:
            remote = str(environ.get("REMOTE_ADDR") or "127.0.0.1")
            status, payload = self._dispatch(method, raw_path, query, body, headers, remote)
        except HttpError as exc:
            status, payload = exc.status, self.envelope(exc.status, exc.message)
        except NotFoundError as exc:
            status, payload = 404, self.envelope(404, str(exc))
        except ConflictError as exc:
            status, payload = 409, self.envelope(409, str(exc))
        except InvalidError as exc:
            status, payload = 400, self.envelope(400, str(exc))
        except sqlite3.ProgrammingError as exc:
            if "closed" not in str(exc):
                self._report(environ)
                status, payload = 500, self.envelope(500, "Internal sandbox error")
            else:  # the store was closed under a request that outlived its server
                status, payload = 503, self.envelope(503, "The sandbox is shutting down.")
        except Exception:  # noqa: BLE001 - a sandbox bug must still answer with an envelope
            self._report(environ)
            status, payload = 500, self.envelope(500, "Internal sandbox error")
        if "authorization" in headers:
            headers["authorization"] = "Bearer [REDACTED]"
        if self.record:
            rec = RecordedRequest(method, raw_path, query, headers, body, status, payload)
            with self._lock:
                self.requests.append(rec)
        data = json.dumps(payload, ensure_ascii=False).encode()
        start_response(
            f"{status} {_PHRASES.get(status, HTTPStatus(status).phrase)}",
            [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", str(len(data))),
            ],
        )
        return [data]

    @staticmethod
    def envelope(status: int, message: str) -> dict[str, Any]:
        """The Instantly error body."""
        phrase = _PHRASES.get(status, HTTPStatus(status).phrase)
        return {"statusCode": status, "error": phrase, "message": message}

    def _authorized(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        return self._api_key is None or token == self._api_key

    def _dispatch(
        self,
        method: str,
        raw_path: str,
        query: str,
        body: bytes,
        headers: dict[str, str],
        remote: str = "127.0.0.1",
    ) -> tuple[int, Json]:
        if not self._authorized(headers.get("authorization")):
            raise HttpError(401, "Invalid API key")
        content_type = headers.get("content-type", "")
        if "json" in content_type and not body:
            # Fastify rejects an announced JSON body that is empty; real clients hit this.
            raise HttpError(
                400, "Body cannot be empty when content-type is set to 'application/json'"
            )
        workspace = headers.get("x-as-workspace", "").strip() or DEFAULT_WORKSPACE_ID
        if not self.store.may_act_as(workspace):
            raise HttpError(403, f"Workspace {workspace} is not accessible with this API key")
        prefix = "/api/v2/"
        not_found = HttpError(404, f"Route {method}:{raw_path} not found")
        if not raw_path.startswith(prefix):
            raise not_found
        segments = [unquote(s) for s in raw_path[len(prefix) :].split("/")]
        if segments[0] in self.forbidden:
            raise HttpError(403, f"This API key does not have the scope to access {segments[0]}")
        params: dict[str, str] = {}
        for q_key, q_value in parse_qsl(query, keep_blank_values=True):
            # Repeated list parameters are joined, like a comma list.
            if q_key in params and q_key in _LIST_PARAMS:
                params[q_key] += "," + q_value
            else:
                params[q_key] = q_value
        for route_method, template, handler in self._routes:
            if route_method != method or len(template) != len(segments):
                continue
            path_params: dict[str, str] = {}
            for part, seg in zip(template, segments, strict=True):
                if part.startswith("{"):
                    if not seg:
                        break
                    path_params[part[1:-1]] = seg
                elif part != seg:
                    break
            else:
                actor = Actor.from_key(
                    headers["authorization"].partition(" ")[2].strip(),
                    headers.get("user-agent"),
                    remote,
                )
                req = Request(
                    method, segments, params, body, content_type, path_params, workspace, actor
                )
                return handler(self, req)
        raise not_found

    # -- query helpers -----------------------------------------------------------------

    @staticmethod
    def _int(q: dict[str, str], name: str, lo: int, hi: int | None, default: int) -> int:
        raw = q.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise HttpError(400, f"querystring/{name} must be integer") from None
        # Past this, SQLite (64-bit integers) cannot take it; JSON clients lose precision.
        if hi is None and value > MAX_SAFE_INTEGER:
            raise HttpError(400, f"querystring/{name} must be <= {MAX_SAFE_INTEGER}")
        if value < lo:
            raise HttpError(400, f"querystring/{name} must be >= {lo}")
        if hi is not None and value > hi:
            raise HttpError(400, f"querystring/{name} must be <= {hi}")
        return value

    @staticmethod
    def _enum(q: dict[str, str], name: str, allowed: Sequence[Any]) -> Any:
        raw = q.get(name)
        if raw is None or raw == "":
            return None
        value: Any = raw
        if isinstance(allowed[0], int):
            try:
                number = float(raw)
            except ValueError:
                raise HttpError(400, f"querystring/{name} must be number") from None
            value = int(number) if number.is_integer() else number
        if value not in allowed:
            raise HttpError(
                400,
                f"querystring/{name} must be equal to one of the allowed values: "
                + ", ".join(str(a) for a in allowed),
            )
        return value

    @staticmethod
    def _bool(q: dict[str, str], name: str) -> bool:
        raw = q.get(name)
        if raw is None or raw == "":
            return False
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise HttpError(400, f"querystring/{name} must be boolean")

    @staticmethod
    def _page(items: list[dict[str, Any]], cursor: str | None) -> dict[str, Any]:
        """A listing's answer: the cursor only when more items remain."""
        out: dict[str, Any] = {"items": items}
        if cursor:
            out["next_starting_after"] = cursor
        return out

    @staticmethod
    def _list(q: dict[str, str], name: str) -> list[str]:
        return [p.strip() for p in q.get(name, "").split(",") if p.strip()]

    # -- accounts ------------------------------------------------------------------------

    def _list_accounts(self, req: Request) -> tuple[int, Json]:
        q = req.query
        query = AccountQuery(
            limit=self._int(q, "limit", 1, 100, 100),
            starting_after=q.get("starting_after") or None,
            search=q.get("search") or None,
            status=self._enum(q, "status", ACCOUNT_STATUSES),
            provider_code=self._enum(q, "provider_code", PROVIDER_CODES),
            tag_ids=self._list(q, "tag_ids"),
            tag_ids_all=self._list(q, "tag_ids_all"),
            filter=self._enum(q, "filter", FILTERS),
            sort_by=self._enum(q, "sort_by", tuple(SORT_COLUMNS)),
            sort_order=self._enum(q, "sort_order", ("asc", "desc")),
            skip=self._int(q, "skip", 0, None, 0),
            include_tags=self._bool(q, "include_tags"),
            workspace=req.workspace,
        )
        items, cursor = self.store.list_accounts(query)
        return 200, self._page(items, cursor)

    def _account(self, email: str, workspace: str) -> dict[str, Any]:
        acc = self.store.get_account(email, workspace)
        if acc is None:
            raise HttpError(404, f"Account not found: {email}")
        return acc

    def _get_account(self, req: Request) -> tuple[int, Json]:
        return 200, self._account(req.params["email"], req.workspace)

    def _audit(self, req: Request, activity: int, email: str, action: str, **extra: Any) -> None:
        meta = {"email": email, "action": action, **extra}
        self.store.audit(req.workspace, activity, req.actor, meta)

    def _create_account(self, req: Request) -> tuple[int, Json]:
        body = req.json(CREATE_ACCOUNT)
        acc = self.store.create_account(body, req.workspace)
        self._audit(req, ACCOUNT_ADDED, acc["email"], "create")
        return 200, acc

    def _delete_account(self, req: Request) -> tuple[int, Json]:
        if req.body.strip() and req.body.strip() != b"null":
            raise HttpError(400, "body must be null")
        acc = self.store.delete_account(req.params["email"], req.workspace)
        self._audit(req, ACCOUNT_DELETED, acc["email"], "delete")
        return 200, acc

    def _patch_account(self, req: Request) -> tuple[int, Json]:
        email = req.params["email"]
        self._account(email, req.workspace)
        body = req.json(PATCH_ACCOUNT)
        acc = self.store.patch_account(email, body, req.workspace)
        self._audit(req, ACCOUNT_UPDATED, email, "update", fields=sorted(body))
        return 200, acc

    @staticmethod
    def _no_body(req: Request) -> None:
        # Empty, or an empty JSON object: SDKs (instantlyai) send {} with every POST.
        body = req.body.strip()
        if body and parse_json(body) != {}:
            raise HttpError(400, "body must be empty or {}")

    def _set_status(self, req: Request, status: int, action: str) -> tuple[int, Json]:
        acc = self.store.set_status(req.params["email"], status, req.workspace)
        self._audit(req, ACCOUNT_UPDATED, acc["email"], action)
        return 200, acc

    def _pause(self, req: Request) -> tuple[int, Json]:
        return self._set_status(req, 2, "pause")

    def _resume(self, req: Request) -> tuple[int, Json]:
        return self._set_status(req, 1, "resume")

    def _mark_fixed(self, req: Request) -> tuple[int, Json]:
        self._no_body(req)
        # Whether it changed is decided in the store's transaction: of two requests at once,
        # only the one that fixed the account records an update.
        acc, changed = self.store.mark_fixed(req.params["email"], req.workspace)
        if changed:
            self._audit(req, ACCOUNT_UPDATED, acc["email"], "mark-fixed")
        return 200, acc

    def _bulk_pause(self, req: Request) -> tuple[int, Json]:
        body = req.json(BULK_PAUSE)
        paused, failed = self.store.pause_many(body["emails"], req.workspace)
        for email in paused:
            self._audit(req, ACCOUNT_UPDATED, email, "pause")
        return 200, {"paused_emails": paused, "failed_emails": failed}

    def _move(self, req: Request) -> tuple[int, Json]:
        body = req.json(MOVE_ACCOUNTS)
        for key in ("source_workspace_id", "destination_workspace_id"):
            # Only workspaces this key may act as (a pending or rejected one is unknown here).
            if not self.store.may_act_as(body[key]):
                raise HttpError(404, f"Workspace not found: {body[key]}")
        self.store.move_accounts(
            body["emails"], body["source_workspace_id"], body["destination_workspace_id"]
        )
        return 200, {"status": "success"}

    def _warmup_job(self, req: Request, action: str) -> tuple[int, Json]:
        body = req.json(WARMUP_JOB)
        if body.get("include_all_emails") is True:
            flt = body.get("filter") or {}
            tag_id = flt.get("tag_id")
            emails = self.store.select_emails(
                workspace=req.workspace,
                search=body.get("search") or None,
                filter=flt.get("filter"),
                tag_ids=[tag_id] if tag_id else (),
                excluded=body.get("excluded_emails") or (),
            )
        else:
            emails = body.get("emails") or []
            if not emails:
                raise HttpError(
                    400, "body/emails must NOT have fewer than 1 items unless include_all_emails"
                )
        return 200, self.store.create_warmup_job(action, emails, req.workspace)

    def _warmup_enable(self, req: Request) -> tuple[int, Json]:
        return self._warmup_job(req, "enable")

    def _warmup_disable(self, req: Request) -> tuple[int, Json]:
        return self._warmup_job(req, "disable")

    # -- checks and analytics ------------------------------------------------------------

    def _vitals(self, req: Request) -> tuple[int, Json]:
        body = req.json(VITALS) if req.body.strip() else {}
        items = body.get("accounts")
        if not items:
            items = self.store.select_emails(workspace=req.workspace)
        domains: list[str] = []
        for n, item in enumerate(items):
            domain = item.rpartition("@")[2].strip().lower().rstrip(".")
            if not _DOMAIN.match(domain):
                raise HttpError(400, f"body/accounts/{n} must be an email address or a domain")
            if domain not in domains:
                domains.append(domain)
        results = [vitals(d) for d in sorted(domains)]
        return 200, {
            "status": "success",
            "success_list": [r for r in results if r["allPass"]],
            "failure_list": [r for r in results if not r["allPass"]],
        }

    def _ctd_status(self, req: Request) -> tuple[int, Json]:
        if "host" not in req.query:
            raise HttpError(400, "querystring must have required property 'host'")
        host = req.query["host"].strip().lower().rstrip(".")
        if not _DOMAIN.match(host):
            raise HttpError(400, "querystring/host must be a host name")
        return 200, ctd_status(host)

    def _date(self, q: dict[str, str], name: str) -> date | None:
        raw = q.get(name, "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw[:10])
        except ValueError:
            raise HttpError(400, f"querystring/{name} must be a date (YYYY-MM-DD)") from None

    def _days(self, start: date, end: date) -> list[date]:
        return [start + timedelta(days=n) for n in range((end - start).days + 1)]

    def _daily_analytics(self, req: Request) -> tuple[int, Json]:
        q = req.query
        end = self._date(q, "end_date") or self.store.today()
        start = self._date(q, "start_date") or end - timedelta(days=29)
        if start > end:
            raise HttpError(400, "Start Date must be earlier than End Date")
        days = self._days(start, end)
        if len(days) > ANALYTICS_MAX_DAYS:
            raise HttpError(400, f"The maximum range is {ANALYTICS_MAX_DAYS} days")
        emails: list[str] | None = list(dict.fromkeys(self._list(q, "emails"))) or None
        if "emails" in q and emails is None:
            raise HttpError(400, "querystring/emails must NOT have fewer than 1 items")
        if emails is not None and len(emails) > ANALYTICS_MAX_EMAILS:
            raise HttpError(
                413,
                f"Analytics request is too large: at most {ANALYTICS_MAX_EMAILS} unique emails "
                f"per request ({len(emails)} given).",
            )
        accounts = len(emails) if emails is not None else self.store.count_accounts(req.workspace)
        if accounts * len(days) > ANALYTICS_MAX_ACCOUNT_DAYS:
            raise HttpError(
                413,
                "Analytics request is too large for this workspace. Add an emails filter or "
                f"request a smaller date range (at most {ANALYTICS_MAX_ACCOUNT_DAYS} "
                f"account-days; this one is {accounts} x {len(days)}).",
            )
        return 200, self.store.daily_analytics(emails, days, req.workspace)

    def _warmup_analytics(self, req: Request) -> tuple[int, Json]:
        body = req.json(WARMUP_ANALYTICS)
        end = self.store.today()
        days = self._days(end - timedelta(days=WARMUP_ANALYTICS_DAYS - 1), end)
        return 200, self.store.warmup_analytics(body["emails"], days, req.workspace)

    # -- background jobs -----------------------------------------------------------------

    def _get_job(self, req: Request) -> tuple[int, Json]:
        job = self.store.poll_job(req.params["id"], req.workspace)
        fields = self._list(req.query, "data_fields")
        if fields:
            job = {**job, "data": {k: v for k, v in job["data"].items() if k in fields}}
        return 200, job

    def _list_jobs(self, req: Request) -> tuple[int, Json]:
        q = req.query
        statuses = self._list(q, "status")
        for status in statuses:
            if status not in JOB_STATUSES:
                raise HttpError(
                    400,
                    "querystring/status must be a comma list of: " + ", ".join(JOB_STATUSES),
                )
        items, cursor = self.store.list_jobs(
            workspace=req.workspace,
            limit=self._int(q, "limit", 1, 100, 100),
            starting_after=q.get("starting_after") or None,
            ids=self._list(q, "ids"),
            included_ids=self._list(q, "included_ids"),
            excluded_ids=self._list(q, "excluded_ids"),
            type=self._enum(q, "type", JOB_TYPES),
            entity_type=self._enum(q, "entity_type", JOB_ENTITY_TYPES),
            entity_ids=self._list(q, "entity_id"),
            statuses=statuses,
            sort_column=self._enum(q, "sort_column", ("created_at", "updated_at")) or "created_at",
            sort_order=self._enum(q, "sort_order", ("asc", "desc")) or "desc",
        )
        return 200, self._page(items, cursor)

    # -- tags ----------------------------------------------------------------------------

    def _list_tags(self, req: Request) -> tuple[int, Json]:
        q = req.query
        items, cursor = self.store.list_tags(
            limit=self._int(q, "limit", 1, 100, 100),
            starting_after=q.get("starting_after") or None,
            search=q.get("search") or None,
            resource_ids=self._list(q, "resource_ids"),
            tag_ids=self._list(q, "tag_ids"),
        )
        return 200, self._page(items, cursor)

    def _create_tag(self, req: Request) -> tuple[int, Json]:
        body = req.json(CREATE_TAG)
        return 200, self.store.create_tag(body["label"], body.get("description"))

    def _get_tag(self, req: Request) -> tuple[int, Json]:
        return 200, self.store.get_tag(req.params["id"])

    def _patch_tag(self, req: Request) -> tuple[int, Json]:
        self.store.get_tag(req.params["id"])
        return 200, self.store.update_tag(req.params["id"], req.json(PATCH_TAG))

    def _delete_tag(self, req: Request) -> tuple[int, Json]:
        if req.body.strip() and req.body.strip() != b"null":
            raise HttpError(400, "body must be null")
        return 200, self.store.delete_tag(req.params["id"])

    def _toggle(self, req: Request) -> tuple[int, Json]:
        body = req.json(TOGGLE)
        flt = body.get("filter")
        if isinstance(flt, str) and flt not in FILTERS:
            raise HttpError(400, "body/filter must be equal to one of the allowed values")
        if body.get("selected_all") is True:
            if body["resource_type"] != 1:
                raise HttpError(400, "body/selected_all is only supported for accounts")
            opts: dict[str, Any] = flt if isinstance(flt, dict) else {"filter": flt}
            tag_id = opts.get("tag_id")
            resource_ids = self.store.select_emails(
                workspace=req.workspace,
                search=opts.get("search") or body.get("search") or None,
                filter=opts.get("filter"),
                tag_ids=opts.get("tag_ids") or ([tag_id] if tag_id and tag_id != "no-tag" else []),
                tag_ids_all=opts.get("tag_ids_all") or (),
                no_tag=tag_id == "no-tag",
                excluded=body.get("excluded_resource_ids") or (),
            )
        else:
            resource_ids = body.get("resource_ids") or []
            if not resource_ids:
                raise HttpError(
                    400, "body must have required property 'resource_ids' unless selected_all"
                )
        self.store.toggle(
            body["tag_ids"],
            int(body["resource_type"]),
            resource_ids,
            body["assign"],
            req.workspace,
        )
        return 200, {"success": True}

    def _list_mappings(self, req: Request) -> tuple[int, Json]:
        q = req.query
        items, cursor = self.store.list_mappings(
            limit=self._int(q, "limit", 1, 100, 100),
            starting_after=q.get("starting_after") or None,
            resource_ids=self._list(q, "resource_ids"),
        )
        return 200, self._page(items, cursor)

    # -- campaigns -----------------------------------------------------------------------

    def _list_campaigns(self, req: Request) -> tuple[int, Json]:
        q = req.query
        items, cursor = self.store.list_campaigns(
            req.workspace,
            limit=self._int(q, "limit", 1, 100, 100),
            starting_after=q.get("starting_after") or None,
            search=q.get("search") or None,
            tag_ids=self._list(q, "tag_ids"),
            status=self._enum(q, "status", CAMPAIGN_STATUSES),
            exclude_status=self._enum(q, "exclude_status", CAMPAIGN_STATUSES),
            ai_sales_agent_id=q.get("ai_sales_agent_id") or None,
        )
        return 200, self._page(items, cursor)

    def _get_campaign(self, req: Request) -> tuple[int, Json]:
        return 200, self.store.get_campaign(req.params["id"], req.workspace)

    def _patch_campaign(self, req: Request) -> tuple[int, Json]:
        self.store.get_campaign(req.params["id"], req.workspace)
        body = req.json(PATCH_CAMPAIGN)
        campaign = self.store.patch_campaign(req.params["id"], body, req.workspace)
        meta = {"campaign_id": campaign["id"], "action": "update", "fields": sorted(body)}
        self.store.audit(req.workspace, CAMPAIGN_UPDATED, req.actor, meta)
        return 200, campaign

    def _sending_status(self, req: Request) -> tuple[int, Json]:
        ai = self._bool(req.query, "with_ai_summary")
        return 200, self.store.sending_status(req.params["id"], req.workspace, ai_summary=ai)

    def _account_campaigns(self, req: Request) -> tuple[int, Json]:
        q = req.query
        items, cursor = self.store.account_campaigns(
            req.params["email"],
            req.workspace,
            limit=self._int(q, "limit", 1, None, 100),
            starting_after=q.get("starting_after") or None,
        )
        return 200, self._page(items, cursor)

    # -- workspaces ----------------------------------------------------------------------

    def _current_workspace(self, req: Request) -> tuple[int, Json]:
        return 200, self.store.workspace(req.workspace)

    def _group_members(self, req: Request) -> tuple[int, Json]:
        q = req.query
        items, cursor = self.store.group_members(
            req.workspace,
            limit=self._int(q, "limit", 1, 100, 100),
            starting_after=q.get("starting_after") or None,
        )
        return 200, self._page(items, cursor)

    def _group_admin(self, req: Request) -> tuple[int, Json]:
        return 200, self.store.admin_of(req.workspace)

    # -- audit log -----------------------------------------------------------------------

    def _audit_logs(self, req: Request) -> tuple[int, Json]:
        q = req.query
        start = q.get("start_date") or None
        end = q.get("end_date") or None
        items, cursor = self.store.list_audit(
            req.workspace,
            limit=self._int(q, "limit", 1, 1000, 100),
            starting_after=q.get("starting_after") or None,
            activity_type=self._enum(q, "activity_type", AUDIT_ACTIVITY_TYPES),
            search=q.get("search") or None,
            start=parse_when(start, "start_date") if start else None,
            end=parse_when(end, "end_date", end=True) if end else None,
        )
        return 200, self._page(items, cursor)
