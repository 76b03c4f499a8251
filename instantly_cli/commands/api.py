"""``instantly api``: a raw, authenticated request to any Instantly API V2 path.

The escape hatch for what no command covers yet. Profile, workspace, retries, pacing and
``--verbose`` apply as for every other command, because the request goes through the client.
"""

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

import typer

from instantly_cli import context, output
from instantly_cli.commands import handled
from instantly_cli.errors import CliError, UsageError
from instantly_cli.options import (
    argument,
    examples,
)
from instantly_cli.targets import read_bounded, read_file_bounded

API = "/api/v2"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Characters left alone in a path; everything else (notably "+" in emails) is percent-encoded.
_PATH_SAFE = "/@%:=,;!$&'()*~"
_INT = r"-?(0|[1-9][0-9]*)"
_FLOAT = r"-?(0|[1-9][0-9]*)\.[0-9]+"

app = typer.Typer()


def normalize_path(path: str) -> tuple[str, dict[str, str]]:
    """``accounts?limit=5`` or ``/api/v2/accounts`` → (``/api/v2/accounts``, query)."""
    raw = path.strip()
    if not raw or raw.startswith(("http://", "https://")) or any(c.isspace() for c in raw):
        raise UsageError(
            f"Invalid API path '{path}'.",
            hint="Give the path only, with or without /api/v2: accounts, /api/v2/custom-tags.",
        )
    raw, _, query = raw.partition("?")
    raw = "/" + raw.lstrip("/")
    if raw != API and not raw.startswith(API + "/"):
        raw = API + raw
    return quote(raw, safe=_PATH_SAFE), dict(parse_qsl(query, keep_blank_values=True))


def typed_value(text: str) -> Any:
    """``5`` → 5, ``2.5`` → 2.5, ``true``/``false`` → bool, ``null`` → None, else the string."""
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if re.fullmatch(_INT, text):
        return int(text)
    if re.fullmatch(_FLOAT, text):
        return float(text)
    return text


def parse_fields(pairs: list[str]) -> list[tuple[list[str], bool, Any]]:
    """``-F`` arguments → (key path, append, value); ``key[]=v`` appends to an array."""
    parsed = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        append = key.endswith("[]")
        if append:
            key = key[:-2]
        parts = key.split(".")
        if not sep or not all(p.strip() for p in parts):
            raise UsageError(
                f"Invalid field '{pair}'.",
                hint="Use -F key=value; dots nest (warmup.limit=5), key[]=value builds an array.",
            )
        parsed.append((parts, append, typed_value(value)))
    return parsed


def build_body(fields: list[tuple[list[str], bool, Any]]) -> dict[str, Any]:
    """Nest dotted keys into a JSON object; a key cannot be both a value and an object."""
    body: dict[str, Any] = {}
    for parts, append, value in fields:
        node = body
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UsageError(
                    f"Field '{'.'.join(parts[: i + 1])}' is given both as a value and an object."
                )
            node = child
        leaf = parts[-1]
        if append:
            current = node.setdefault(leaf, [])
            if not isinstance(current, list):
                raise UsageError(
                    f"Field '{'.'.join(parts)}' is given both as a value and an array."
                )
            current.append(value)
        elif isinstance(node.get(leaf), dict):
            raise UsageError(f"Field '{'.'.join(parts)}' is given both as a value and an object.")
        else:
            node[leaf] = value
    return body


def build_query(fields: list[tuple[list[str], bool, Any]]) -> dict[str, Any]:
    """Query parameters keep dotted names as they are; ``key[]`` values become a comma list."""
    query: dict[str, Any] = {}
    for parts, append, value in fields:
        key = ".".join(parts)
        if append:
            query.setdefault(key, []).append(value)
        else:
            query[key] = value
    return query


def read_input(source: str) -> Any:
    """The JSON body of ``--input FILE`` or ``--input -`` (stdin)."""
    where = "standard input" if source == "-" else source
    try:
        raw = (
            read_bounded(sys.stdin.buffer, "The body on standard input")
            if source == "-"
            else read_file_bounded(Path(source), f"The body in {source}")
        )
        text = raw.decode("utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read {where}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"The body in {where} is not UTF-8 text (byte {exc.start}).") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(
            f"The body in {where} is not valid JSON: {exc}.", hint="Check it with: jq . FILE"
        ) from None


def _complete_method(incomplete: str) -> list[str]:
    return [m for m in METHODS if m.startswith(incomplete.upper())]


@app.command(
    "api",
    epilog=examples(
        "instantly api GET accounts -F limit=5",
        "instantly api GET /api/v2/custom-tags --paginate | jq -r .label",
        "instantly api PATCH accounts/ops@acme.io -F daily_limit=40 -F warmup.limit=20",
        "echo '{\"emails\": [\"ops@acme.io\"]}' | instantly api POST accounts/pause --input -",
    ),
)
@handled
def api(
    ctx: typer.Context,
    method: Annotated[str | None, argument("METHOD", _complete_method)] = None,
    path: Annotated[str | None, argument("PATH")] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            "-F",
            metavar="KEY=VALUE",
            help="Query parameter (GET) or JSON body field (other methods); repeatable. "
            "Numbers, true, false and null are typed; dots nest; key[]=v builds an array.",
        ),
    ] = None,
    input_: Annotated[
        str | None,
        typer.Option(
            "--input",
            metavar="FILE",
            help="Read the JSON body from FILE, or - for stdin (then -F become query parameters).",
        ),
    ] = None,
    paginate: Annotated[
        bool,
        typer.Option(
            "--paginate",
            help="GET every page (following next_starting_after); print items as JSON lines.",
        ),
    ] = False,
) -> int | None:
    """Send a raw, authenticated request to any API path.

    \b
    Arguments:
      METHOD  GET, POST, PUT, PATCH or DELETE.
      PATH    API path, with or without /api/v2 (accounts, /api/v2/custom-tags?limit=5).
    """
    if method is None or path is None:
        raise UsageError(
            "Give a METHOD and a PATH.", hint="For example: instantly api GET accounts?limit=5"
        )
    verb = method.strip().upper()
    if verb not in METHODS:
        raise UsageError(
            f"Unknown HTTP method '{method}'.", hint=f"Use one of: {', '.join(METHODS)}."
        )
    api_path, query = normalize_path(path)
    fields = parse_fields(field or [])
    if paginate and verb != "GET":
        raise UsageError("--paginate works with GET only.")
    if input_ is not None and verb == "GET":
        raise UsageError(
            "A GET request takes no body.", hint="Use -F key=value for query parameters."
        )
    body: Any = None
    if input_ is not None:
        body = read_input(input_)
        query.update(build_query(fields))
    elif verb == "GET":
        query.update(build_query(fields))
    elif fields:
        body = build_body(fields)

    with context.client(ctx) as client:
        try:
            if paginate:
                page_size = query.pop("limit", 100)
                if not isinstance(page_size, int) or page_size < 1:
                    raise UsageError("limit must be a positive number with --paginate.")
                pager = client.pages(api_path, query, page_size=page_size)
                output.emit_records(pager, "jsonl", [])
                if pager.anomaly:
                    output.warn(f"Pagination ended early: {pager.anomaly}.")
                return None
            data = client.request(verb, api_path, params=query, body=body)
        except CliError as err:
            if err.body is None:
                raise
            output.print_error_body(err.body)
            return err.exit_code
    if data is not None:
        output.emit_json(data)
    return None
