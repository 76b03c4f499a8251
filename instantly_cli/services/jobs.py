"""Background jobs: waiting for them (warmup enable/disable and the like, with injectable time),
and what ``instantly jobs`` needs around it: listing filters, reading job ids, the verdict on a
wait."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from instantly_cli.enums import JOB_DONE, JOB_STATUS, JOB_SUCCESS, JOB_TYPE
from instantly_cli.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    CliError,
    NotFoundError,
    UsageError,
)
from instantly_cli.targets import Kind, dedupe, escape, read_stdin_targets

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.schema import BackgroundJob


@dataclass
class JobWait:
    """The last state seen of each job, and whether waiting ended before all were done."""

    states: dict[str, BackgroundJob] = field(default_factory=dict)
    timed_out: bool = False
    interrupted: bool = False
    # A poll that failed for good (after the client's retries): waiting stopped there.
    error: CliError | None = None

    def pending(self) -> list[str]:
        return [j for j, s in self.states.items() if str(s.get("status")) not in JOB_DONE]


def wait_for_jobs(
    client: InstantlyClient,
    job_ids: Sequence[str],
    *,
    timeout: float,
    interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_update: Callable[[str, BackgroundJob], None] | None = None,
) -> JobWait:
    """Poll each job until success, failed or cancelled, or until ``timeout`` seconds pass.

    A Ctrl-C (or a poll that keeps failing) ends the wait with what is known so far; the caller
    still reports every job id. ``on_update`` sees each polled state (progress display).
    """
    wait = JobWait(states={j: {"id": j, "status": "unknown"} for j in job_ids})
    deadline = clock() + timeout
    pending = list(dict.fromkeys(job_ids))
    try:
        while pending:
            still = []
            for job_id in pending:
                job = client.get_job(job_id)
                wait.states[job_id] = job
                if on_update is not None:
                    on_update(job_id, job)
                if str(job.get("status")) not in JOB_DONE:
                    still.append(job_id)
            pending = still
            if not pending:
                break
            if clock() >= deadline:
                wait.timed_out = True
                break
            sleep(interval)
    except KeyboardInterrupt:
        wait.interrupted = True
    except CliError as err:
        wait.error = err
    return wait


# -- `instantly jobs`: filters, ids, the verdict on a wait ----------------------------------

# Job ids are 24 hex digits (MongoDB object ids).
_JOB_ID = re.compile(r"^[0-9a-fA-F]{24}$")


def list_params(statuses: Sequence[str], job_type: str | None) -> dict[str, Any]:
    """``GET /background-jobs`` filters from CLI names (``--status a,b`` or repeated)."""
    names = [s.strip() for text in statuses for s in text.split(",") if s.strip()]
    codes = [str(JOB_STATUS.parse(n)) for n in names]
    return {
        "status": ",".join(dict.fromkeys(codes)) or None,
        "type": str(JOB_TYPE.parse(job_type)) if job_type else None,
    }


def check_id(text: str, where: str = "") -> str:
    value = text.strip()
    if not _JOB_ID.match(value):
        raise UsageError(
            f"Not a background job id: '{escape(text)}'{where}.",
            hint="Job ids are 24 hex digits, as printed by "
            "`instantly accounts warmup enable --no-wait`.",
        )
    return value


# Job ids on stdin come in the forms targets do (the same limits, UTF-8 and control checks):
# one per line (the first column of ``--no-wait``'s TSV), or the JSON (array or lines) of
# ``--no-wait`` output (``{"job_id": …}``) or of jobs (``{"id": …}``).
JOB_IDS = Kind(
    fields=("job_id", "id"),
    valid=lambda text: _JOB_ID.match(text) is not None,
    noun="a job id",
    record="a job JSON object",
    source="`instantly accounts warmup enable --no-wait --json`",
    line_hint='Each line must start with a job id (24 hex digits) or be a JSON object with a '
    '"job_id" or "id" field.',
    text_hint="Job ids must be UTF-8 text: ids, or the JSON of `--no-wait`.",
    first_column=True,
)


def read_ids(args: Sequence[str], stdin: Any) -> list[str]:
    """Job ids from arguments, ``-`` meaning the ``stdin`` stream; validated and deduplicated."""
    if not args:
        raise UsageError("No job ids given.", hint="Name job ids, or - to read them from stdin.")
    ids: list[str] = []
    for arg in dict.fromkeys(args):  # stdin is read once, however many times - is given
        if arg != "-":
            ids.append(check_id(arg))
            continue
        piped = read_stdin_targets(stdin, JOB_IDS)
        if not piped:
            raise UsageError("No job ids on stdin.", hint="Pipe `warmup enable --no-wait --json`.")
        ids.extend(piped)
    return dedupe(ids)


NOT_FOUND_HINT = "`instantly jobs list` shows the jobs of this workspace (--workspace)."


def not_found(err: NotFoundError) -> NotFoundError:
    """The API's 404 for a job, with a hint about jobs (not accounts)."""
    out = NotFoundError(err.message, hint=NOT_FOUND_HINT, status=err.status)
    out.body = err.body
    return out


def wait_exit_code(waited: JobWait) -> int:
    """0 when every job succeeded, 130 interrupted, 4 an unknown job, 1 otherwise."""
    if waited.interrupted:
        return EXIT_INTERRUPTED
    if isinstance(waited.error, NotFoundError):
        return EXIT_NOT_FOUND
    states = list(waited.states.values())
    if waited.error is not None or waited.timed_out:
        return EXIT_FAILED
    if all(str(s.get("status")) == JOB_SUCCESS for s in states):
        return EXIT_OK
    return EXIT_FAILED


def job_rows(waited: JobWait) -> list[BackgroundJob]:
    """The last state seen of every job, in the order asked."""
    return list(waited.states.values())
