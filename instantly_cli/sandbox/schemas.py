"""Request-body schemas of the sandbox (from the OpenAPI document) and their validator.

The schemas are tightened: no unknown keys, so a typo is a 400 naming the field, at every level
of the account and tag bodies and at the top of PATCH_CAMPAIGN; the objects nested in a
campaign (schedule, sequences, …) stay open, as the published schema leaves them.
``check`` implements the small JSON-schema subset they use and words its errors like Fastify.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .store import ACCOUNT_FILTERS

ACCOUNT_STATUSES = (1, 2, 3, -1, -2, -3)
PROVIDER_CODES = (1, 2, 3, 4, 8, 11)
FILTERS = tuple(ACCOUNT_FILTERS)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
_HHMM = "^([01][0-9]|2[0-3]):([0-5][0-9])$"

_NUM: dict[str, Any] = {"type": "number"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_STR: dict[str, Any] = {"type": "string"}
_STR_LIST: dict[str, Any] = {"type": "array", "items": _STR}
_FILTER_ENUM: dict[str, Any] = {"type": ["string", "null"], "enum": [*FILTERS, None]}

_WARMUP: dict[str, Any] = {
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
}
PATCH_ACCOUNT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "first_name": _STR,
        "last_name": _STR,
        "warmup": _WARMUP,
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
_PORT: dict[str, Any] = {"type": "number"}
CREATE_ACCOUNT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "email",
        "first_name",
        "last_name",
        "provider_code",
        "imap_username",
        "imap_password",
        "imap_host",
        "imap_port",
        "smtp_username",
        "smtp_password",
        "smtp_host",
        "smtp_port",
    ],
    "properties": {
        "email": {"type": "string", "format": "email"},
        "first_name": _STR,
        "last_name": _STR,
        "warmup": _WARMUP,
        "daily_limit": {"type": ["number", "null"]},
        "tracking_domain_name": {"type": ["string", "null"]},
        "tracking_domain_status": {"type": ["string", "null"]},
        "enable_slow_ramp": {"type": ["boolean", "null"]},
        "inbox_placement_test_limit": {"type": ["number", "null"], "minimum": 0},
        "provider_code": {"type": "number", "enum": list(PROVIDER_CODES)},
        "sending_gap": {"type": "number", "minimum": 0, "maximum": 1440},
        "signature": {"type": ["string", "null"]},
        # The spec says only "string"; an Account's reply_to must be an email, so is this.
        "reply_to": {"type": "string", "format": "email"},
        "imap_username": _STR,
        "imap_password": _STR,
        "imap_host": _STR,
        "imap_port": _PORT,
        "smtp_username": _STR,
        "smtp_password": _STR,
        "smtp_host": _STR,
        "smtp_port": _PORT,
        "warmup_custom_ftag": _STR,
        "skip_cname_check": _BOOL,
    },
}
VITALS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"accounts": _STR_LIST},
}
WARMUP_ANALYTICS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["emails"],
    "properties": {"emails": {**_STR_LIST, "minItems": 1, "maxItems": 100}},
}
MOVE_ACCOUNTS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["emails", "source_workspace_id", "destination_workspace_id"],
    "properties": {
        "emails": {**_STR_LIST, "minItems": 1},
        "source_workspace_id": _STR,
        "destination_workspace_id": _STR,
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


_NULLABLE_BOOL: dict[str, Any] = {"type": ["boolean", "null"]}
_NULLABLE_NUM: dict[str, Any] = {"type": ["number", "null"]}
_ESP: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "enum": ["all", "google", "outlook", "other"]},
}
_DELAY_UNIT: dict[str, Any] = {"type": "string", "enum": ["minutes", "hours", "days"]}
# The request body of PATCH /api/v2/campaigns/{id}, as published (the schedule's time zone is
# only checked to be a string: the spec's list of ~100 zones is not repeated here).
PATCH_CAMPAIGN: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "name": _STR,
        "pl_value": _NULLABLE_NUM,
        "is_evergreen": _NULLABLE_BOOL,
        "campaign_schedule": {
            "type": "object",
            "required": ["schedules"],
            "properties": {
                "start_date": {"type": ["string", "null"], "format": "date"},
                "end_date": {"type": ["string", "null"], "format": "date"},
                "schedules": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "timing", "days", "timezone"],
                        "properties": {
                            "name": _STR,
                            "timing": {
                                "type": "object",
                                "required": ["from", "to"],
                                "properties": {
                                    "from": {"type": "string", "pattern": _HHMM},
                                    "to": {"type": "string", "pattern": _HHMM},
                                },
                            },
                            "days": {
                                "type": "object",
                                "minProperties": 1,
                                "properties": {str(d): _BOOL for d in range(7)},
                            },
                            "timezone": _STR,
                        },
                    },
                },
            },
        },
        "sequences": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["steps"],
                "properties": {
                    "steps": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["type", "delay", "variants"],
                            "properties": {
                                "type": {"type": "string", "enum": ["email"]},
                                "delay": _NUM,
                                "delay_unit": _DELAY_UNIT,
                                "pre_delay": _NUM,
                                "pre_delay_unit": _DELAY_UNIT,
                                "variants": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["subject", "body"],
                                        "properties": {
                                            "subject": _STR,
                                            "body": _STR,
                                            "v_disabled": _BOOL,
                                        },
                                    },
                                },
                            },
                        },
                    }
                },
            },
        },
        "email_gap": _NULLABLE_NUM,
        "random_wait_max": _NULLABLE_NUM,
        "text_only": _NULLABLE_BOOL,
        "first_email_text_only": _NULLABLE_BOOL,
        "email_list": _STR_LIST,
        "daily_limit": _NULLABLE_NUM,
        "stop_on_reply": _NULLABLE_BOOL,
        "email_tag_list": _STR_LIST,
        "link_tracking": _NULLABLE_BOOL,
        "open_tracking": _BOOL,
        "stop_on_auto_reply": _NULLABLE_BOOL,
        "daily_max_leads": {"type": ["integer", "null"], "minimum": 0},
        "prioritize_new_leads": _NULLABLE_BOOL,
        "auto_variant_select": {
            "type": ["object", "null"],
            "required": ["trigger"],
            "properties": {
                "trigger": {"type": "string", "enum": ["reply_rate", "click_rate", "open_rate"]}
            },
        },
        "match_lead_esp": _NULLABLE_BOOL,
        "stop_for_company": _NULLABLE_BOOL,
        "insert_unsubscribe_header": _NULLABLE_BOOL,
        "allow_risky_contacts": _NULLABLE_BOOL,
        "disable_bounce_protect": _NULLABLE_BOOL,
        "limit_emails_per_company_override": {
            "type": ["object", "null"],
            "required": ["mode"],
            "properties": {
                "mode": {"type": "string", "enum": ["custom", "disabled"]},
                "daily_limit": {"type": "number", "minimum": 1},
                "scope": {"type": "string", "enum": ["per_campaign", "across_workspace"]},
            },
        },
        "cc_list": {"type": "array", "items": {"type": "string", "format": "email"}},
        "bcc_list": {"type": "array", "items": {"type": "string", "format": "email"}},
        "owned_by": {"type": ["string", "null"]},
        "provider_routing_rules": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["action", "recipient_esp", "sender_esp"],
                "properties": {
                    "action": {"type": "string", "enum": ["send", "do_not_send"]},
                    "recipient_esp": _ESP,
                    "sender_esp": _ESP,
                },
            },
        },
    },
}


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
        if schema.get("format") == "date" and not _DATE.match(value):
            return f'{path} must match format "date"'
    if _type_ok(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{path} must be >= {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{path} must be <= {schema['maximum']}"
    return None
