"""The fields of each object the API returns (the OpenAPI document's component schemas), as
dotted paths: what ``--fields`` may name even when no object printed has the field.

A contract test keeps these equal to the OpenAPI document. The API adds fields over time; a
field missing here still works when the printed objects have it.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypedDict

OBJECT_FIELDS: dict[str, tuple[str, ...]] = {
    "Account": (
        "email", "timestamp_created", "timestamp_updated", "first_name", "last_name",
        "warmup", "warmup.limit", "warmup.advanced", "warmup.advanced.warm_ctd",
        "warmup.advanced.open_rate", "warmup.advanced.important_rate",
        "warmup.advanced.read_emulation", "warmup.advanced.spam_save_rate",
        "warmup.advanced.weekday_only", "warmup.warmup_custom_ftag", "warmup.increment",
        "warmup.reply_rate", "added_by", "daily_limit", "daily_limit_max", "warmup_limit_max",
        "modified_by", "tracking_domain_name", "tracking_domain_status", "status",
        "enable_slow_ramp", "inbox_placement_test_limit", "organization", "warmup_status",
        "status_message", "status_message.code", "status_message.command",
        "status_message.response", "status_message.e_message", "status_message.responseCode",
        "timestamp_warmup_start", "provider_code", "setup_pending", "is_managed_account",
        "stat_warmup_score", "sending_gap", "signature", "reply_to", "autofix_failed",
    ),
    "CustomTag": (
        "id", "timestamp_created", "timestamp_updated", "organization_id", "label",
        "description",
    ),
    "CustomTagMapping": (
        "id", "tag_id", "resource_id", "resource_type", "timestamp_created", "organization_id",
    ),
    "BackgroundJob": (
        "id", "workspace_id", "user_id", "type", "entity_id", "entity_type", "data",
        "data.moved_lead_emails", "progress", "status", "created_at", "updated_at",
    ),
}

# Fields the CLI itself adds to an object (accounts get/list --include-tags, tags list).
ADDED_FIELDS: dict[str, tuple[str, ...]] = {
    "Account": ("tags",),
    "CustomTag": ("account_count",),
}


def fields_of(name: str) -> frozenset[str]:
    return frozenset(OBJECT_FIELDS.get(name, ()) + ADDED_FIELDS.get(name, ()))


def guess_object(keys: set[str]) -> str | None:
    """The schema sharing the most top-level keys with an object (at least two), if any."""
    best, best_score = None, 1
    for name, paths in OBJECT_FIELDS.items():
        score = len(keys & {p for p in paths if "." not in p})
        if score > best_score:
            best, best_score = name, score
    return best


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


class Workspace(TypedDict, total=False):
    id: str
    name: str
    owner: str
    plan_id: str | None
    timestamp_created: str
    timestamp_updated: str


class WorkspaceMember(TypedDict, total=False):
    """A sub-workspace of an admin workspace (``status``: pending, accepted or rejected)."""

    id: str
    admin_workspace_id: str
    sub_workspace_id: str
    sub_workspace_name: str
    admin_workspace_name: str
    status: str
    timestamp_created: str
    timestamp_updated: str


class WorkspaceAdmin(TypedDict, total=False):
    workspace_name: str
    has_admin_workspace: bool
    workspace_group_member_id: str


class Exchange(NamedTuple):
    """One HTTP exchange, for --verbose."""

    method: str
    target: str
    status: int | str
    ms: float
    attempt: int
