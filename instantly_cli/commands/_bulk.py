"""What every bulk command does around its service call: targets, confirmation, progress, finish.

Only terminal work lives here (asking, progress bars, the summary); the runner and the
accounting are in ``services.bulk``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from instantly_cli import context, output
from instantly_cli.errors import EXIT_FAILED, CliError, UsageError
from instantly_cli.services import bulk
from instantly_cli.services.bulk import Outcome, RunResult, Shield

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.schema import BackgroundJob
    from instantly_cli.services.jobs import JobWait
    from instantly_cli.services.journal import Journal



def where(ctx: typer.Context) -> str:
    """``profile 'x', workspace 'y'`` (or the sandbox): what a confirmation acts on."""
    s = context.settings(ctx)
    if s.sandbox:
        return "the sandbox"
    place = f"profile '{s.profile}'"
    return place + (f", workspace '{s.workspace}'" if s.workspace else "")


def confirm(ctx: typer.Context, question: str, refusal: str, yes: bool) -> None:
    """Ask on a terminal; refuse without --yes when stdin or stdout is not one."""
    if yes:
        return
    if not (output.stdin_is_tty() and output.stdout_is_tty()):
        raise UsageError(
            refusal,
            hint="Add --yes to confirm (stdin or stdout is not a terminal), "
            "or --dry-run to preview.",
        )
    if not output.confirm(f"{question} ({where(ctx)})"):
        raise UsageError("Cancelled; nothing was changed.", hint=None)


def confirm_many(ctx: typer.Context, count: int, verb: str, yes: bool) -> None:
    """Ask before touching more than one account."""
    if count > 1:
        confirm(
            ctx,
            f"{verb.capitalize()} {count:,} accounts?",
            f"Refusing to {verb} {count:,} accounts without confirmation.",
            yes,
        )


def targets(
    ctx: typer.Context,
    args: list[str],
    *,
    rate: float,
    concurrency: int,
    verb: str,
    yes: bool,
    dry_run: bool = False,
) -> list[str]:
    """Check the pacing options, read the targets, and confirm (unless previewing)."""
    from instantly_cli.targets import read_targets

    bulk.check_rate(rate, concurrency)
    emails = read_targets(args)
    if not dry_run:
        confirm_many(ctx, len(emails), verb, yes)
    return emails


def _where_data(ctx: typer.Context) -> dict[str, Any]:
    from instantly_cli.settings import resolve

    s = resolve(context.runtime(ctx).options)  # (context.settings would warn a second time)
    return {
        "profile": s.profile,
        "workspace": s.workspace,
        "base_url": s.base_url,
        "sandbox": s.sandbox,
    }


def _global_args(ctx: typer.Context) -> list[str]:
    """The global options typed before the noun (env ones are still set for the next command)."""
    root: Any = ctx.find_root()
    return given_options(root, skip=("verbose", "version"))


def _where_args(where: Mapping[str, Any]) -> list[str]:
    """Global options that point a command where a journal says its run acted."""
    if where.get("sandbox"):
        return ["--sandbox"]
    args = ["--profile", str(where.get("profile"))]
    if where.get("workspace"):
        args += ["--workspace", str(where["workspace"])]
    return args + ["--base-url", str(where.get("base_url"))]


def given_options(ctx: typer.Context, *, skip: Sequence[str] = ()) -> list[str]:
    """The command's options exactly as typed (not defaults, not env), as argv tokens."""
    tokens: list[str] = []
    for param in ctx.command.params:
        name = param.name or ""
        if name in skip or not getattr(param, "opts", None) or param.param_type_name != "option":
            continue
        source = ctx.get_parameter_source(name)
        if source is None or source.name != "COMMANDLINE":
            continue
        value = ctx.params.get(name)
        opts = list(param.opts)
        if getattr(param, "is_flag", False):
            secondary = list(getattr(param, "secondary_opts", []) or [])
            if value:
                tokens.append(opts[0])
            elif secondary:
                tokens.append(secondary[0])
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            tokens += [opts[0], str(item)]
    return tokens


def retry_command(
    ctx: typer.Context,
    command: str,
    *,
    positional: Sequence[str] = (),
    targets: Sequence[str] = ("-",),
    skip: Sequence[str] = (),
) -> list[str]:
    """argv (after ``instantly``) that reruns this command on the failure file fed on stdin:
    the global and command options as typed, ``positional`` (e.g. tag labels), then ``targets``
    (``-``), then ``--yes``. Pass it to :func:`finish` as ``retry``."""
    given = given_options(ctx, skip=("yes", "failures", *skip))
    return [*_global_args(ctx), *command.split(), *positional, *targets, *given, "--yes"]


def command_text(words: Sequence[str]) -> str:
    return "instantly " + " ".join(shlex.quote(w) for w in words)


@dataclass
class Session:
    """One bulk run as the terminal sees it: targets, its journal and how to run it again."""

    command: str
    emails: list[str]
    params: dict[str, Any]
    where: dict[str, Any] = field(default_factory=dict)
    globals: list[str] = field(default_factory=list)
    journal: Journal | None = None
    # argv (after ``instantly``) that retries the failure file's targets: ``… - OPTIONS``.
    retry: list[str] | None = None
    resumed: bool = False
    shield: Shield = field(default_factory=Shield)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        # Whatever happened (an error between the run and its report), give Ctrl-C back.
        self.shield.release()
        if self.journal is not None:
            self.journal.close()

    def resume_words(self) -> list[str] | None:
        if self.journal is None:
            return None
        return [*self.globals, *self.command.split(), "--resume", self.journal.run_id, "--yes"]


def begin(
    ctx: typer.Context,
    args: list[str] | None,
    *,
    command: str,
    verb: str,
    params: dict[str, Any] | None,
    rate: float,
    concurrency: int,
    yes: bool,
    dry_run: bool = False,
    resume: bool = False,
) -> Session:
    """Read (or, with ``--resume [RUN_ID]``, reload) the targets, confirm, open the journal.

    With ``resume`` the only argument (if any) is the run id, the options come from the journal
    (``params``) and only the targets without a final result run again; otherwise ``params``
    are recorded for a later ``--resume``.
    """
    from instantly_cli.services import journal
    from instantly_cli.settings import state_dir
    from instantly_cli.targets import read_targets

    where = _where_data(ctx)
    globals_ = _global_args(ctx)
    if resume:
        if len(args or []) > 1 or "-" in (args or []):
            raise UsageError(
                "--resume takes at most one argument, the run id: it continues the run's own "
                "targets.",
                hint=f"Run `instantly {command} --resume [RUN_ID] --yes`.",
            )
        state = journal.load(state_dir(), args[0] if args else None, command)
        if any(state.where.get(k) != where.get(k) for k in ("profile", "workspace", "base_url",
                                                             "sandbox")):
            raise UsageError(
                f"Run {state.run_id} acted on {state.where.get('base_url')} "
                f"(profile '{state.where.get('profile')}', workspace "
                f"'{state.where.get('workspace') or '-'}'), not on this one.",
                hint="Resume it with: " + command_text(
                    [*_where_args(state.where), *command.split(), "--resume", state.run_id]
                ),
            )
        emails = state.remaining()
        bulk.check_rate(float(state.params.get("rate", rate)), int(
            state.params.get("concurrency", concurrency)))
        output.info(
            f"Resuming run {state.run_id}: {len(emails):,} of {len(state.targets):,} "
            "target(s) left."
        )
        session = Session(command, emails, dict(state.params), where, globals_, resumed=True)
        if not emails:
            # Every target got its result before the process died: only the tidying is left.
            jobs = state.job_ids()
            if jobs:
                output.info("Every target was submitted; wait for the jobs with: "
                            + command_text([*globals_, "jobs", "wait", *jobs]))
            state.path.unlink(missing_ok=True)
            return session
        confirm_many(ctx, len(emails), verb, yes)
        session.journal = journal.Journal.reopen(state)
        return session
    bulk.check_rate(rate, concurrency)
    emails = read_targets(args or [])
    if not dry_run:
        confirm_many(ctx, len(emails), verb, yes)
    session = Session(command, emails, dict(params or {}), where, globals_)
    retry = retry_command(ctx, command)
    if "@-" not in retry:  # a body read from stdin cannot share it with the targets
        session.retry = retry
    if not dry_run:
        try:
            session.journal = journal.Journal.start(
                state_dir(), command=command, params=session.params, where=where, targets=emails
            )
        except CliError as err:
            output.warn(f"{err.message} The run goes on; it cannot be resumed after a crash.")
    return session


def pace(client: InstantlyClient) -> bulk.Pace | None:
    """The client's limiter statistics for :func:`run` (``None`` for an unpaced client)."""
    return client.limiter.thread_stats if client.limiter is not None else None


def run(
    units: Sequence[list[str]],
    work: Callable[[list[str]], list[Outcome]],
    *,
    concurrency: int,
    label: str,
    session: Session | None = None,
    rate: float | None = None,
    pace: bulk.Pace | None = None,
) -> RunResult:
    """The service's runner with a progress bar on stderr and the Ctrl-C notice.

    With a ``session`` each outcome goes to its journal as it lands, and Ctrl-C is shielded
    from here until :func:`finish` has written the failure file and the summary. Pass ``rate``
    (and ``pace=client.limiter.thread_stats``) to size the workers from the observed latency,
    ``concurrency`` being the upper bound.
    """
    total = sum(len(u) for u in units)
    # Without a session (callers of the older signature) the run still gets a shield; finish()
    # gives Ctrl-C back through the result.
    shield = (session.shield if session is not None else Shield()).install()
    journal = session.journal if session is not None else None

    def interrupted(pending: int) -> None:
        output.warn(
            f"Interrupted: waiting for {pending} in-flight request(s) to finish; "
            "press Ctrl-C again to stop waiting."
        )

    with output.progress(total, label) as advance:
        return bulk.run(
            units,
            work,
            concurrency=concurrency,
            advance=advance,
            on_interrupt=interrupted,
            on_done=journal.record if journal is not None else None,
            shield=shield,
            rate=rate,
            pace=pace,
        )


def wait_jobs(
    ctx: typer.Context,
    client: InstantlyClient,
    job_ids: Sequence[str],
    *,
    timeout: float,
    label: str,
    session: Session | None = None,
) -> JobWait:
    """Wait for background jobs with a progress bar of finished jobs (the service polls).

    Under a session's shield the first Ctrl-C stops the waiting and later ones are ignored
    until the results are written."""
    import contextlib

    from instantly_cli.enums import JOB_DONE
    from instantly_cli.services.jobs import wait_for_jobs

    rt = context.runtime(ctx)
    finished: set[str] = set()
    with output.progress(len(job_ids), label) as advance:

        def seen(job_id: str, job: BackgroundJob) -> None:
            if str(job.get("status")) in JOB_DONE and job_id not in finished:
                finished.add(job_id)
                advance(1, 0 if job.get("status") == "success" else 1)

        guard = session.shield.raising() if session is not None else contextlib.nullcontext()
        with guard:
            return wait_for_jobs(
                client,
                job_ids,
                timeout=timeout,
                interval=rt.poll_interval,
                clock=rt.clock,
                sleep=rt.sleep,
                on_update=seen,
            )


def finish(
    result: RunResult,
    *,
    fmt: str,
    order: Sequence[str],
    failures: Path | None,
    command: str,
    emit: bool = True,
    session: Session | None = None,
    retry: Sequence[str] | None = None,
    show: Callable[[], None] | None = None,
) -> int:
    """Write the failure file and the summary first (they must survive a broken stdout), then
    the per-target results (or what ``show`` prints instead: a preview, job ids); return the
    exit code. A stdout that fails (a full disk, a closed pipe) never loses the accounting:
    a closed pipe keeps the code, any other write error makes it at least 1.

    ``retry`` (or the session's) is the argv after ``instantly`` that retries the failure file
    fed on stdin; the hint prints it exactly. Ctrl-C stays shielded until everything is written.
    """
    try:
        return _finish(result, fmt=fmt, order=order, failures=failures, command=command,
                       emit=emit, session=session, retry=retry, show=show)
    finally:
        result.release()
        if session is not None:
            session.shield.release()


def _finish(
    result: RunResult,
    *,
    fmt: str,
    order: Sequence[str],
    failures: Path | None,
    command: str,
    emit: bool,
    session: Session | None,
    retry: Sequence[str] | None,
    show: Callable[[], None] | None,
) -> int:
    from instantly_cli.services.journal import failures_dir
    from instantly_cli.settings import state_dir

    outcomes = result.outcomes
    code = result.exit_code()
    lost: CliError | None = None
    try:
        path = bulk.write_failures(outcomes, failures, folder=failures_dir(state_dir()))
    except CliError as err:
        # An unwritable state folder (a read-only home) must not cost the results: fall back
        # to the working folder, and failing that, say so and still print everything.
        path, lost = None, err
        if failures is None:
            try:
                path, lost = bulk.write_failures(outcomes, None, folder=Path(".")), None
            except CliError:
                pass
    if lost is not None:
        output.warn(f"{lost.message} The failed targets are only in the output below.")
        code = max(code, EXIT_FAILED)
    kept = False
    if session is not None and session.journal is not None:
        kept = session.journal.finish(outcomes, code)
        if not session.journal.ok:
            output.warn(f"Could not write the run journal {session.journal.path} to the end.")
    output.info(result.summary(order))
    for o in outcomes:
        for warning in o.warnings:
            output.warn(f"{o.email}: {warning}")
    bad = result.failed
    for o in bad[:10]:
        output.info(f"  failed {o.email}: {o.error}")
    if len(bad) > 10:
        output.info(f"  … and {len(bad) - 10:,} more")
    if path is not None:
        output.info(f"Failed and not-attempted targets written to {path}.")
        resume_words = session.resume_words() if session is not None and kept else None
        retry_words = list(retry) if retry is not None else (
            session.retry if session is not None else None
        )
        if resume_words:
            output.info(f"Retry exactly those with: {command_text(resume_words)}")
        if retry_words:
            lead = "  or" if resume_words else "Retry exactly those with"
            output.info(f"{lead}: {command_text(retry_words)} < {shlex.quote(str(path))}")
        if not resume_words and not retry_words:
            output.info(
                f"Retry exactly those with: instantly {command} - <same options> --yes < {path}"
            )
    if show is None and emit and fmt in ("json", "jsonl", "tsv", "csv"):
        def show() -> None:
            output.emit_outcomes([o.to_json() for o in outcomes], fmt)
    if show is not None:
        try:
            show()
        except BrokenPipeError:
            # The reader left (`| head`): the accounting above stands, and so does the code.
            output.silence_broken_pipe()
        except OSError as exc:
            output.warn(f"Could not write the results to stdout: {exc.strerror or exc}.")
            return max(code, EXIT_FAILED)
    return code
