"""Waiting for background jobs (warmup enable/disable and the like), with injectable time."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from instantly_cli.enums import JOB_DONE
from instantly_cli.errors import CliError

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
