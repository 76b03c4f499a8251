"""Accounts: list queries, building and validating a change, diff and write verification, the
warmup merge, reading pause answers, warmup submission and the verdict on its jobs.

Callable without Typer or a terminal: every function takes the client and plain values, and
returns data (Outcomes for bulk work) for the command to render.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from instantly_cli import fields
from instantly_cli.enums import (
    ACCOUNT_STATUS,
    DISABLED,
    ENABLED,
    FAILED,
    LIST_FILTER,
    PAUSED,
    PROVIDER,
    RESUMED,
    SORT_FIELD,
    SUBMITTED,
    UNCHANGED,
    UPDATED,
    WOULD_UPDATE,
    EnumTable,
)
from instantly_cli.errors import CliError, NotFoundError, UsageError
from instantly_cli.fields import get_path
from instantly_cli.services.bulk import Outcome, RunResult, failed
from instantly_cli.services.health import Thresholds

if TYPE_CHECKING:
    from instantly_cli.client import Account, BackgroundJob, InstantlyClient
    from instantly_cli.services.fleet import Lister, Listing, LocalFilter
    from instantly_cli.services.jobs import JobWait

# The bulk endpoints (pause, warmup jobs) take at most 100 emails a call.
BATCH = 100

Work = Callable[[list[str]], list[Outcome]]
# Several values of --status, --provider and --filter are one request stream per combination,
# each holding a page in memory while they are merged: keep that bounded.
MAX_STREAMS = 36


# -- listing -------------------------------------------------------------------------------------


@dataclass
class ListQuery:
    """What ``accounts list`` and ``accounts summary`` ask for, validated; tags are still labels
    or ids.

    ``status``, ``provider`` and ``filter`` take several values ("any of"; ``a,b`` too): the API
    takes one of each, so :meth:`variants` is one request stream per combination, merged by
    :mod:`instantly_cli.services.fleet`. ``domains``, the score range and ``health`` are applied
    locally (the API has no such filters).
    """

    status: list[str] = field(default_factory=list)
    provider: list[str] = field(default_factory=list)
    search: str | None = None
    filter: list[str] = field(default_factory=list)
    sort: str | None = None
    asc: bool | None = None
    include_tags: bool = False
    starting_after: str | None = None
    tags: list[str] = field(default_factory=list)
    tags_all: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    min_score: float | None = None
    max_score: float | None = None
    include_unscored: bool = False
    health: list[str] = field(default_factory=list)
    thresholds: Thresholds = field(default_factory=Thresholds)

    def params(self) -> dict[str, Any]:
        """The query parameters shared by every variant; exit 2 on bad input (nothing sent)."""
        self.variants()  # validates the enum values
        local = self.local_filter()  # validates domains, scores and health classes
        search = self.search or None
        if search is None and local is not None and len(local.domains) == 1:
            # Narrow on the server; the exact domain match is still made locally.
            search = next(iter(local.domains))
        params: dict[str, Any] = {
            "search": search,
            "include_tags": True if self.include_tags else None,
        }
        if self.sort:
            params["sort_by"] = SORT_FIELD.parse(self.sort)
            params["sort_order"] = "asc" if self.asc else "desc"
        elif self.asc is not None:
            raise UsageError("--asc/--desc needs --sort.", hint="For example: --sort email --asc.")
        if self.starting_after and self.sort:
            raise UsageError(
                "--starting-after cannot be combined with --sort.",
                hint="Sorted lists page by offset; use --all or --limit.",
            )
        if self.starting_after:
            params["starting_after"] = self.starting_after
        return params

    def variants(self) -> list[dict[str, Any]]:
        """One dict of single-valued API filters per request stream (their cross product)."""
        statuses = parse_values(self.status, ACCOUNT_STATUS) or [None]
        providers = parse_values(self.provider, PROVIDER) or [None]
        filters = parse_values(self.filter, LIST_FILTER) or [None]
        streams = len(statuses) * len(providers) * len(filters)
        if streams > MAX_STREAMS:
            raise UsageError(
                f"These --status, --provider and --filter values need {streams} request streams "
                f"(one per combination); at most {MAX_STREAMS} are allowed.",
                hint="Give fewer values, or list wider and filter the JSON lines with jq.",
            )
        return [
            {"status": s, "provider_code": p, "filter": f}
            for s in statuses
            for p in providers
            for f in filters
        ]

    def local_filter(self) -> LocalFilter | None:
        from instantly_cli.services.fleet import LocalFilter

        local = LocalFilter.build(
            domains=self.domains,
            min_score=self.min_score,
            max_score=self.max_score,
            include_unscored=self.include_unscored,
            health=self.health,
            thresholds=self.thresholds,
        )
        return local if local.active else None


def parse_values(values: str | Sequence[str] | None, table: EnumTable) -> list[Any]:
    """Repeated and comma-separated enum values → API codes, duplicates dropped, order kept."""
    if not values:
        return []
    texts = [values] if isinstance(values, str) else list(values)
    codes: list[Any] = []
    for text in texts:
        for part in text.split(","):
            if not part.strip():
                continue
            code = table.parse(part)
            if code not in codes:
                codes.append(code)
    return codes


def list_accounts(
    client: InstantlyClient,
    query: ListQuery,
    *,
    limit: int | None,
    resolve_tags: Callable[[list[str]], list[str]] | None = None,
    lister: Lister | None = None,
) -> Listing:
    """The matching accounts as pages (cursor order, or offset pages when sorted).

    ``lister`` fetches one request stream (default: the client's pager); see
    :func:`instantly_cli.services.fleet.open_listing`.
    """
    from instantly_cli.services.fleet import open_listing

    return open_listing(client, query, limit=limit, resolve_tags=resolve_tags, lister=lister)


def get_accounts(
    client: InstantlyClient, emails: Sequence[str]
) -> tuple[list[Account], list[str]]:
    """The accounts found and the emails that were not; a lone missing email raises (exit 4)."""
    found: list[Account] = []
    missing: list[str] = []
    for email in emails:
        try:
            found.append(client.get_account(email))
        except NotFoundError:
            if len(emails) == 1:
                raise
            missing.append(email)
    return found, missing


# -- building a change -----------------------------------------------------------------------


def load_body(text: str, read_stdin: Callable[[], str]) -> dict[str, Any]:
    """``--body JSON`` or ``--body @FILE`` (``@-`` = stdin) → a JSON object; exit 2 otherwise."""
    source = "--body"
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = read_stdin() if text == "@-" else path.read_bytes().decode("utf-8")
        except OSError as exc:
            raise UsageError(f"Cannot read {path}: {exc.strerror}.") from None
        except UnicodeDecodeError as exc:
            raise UsageError(
                f"--body file {path} is not UTF-8 text (byte {exc.start}).",
                hint="Save the file as UTF-8 JSON.",
            ) from None
        source = f"--body file {path}"
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise UsageError(
            f"{source} is not valid JSON: {exc}.",
            hint="For example: --body '{\"daily_limit\": 30}'.",
        ) from None
    if not isinstance(body, dict):
        raise UsageError(
            f"{source} must be a JSON object.", hint='For example: {"daily_limit": 30}.'
        )
    return body


def build_change(
    body: str | None,
    sets: Sequence[str],
    flags: Sequence[tuple[str, Any]],
    read_stdin: Callable[[], str],
) -> dict[str, Any]:
    """The PATCH body: ``--body`` (lowest), then ``--set``, then typed flags; validated.

    ``read_stdin`` supplies the text of ``--body @-``."""
    change: dict[str, Any] = load_body(body, read_stdin) if body is not None else {}
    for item in sets:
        path, value = fields.parse_set(item)
        fields.set_path(change, path, value)
    for path, value in flags:
        fields.set_path(change, path, value)
    fields.validate(change)
    return change


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    if isinstance(old, int | float) and isinstance(new, int | float):
        return float(old) == float(new)
    return bool(old == new)


def diff(current: Mapping[str, Any], body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The fields ``body`` would change on ``current``: ``[{field, old, new}]``."""
    changes = []
    for path, new in fields.leaves(dict(body)):
        spec = fields.BY_PATH.get(path)
        if spec is not None and spec.write_only:
            if new:
                changes.append({"field": path, "old": None, "new": new})
            continue
        old = get_path(current, path)
        if not _same(old, new):
            changes.append({"field": path, "old": old, "new": new})
    return changes


def not_applied(sent: Mapping[str, Any], returned: Mapping[str, Any]) -> list[str]:
    """Fields the API answered with a different value than was sent."""
    problems = []
    for path, value in fields.leaves(dict(sent)):
        spec = fields.BY_PATH.get(path)
        if spec is not None and spec.write_only:
            continue
        got = get_path(returned, path)
        if not _same(got, value):
            problems.append(
                f"{path} not applied (sent {json.dumps(value)}, the API has {json.dumps(got)})"
            )
    return problems


def merged_warmup(current: Mapping[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """A partial ``warmup`` change sent as the current settings plus the change (the API does
    not document whether it merges)."""
    if "warmup" not in change:
        return change
    base = fields.patchable(dict(current.get("warmup") or {}), "warmup")
    return {**change, "warmup": fields.deep_merge(base, change["warmup"])}


def update_work(
    client: InstantlyClient, change: dict[str, Any], *, dry_run: bool, strict: bool
) -> Work:
    """The per-account step of ``accounts update``: fetch when needed, diff, patch, verify."""
    needs_current = dry_run or "warmup" in change

    def work(unit: list[str]) -> list[Outcome]:
        email = unit[0]
        send = change
        if needs_current:
            current = client.get_account(email)
            send = merged_warmup(current, change)
            changes = diff(current, send)
            if not changes:
                return [Outcome(email, UNCHANGED, account=None if dry_run else current)]
            if dry_run:
                return [Outcome(email, WOULD_UPDATE, extra={"changes": changes})]
        updated = client.update_account(email, send)
        warnings = not_applied(send, updated)
        if warnings and strict:
            return [
                Outcome(
                    email, FAILED, error="; ".join(warnings), code="not_applied", account=updated
                )
            ]
        return [Outcome(email, UPDATED, account=updated, warnings=warnings)]

    return work


# -- pause and resume ------------------------------------------------------------------------


def pause_work(client: InstantlyClient, *, single: bool) -> Work:
    """One bulk-pause request per batch of 100, read back per email."""

    def not_paused(email: str) -> Outcome:
        # The bulk endpoint does not say why; for a lone target, ask, so that a missing
        # account exits 4 like every other command.
        if single:
            try:
                client.get_account(email)
            except NotFoundError as err:
                return failed(email, err)
        return Outcome(
            email,
            FAILED,
            code="not_paused",
            error="the API did not pause it (unknown account, or its status could not change)",
        )

    def work(batch: list[str]) -> list[Outcome]:
        answer = client.pause_accounts(batch)
        paused = {str(e).lower() for e in answer.get("paused_emails") or []}
        refused = {str(e).lower() for e in answer.get("failed_emails") or []}
        out = []
        for email in batch:
            if email.lower() in paused:
                out.append(Outcome(email, PAUSED))
            elif email.lower() in refused:
                out.append(not_paused(email))
            else:
                out.append(
                    Outcome(
                        email,
                        FAILED,
                        code="not_reported",
                        error="the API did not report this account",
                    )
                )
        return out

    return work


def resume_work(client: InstantlyClient) -> Work:
    def work(unit: list[str]) -> list[Outcome]:
        return [Outcome(unit[0], RESUMED, account=client.resume_account(unit[0]))]

    return work


# -- warmup ------------------------------------------------------------------------------------


def warmup_submit_work(client: InstantlyClient, enable: bool) -> Work:
    """One background job per batch of 100 emails; each target remembers its job id."""

    def work(batch: list[str]) -> list[Outcome]:
        job = client.warmup(enable, batch)
        extra = {"job_id": str(job.get("id", "")), "job_status": str(job.get("status", ""))}
        return [Outcome(e, SUBMITTED, extra=dict(extra)) for e in batch]

    return work


def submitted_jobs(result: RunResult) -> list[dict[str, Any]]:
    """``[{job_id, emails}]`` for every job the run submitted (printed by ``--no-wait``)."""
    jobs: dict[str, list[str]] = {}
    for o in result.outcomes:
        if o.result == SUBMITTED:
            jobs.setdefault(str(o.extra["job_id"]), []).append(o.email)
    return [{"job_id": j, "emails": emails} for j, emails in jobs.items()]


def judge_warmup(result: RunResult, waited: JobWait, *, enable: bool, timeout: float) -> None:
    """Turn each submitted target into enabled/disabled or failed, by its job's last state."""
    done_word = ENABLED if enable else DISABLED
    for o in result.outcomes:
        if o.result != SUBMITTED:
            continue
        job_id = str(o.extra["job_id"])
        job: BackgroundJob = waited.states.get(job_id, {})
        status = str(job.get("status", "unknown"))
        o.extra["job_status"] = status
        if status == "success":
            o.result = done_word
            continue
        o.result = FAILED
        o.code = "job_" + status.replace("-", "_")
        data = job.get("data")
        reason = f": {data['error']}" if isinstance(data, dict) and data.get("error") else ""
        if status in ("failed", "cancelled"):
            o.error = f"background job {job_id} {status}{reason}"
        elif waited.interrupted or waited.error is not None:
            why = "interrupted" if waited.interrupted else _short(waited.error)
            o.error = (
                f"background job {job_id} was {status} when waiting stopped ({why}); "
                f"check it with: instantly api GET /api/v2/background-jobs/{job_id}"
            )
        else:
            o.error = (
                f"background job {job_id} still {status} after {timeout:g} s; check it later "
                f"with: instantly api GET /api/v2/background-jobs/{job_id}"
            )


def _short(err: CliError | None) -> str:
    return err.message.rstrip(".") if err is not None else ""
