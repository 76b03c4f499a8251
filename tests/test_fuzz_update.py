"""Fuzzing ``instantly accounts update``: random flags, ``--set`` items and ``--body`` objects.

Whatever is thrown at it, the command never crashes (no traceback, no internal error), sends
nothing when it says the input is invalid (exit 2), and every PATCH that reaches the sandbox is
one the OpenAPI PATCH schema accepts and that the sandbox answers with a 2xx.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from instantly_cli import fields
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import Store
from tests.conftest import TEST_KEY, invoke
from tests.contract import validate_recorded, validate_request

OPS = "ops+eu@acme-outreach.com"
ZOE = "zoe.muller@acme-outreach.com"
GHOST = "nobody@nowhere-at-all.io"

REAL_PATHS = [f.path for f in fields.FIELDS]
JUNK_PATHS = [
    "colour",
    "status",
    "email",
    "warmup.nope",
    "warmup.advanced.x",
    "daily_limit.x",
    "warmup.limit.deeper",
    "",
    ".a",
    "a.",
    "warmup..limit",
    "Daily_Limit",
]
JUNK_KEYS = ["colour", "status", "email", "id", "", "DAILY_LIMIT", "warmup.limit", "advanced"]

# Values that sit on the edges of the rules: ranges, types, nullability, non-finite numbers.
EDGE_TEXT = [
    "null",
    "none",
    "true",
    "false",
    "0",
    "-1",
    "1440",
    "1441",
    "0.5",
    "1e999",
    "-1e999",
    "NaN",
    "Infinity",
    "2.0",
    "1e3",
    '"x"',
    "{}",
    "[]",
    '{"limit": 5}',
    '{"advanced": {"open_rate": 0.5}}',
    "disabled",
    "3",
    "a@b.io",
    "not-an-email",
    "",
    "=",
    "@-",
]
PRINTABLE = st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x7f")

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(PRINTABLE, max_size=12),
    st.sampled_from(["disabled", "0", "4", "a@b.io", "ops@acme.io", "x"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
value_text = st.one_of(
    st.sampled_from(EDGE_TEXT),
    st.text(PRINTABLE, max_size=12),
    json_values.map(lambda v: json.dumps(v)),
)
EMAILS = ["reply@acme.io", "a.b+c@sub.example.org", "x@y.co"]


def good_value(path: str) -> st.SearchStrategy[Any]:
    """A value the field's rule accepts (most examples must get past validation)."""
    spec = fields.BY_PATH[path]
    if spec.kind == "boolean":
        good: st.SearchStrategy[Any] = st.booleans()
    elif spec.kind == "number":
        lo = spec.minimum if spec.minimum is not None else 0
        hi = spec.maximum if spec.maximum is not None else 1000
        good = st.integers(int(lo), int(hi)) | st.floats(lo, hi, allow_nan=False)
    elif spec.choices:
        good = st.sampled_from(spec.choices)
    elif spec.email:
        good = st.sampled_from(EMAILS)
    else:
        good = st.text(PRINTABLE, max_size=12)
    return good | st.none() if spec.nullable else good


def value_for_path(path: str) -> st.SearchStrategy[Any]:
    if path in fields.BY_PATH:
        good = good_value(path)
        return st.one_of(*[good] * 8, json_values)
    return json_values


def as_set_text(path: str, value: Any) -> str:
    spec = fields.BY_PATH.get(path)
    if isinstance(value, str) and spec is not None and spec.kind == "string":
        return value  # --set takes text as it is for string fields
    return json.dumps(value)


def body_level(prefix: str, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    """An object with keys of this level of the PATCH body (plus junk), values good or bad."""
    real = fields.keys_at(prefix)
    keys = st.sampled_from(real * 8 + JUNK_KEYS)

    def value_for(key: str) -> st.SearchStrategy[Any]:
        path = f"{prefix}.{key}" if prefix else key
        if path in fields.OBJECTS:
            nested = body_level(path, depth + 1)
            return st.one_of(*[nested] * 8, json_values)
        return value_for_path(path)

    return st.lists(keys, max_size=4, unique=True).flatmap(
        lambda ks: st.fixed_dictionaries({k: value_for(k) for k in ks})
    )


body_text = st.one_of(
    *[body_level("", 0).map(lambda b: json.dumps(b))] * 12,
    st.sampled_from(["{bad", "[]", "null", "", "@-", "@/nonexistent.json", '{"a": }']),
)
set_paths = st.sampled_from(REAL_PATHS * 6 + list(fields.OBJECTS) + JUNK_PATHS)
set_item = set_paths.flatmap(
    lambda p: st.one_of(
        *[value_for_path(p).map(lambda v: f"{p}={as_set_text(p, v)}")] * 6,
        value_text.map(lambda v: f"{p}={v}"),
    )
)
set_items = st.lists(
    st.one_of(*[set_item] * 12, st.sampled_from(["daily_limit", "=5", "novalue"])),
    max_size=3,
)
FLAGS = {
    "--sending-gap": "sending_gap",
    "--daily-limit": "daily_limit",
    "--warmup-increment": "warmup.increment",
    "--warmup-limit": "warmup.limit",
    "--warmup-open-rate": "warmup.advanced.open_rate",
    "--inbox-placement-test-limit": "inbox_placement_test_limit",
    "--reply-to": "reply_to",
    "--first-name": "first_name",
    "--signature": "signature",
}


def flag_value(flag: str) -> st.SearchStrategy[str]:
    path = FLAGS[flag]
    good = good_value(path).map(
        lambda v: "none" if v is None else v if isinstance(v, str) else json.dumps(v)
    )
    return st.one_of(*[good] * 8, value_text)


flag_items = st.lists(
    st.sampled_from(sorted(FLAGS)).flatmap(lambda f: flag_value(f).map(lambda v: (f, v))),
    max_size=3,
    unique_by=lambda t: t[0],
)
switches = st.lists(
    st.sampled_from(
        ["--slow-ramp", "--no-warmup-read-emulation", "--remove-tracking-domain", "--dry-run"]
    ),
    max_size=2,
    unique=True,
)
targets = st.sampled_from([[OPS], [ZOE], [GHOST], [OPS, ZOE], [OPS, GHOST]])


def build_args(
    emails: list[str],
    sets: list[str],
    body: str | None,
    flags: list[tuple[str, str]],
    extra: list[str],
    json_out: bool,
) -> list[str]:
    args = ["accounts", "update", *emails, "--yes"]
    if body is not None:
        args += ["--body", body]
    for item in sets:
        args += ["--set", item]
    for flag, value in flags:
        # "--flag=value" keeps a value starting with "-" from being read as an option.
        args.append(f"{flag}={value}")
    args += extra
    if json_out:
        args.append("--json")
    return args


@pytest.fixture
def api_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSTANTLY_API_KEY", TEST_KEY)
    monkeypatch.setenv("INSTANTLY_BASE_URL", "http://sandbox.test")


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    emails=targets,
    sets=set_items,
    body=st.none() | body_text,
    flags=flag_items,
    extra=switches,
    json_out=st.booleans(),
)
def test_update_never_crashes_and_never_sends_an_invalid_body(
    api_env: None,
    tmp_path_factory: pytest.TempPathFactory,
    emails: list[str],
    sets: list[str],
    body: str | None,
    flags: list[tuple[str, str]],
    extra: list[str],
    json_out: bool,
) -> None:
    store = Store(":memory:")
    store.ensure_seeded(3)
    app = SandboxApp(store, api_key=TEST_KEY)
    args = build_args(emails, sets, body, flags, extra, json_out)
    failures = tmp_path_factory.mktemp("fuzz") / "failures.jsonl"
    args += ["--failures", str(failures)]
    result = invoke(args, transport=httpx.WSGITransport(app=app))
    store.close()
    shown = result.stdout + result.stderr
    event(f"exit {result.exit_code}")  # --hypothesis-show-statistics shows the spread
    note = f"args={args!r}\nexit={result.exit_code}\n{shown}"
    assert result.exit_code in (0, 1, 2, 4), note
    assert result.exception is None or isinstance(result.exception, SystemExit), note
    assert "Traceback" not in shown and "Internal error" not in shown, note
    assert "internal_error" not in shown, note
    if result.exit_code == 2:
        assert app.requests == [], note
    patches = [r for r in app.requests if r.method == "PATCH"]
    for rec in patches:
        validate_request(rec.method, rec.path, rec.query, rec.body)
        assert 200 <= rec.status < 300 or rec.status == 404, (rec.status, rec.response, note)
        if rec.status == 404:
            assert "nobody%40" in rec.path, note
    if "--dry-run" in args:
        assert patches == [], note
    validate_recorded(app, every_request=True)
    if json_out and result.exit_code != 2:
        # With --json, stdout is one JSON document: the per-target results.
        rows = json.loads(result.stdout)
        assert {r["email"] for r in rows} == set(emails), note
