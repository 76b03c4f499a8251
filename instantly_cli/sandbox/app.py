"""WSGI emulator of the Instantly API V2 (accounts, custom tags, mappings, background jobs).

Behaviour follows the published OpenAPI document. Choices where it is silent:

- ``GET /api/v2/accounts`` without ``sort_by`` pages by cursor: newest first
  (timestamp_created desc, email desc; ``sort_order=asc`` flips it) and
  ``next_starting_after`` is ``"<timestamp_created>&<email>"`` of the last item, present only
  when more items remain. With ``sort_by`` the API pages by ``skip`` instead, so no cursor is
  returned and ``starting_after`` is ignored.
- Tags and mappings are ordered by id; their cursor is the last id of the page.
- Request bodies are validated strictly: unknown keys are rejected at every level
  (including ``warmup`` and ``warmup.advanced``) with a 400 envelope naming the field.
- Unknown routes, and known paths with another method, answer 404 like Fastify does.
- A warmup job advances one step per ``GET /api/v2/background-jobs/{id}``: pending →
  in-progress → success (or failed, changing nothing, when an email does not exist).
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
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from .store import (
    ACCOUNT_FILTERS,
    SORT_COLUMNS,
    AccountQuery,
    ConflictError,
    InvalidError,
    NotFoundError,
    Store,
)

StartResponse = Callable[..., Any]
Json = Any

ACCOUNT_STATUSES = (1, 2, 3, -1, -2, -3)
PROVIDER_CODES = (1, 2, 3, 4, 8, 11)
FILTERS = tuple(ACCOUNT_FILTERS)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# -- request body schemas (from the OpenAPI document, tightened: no unknown keys anywhere) --

_NUM: dict[str, Any] = {"type": "number"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_STR: dict[str, Any] = {"type": "string"}
_STR_LIST: dict[str, Any] = {"type": "array", "items": _STR}
_FILTER_ENUM: dict[str, Any] = {"type": ["string", "null"], "enum": [*FILTERS, None]}

PATCH_ACCOUNT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "first_name": _STR,
        "last_name": _STR,
        "warmup": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "limit": _NUM,
                "advanced": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "warm_ctd": _BOOL,
                        "open_rate": _NUM,
                        "important_rate": _NUM,
                        "read_emulation": _BOOL,
                        "spam_save_rate": _NUM,
                        "weekday_only": _BOOL,
                    },
                },
                "warmup_custom_ftag": _STR,
                "increment": {"type": "string", "enum": ["disabled", "0", "1", "2", "3", "4"]},
                "reply_rate": _NUM,
            },
        },
        "daily_limit": {"type": ["number", "null"]},
        "tracking_domain_name": {"type": ["string", "null"]},
        "tracking_domain_status": {"type": ["string", "null"]},
        "enable_slow_ramp": {"type": ["boolean", "null"]},
        "inbox_placement_test_limit": {"type": ["number", "null"], "minimum": 0},
        "sending_gap": {"type": "number", "minimum": 0, "maximum": 1440},
        "signature": {"type": ["string", "null"]},
        "reply_to": {"type": ["string", "null"], "format": "email"},
        "skip_cname_check": _BOOL,
        "remove_tracking_domain": _BOOL,
    },
}
BULK_PAUSE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["emails"],
    "properties": {"emails": {**_STR_LIST, "minItems": 1, "maxItems": 100}},
}
WARMUP_JOB: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "emails": {**_STR_LIST, "maxItems": 100},
        "include_all_emails": _BOOL,
        "excluded_emails": {**_STR_LIST, "maxItems": 100},
        "filter": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {"tag_id": _STR, "filter": _FILTER_ENUM},
        },
        "search": _STR,
    },
}
_LABEL: dict[str, Any] = {"type": "string", "minLength": 1, "pattern": r"\S"}
CREATE_TAG: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["label"],
    "properties": {"label": _LABEL, "description": {"type": ["string", "null"]}},
}
PATCH_TAG: dict[str, Any] = {**CREATE_TAG, "required": [], "minProperties": 1}
_NON_EMPTY_LIST: dict[str, Any] = {**_STR_LIST, "minItems": 1}
TOGGLE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["tag_ids", "resource_type", "assign"],
    "properties": {
        "tag_ids": _NON_EMPTY_LIST,
        "resource_type": {"type": "number", "enum": [1, 2]},
        "resource_ids": _NON_EMPTY_LIST,
        "excluded_resource_ids": _NON_EMPTY_LIST,
        "assign": _BOOL,
        "selected_all": _BOOL,
        "filter": {
            "type": ["string", "null", "object"],
            "enum": [*FILTERS, None],
            "additionalProperties": False,
            "properties": {
                "tag_id": _STR,
                "tag_ids": _NON_EMPTY_LIST,
                "tag_ids_all": _NON_EMPTY_LIST,
                "filter": _FILTER_ENUM,
                "search": _STR,
            },
        },
        "search": _STR,
    },
}


class HttpError(Exception):
    """An error answered with the Instantly envelope."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _type_ok(value: Any, typ: str) -> bool:
    if typ == "null":
        return value is None
    if typ == "boolean":
        return isinstance(value, bool)
    if typ == "number":
        # JSON true/false are not numbers, though Python says bool is an int.
        return isinstance(value, int | float) and not isinstance(value, bool)
    if typ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "string":
        return isinstance(value, str)
    if typ == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def check(schema: dict[str, Any], value: Any, path: str = "body") -> str | None:
    """Validate ``value`` against a small JSON-schema subset; the first error, or None."""
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if types and not any(_type_ok(value, t) for t in types):
        return f"{path} must be {' or '.join(types)}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                return f"{path} must have required property '{key}'"
        if len(value) < schema.get("minProperties", 0):
            return f"{path} must NOT have fewer than {schema['minProperties']} properties"
        props: dict[str, Any] = schema.get("properties", {})
        for key, item in value.items():
            if key not in props:
                if schema.get("additionalProperties", True) is False:
                    return f"{path} must NOT have additional properties: '{key}' ({path}/{key})"
                continue
            err = check(props[key], item, f"{path}/{key}")
            if err:
                return err
        return None
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(json.dumps(v) for v in schema["enum"])
        return f"{path} must be equal to one of the allowed values: {allowed}"
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            return f"{path} must NOT have fewer than {schema['minItems']} items"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return f"{path} must NOT have more than {schema['maxItems']} items"
        for n, item in enumerate(value):
            err = check(schema.get("items", {}), item, f"{path}/{n}")
            if err:
                return err
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return f"{path} must NOT have fewer than {schema['minLength']} characters"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return f'{path} must match pattern "{schema["pattern"]}"'
        if schema.get("format") == "email" and not _EMAIL.match(value):
            return f'{path} must match format "email"'
    if _type_ok(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{path} must be >= {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{path} must be <= {schema['maximum']}"
    return None


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

    def json(self, schema: dict[str, Any]) -> Any:
        """The body parsed and validated (400 envelope on any problem)."""
        if not self.body.strip():
            raise HttpError(400, "body must be object")
        try:
            data = json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpError(400, f"Body is not valid JSON: {exc}") from None
        err = check(schema, data)
        if err:
            raise HttpError(400, err)
        return data


Handler = Callable[["SandboxApp", Request], tuple[int, Json]]


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

    def __init__(self, store: Store, api_key: str | None = None, *, record: bool = True) -> None:
        self.store = store
        self._api_key = api_key
        self.record = record
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._routes: list[tuple[str, list[str], Handler]] = [
            ("GET", ["accounts"], SandboxApp._list_accounts),
            ("POST", ["accounts", "pause"], SandboxApp._bulk_pause),
            ("POST", ["accounts", "warmup", "enable"], SandboxApp._warmup_enable),
            ("POST", ["accounts", "warmup", "disable"], SandboxApp._warmup_disable),
            ("GET", ["accounts", "{email}"], SandboxApp._get_account),
            ("PATCH", ["accounts", "{email}"], SandboxApp._patch_account),
            ("POST", ["accounts", "{email}", "pause"], SandboxApp._pause),
            ("POST", ["accounts", "{email}", "resume"], SandboxApp._resume),
            ("GET", ["background-jobs", "{id}"], SandboxApp._get_job),
            ("GET", ["custom-tags"], SandboxApp._list_tags),
            ("POST", ["custom-tags"], SandboxApp._create_tag),
            ("POST", ["custom-tags", "toggle-resource"], SandboxApp._toggle),
            ("GET", ["custom-tags", "{id}"], SandboxApp._get_tag),
            ("PATCH", ["custom-tags", "{id}"], SandboxApp._patch_tag),
            ("DELETE", ["custom-tags", "{id}"], SandboxApp._delete_tag),
            ("GET", ["custom-tag-mappings"], SandboxApp._list_mappings),
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
            status, payload = self._dispatch(method, raw_path, query, body, headers)
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
            f"{status} {HTTPStatus(status).phrase}",
            [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", str(len(data))),
            ],
        )
        return [data]

    @staticmethod
    def envelope(status: int, message: str) -> dict[str, Any]:
        """The Instantly error body."""
        return {"statusCode": status, "error": HTTPStatus(status).phrase, "message": message}

    def _authorized(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        return self._api_key is None or token == self._api_key

    def _dispatch(
        self, method: str, raw_path: str, query: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Json]:
        if not self._authorized(headers.get("authorization")):
            raise HttpError(401, "Invalid API key")
        content_type = headers.get("content-type", "")
        if "json" in content_type and not body:
            # Fastify rejects an announced JSON body that is empty; real clients hit this.
            raise HttpError(
                400, "Body cannot be empty when content-type is set to 'application/json'"
            )
        prefix = "/api/v2/"
        not_found = HttpError(404, f"Route {method}:{raw_path} not found")
        if not raw_path.startswith(prefix):
            raise not_found
        segments = [unquote(s) for s in raw_path[len(prefix) :].split("/")]
        params: dict[str, str] = {}
        for q_key, q_value in parse_qsl(query, keep_blank_values=True):
            # Repeated list parameters are joined, like a comma list.
            if q_key in params and q_key in ("tag_ids", "tag_ids_all", "resource_ids"):
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
                req = Request(method, segments, params, body, content_type, path_params)
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
        )
        items, cursor = self.store.list_accounts(query)
        out: dict[str, Any] = {"items": items}
        if cursor:
            out["next_starting_after"] = cursor
        return 200, out

    def _account(self, email: str) -> dict[str, Any]:
        acc = self.store.get_account(email)
        if acc is None:
            raise HttpError(404, f"Account not found: {email}")
        return acc

    def _get_account(self, req: Request) -> tuple[int, Json]:
        return 200, self._account(req.params["email"])

    def _patch_account(self, req: Request) -> tuple[int, Json]:
        email = req.params["email"]
        self._account(email)
        body = req.json(PATCH_ACCOUNT)
        return 200, self.store.patch_account(email, body)

    def _pause(self, req: Request) -> tuple[int, Json]:
        return 200, self.store.set_status(req.params["email"], 2)

    def _resume(self, req: Request) -> tuple[int, Json]:
        return 200, self.store.set_status(req.params["email"], 1)

    def _bulk_pause(self, req: Request) -> tuple[int, Json]:
        body = req.json(BULK_PAUSE)
        paused, failed = self.store.pause_many(body["emails"])
        return 200, {"paused_emails": paused, "failed_emails": failed}

    def _warmup_job(self, req: Request, action: str) -> tuple[int, Json]:
        body = req.json(WARMUP_JOB)
        if body.get("include_all_emails") is True:
            flt = body.get("filter") or {}
            tag_id = flt.get("tag_id")
            emails = self.store.select_emails(
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
        return 200, self.store.create_warmup_job(action, emails)

    def _warmup_enable(self, req: Request) -> tuple[int, Json]:
        return self._warmup_job(req, "enable")

    def _warmup_disable(self, req: Request) -> tuple[int, Json]:
        return self._warmup_job(req, "disable")

    def _get_job(self, req: Request) -> tuple[int, Json]:
        return 200, self.store.poll_job(req.params["id"])

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
        out: dict[str, Any] = {"items": items}
        if cursor:
            out["next_starting_after"] = cursor
        return 200, out

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
        self.store.toggle(body["tag_ids"], int(body["resource_type"]), resource_ids, body["assign"])
        return 200, {"success": True}

    def _list_mappings(self, req: Request) -> tuple[int, Json]:
        q = req.query
        items, cursor = self.store.list_mappings(
            limit=self._int(q, "limit", 1, 100, 100),
            starting_after=q.get("starting_after") or None,
            resource_ids=self._list(q, "resource_ids"),
        )
        out: dict[str, Any] = {"items": items}
        if cursor:
            out["next_starting_after"] = cursor
        return 200, out
