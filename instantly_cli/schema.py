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
    "AccountCampaignMapping": (
        "campaign_id", "campaign_name", "timestamp_created", "status",
    ),
    "Campaign": (
        "id", "name", "pl_value", "status", "is_evergreen", "campaign_schedule",
        "campaign_schedule.start_date", "campaign_schedule.end_date", "campaign_schedule.schedules",
        "sequences", "timestamp_created", "timestamp_updated", "email_gap", "random_wait_max",
        "text_only", "first_email_text_only", "email_list", "daily_limit", "stop_on_reply",
        "email_tag_list", "link_tracking", "open_tracking", "stop_on_auto_reply", "daily_max_leads",
        "prioritize_new_leads", "auto_variant_select", "auto_variant_select.trigger",
        "match_lead_esp", "not_sending_status", "stop_for_company", "core_variables",
        "custom_variables", "insert_unsubscribe_header", "allow_risky_contacts",
        "disable_bounce_protect", "limit_emails_per_company_override",
        "limit_emails_per_company_override.mode", "limit_emails_per_company_override.daily_limit",
        "limit_emails_per_company_override.scope", "cc_list", "bcc_list", "organization",
        "owned_by", "ai_sdr_id", "provider_routing_rules",
    ),
    "AuditLog": (
        "id", "timestamp", "organization_id", "activity_type", "user_agent", "user_id",
        "ip_address", "from_api", "api_key_id", "affected_count", "campaign_id", "webhook_id",
        "subsequence_id", "list_id", "audit_metadata", "user_name",
    ),
    "Workspace": (
        "id", "timestamp_created", "timestamp_updated", "scheduled_for_removal_at", "owner", "name",
        "plan_id", "plan_id_bundle", "add_unsub_to_block", "default_opportunity_value",
        "plan_id_leadfinder", "plan_id_verification", "plan_id_verification.quantity",
        "plan_id_verification.product_id", "plan_id_verification.timestamp_updated", "org_logo_url",
        "org_client_domain", "plan_id_crm", "plan_id_website_visitor", "plan_id_inbox_placement",
    ),
    "WorkspaceGroupMember": (
        "id", "admin_workspace_id", "sub_workspace_id", "status", "timestamp_created",
        "timestamp_updated", "sub_workspace_name", "admin_workspace_name",
    ),
}

# Fields the CLI itself adds to an object (accounts get/list --include-tags, tags list).
ADDED_FIELDS: dict[str, tuple[str, ...]] = {
    "Account": ("tags", "campaigns"),
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
    campaigns: list[dict[str, Any]]  # added by accounts get: the campaigns it serves


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


class Campaign(TypedDict, total=False):
    id: str
    name: str
    status: int
    daily_limit: float | None
    email_list: list[str]
    email_tag_list: list[str]
    not_sending_status: int | None
    timestamp_created: str
    timestamp_updated: str


class SendingStatus(TypedDict, total=False):
    """``diagnostics`` (``status``, ``message`` …) and ``accounts_summary`` (``total_connected``,
    ``available``, ``unavailable``: counts by reason); either may be null."""

    diagnostics: dict[str, Any] | None
    accounts_summary: dict[str, Any] | None


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


class Exchange(NamedTuple):
    """One HTTP exchange, for --verbose."""

    method: str
    target: str
    status: int | str
    ms: float
    attempt: int
