"""`accounts warmup enable|disable`: submitting the background jobs, bisecting refused batches,
and the verdict on the jobs once waited for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from instantly_cli.enums import (
    DISABLED,
    ENABLED,
    FAILED,
    JOB_FAILED,
    JOB_SUCCESS,
    SUBMITTED,
)
from instantly_cli.errors import CliError
from instantly_cli.services.bulk import Outcome, RunResult, Work, bisect, halves

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.schema import BackgroundJob
    from instantly_cli.services.jobs import JobWait

BATCH = 100


def _bisectable(err: CliError) -> bool:
    """A refusal about the request's content (one bad email), not auth, pacing or an outage."""
    return err.status is not None and 400 <= err.status < 500 and err.status not in (401, 402,
                                                                                     403, 429)


def warmup_submit_work(client: InstantlyClient, enable: bool) -> Work:
    """One background job per batch of 100 emails; each target remembers its job id.

    A batch the API refuses outright is split in halves until the refused emails are alone, so
    one bad email fails only itself (with the API's reason)."""

    def submit(batch: list[str]) -> list[Outcome]:
        job = client.warmup(enable, batch)
        extra = {"job_id": str(job.get("id", "")), "job_status": str(job.get("status", ""))}
        return [Outcome(e, SUBMITTED, extra=dict(extra)) for e in batch]

    return lambda batch: bisect(submit, batch, _bisectable)


def split_failed_jobs(result: RunResult) -> list[list[str]]:
    """Halves of every failed job that held more than one email, to submit again (bisection):
    the job failed as a whole, so which of its emails is to blame is found by splitting."""
    groups: dict[str, list[str]] = {}
    for o in result.outcomes:
        if o.result == FAILED and o.code == "job_failed" and o.extra.get("job_id"):
            groups.setdefault(str(o.extra["job_id"]), []).append(o.email)
    return [part for emails in groups.values() if len(emails) > 1 for part in halves(emails)]


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
        if status == JOB_SUCCESS:
            o.result = done_word
            continue
        if status not in JOB_FAILED and waited.interrupted:
            # The job goes on on the server: the target stays submitted (``--resume`` waits).
            o.error = f"background job {job_id} was {status} when waiting was interrupted"
            continue
        o.result = FAILED
        o.code = "job_" + status.replace("-", "_")
        data = job.get("data")
        reason = f": {data['error']}" if isinstance(data, dict) and data.get("error") else ""
        if status in JOB_FAILED:
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
