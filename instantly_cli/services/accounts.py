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
    ACCOUNT_STATUS,
    DISABLED,
    ENABLED,
    FAILED,
    PAUSED,
    RESUMED,
    SUBMITTED,
    UNCHANGED,
    UPDATED,
    WOULD_PAUSE,
    WOULD_RESUME,
    WOULD_UPDATE,
)
from instantly_cli.errors import CliError, NotFoundError
from instantly_cli.fields import get_path
from instantly_cli.services.bulk import Outcome, RunResult, failed

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.schema import BackgroundJob
    from instantly_cli.services.jobs import JobWait

# The bulk endpoints (pause, warmup jobs) take at most 100 emails a call.
BATCH = 100

Work = Callable[[list[str]], list[Outcome]]


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


def change_keys(change: Mapping[str, Any]) -> list[str]:
    """The fields a change sets (dotted paths): what the stale-change guard compares."""
    return [path for path, _ in fields.leaves(dict(change))]


def describe_change(change: Mapping[str, Any]) -> str:
    """``daily_limit = 20, warmup.limit = 10``: a change in words (secrets never reach it)."""
    return ", ".join(f"{path} = {json.dumps(value, ensure_ascii=False)}"
                     for path, value in fields.leaves(dict(change))) or "(nothing)"


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


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def diff_summary(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per field of a dry run: how many values go up, down, from empty, to empty, or change.

    ``daily_limit: 146 accounts — raised 12, lowered 134`` makes a "lower the limit" that in fact
    raises some accounts visible at a glance."""
    from collections import Counter

    kinds = ("raised", "lowered", "set from empty", "cleared", "changed")
    per_field: dict[str, Counter[str]] = {}
    for record in records:
        for change in record.get("changes") or []:
            old, new = change.get("old"), change.get("new")
            if _empty(old) and not _empty(new):
                kind = "set from empty"
            elif _empty(new) and not _empty(old):
                kind = "cleared"
            elif _number(old) and _number(new):
                kind = "raised" if new > old else "lowered"
            else:
                kind = "changed"
            per_field.setdefault(str(change.get("field")), Counter())[kind] += 1
    lines = []
    for name, counts in per_field.items():
        total = sum(counts.values())
        parts = ", ".join(f"{kind} {counts[kind]:,}" for kind in kinds if counts[kind])
        lines.append(f"{name}: {total:,} account{'s' if total != 1 else ''} — {parts}")
    return lines


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
        try:
            updated = client.update_account(email, send)
        except CliError as err:
            if err.code != "network_error":
                raise
            # The answer was lost (the connection broke): the change may have landed. Read the
            # account back and call it updated only if it holds the change.
            try:
                landed = client.get_account(email)
            except CliError:
                raise err from None
            if diff(landed, send):
                raise
            updated = landed
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


STATUS_ACTIVE = 1
STATUS_PAUSED = 2


def _status_name(code: object) -> str:
    value = ACCOUNT_STATUS.get(code)
    return value.name if value else f"unknown ({code})"


def _state_change(email: str, result: str, old: object, new: int, detail: str | None = None
                  ) -> Outcome:
    """An outcome that says which status the account had and has (``from``/``to`` CLI names)."""
    extra: dict[str, Any] = {"from": _status_name(old), "to": _status_name(new)}
    if detail:
        extra["detail"] = detail
    return Outcome(email, result, extra=extra)


def pause_work(client: InstantlyClient, *, dry_run: bool = False) -> Work:
    """One bulk-pause request per batch of 100, read back per email.

    The API lists an account it did not pause in ``failed_emails`` — also one that was already
    paused (a retry after Ctrl-C), so each refused account is read before it is called a failure:
    already paused is ``unchanged``. ``dry_run`` reads every account and sends nothing."""

    def refused(email: str) -> Outcome:
        try:
            current = client.get_account(email)
        except NotFoundError as err:
            return failed(email, err)
        except CliError as err:
            return Outcome(email, FAILED, code="not_paused", status=err.status,
                           error=f"the API did not pause it, and reading it failed: {err.message}")
        status = current.get("status")
        if status == STATUS_PAUSED:
            return _state_change(email, UNCHANGED, status, STATUS_PAUSED, "already paused")
        return Outcome(
            email,
            FAILED,
            code="not_paused",
            error=f"the API did not pause it (status {_status_name(status)})",
            extra={"from": _status_name(status), "to": _status_name(status)},
        )

    def preview(email: str) -> Outcome:
        status = client.get_account(email).get("status")
        if status == STATUS_PAUSED:
            return _state_change(email, UNCHANGED, status, STATUS_PAUSED, "already paused")
        return _state_change(email, WOULD_PAUSE, status, STATUS_PAUSED)

    def work(batch: list[str]) -> list[Outcome]:
        if dry_run:
            out = []
            for email in batch:
                try:
                    out.append(preview(email))
                except CliError as err:
                    out.append(failed(email, err))
            return out
        answer = client.pause_accounts(batch)
        paused = {str(e).lower() for e in answer.get("paused_emails") or []}
        refused_emails = {str(e).lower() for e in answer.get("failed_emails") or []}
        out = []
        for email in batch:
            if email.lower() in paused:
                out.append(Outcome(email, PAUSED, extra={"to": _status_name(STATUS_PAUSED)}))
            elif email.lower() in refused_emails:
                out.append(refused(email))
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


def resume_work(client: InstantlyClient, *, dry_run: bool = False) -> Work:
    """Read each account first: one already active is ``unchanged`` and nothing is sent (so a
    resume only acts on accounts that are paused, and only on the ones targeted)."""

    def work(unit: list[str]) -> list[Outcome]:
        email = unit[0]
        status = client.get_account(email).get("status")
        if status == STATUS_ACTIVE:
            return [_state_change(email, UNCHANGED, status, STATUS_ACTIVE, "already active")]
        if dry_run:
            return [_state_change(email, WOULD_RESUME, status, STATUS_ACTIVE)]
        account = client.resume_account(email)
        out = _state_change(email, RESUMED, status, account.get("status", STATUS_ACTIVE))
        out.account = account
        return [out]

    return work


# -- warmup ------------------------------------------------------------------------------------


def _bisectable(err: CliError) -> bool:
    """A refusal about the request's content (one bad email), not auth, pacing or an outage."""
    return err.status is not None and 400 <= err.status < 500 and err.status not in (401, 402,
                                                                                     403, 429)


def warmup_submit_work(client: InstantlyClient, enable: bool) -> Work:
    """One background job per batch of 100 emails; each target remembers its job id.

    A batch the API refuses outright is split in halves until the refused emails are alone, so
    one bad email fails only itself (with the API's reason)."""

    def submit(batch: list[str]) -> list[Outcome]:
        try:
            job = client.warmup(enable, batch)
        except CliError as err:
            if len(batch) > 1 and _bisectable(err):
                half = len(batch) // 2
                return submit(batch[:half]) + submit(batch[half:])
            return [failed(e, err) for e in batch]
        extra = {"job_id": str(job.get("id", "")), "job_status": str(job.get("status", ""))}
        return [Outcome(e, SUBMITTED, extra=dict(extra)) for e in batch]

    return submit


def split_failed_jobs(result: RunResult) -> list[list[str]]:
    """Halves of every failed job that held more than one email, to submit again (bisection):
    the job failed as a whole, so which of its emails is to blame is found by splitting."""
    groups: dict[str, list[str]] = {}
    for o in result.outcomes:
        if o.result == FAILED and o.code == "job_failed" and o.extra.get("job_id"):
            groups.setdefault(str(o.extra["job_id"]), []).append(o.email)
    halves: list[list[str]] = []
    for emails in groups.values():
        if len(emails) > 1:
            half = len(emails) // 2
            halves += [emails[:half], emails[half:]]
    return halves


def replace_outcomes(result: RunResult, new: Sequence[Outcome]) -> None:
    """Put a resubmission's outcomes in place of the targets' earlier ones (order kept)."""
    by_email = {o.email: o for o in new}
    result.outcomes = [by_email.get(o.email, o) for o in result.outcomes]


def pending_job_ids(result: RunResult) -> list[str]:
    """Jobs of targets still ``submitted`` (not judged yet), in submission order."""
    return list(
        dict.fromkeys(
            str(o.extra["job_id"]) for o in result.outcomes
            if o.result == SUBMITTED and o.extra.get("job_id")
        )
    )


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
        if status not in ("failed", "cancelled") and waited.interrupted:
            # The job goes on on the server: the target stays submitted (``--resume`` waits).
            o.error = f"background job {job_id} was {status} when waiting was interrupted"
            continue
        o.result = FAILED
        o.code = "job_" + status.replace("-", "_")
        data = job.get("data")
        reason = f": {data['error']}" if isinstance(data, dict) and data.get("error") else ""
        if status in ("failed", "cancelled"):
            o.error = f"background job {job_id} {status}{reason}"
        elif waited.error is not None:
            o.error = (
                f"background job {job_id} was {status} when waiting stopped "
                f"({_short(waited.error)}); wait for it with: instantly jobs wait {job_id}"
            )
        else:
            o.error = (
                f"background job {job_id} still {status} after {timeout:g} s; check it later "
                f"with: instantly jobs wait {job_id}"
            )


def _short(err: CliError | None) -> str:
    return err.message.rstrip(".") if err is not None else ""
