"""Contract checks against the OpenAPI subset in ``tests/openapi/``.

One deliberate deviation: the accounts list item is ``allOf: [Account, {tags}]`` while Account
says ``additionalProperties: false``, so a literal reading rejects every item carrying ``tags``.
Such ``allOf`` pairs are merged into one object schema before validation.
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from jsonschema import Draft202012Validator

SPEC_PATH = Path(__file__).parent / "openapi" / "instantly-openapi-accounts-tags.json"
SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
COMPONENTS = SPEC["components"]
METHODS = ("get", "post", "put", "patch", "delete")


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return dict(COMPONENTS["schemas"][ref.rsplit("/", 1)[1]])
    return schema


def _merge_allof(node: Any) -> Any:
    """Merge ``allOf`` lists of object schemas into a single object schema."""
    if isinstance(node, list):
        return [_merge_allof(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _merge_allof(v) for k, v in node.items()}
    parts = node.get("allOf")
    if isinstance(parts, list) and all(_resolve(p).get("type") == "object" for p in parts):
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        closed = False
        for part in parts:
            part = _resolve(part)
            merged["properties"].update(part.get("properties", {}))
            merged["required"].extend(part.get("required", []))
            closed = closed or part.get("additionalProperties") is False
        if closed:
            merged["additionalProperties"] = False
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return {**rest, **merged}
    return node


PATHS: dict[str, Any] = _merge_allof(copy.deepcopy(SPEC["paths"]))


def _templates() -> list[tuple[list[str], str]]:
    out = [(tpl.strip("/").split("/"), tpl) for tpl in PATHS]
    # Literal segments win over {params}: /accounts/pause before /accounts/{email}.
    out.sort(key=lambda t: [seg.startswith("{") for seg in t[0]])
    return out


TEMPLATES = _templates()


def match_path(raw_path: str) -> tuple[str, dict[str, str]]:
    """The path template and decoded path parameters for a raw (encoded) path."""
    segments = raw_path.split("?", 1)[0].strip("/").split("/")
    for parts, tpl in TEMPLATES:
        if len(parts) != len(segments):
            continue
        params: dict[str, str] = {}
        for part, seg in zip(parts, segments, strict=True):
            if part.startswith("{"):
                params[part[1:-1]] = unquote(seg)
            elif part != seg:
                break
        else:
            return tpl, params
    raise AssertionError(f"path not in the OpenAPI document: {raw_path}")


@cache
def _validator_for(schema_json: str) -> Draft202012Validator:
    schema = json.loads(schema_json)
    # Carry the components along so "#/components/..." refs resolve from this root.
    root = {**schema, "components": COMPONENTS}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


# (schema, value) pairs already found valid, as digests of their exact JSON: the seeded
# sandbox answers the same pages to many tests, and validating is deterministic.
_VALID: set[bytes] = set()
# A schema's JSON text (its key) and its page shell, by identity: the schemas come from PATHS,
# and writing out a large one for every value would cost more than validating it.
_SCHEMA_JSON: dict[int, tuple[dict[str, Any], str]] = {}
_PAGE_SHELL: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}


def _schema_json(schema: dict[str, Any]) -> str:
    known = _SCHEMA_JSON.get(id(schema))
    if known is None or known[0] is not schema:
        known = (schema, json.dumps(schema, sort_keys=True))
        _SCHEMA_JSON[id(schema)] = known
    return known[1]


def _page_shell(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its ``items`` array's element schema taken out (checked one by one)."""
    known = _PAGE_SHELL.get(id(schema))
    if known is None or known[0] is not schema:
        listed = schema["properties"]["items"]
        each = {k: v for k, v in listed.items() if k != "items"}
        known = (schema, {**schema, "properties": {**schema["properties"], "items": each}})
        _PAGE_SHELL[id(schema)] = known
    return known[1]


def _validate(schema: dict[str, Any], value: Any, what: str) -> None:
    listed = schema.get("properties", {}).get("items")
    if (
        isinstance(value, dict)
        and isinstance(value.get("items"), list)
        and isinstance(listed, dict)
        and "items" in listed
    ):
        # A page: the same as validating it whole (``items`` applies to each element on its
        # own), but each element is checked, and remembered, by itself: the seeded accounts
        # recur on many pages of many tests.
        for n, item in enumerate(value["items"]):
            _validate(listed["items"], item, f"{what} items/{n}")
        schema = _page_shell(schema)
    schema_json = _schema_json(schema)
    digest = hashlib.blake2b(
        f"{schema_json}\0{json.dumps(value, sort_keys=True)}".encode("utf-8", "surrogatepass"),
        digest_size=16,
    ).digest()
    if digest in _VALID:
        return
    validator = _validator_for(schema_json)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path)
        raise AssertionError(f"{what}: {err.message} at '{where}'")
    _VALID.add(digest)


def _operation(method: str, raw_path: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    tpl, params = match_path(raw_path)
    op = PATHS[tpl].get(method.lower())
    if op is None:
        raise AssertionError(f"{method} {tpl} is not in the OpenAPI document")
    return tpl, op, params


def _coerce(raw: str, schema: dict[str, Any]) -> Any:
    types = schema.get("type", "string")
    types = [types] if isinstance(types, str) else types
    for typ in types:
        try:
            if typ == "integer":
                return int(raw)
            if typ == "number":
                number = float(raw)
                return int(number) if number.is_integer() else number
            if typ == "boolean" and raw in ("true", "false"):
                return raw == "true"
        except ValueError:
            continue
    return raw


def validate_request(method: str, raw_path: str, query: str, body: bytes | None) -> None:
    """Assert that a request is one the OpenAPI document allows."""
    if "?" in raw_path and not query:
        raw_path, query = raw_path.split("?", 1)
    tpl, op, path_params = _operation(method, raw_path)
    declared = {p["name"]: p for p in op.get("parameters", [])}
    for name, value in path_params.items():
        param = declared.get(name)
        assert param and param["in"] == "path", f"{tpl}: undeclared path parameter {name}"
        _validate(param["schema"], value, f"{method} {tpl} path parameter {name}")
    arrays: dict[str, list[Any]] = {}
    for name, raw in parse_qsl(query, keep_blank_values=True):
        param = declared.get(name)
        assert param and param["in"] == "query", f"{method} {tpl}: unknown query parameter {name}"
        schema = param["schema"]
        if schema.get("type") == "array":
            # An array parameter is the parameter repeated (emails=a&emails=b).
            arrays.setdefault(name, []).append(_coerce(raw, schema.get("items", {})))
            continue
        _validate(schema, _coerce(raw, schema), f"{method} {tpl} query parameter {name}")
    for name, values in arrays.items():
        schema = declared[name]["schema"]
        _validate(schema, values, f"{method} {tpl} query parameter {name}")
    request_body = op.get("requestBody")
    if not body:
        assert not (request_body and request_body.get("required")), f"{method} {tpl}: body needed"
        return
    assert request_body, f"{method} {tpl} declares no request body"
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise AssertionError(f"{method} {tpl}: body is not JSON: {exc}") from None
    schema = request_body["content"]["application/json"]["schema"]
    _validate(schema, data, f"{method} {tpl} request body")


ENVELOPE = {
    "type": "object",
    "required": ["statusCode", "error", "message"],
    "properties": {
        "statusCode": {"type": "number"},
        "error": {"type": "string"},
        "message": {"type": "string"},
    },
}


def validate_response(method: str, raw_path: str, status: int, body: object) -> None:
    """Assert that a response matches the schema declared for its status."""
    try:
        tpl, op, _ = _operation(method, raw_path.split("?", 1)[0])
    except AssertionError:
        if status < 400:
            raise
        tpl, op = raw_path, {}
    declared = op.get("responses", {}).get(str(status))
    if declared is None:
        assert status >= 400, f"{method} {tpl}: undeclared success status {status}"
        schema: dict[str, Any] = {
            **ENVELOPE,
            "properties": {**ENVELOPE["properties"], "statusCode": {"const": status}},
        }
    else:
        schema = declared["content"]["application/json"]["schema"]
    _validate(schema, body, f"{method} {tpl} response {status}")


def validate_recorded(app: Any, *, every_request: bool = False) -> int:
    """Check every exchange an app recorded; returns how many.

    With ``every_request`` (what the CLI sent) every request must follow the contract, whatever
    the answer. Otherwise requests are checked only when the app accepted them (2xx): the
    sandbox's own tests send invalid requests on purpose, and a 2xx for a request outside the
    contract is itself a sandbox bug.
    """
    for rec in list(app.requests):
        if every_request or 200 <= rec.status < 300:
            validate_request(rec.method, rec.path, rec.query, rec.body)
        validate_response(rec.method, rec.path, rec.status, rec.response)
    return len(app.requests)
