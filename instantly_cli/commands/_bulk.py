"""The terminal side of the one bulk engine: every command that writes opens a :class:`Session`.

targets (or, with ``--resume [RUN]``, the run's targets left) → confirmation → journal → paced
run with a progress bar → outcomes → summary and the one retry line. The runner and the
accounting are in ``services.bulk``, the journal in ``services.journal``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from instantly_cli import context, output
from instantly_cli.commands._argv import command_text, given_options, global_args, typed
from instantly_cli.enums import FAILED, SKIPPED
from instantly_cli.errors import EXIT_FAILED, CliError, UsageError
from instantly_cli.interrupts import Shield
from instantly_cli.services import bulk
from instantly_cli.services.bulk import Outcome, RunResult

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.options_bundles import BulkOpts
    from instantly_cli.schema import BackgroundJob
    from instantly_cli.services.jobs import JobWait
    from instantly_cli.services.journal import Journal, RunState

# Options that change how a resumed run goes, not what it does: the rest are refused with it.
HOW = frozenset({"yes", "rate", "concurrency", "output_", "json_output", "resume", "force",
                 "failures", "fields", "password_stdin", "timeout", "no_wait", "max_wait"})



@dataclass
class Brief:
    """What a person reads before the question: lines (domains, status mix, impact), and
    whether the answer must be the number of accounts rather than y (hard to undo)."""

    lines: list[str] = field(default_factory=list)
    type_count: bool = False


@dataclass
class Plan:
    """What a new run does: ``what`` (its journaled parameters, compared to find a twin run),
    ``change`` in words, the fields or states it changes (``keys``, for the stale-change
    guard), and the confirmation question when the verb's default will not do. ``brief`` is
    made only when a person is asked (it may read the accounts first); a command adds its own
    lines to what it returns."""

    what: dict[str, Any]
    change: str
    keys: list[str]
    question: str | None = None
    brief: Callable[[], Brief] | None = None
    # A look before acting (the campaign impact, commands/_impact.py): called with the targets
    # before the dry run or the confirmation; it may refuse the run by raising, and may return
    # lines for the confirmation's brief (read only when a person is asked).
    look: Callable[[list[str]], Callable[[], list[str]] | None] | None = None


def where(ctx: typer.Context) -> str:
    """``profile 'x', workspace 'y'`` (or the sandbox): what a confirmation acts on."""
    s = context.settings(ctx)
    if s.sandbox:
        return "the sandbox"
    place = f"profile '{s.profile}'"
    return place + (f", workspace '{s.workspace}'" if s.workspace else ", the key's own workspace")


def confirm(ctx: typer.Context, question: str, refusal: str, yes: bool, *,
            brief: Callable[[], Brief] | None = None, count: int | None = None) -> None:
    """Ask where a person is: on stdin when it is the terminal, else on the controlling
    terminal (stdin carries the targets); refuse without --yes only when there is none.
    With a brief that says so, the answer must be ``count`` typed out."""
    from instantly_cli import asking

    if yes:
        return
    out = context.out(ctx)
    tty = (asking.Streams(out.stdin, out.stderr) if out.stdin_tty
           else (out.open_tty or asking.open_dev_tty)())
    if tty is None:
        # Only a command that has --dry-run may point at it (`tags delete` has none).
        previews = any("--dry-run" in getattr(p, "opts", ()) for p in ctx.command.params)
        raise UsageError(
            refusal,
            hint="Add --yes to confirm (there is no terminal to ask on)"
            + (", or --dry-run to preview." if previews else "."),
        )
    try:
        shown = brief() if brief is not None else Brief()
        head = f"{question} ({where(ctx)})"
        if shown.type_count and count is not None:
            answer = asking.ask(tty, shown.lines, f"{head} Type {count} to confirm:")
            ok = answer.replace(",", "") == str(count)
        else:
            ok = asking.ask(tty, shown.lines, f"{head} [y/N]").lower() in ("y", "yes")
    finally:
        tty.close()
    if not ok:
        raise UsageError("Cancelled; nothing was changed.", hint=None)


def _where_data(ctx: typer.Context) -> dict[str, Any]:
    s = context.settings(ctx)
    # The workspace's id, not its spelling: a run by name and one by id act on one place (the
    # stale-change guard and --resume compare it).
    workspace = context.workspace_id(ctx, s.workspace, s) if s.workspace else None
    return {"profile": s.profile, "workspace": workspace, "base_url": s.base_url,
            "sandbox": s.sandbox}


def ago(started: str) -> str:
    from datetime import UTC, datetime

    try:
        then = datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        return started
    s = int((datetime.now(UTC) - then).total_seconds())
    age = f"{s // 86400} d" if s >= 86400 else f"{s // 3600} h" if s >= 3600 else (
        f"{s // 60} min" if s >= 60 else f"{s} s")
    return f"{then:%Y-%m-%d %H:%M:%S} UTC, {age} ago"


@dataclass
class Session:
    """One bulk run as the terminal sees it."""

    ctx: typer.Context
    command: str
    emails: list[str]
    what: dict[str, Any]
    rate: float
    concurrency: int
    fmt: str
    yes: bool = False
    dry_run: bool = False
    failures: Path | None = None
    globals: list[str] = field(default_factory=list)
    journal: Journal | None = None
    resumed: RunState | None = None
    shield: Shield = field(default_factory=Shield)

    def __post_init__(self) -> None:
        # The run's rate is decided here (a resume takes the journal's); a client opened
        # earlier for a preview at the option's rate shares the process limiter, which takes it.
        context.limiter(self.ctx, self.rate).retarget(self.rate)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        # Whatever happened (an error between the run and its report), give Ctrl-C back.
        self.shield.release()
        if self.journal is not None:
            self.journal.close()

    def client(self, **kwargs: Any) -> Any:
        return context.client(self.ctx, rate=self.rate, **kwargs)

    def run(self, units: Sequence[list[str]], work: Callable[[list[str]], list[Outcome]], *,
            client: InstantlyClient, label: str, respell: bool = True) -> RunResult:
        """The engine's runner with a progress bar on stderr and the Ctrl-C notice; each
        outcome goes to the journal as it lands, and Ctrl-C is shielded until :meth:`finish`
        has written the summary. Workers are sized from the observed latency to reach the rate,
        ``concurrency`` being the upper bound."""
        from instantly_cli.services.accounts.get import spelling

        total = sum(len(u) for u in units)

        def interrupted(pending: int) -> None:
            output.warn(f"Interrupted: waiting for {pending} in-flight request(s) to finish; "
                        "press Ctrl-C again to stop waiting.")

        limiter = client.limiter
        with output.progress(total, label) as advance:
            return bulk.run(
                units, work, concurrency=self.concurrency, advance=advance,
                on_interrupt=interrupted, on_done=self.note, shield=self.shield.install(),
                rate=self.rate,
                pace=limiter.thread_stats if limiter is not None else None,
                resting=(lambda: limiter.resting) if limiter is not None else None,
                respell=(lambda e: spelling(client, e)) if respell else None,
            )

    def note(self, outcomes: Sequence[Outcome]) -> None:
        """Journal outcomes (the runner does it as they land; a later verdict again)."""
        if self.journal is not None:
            self.journal.record(outcomes)

    def wait_jobs(self, client: InstantlyClient, job_ids: Sequence[str], *, timeout: float,
                  label: str) -> JobWait:
        """Wait for background jobs with a progress bar of finished jobs (the service polls);
        the first Ctrl-C stops the waiting and later ones are ignored until the report."""
        from instantly_cli.enums import JOB_DONE
        from instantly_cli.services.jobs import wait_for_jobs

        rt = context.runtime(self.ctx)
        finished: set[str] = set()
        with output.progress(len(job_ids), label) as advance:

            def seen(job_id: str, job: BackgroundJob) -> None:
                if str(job.get("status")) in JOB_DONE and job_id not in finished:
                    finished.add(job_id)
                    advance(1, 0 if job.get("status") == "success" else 1)

            with self.shield.install().raising():
                return wait_for_jobs(client, job_ids, timeout=timeout, interval=rt.poll_interval,
                                     clock=rt.clock, sleep=rt.sleep, on_update=seen)

    def _record_elsewhere(self, outcomes: Sequence[Outcome]) -> None:
        """Where the record of a run whose journal broke is: the --failures file, else a file
        in the temporary folder (often another file system than the full state folder), else
        the per-target results printed."""
        import tempfile

        left = sum(1 for o in outcomes if o.result in (FAILED, SKIPPED))
        if not left:
            output.info("Every target has its result above; nothing is left to finish.")
            return
        again = f"run them again by feeding the file to `instantly {self.command} -`"
        if self.failures is not None and self.failures.exists():
            output.info(f"{left:,} target(s) failed or were not attempted; {self.failures} "
                        f"lists them: {again}.")
            return
        assert self.journal is not None
        path = Path(tempfile.gettempdir()) / f"instantly-{self.journal.run_id}-left.jsonl"
        try:
            bulk.write_failures(outcomes, path)
        except CliError:
            output.info(f"{left:,} target(s) failed or were not attempted, and no file could "
                        "hold them: the per-target results (-o jsonl) are this run's record.")
            return
        output.info(f"{left:,} target(s) failed or were not attempted; {path} lists them: "
                    f"{again}.")

    def resume_words(self) -> list[str]:
        from instantly_cli.services.journal import resume_words

        assert self.journal is not None
        yes = self.yes or (self.resumed is not None and self.resumed.yes)
        return resume_words(self.globals, self.command, self.journal.run_id, yes=yes,
                            sandbox=context.settings(self.ctx).sandbox)

    def finish(self, result: RunResult, *, order: Sequence[str],
               show: Callable[[], None] | None = None) -> int:
        """The summary and the retry line first (they must survive a broken stdout), then the
        per-target results (or what ``show`` prints instead); the exit code. A stdout that
        fails never loses the accounting: a closed pipe keeps the code, any other write error
        makes it at least 1."""
        try:
            return self._finish(result, order, show)
        finally:
            result.release()
            self.shield.release()

    def _finish(self, result: RunResult, order: Sequence[str], show: Callable[[], None] | None
                ) -> int:
        outcomes = result.outcomes
        code = result.exit_code()
        if self.failures is not None:
            try:
                if bulk.write_failures(outcomes, self.failures):
                    output.info(f"Failed and not-attempted targets written to {self.failures}.")
            except CliError as err:
                output.warn(err.message)
                code = max(code, EXIT_FAILED)
        left = 0
        complete = True
        if self.journal is not None:
            left = self.journal.finish(code)
            if not self.journal.ok:
                # A resume from an incomplete journal would redo or skip targets blindly: the
                # record goes elsewhere and no --resume is offered (below).
                complete = False
                output.warn(f"Could not write the run journal {self.journal.path} to the end "
                            "(is the state folder full?); this run cannot be resumed.")
                code = max(code, EXIT_FAILED)
        if self.emails or outcomes:
            output.info(result.summary(order))
        for o in outcomes:
            for warning in o.warnings:
                output.warn(f"{o.email}: {warning}")
        bad = result.failed
        for o in bad[:10]:
            output.info(f"  failed {o.email}: {o.error}")
        if len(bad) > 10:
            output.info(f"  … and {len(bad) - 10:,} more")
        if self.journal is not None and not complete:
            self._record_elsewhere(outcomes)
        elif self.journal is not None and left:
            output.info(f"{left:,} target(s) left; finish exactly those with: "
                        + command_text(self.resume_words()))
        elif self.journal is not None and bad:
            output.info(f"The failures are final (retrying cannot help); `instantly runs show "
                        f"{self.journal.run_id}` lists them.")
        if show is None and self.fmt in ("json", "jsonl", "tsv", "csv"):
            def show() -> None:
                output.emit_outcomes([o.to_json() for o in outcomes], self.fmt)
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


def open_session(
    ctx: typer.Context,
    command: str,
    args: Sequence[str] | None,
    plan: Callable[[list[str]], Plan],
    *,
    verb: str,
    fmt: str,
    opts: BulkOpts,
    read: Callable[[list[str]], list[str]] | None = None,
    brief: Callable[[list[str]], Brief] | None = None,
) -> Session:
    """Open a run: read the targets (``read``, default: emails and ``-``), make the ``plan``,
    confirm, start the journal; or with ``resume`` reload the run's targets left, after the
    stale-change guard (confirmed with ``brief`` of them, as the plan's would be). Zero
    targets from a pipe or a file is nothing to do, not an error."""
    from instantly_cli.services import journal
    from instantly_cli.settings import state_dir
    from instantly_cli.targets import read_targets

    here = _where_data(ctx)
    globals_ = global_args(ctx)
    rate, concurrency, yes, dry_run = opts.rate, opts.concurrency, opts.yes, opts.dry_run
    failures = opts.failures
    if opts.resume:
        return _resume(ctx, command, list(args or []), verb=verb, fmt=fmt, rate=rate,
                       concurrency=concurrency, yes=yes, force=opts.force, failures=failures,
                       here=here, globals_=globals_, brief=brief)
    bulk.check_rate(rate, concurrency)
    emails = (read or read_targets)(list(args or []))
    if not emails:
        if "-" in (args or []) and output.stdin_is_tty():
            raise UsageError("No targets on stdin.", hint="Pipe emails (one per line) or "
                             "`instantly accounts list -o jsonl`.")
        output.info("Nothing to do: no targets.")
        return Session(ctx, command, [], {}, rate, concurrency, fmt, yes, dry_run, failures,
                       globals_)
    if "-" in (args or []):
        # A pipe that was cut upstream (a first page only) must show before anything is done.
        output.info(f"Read {len(emails):,} target" + ("" if len(emails) == 1 else "s")
                    + (" from stdin." if list(args or []) == ["-"] else " (stdin and arguments)."))
    p = plan(emails)
    more = p.look(emails) if p.look is not None else None
    session = Session(ctx, command, emails, p.what, rate, concurrency, fmt, yes, dry_run,
                      failures, globals_)
    if dry_run:
        return session
    twin = journal.unfinished_twin(state_dir(), command, {"what": p.what}, here, emails)
    if twin is not None:
        output.warn(f"Run {twin.describe()} did exactly this and stopped; "
                    "to finish only its targets left, run: " + command_text(twin.resume_words()))
    n = f"{len(emails):,} account" + ("" if len(emails) == 1 else "s")
    if len(emails) > 1 or p.question:
        confirm(ctx, p.question or f"{verb.capitalize()} {n}?",
                f"Refusing to {verb} {n} without confirmation.", yes,
                brief=_joined(more, p.brief), count=len(emails))
    argv = [*globals_, *command.split(), *(args or []), *given_options(ctx)]
    start = {"command": command, "argv": argv, "globals": globals_, "change": p.change,
             "keys": p.keys,
             "params": {"what": p.what, "rate": rate, "concurrency": concurrency, "fmt": fmt},
             "where": here, "targets": emails, "yes": yes}
    try:
        session.journal = journal.Journal.start(state_dir(), start)
    except Exception as err:  # noqa: BLE001 - an unwritable state folder must not stop the run
        output.warn(f"{getattr(err, 'message', err)} The run goes on; it cannot be resumed.")
    return session


def _joined(first: Callable[[], list[str]] | None,
            brief: Callable[[], Brief] | None) -> Callable[[], Brief] | None:
    if first is None:
        return brief

    def both() -> Brief:
        shown = brief() if brief is not None else Brief()
        return Brief([*first(), *shown.lines], shown.type_count)

    return both


def _resume(ctx: typer.Context, command: str, args: list[str], *, verb: str, fmt: str,
            rate: float, concurrency: int, yes: bool, force: bool, failures: Path | None,
            here: Mapping[str, Any], globals_: list[str],
            brief: Callable[[list[str]], Brief] | None = None) -> Session:
    from instantly_cli.services import journal
    from instantly_cli.settings import state_dir

    if len(args) > 1 or "-" in args:
        raise UsageError("--resume takes at most one argument, the run id: it continues the "
                         "run's own targets.",
                         hint=f"Run `instantly {command} --resume [RUN_ID] --yes`.")
    what = [o for o in given_options(ctx, skip=tuple(HOW)) if o.startswith("-")]
    if what:
        raise UsageError(f"--resume continues a run with its own change; {what[0]} cannot be "
                         "given with it.",
                         hint="Give only --rate, --concurrency, --max-wait, -o or --yes with "
                         "--resume; "
                         "start a new run for a different change.")
    state = journal.load(state_dir(), args[0] if args else None, command, here)
    if any(state.where.get(k) != here.get(k) for k in journal.WHERE_KEYS):
        place = "the sandbox" if state.where.get("sandbox") else state.where.get("base_url")
        raise UsageError(
            f"Run {state.run_id} acted on {place} (profile '{state.where.get('profile')}', "
            f"workspace '{state.where.get('workspace') or '-'}'), not on this one.",
            hint="Resume it with the same --profile/--workspace/--base-url (or --sandbox): "
            + command_text(state.resume_words()))
    emails = state.remaining()
    p = state.params
    rate = rate if typed(ctx, "rate") else float(p.get("rate", rate))
    concurrency = concurrency if typed(ctx, "concurrency") else int(p.get("concurrency",
                                                                          concurrency))
    if not (typed(ctx, "output_") or typed(ctx, "json_output")):
        fmt = str(p.get("fmt", fmt))
        context.runtime(ctx).fmt = fmt
    bulk.check_rate(rate, concurrency)
    output.info(f"Resuming run {state.run_id}, started {ago(state.started)}:\n"
                f"  command: {command_text(state.argv)}\n"
                f"  change:  {state.change}\n"
                f"  targets left: {len(emails):,} of {len(state.targets):,}\n"
                f"  rate:    {rate:g} requests/s, at most {concurrency} at once")
    stale = journal.conflicts(state_dir(), state, emails)
    if stale and not force:
        newer, hit = stale[0]
        shown = ", ".join(hit[:5]) + (f" and {len(hit) - 5:,} more" if len(hit) > 5 else "")
        raise UsageError(
            f"Run {newer.run_id} ({command_text(newer.argv)}, started {newer.started[:19]}) "
            f"changed {', '.join(sorted(set(newer.keys) & set(state.keys)))} of "
            f"{len(hit):,} of these accounts since: {shown}. Resuming would put back the "
            "change it replaced.",
            hint=f"Leave it (`instantly runs forget {state.run_id}`), or add --force to apply "
            f"run {state.run_id}'s change over it.")
    n = f"{len(emails):,} account" + ("" if len(emails) == 1 else "s")
    if len(emails) > 1:
        confirm(ctx, f"{verb.capitalize()} {n}?", f"Refusing to {verb} {n} without "
                "confirmation.", yes, brief=(lambda: brief(emails)) if brief else None,
                count=len(emails))
    session = Session(ctx, command, emails, dict(p.get("what") or {}), rate, concurrency, fmt,
                      yes, False, failures, globals_, resumed=state)
    session.journal = journal.Journal.reopen(state)
    return session
