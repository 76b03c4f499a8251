"""The one table per enum: API code ↔ CLI name ↔ label ↔ colour.

Renderers, option parsers and completions all read these tables; no enum literal lives elsewhere.
Unknown codes (the API adds values over time) render as ``unknown (N)`` and never crash.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from instantly_cli.errors import UsageError

Code = int | str


# NamedTuples, not frozen dataclasses, for the value types every command imports: a class is
# built several times faster, which each one-shot command pays at start-up.
class EnumValue(NamedTuple):
    code: Code
    name: str
    label: str
    style: str
    # A shorter label for tables on a narrow terminal ("" = the label itself).
    short: str = ""


class EnumTable:
    """One enum: lookups by code and by CLI name."""

    def __init__(self, title: str, option: str, values: list[EnumValue]):
        self.title = title
        self.option = option
        self.values = values
        self._by_code = {v.code: v for v in values}
        self._by_name = {v.name: v for v in values}

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.values]

    def get(self, code: object) -> EnumValue | None:
        if isinstance(code, float) and code.is_integer():
            code = int(code)
        if isinstance(code, bool) or not isinstance(code, int | str):
            return None
        return self._by_code.get(code)

    def label(self, code: object) -> str:
        """Human label; ``unknown (N)`` for a code this version does not know."""
        if code is None:
            return ""
        value = self.get(code)
        return value.label if value else f"unknown ({code})"

    @property
    def has_short(self) -> bool:
        return any(v.short for v in self.values)

    def short(self, code: object) -> str:
        """The short label (tables on a narrow terminal); the label when there is none."""
        value = self.get(code)
        return (value.short or value.label) if value else self.label(code)

    def style(self, code: object) -> str:
        value = self.get(code)
        return value.style if value else "magenta"

    def parse(self, text: str) -> Code:
        """Turn a CLI name or a raw code into the API code; exit 2 listing valid names."""
        key = text.strip().lower()
        if key in self._by_name:
            return self._by_name[key].code
        for value in self.values:
            if str(value.code).lower() == key:
                return value.code
        raise UsageError(
            f"Unknown {self.title} '{text}'.",
            hint=f"Valid {self.option} values: {', '.join(self.names)}.",
        )


ACCOUNT_STATUS = EnumTable(
    "status",
    "--status",
    [
        EnumValue(1, "active", "Active", "green"),
        EnumValue(2, "paused", "Paused", "yellow"),
        EnumValue(3, "maintenance", "Maintenance", "cyan", "Maint."),
        EnumValue(-1, "connection-error", "Connection error", "bold red", "Conn. error"),
        EnumValue(-2, "soft-bounce-error", "Soft bounce error", "red", "Soft bounce"),
        EnumValue(-3, "sending-error", "Sending error", "red", "Send error"),
    ],
)

WARMUP_STATUS = EnumTable(
    "warmup status",
    "warmup",
    [
        EnumValue(0, "paused", "Paused", "yellow"),
        EnumValue(1, "active", "Active", "green"),
        EnumValue(-1, "banned", "Banned", "bold red"),
        EnumValue(-2, "spam-folder-unknown", "Spam folder unknown", "red", "Spam unknown"),
        EnumValue(-3, "permanent-suspension", "Permanent suspension", "bold red", "Suspended"),
    ],
)

PROVIDER = EnumTable(
    "provider",
    "--provider",
    [
        EnumValue(1, "imap", "IMAP/SMTP", "default", "IMAP"),
        EnumValue(2, "google", "Google", "default"),
        EnumValue(3, "microsoft", "Microsoft", "default"),
        EnumValue(4, "aws", "AWS", "default"),
        EnumValue(8, "airmail", "AirMail", "default"),
        EnumValue(11, "airmail-instant", "Airmail Instant", "default", "AM Instant"),
    ],
)

LIST_FILTER = EnumTable(
    "filter",
    "--filter",
    [
        EnumValue("ACC_FILTER_PAUSED", "paused", "Paused", "default"),
        EnumValue("ACC_FILTER_ERROR", "error", "Has errors", "default"),
        EnumValue("ACC_FILTER_NO_CTD", "no-ctd", "No custom tracking domain", "default"),
        EnumValue("ACC_FILTER_PW_ACCOUNTS", "prewarmed", "Pre-warmed accounts", "default"),
        EnumValue("ACC_FILTER_DFY", "dfy", "DFY accounts", "default"),
        EnumValue(
            "ACC_FILTER_DFY_SETUP_PENDING", "dfy-setup-pending", "DFY setup pending", "default"
        ),
        EnumValue("ACC_FILTER_W_ACTIVE", "warmup-active", "Warmup active", "default"),
        EnumValue("ACC_FILTER_W_PAUSED", "warmup-paused", "Warmup paused", "default"),
        EnumValue("ACC_FILTER_W_ERROR", "warmup-error", "Warmup has errors", "default"),
    ],
)

SORT_FIELD = EnumTable(
    "sort field",
    "--sort",
    [
        EnumValue("timestamp_created", "created", "Created", "default"),
        EnumValue("email", "email", "Email", "default"),
        EnumValue("stat_warmup_score", "warmup-score", "Warmup score", "default"),
        EnumValue("status", "status", "Status", "default"),
    ],
)

WARMUP_INCREMENT = EnumTable(
    "warmup increment",
    "--warmup-increment",
    [
        EnumValue("disabled", "disabled", "Disabled", "default"),
        *(EnumValue(str(n), str(n), str(n), "default") for n in range(5)),
    ],
)

JOB_STATUS = EnumTable(
    "job status",
    "job status",
    [
        EnumValue("pending", "pending", "Pending", "cyan"),
        EnumValue("in-progress", "in-progress", "In progress", "cyan"),
        EnumValue("success", "success", "Success", "green"),
        EnumValue("failed", "failed", "Failed", "red"),
        EnumValue("draining", "draining", "Draining", "yellow"),
        EnumValue("paused", "paused", "Paused", "yellow"),
        EnumValue("cancelled", "cancelled", "Cancelled", "red"),
    ],
)

RESOURCE_TYPE = EnumTable(
    "resource type",
    "--type",
    [
        EnumValue(1, "account", "Account", "default"),
        EnumValue(2, "campaign", "Campaign", "default"),
    ],
)

OUTPUT_FORMAT = EnumTable(
    "output format",
    "-o/--output",
    [
        EnumValue(name, name, name, "default")
        for name in ("auto", "table", "tsv", "json", "jsonl", "csv")
    ],
)

JOB_TYPE = EnumTable(
    "job type",
    "--type",
    [
        EnumValue(code, code, code.replace("-", " ").capitalize(), "default")
        for code in (
            "move-leads",
            "import-leads",
            "export-leads",
            "update-warmup-accounts",
            "rename-variable",
            "broadcast-ai-generate",
            "broadcast-website-scrape",
            "import-subscribers-from-crm",
            "resync-subscriber-crm-tags",
        )
    ],
)

# One DNS or tracking-domain check: passed or not (rows carry the name, never a bool).
CHECK = EnumTable(
    "check",
    "check",
    [
        EnumValue("pass", "pass", "✓", "green"),
        EnumValue("fail", "fail", "✗", "bold red"),
    ],
)

# Warmup health of one account, by its inbox rate (landed_inbox / sent).
WARMUP_HEALTH = EnumTable(
    "warmup health",
    "health",
    [
        EnumValue("good", "good", "Good", "green"),
        EnumValue("fair", "fair", "Fair", "yellow"),
        EnumValue("poor", "poor", "Poor", "bold red"),
        EnumValue("no-data", "no-data", "No data", "dim"),
    ],
)
# Inbox-rate thresholds (percent) of WARMUP_HEALTH: at least GOOD is good, at least FAIR fair.
HEALTH_GOOD = 90.0
HEALTH_FAIR = 75.0

ANALYTICS_BY = EnumTable(
    "grouping",
    "--by",
    [
        EnumValue("account", "account", "Account", "default"),
        EnumValue("day", "day", "Day", "default"),
    ],
)

# Audit-log activity types (GET /audit-logs) of accounts: added, deleted, updated.
ACTIVITY_ADDED = 6
ACTIVITY_DELETED = 7
ACTIVITY_UPDATED = 36

# Terminal job states: polling stops on these; every one but success is a failure.
JOB_SUCCESS = "success"
JOB_DONE = frozenset({JOB_SUCCESS, "failed", "cancelled"})
JOB_FAILED = JOB_DONE - {JOB_SUCCESS}
# POST /accounts/move answers {"status": "success"} (its only documented value).
MOVE_SUCCESS = "success"


# -- result words of bulk runs: what happened to one target ------------------------------------


class Result(StrEnum):
    """The one vocabulary of outcomes; the value is the word printed and journaled."""

    UPDATED = "updated"
    UNCHANGED = "unchanged"
    WOULD_UPDATE = "would-update"
    PAUSED = "paused"
    RESUMED = "resumed"
    WOULD_PAUSE = "would-pause"
    WOULD_RESUME = "would-resume"
    SUBMITTED = "submitted"
    ENABLED = "enabled"
    DISABLED = "disabled"
    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    WOULD_ASSIGN = "would-assign"
    WOULD_UNASSIGN = "would-unassign"
    CREATED = "created"
    WOULD_CREATE = "would-create"
    EXISTS = "exists"
    GONE = "gone"
    DELETED = "deleted"
    WOULD_DELETE = "would-delete"
    FIXED = "fixed"
    WOULD_FIX = "would-fix"
    MOVED = "moved"
    WOULD_MOVE = "would-move"
    ATTACHED = "attached"
    DETACHED = "detached"
    WOULD_ATTACH = "would-attach"
    WOULD_DETACH = "would-detach"
    FAILED = "failed"
    SKIPPED = "skipped"


UPDATED = Result.UPDATED
UNCHANGED = Result.UNCHANGED
WOULD_UPDATE = Result.WOULD_UPDATE
PAUSED = Result.PAUSED
RESUMED = Result.RESUMED
WOULD_PAUSE = Result.WOULD_PAUSE
WOULD_RESUME = Result.WOULD_RESUME
SUBMITTED = Result.SUBMITTED
ENABLED = Result.ENABLED
DISABLED = Result.DISABLED
ASSIGNED = Result.ASSIGNED
UNASSIGNED = Result.UNASSIGNED
WOULD_ASSIGN = Result.WOULD_ASSIGN
WOULD_UNASSIGN = Result.WOULD_UNASSIGN
CREATED = Result.CREATED
WOULD_CREATE = Result.WOULD_CREATE
EXISTS = Result.EXISTS
GONE = Result.GONE
DELETED = Result.DELETED
WOULD_DELETE = Result.WOULD_DELETE
FIXED = Result.FIXED
WOULD_FIX = Result.WOULD_FIX
MOVED = Result.MOVED
WOULD_MOVE = Result.WOULD_MOVE
ATTACHED = Result.ATTACHED
DETACHED = Result.DETACHED
WOULD_ATTACH = Result.WOULD_ATTACH
WOULD_DETACH = Result.WOULD_DETACH
FAILED = Result.FAILED
SKIPPED = Result.SKIPPED


# -- fleet health (accounts summary, accounts list --health) -----------------------------------

HEALTH = EnumTable(
    "health class",
    "--health",
    [
        EnumValue("at-risk", "at-risk", "At risk", "bold red"),
        EnumValue("watch", "watch", "Watch", "yellow"),
        EnumValue("healthy", "healthy", "Healthy", "green"),
        EnumValue("no-data", "no-data", "No data", "dim"),
    ],
)
NO_DATA = "no-data"
AT_RISK = "at-risk"
WATCH = "watch"
HEALTHY = "healthy"
# Which account codes decide a health class (see services/accounts/summary.py for the rules).
ACTIVE_STATUS = 1
PAUSED_STATUS = 2
ERROR_STATUSES = frozenset({-1, -2, -3})  # connection, soft-bounce and sending errors
WATCH_STATUSES = frozenset({PAUSED_STATUS})
WARMUP_PROBLEMS = frozenset({-1, -2, -3})  # banned, spam folder unknown, permanent suspension
WARMUP_WATCH = frozenset({0})  # warmup paused
WARMUP_ACTIVE = 1
WARMUP_PAUSED = 0
WARMUP_BANNED = -1
# Default score thresholds (--at-risk-below, --watch-below): Instantly's warmup score is the
# share of warmup emails that reached the inbox over 7 days, and it says to aim above 90.
AT_RISK_BELOW = 70.0
WATCH_BELOW = 90.0

SUMMARY_BY = EnumTable(
    "grouping",
    "--by",
    [
        EnumValue("domain", "domain", "Domain", "default"),
        EnumValue("provider", "provider", "Provider", "default"),
        EnumValue("tag", "tag", "Tag", "default"),
        EnumValue("status", "status", "Status", "default"),
    ],
)

# The metrics a --fail-if condition can test (label = what it counts, for help and README).
GATE_METRIC = EnumTable(
    "metric",
    "--fail-if",
    [
        EnumValue("at-risk", "at-risk", "accounts at risk", "default"),
        EnumValue("watch", "watch", "accounts to watch", "default"),
        EnumValue("healthy", "healthy", "healthy accounts", "default"),
        EnumValue("errors", "errors", "accounts in an error status", "default"),
        EnumValue("capacity", "capacity", "sum of daily_limit over active accounts", "default"),
        EnumValue("no-data", "no-data", "accounts with warmup paused or no score", "default"),
        EnumValue("unscored", "unscored", "accounts without a warmup score", "default"),
        EnumValue("total", "total", "accounts summarised", "default"),
    ],
)
# `accounts diff --fail-if` adds these (a % is a share of the accounts compared).
DIFF_METRIC = EnumTable(
    "metric",
    "--fail-if",
    [
        *GATE_METRIC.values,
        EnumValue("new-errors", "new-errors", "accounts newly in an error status", "default"),
        EnumValue("recovered", "recovered", "accounts out of an error status", "default"),
        EnumValue("score-drops", "score-drops", "warmup score drops", "default"),
        EnumValue("removed", "removed", "accounts gone since the snapshot", "default"),
        EnumValue("added", "added", "accounts new since the snapshot", "default"),
        EnumValue("transitions", "transitions", "transitions of any kind", "default"),
        EnumValue("compared", "compared", "accounts in either snapshot", "default"),
    ],
)
# Transitions of `accounts diff`, worst first (the order groups are shown in).
TRANSITION = EnumTable(
    "transition",
    "--kind",
    [
        EnumValue("removed", "removed", "Removed", "bold red"),
        EnumValue("new-error", "new-error", "Newly in error", "bold red"),
        EnumValue("warmup-banned", "warmup-banned", "Warmup banned", "red"),
        EnumValue("warmup-suspended", "warmup-suspended", "Warmup suspended", "red"),
        EnumValue("score-drop", "score-drop", "Score dropped", "yellow"),
        EnumValue("warmup-paused", "warmup-paused", "Warmup paused", "yellow"),
        EnumValue("status-changed", "status-changed", "Status changed", "yellow"),
        EnumValue("limit-changed", "limit-changed", "Limit changed", "cyan"),
        EnumValue("recovered", "recovered", "Recovered", "green"),
        EnumValue("warmup-resumed", "warmup-resumed", "Warmup resumed", "green"),
        EnumValue("score-rise", "score-rise", "Score rose", "green"),
        EnumValue("added", "added", "Added", "green"),
    ],
)
# A target with one of these has not reached its end: a resumed run tries it again (a failure
# only when it is retryable, see services/journal.py). A submitted warmup target is resumed by
# waiting for its job, not by submitting it again.
NOT_FINAL = frozenset({FAILED, SKIPPED, SUBMITTED})
# Outcomes that left the account as the run wanted it: what a newer run "changed".
APPLIED = frozenset({UPDATED, PAUSED, RESUMED, ENABLED, DISABLED, ASSIGNED, UNASSIGNED, CREATED,
                     DELETED, FIXED, MOVED, UNCHANGED, EXISTS, GONE, SUBMITTED,
                     ATTACHED, DETACHED})


# -- campaigns (campaigns list/get, accounts coverage, the impact of a write) -------------------

CAMPAIGN_STATUS = EnumTable(
    "campaign status",
    "--status",
    [
        EnumValue(0, "draft", "Draft", "default"),
        EnumValue(1, "active", "Active", "green"),
        EnumValue(2, "paused", "Paused", "yellow"),
        EnumValue(3, "completed", "Completed", "default", "Done"),
        EnumValue(4, "subsequences", "Running subsequences", "green", "Subseq."),
        EnumValue(-99, "suspended", "Account suspended", "bold red", "Suspended"),
        EnumValue(-1, "accounts-unhealthy", "Accounts unhealthy", "red", "Unhealthy"),
        EnumValue(-2, "bounce-protect", "Bounce protect", "red", "Bounce"),
    ],
)
# A campaign sends when Active or Running Subsequences: those are the ones a pause takes from.
ACTIVE_CAMPAIGN_STATUSES = frozenset({1, 4})
NOT_SENDING_STATUS = EnumTable(
    "not-sending status",
    "not_sending_status",
    [
        EnumValue(1, "out-of-schedule", "Outside its sending schedule", "yellow"),
        EnumValue(2, "waiting-for-lead", "Waiting for a lead", "default"),
        EnumValue(3, "daily-limit", "Campaign daily limit reached", "yellow"),
        EnumValue(4, "accounts-daily-limit", "Every account's daily limit reached", "yellow"),
        EnumValue(99, "error", "Error (contact support)", "red"),
    ],
)
# How an account serves a campaign: listed in its email_list, or through a tag.
VIA_LIST = "list"
# What `accounts coverage --fail-if` can test: the summary's metrics and two of its own.
COVERAGE_METRIC = EnumTable(
    "metric",
    "--fail-if",
    [
        *GATE_METRIC.values,
        EnumValue("idle", "idle", "healthy, warmed accounts in no active campaign", "default"),
        EnumValue("campaigns-at-risk", "campaigns-at-risk",
                  "active campaigns over --at-risk-share", "default"),
    ],
)

# Workspaces: the key's own workspace, and the status of a workspace-group member
# (GET /workspace-group-members). Only accepted sub-workspaces may be acted as.
WORKSPACE_CURRENT = "current"
MEMBER_ACCEPTED = "accepted"
NOT_FOUND = "not found"
FOUND = "found"
