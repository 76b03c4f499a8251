"""Our enum and field tables against the OpenAPI document, in both directions."""

from __future__ import annotations

from typing import Any

import pytest
from rich.style import Style

from instantly_cli import enums, fields
from tests.contract import COMPONENTS, SPEC

SCHEMAS = COMPONENTS["schemas"]
LIST_PARAMS = {
    p["name"]: p["schema"] for p in SPEC["paths"]["/api/v2/accounts"]["get"]["parameters"]
}
PATCH_SCHEMA: dict[str, Any] = SPEC["paths"]["/api/v2/accounts/{email}"]["patch"]["requestBody"][
    "content"
]["application/json"]["schema"]


def spec_enums() -> list[tuple[str, dict[str, Any], enums.EnumTable, bool]]:
    """(where, schema, our table, whether labels must echo the spec's descriptions)."""
    account = SCHEMAS["Account"]["properties"]
    toggle = SPEC["paths"]["/api/v2/custom-tags/toggle-resource"]["post"]["requestBody"][
        "content"
    ]["application/json"]["schema"]["properties"]
    return [
        ("Account.status", account["status"], enums.ACCOUNT_STATUS, True),
        ("GET /accounts status", LIST_PARAMS["status"], enums.ACCOUNT_STATUS, True),
        ("Account.warmup_status", account["warmup_status"], enums.WARMUP_STATUS, True),
        ("Account.provider_code", account["provider_code"], enums.PROVIDER, True),
        ("GET /accounts provider_code", LIST_PARAMS["provider_code"], enums.PROVIDER, True),
        ("GET /accounts filter", LIST_PARAMS["filter"], enums.LIST_FILTER, False),
        ("GET /accounts sort_by", LIST_PARAMS["sort_by"], enums.SORT_FIELD, False),
        (
            "Account.warmup.increment",
            account["warmup"]["properties"]["increment"],
            enums.WARMUP_INCREMENT,
            True,
        ),
        ("BackgroundJob.status", SCHEMAS["BackgroundJob"]["properties"]["status"],
         enums.JOB_STATUS, False),
        ("CustomTagMapping.resource_type",
         SCHEMAS["CustomTagMapping"]["properties"]["resource_type"], enums.RESOURCE_TYPE, True),
        ("toggle-resource resource_type", toggle["resource_type"], enums.RESOURCE_TYPE, True),
    ]


CASES = spec_enums()


@pytest.mark.parametrize(("where", "schema", "table", "echo"), CASES, ids=[c[0] for c in CASES])
def test_enum_table_matches_spec(
    where: str, schema: dict[str, Any], table: enums.EnumTable, echo: bool
) -> None:
    declared = schema["enum"]
    ours = [v.code for v in table.values]
    assert sorted(map(str, ours)) == sorted(map(str, declared)), where
    # Same JSON type as the spec (numbers stay numbers, strings stay strings).
    assert all(type(c) is type(d) or isinstance(c, int) and isinstance(d, int | float)
               for c, d in zip(sorted(ours, key=str), sorted(declared, key=str), strict=True))
    descriptions = schema.get("x-enumDescriptions", {})
    for code in declared:
        value = table.get(code)
        assert value is not None, f"{where}: no entry for {code!r}"
        assert value.label and value.name, f"{where}: {code!r} needs a label and a name"
        assert value.name == value.name.lower() and " " not in value.name
        Style.parse(value.style)  # raises on a style rich cannot draw
        assert table.label(code) == value.label and table.parse(value.name) == code
        assert table.parse(str(code)) == code
        if echo and str(code) in descriptions:
            assert value.label.casefold() in descriptions[str(code)].casefold(), (
                f"{where}: label {value.label!r} does not echo {descriptions[str(code)]!r}"
            )
    assert len(set(table.names)) == len(table.names), f"{where}: duplicate CLI names"


def test_unknown_code_is_tolerated_by_every_table() -> None:
    for _, _, table, _ in CASES:
        assert table.label(12345) == "unknown (12345)"
        assert table.style(12345)


def test_error_statuses_have_their_own_colour() -> None:
    for code in (-1, -2, -3):
        assert "red" in enums.ACCOUNT_STATUS.style(code)
    assert enums.ACCOUNT_STATUS.style(1) == "green"


# -- the patchable-field table ------------------------------------------------------------------


def _types(schema: dict[str, Any]) -> tuple[str, bool]:
    raw = schema.get("type")
    types = [raw] if isinstance(raw, str) else list(raw or [])
    nullable = "null" in types
    rest = [t for t in types if t != "null"]
    assert len(rest) == 1, f"unexpected type {raw!r}"
    return rest[0], nullable


def spec_leaves(
    schema: dict[str, Any], prefix: str = ""
) -> tuple[dict[str, dict[str, Any]], set[str]]:
    leaves: dict[str, dict[str, Any]] = {}
    objects: set[str] = set()
    for name, prop in schema["properties"].items():
        path = f"{prefix}.{name}" if prefix else name
        kind, nullable = _types(prop)
        if kind == "object":
            objects.add(path)
            sub, subobjects = spec_leaves(prop, path)
            leaves.update(sub)
            objects |= subobjects
            continue
        leaves[path] = {
            "kind": kind,
            "nullable": nullable,
            "minimum": prop.get("minimum"),
            "maximum": prop.get("maximum"),
            "choices": tuple(prop["enum"]) if "enum" in prop else None,
            "email": prop.get("format") == "email",
        }
    return leaves, objects


def ours() -> dict[str, dict[str, Any]]:
    return {
        f.path: {
            "kind": f.kind,
            "nullable": f.nullable,
            "minimum": f.minimum,
            "maximum": f.maximum,
            "choices": f.choices,
            "email": f.email,
        }
        for f in fields.FIELDS
    }


def test_patch_schema_is_closed() -> None:
    assert PATCH_SCHEMA["additionalProperties"] is False


def test_every_spec_field_is_in_our_table_and_back() -> None:
    leaves, objects = spec_leaves(PATCH_SCHEMA)
    table = ours()
    assert sorted(set(leaves) - set(table)) == [], "fields the spec has and we lack"
    assert sorted(set(table) - set(leaves)) == [], "fields we have and the spec lacks"
    assert set(fields.OBJECTS) == objects


@pytest.mark.parametrize("path", sorted(spec_leaves(PATCH_SCHEMA)[0]))
def test_field_rules_equal_the_spec(path: str) -> None:
    assert ours()[path] == spec_leaves(PATCH_SCHEMA)[0][path], path


def test_field_table_has_no_duplicates() -> None:
    paths = [f.path for f in fields.FIELDS]
    assert len(paths) == len(set(paths))
