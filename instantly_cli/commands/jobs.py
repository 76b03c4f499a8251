"""``instantly jobs list|get|wait``: background jobs (warmup enable/disable and others)."""

import math
import sys
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from instantly_cli import context, output
from instantly_cli.columns import parse_fields, pick
from instantly_cli.commands import handled
from instantly_cli.enums import JOB_DONE, JOB_STATUS, JOB_TYPE
from instantly_cli.errors import NotFoundError, UsageError
from instantly_cli.options import (
    AllOpt,
    LimitOpt,
    argument,
    arguments,
    complete_enum,
    examples,
    page_limit_for,
    required,
)
from instantly_cli.options_bundles import NO_VIEW, View, view_options

app = typer.Typer(help="Background jobs: list, inspect and wait for them.", no_args_is_help=True)


@app.command(
    "list",
    epilog=examples(
        "instantly jobs list --status in-progress,pending",
        "instantly jobs list --type update-warmup-accounts --all -o jsonl",
    ),
)
@handled
@view_options("fields")
def list_jobs(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", metavar="STATUS",
            help="Job status (comma list or repeated): " + ", ".join(JOB_STATUS.names) + ".",
            autocompletion=complete_enum(JOB_STATUS),
        ),
    ] = None,
    job_type: Annotated[
        str | None,
        typer.Option(
            "--type", metavar="TYPE", help="Job type: " + ", ".join(JOB_TYPE.names) + ".",
            autocompletion=complete_enum(JOB_TYPE),
        ),
    ] = None,
    limit: LimitOpt = None,
    all_: AllOpt = False,
    view: View = NO_VIEW,
) -> None:
    """List background jobs, newest first.

    On a terminal the first 100 are shown; piped, every page unless --limit is given.
    """
    from instantly_cli import views
    from instantly_cli.services import jobs as service

    fmt = view.format(ctx)
    field_list = parse_fields(view.fields)
    if all_ and limit is not None:
        raise UsageError("--all and --limit contradict each other.", hint="Use one of them.")
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be at least 1 (got {limit}).", hint="Or use --all.")
    params = service.list_params(status or [], job_type)
    with context.client(ctx) as client:
        pager = client.list_jobs(
            params, limit=None if all_ else page_limit_for(limit, context.out(ctx).stdout_tty)
        )
        output.emit_records(
            pager, fmt, views.job_columns(fmt), fields=field_list, empty_message="No jobs match."
        )
    if pager.anomaly:
        output.warn(f"Listing ended early: {pager.anomaly}.")
    if pager.more:
        output.info("More jobs available: raise --limit or use --all.")


@app.command("get", epilog=examples("instantly jobs get 65f0c1d2e3f4a5b6c7d8e9f0 --json"))
@handled
@view_options("fields")
def get_job(
    ctx: typer.Context,
    job_id: Annotated[str | None, argument("ID")] = None,
    view: View = NO_VIEW,
) -> None:
    """Show one background job: type, status, progress and its data.

    ID is the job id (24 hex digits), as printed by `accounts warmup enable --no-wait`.
    """
    from instantly_cli import views
    from instantly_cli.services import jobs as service

    fmt = view.format(ctx)
    field_list = parse_fields(view.fields)
    checked = service.check_id(required(job_id, "the job ID", "instantly jobs get 65f0…"))
    with context.client(ctx) as client:
        try:
            job = client.get_job(checked)
        except NotFoundError as err:
            raise service.not_found(err) from None
    if fmt == "json":
        output.emit_json(pick(job, field_list) if field_list else job)
    elif fmt == "table" and not field_list:
        output.emit_detail(f"Job {job.get('id', checked)}", views.job_detail(job))
    else:
        output.emit_records([[job]], fmt, views.job_columns(fmt), fields=field_list)


@app.command(
    "wait",
    epilog=examples(
        "instantly jobs wait 65f0c1d2e3f4a5b6c7d8e9f0",
        "instantly accounts warmup enable - --no-wait --json --yes < boxes.txt | "
        "instantly jobs wait -",
    ),
)
@handled
@view_options("fields")
def wait(
    ctx: typer.Context,
    job_ids: Annotated[list[str], arguments("ID")],
    timeout: Annotated[
        float, typer.Option("--timeout", metavar="SECONDS", help="How long to wait.")
    ] = 300.0,
    view: View = NO_VIEW,
) -> int:
    """Wait until jobs finish.

    Shows each job's state and progress; exit 1 unless all succeed.

    ID is a job id, or - to read ids (or the JSON of `--no-wait`) from stdin.
    """
    from instantly_cli import views
    from instantly_cli.services import jobs as service
    from instantly_cli.services.jobs import wait_for_jobs

    fmt = view.format(ctx)
    field_list = parse_fields(view.fields)
    if not (math.isfinite(timeout) and timeout > 0):
        raise UsageError("--timeout must be a positive number of seconds.")
    ids = service.read_ids(job_ids, sys.stdin)
    rt = context.runtime(ctx)
    seen: dict[str, tuple[str, float]] = {}
    with context.client(ctx) as client, output.progress(100 * len(ids), "Waiting") as advance:

        def update(job_id: str, job: Mapping[str, Any]) -> None:
            state = str(job.get("status"))
            raw = job.get("progress")
            done = float(raw) if isinstance(raw, int | float) else 0.0
            if state in JOB_DONE:
                done = 100.0
            before_state, before = seen.get(job_id, ("", 0.0))
            if state != before_state:
                output.info(views.job_line({**job, "id": job_id}))
            advance(max(0, round(done) - round(before)), 0)
            seen[job_id] = (state, max(done, before))

        waited = wait_for_jobs(
            client, ids, timeout=timeout, interval=rt.poll_interval, clock=rt.clock,
            sleep=rt.sleep, on_update=update,
        )
    if isinstance(waited.error, NotFoundError):
        raise service.not_found(waited.error)
    rows = service.job_rows(waited)
    output.emit_records([rows], fmt, views.job_columns(fmt), fields=field_list)
    if waited.timed_out:
        output.warn(f"Still running after {timeout:g} s: {', '.join(waited.pending())}.")
    if waited.error is not None:
        output.warn(f"Waiting stopped: {waited.error.message}")
    if waited.interrupted:
        output.warn("Interrupted; the jobs keep running on Instantly's side.")
    return service.wait_exit_code(waited)
