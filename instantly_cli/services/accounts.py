"""Accounts: list queries, building and validating a change, diff and write verification, the
warmup merge, reading pause answers, warmup submission and the verdict on its jobs.

Callable without Typer or a terminal: every function takes the client and plain values, and
returns data (Outcomes for bulk work) for the command to render.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from instantly_cli import fields
from instantly_cli.enums import (
    DISABLED,
    ENABLED,
    FAILED,
    PAUSED,
    RESUMED,
    SUBMITTED,
    UNCHANGED,
    UPDATED,
    WOULD_UPDATE,
)
from instantly_cli.errors import CliError, NotFoundError
from instantly_cli.fields import get_path
from instantly_cli.services.bulk import Outcome, RunResult, failed

if TYPE_CHECKING:
    from instantly_cli.client import Account, BackgroundJob, InstantlyClient
    from instantly_cli.services.jobs import JobWait

# The bulk endpoints (pause, warmup jobs) take at most 100 emails a call.
BATCH = 100

Work = Callable[[list[str]], list[Outcome]]


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


def build_change(
    body: str | None, sets: Sequence[str], flags: Sequence[tuple[str, Any]]
) -> dict[str, Any]:
    """The PATCH body: ``--body JSON|@FILE|@-`` (lowest), then ``--set``, then typed flags;
    validated before anything is sent."""
    change: dict[str, Any] = fields.load_body(body) if body is not None else {}
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
