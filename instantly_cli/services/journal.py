"""The journal of a bulk run: what was asked, and each target's outcome as it lands.

One JSON-lines file per run in ``<state folder>/runs/<RUN_ID>.jsonl``, append-only and flushed
after every outcome, so that whatever kills the process (Ctrl-C, a closed terminal, ``kill -9``,
a crash) the next ``--resume`` knows exactly which targets are left. Lines:

- ``{"kind": "start", "version": 2, "run_id", "command", "argv", "globals", "change", "keys",
  "params", "where", "targets", "yes", "pid", "started"}`` — ``argv`` is the command line as
  typed (``globals`` its global options, which its ``--resume`` needs again),
  ``change`` what the run does in words, ``keys`` the fields (or states) it changes, ``params``
  the options (never a secret: the API key and passwords are no options), ``where`` the profile /
  workspace / base URL / sandbox it acted on;
- ``{"kind": "outcome", "email", "result", "error", "code", "status", "retry", "job_id"?}`` — one
  per finished target (the last line of an email wins);
- ``{"kind": "resume", "pid", "at"}`` when a later process continues the run;
- ``{"kind": "end", "exit_code", "at"}`` when a process finished its pass.

Journals are kept, finished or not (a finished run is what tells a later ``--resume`` that its
change was replaced), and pruned after :data:`KEEP_DAYS`.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from instantly_cli.enums import APPLIED, FAILED, JOB_DONE, NOT_FINAL, SKIPPED
from instantly_cli.errors import CliError, UsageError, redact
from instantly_cli.services.bulk import Outcome

VERSION = 2
KEEP_DAYS = 30
WHERE_KEYS = ("profile", "workspace", "base_url", "sandbox")


def runs_dir(state: Path) -> Path:
    return state / "runs"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def retryable(o: Outcome) -> bool:
    """Whether trying a failed target again can succeed: not when the API refused it for good
    (it does not exist, the request is invalid for it), yes for an outage, a timeout, auth."""
    if o.result == SKIPPED:
        return True
    if o.code == "not_found":
        return False
    return o.status is None or o.status >= 500 or o.status in (401, 402, 403, 408, 429)


def resume_words(globals_: Sequence[str], command: str, run_id: str, *, yes: bool,
                 sandbox: bool) -> list[str]:
    """The words of the command that finishes a run: its global options (the sandbox even when
    the environment chose it, which a later shell may not), the command, ``--resume RUN``."""
    place = [*globals_] if "--sandbox" in globals_ or not sandbox else ["--sandbox", *globals_]
    return [*place, *command.split(), "--resume", run_id, *(["--yes"] if yes else [])]


@dataclass
class RunState:
    """A journal read back: the run's request and the last result of each target."""

    run_id: str
    path: Path
    command: str
    argv: list[str]
    change: str
    keys: list[str]
    params: dict[str, Any]
    where: dict[str, Any]
    targets: list[str]
    yes: bool
    started: str
    globals: list[str] = field(default_factory=list)
    results: dict[str, str] = field(default_factory=dict)
    # Failed targets worth another try (the rest failed for good).
    retry: set[str] = field(default_factory=set)
    # Background jobs of targets last seen waiting for one (warmup: submitted, or the wait
    # stopped or timed out before the job ended).
    jobs: dict[str, str] = field(default_factory=dict)

    def remaining(self) -> list[str]:
        """Targets a resume acts on: never reached, in flight at death, failed but retryable,
        or submitted (their jobs are waited for)."""
        out = []
        for e in self.targets:
            result = self.results.get(e.lower())
            if result is None or (result in NOT_FINAL
                                  and (result != FAILED or e.lower() in self.retry)):
                out.append(e)
        return out

    def resume_words(self) -> list[str]:
        return resume_words(self.globals, self.command, self.run_id, yes=self.yes,
                            sandbox=bool(self.where.get("sandbox")))

    def job_of(self, email: str) -> str | None:
        """The job a resume waits for instead of submitting the target again."""
        return self.jobs.get(email.lower())

    def counts(self) -> Counter[str]:
        return Counter(self.results.get(e.lower(), "left") for e in self.targets)

    @property
    def state(self) -> str:
        if self.running():
            return "running"
        return "unfinished" if self.remaining() else "finished"

    def running(self) -> bool:
        try:
            with open(self.path, "a", encoding="utf-8") as fh:
                if _lock_file(fh, wait=False):
                    return False
        except OSError:
            return False
        return True

    def describe(self) -> str:
        return f"{self.run_id} ({self.command}, started {self.started[:19]}, " + (
            f"{len(self.remaining()):,} of {len(self.targets):,} left)"
        )


def _read(path: Path) -> RunState | None:
    """Parse one journal; None when it is not one (a torn first line, a foreign file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    state: RunState | None = None
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue  # a line torn by the death of the writer: that outcome is not recorded
        if not isinstance(item, dict):
            continue
        kind = item.get("kind")
        if kind == "start" and state is None and item.get("version") == VERSION:
            state = RunState(
                run_id=str(item.get("run_id", path.stem)),
                path=path,
                command=str(item.get("command", "")),
                argv=[str(a) for a in item.get("argv") or []],
                change=str(item.get("change", "")),
                keys=[str(k) for k in item.get("keys") or []],
                params=dict(item.get("params") or {}),
                where=dict(item.get("where") or {}),
                targets=[str(t) for t in item.get("targets") or []],
                yes=bool(item.get("yes")),
                started=str(item.get("started", "")),
                globals=[str(a) for a in item.get("globals") or []],
            )
        elif kind == "outcome" and state is not None:
            email = str(item.get("email", "")).lower()
            state.results[email] = str(item.get("result", ""))
            state.retry.discard(email)
            state.jobs.pop(email, None)
            if item.get("retry"):
                state.retry.add(email)
            if item.get("job_id") and item.get("wait"):
                state.jobs[email] = str(item["job_id"])
    return state


def runs(state: Path, command: str | None = None) -> list[RunState]:
    """Every journal (newest first), of one command when given."""
    folder = runs_dir(state)
    found = []
    for path in folder.glob("*.jsonl") if folder.is_dir() else []:
        run = _read(path)
        if run is not None and (command is None or run.command == command):
            found.append(run)
    return sorted(found, key=lambda r: (r.started, r.run_id), reverse=True)


def find(state: Path, run_id: str) -> RunState:
    """One journal by id; exit 2 listing the runs when there is none."""
    path = runs_dir(state) / f"{run_id}.jsonl"
    run = _read(path) if "/" not in run_id and path.is_file() else None
    if run is None:
        listed = ", ".join(r.run_id for r in runs(state)[:5]) or "none"
        raise UsageError(f"No run '{run_id}'.", hint=f"Recent runs: {listed} (`instantly runs "
                         "list`).")
    return run


def load(state: Path, run_id: str | None, command: str,
         where: Mapping[str, Any] | None = None) -> RunState:
    """The run to resume: ``run_id``, or the newest unfinished run of ``command``, preferring
    one that acted on ``where`` (the caller refuses a run of another place, naming it)."""
    if run_id is None:
        candidates = [r for r in runs(state, command) if r.remaining()]
        if not candidates:
            raise UsageError(
                f"No unfinished run of `instantly {command}` to resume.",
                hint="`instantly runs list` shows the runs and what each has left.",
            )
        here = [r for r in candidates if where is not None
                and all(r.where.get(k) == where.get(k) for k in WHERE_KEYS)]
        return (here or candidates)[0]
    run = find(state, run_id)
    if run.command != command:
        raise UsageError(
            f"Run {run_id} is a run of `instantly {run.command}`, not of `instantly {command}`.",
            hint="Resume it with: instantly " + " ".join(shlex.quote(w)
                                                         for w in run.resume_words()),
        )
    if not run.remaining():
        raise UsageError(f"Run {run_id} has finished: every target has its result.",
                         hint=f"`instantly runs show {run_id}` shows them.")
    return run


def conflicts(state: Path, run: RunState, emails: Sequence[str]) -> list[tuple[RunState,
                                                                               list[str]]]:
    """Newer runs (started after ``run``, on the same place) that changed one of ``run``'s
    keys on one of ``emails``: resuming ``run`` would put back a change they replaced."""
    wanted = {e.lower() for e in emails}
    out = []
    for other in runs(state):
        if (other.started, other.run_id) <= (run.started, run.run_id):
            continue
        if not set(other.keys) & set(run.keys):
            continue
        if other.command == run.command and other.params.get("what") == run.params.get("what"):
            continue  # the same change again: applying it once more puts nothing back
        if any(other.where.get(k) != run.where.get(k) for k in WHERE_KEYS):
            continue
        hit = [e for e in other.targets
               if e.lower() in wanted and other.results.get(e.lower()) in APPLIED]
        if hit:
            out.append((other, hit))
    return out


def unfinished_twin(state: Path, command: str, params: Mapping[str, Any],
                    where: Mapping[str, Any], targets: Sequence[str]) -> RunState | None:
    """An unfinished run of exactly this command (same change, targets and place)."""
    keys = {t.lower() for t in targets}
    for run in runs(state, command):
        if (run.params.get("what") == params.get("what") and {t.lower() for t in run.targets}
                == keys and all(run.where.get(k) == where.get(k) for k in WHERE_KEYS)
                and run.remaining()):
            return run
    return None


def prune(state: Path, *, days: int = KEEP_DAYS, now: float | None = None) -> None:
    """Delete journals (and failure files of older versions) older than ``days``."""
    cutoff = (time.time() if now is None else now) - days * 86400
    for folder in (runs_dir(state), state / "failures"):
        for path in folder.glob("*.jsonl") if folder.is_dir() else []:
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass


def forget(run: RunState) -> None:
    if run.running():
        raise UsageError(f"Run {run.run_id} is running right now.", hint="Let it finish first.")
    run.path.unlink(missing_ok=True)


class Journal:
    """An open journal, appended to by the run's worker threads."""

    def __init__(self, path: Path, run_id: str, fh: IO[str]):
        self.path = path
        self.run_id = run_id
        self._fh = fh
        self._lock = threading.Lock()
        self._broken = False

    @classmethod
    def start(cls, state: Path, start: Mapping[str, Any]) -> Journal:
        """A new journal whose first line is ``start`` (plus id, version, pid and time)."""
        folder = runs_dir(state)
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            prune(state)
            for _ in range(100):
                run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
                path = folder / f"{run_id}.jsonl"
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    break
                except FileExistsError:
                    continue
            else:  # pragma: no cover - 100 collisions of 16 random bits in one second
                raise OSError("no free run id")
        except OSError as exc:
            raise CliError(f"Cannot write the run journal in {folder}: {exc}.") from None
        fh = os.fdopen(fd, "w", encoding="utf-8")
        journal = cls(path, run_id, fh)
        _lock_file(fh)
        journal._line({"kind": "start", "version": VERSION, "run_id": run_id, **start,
                       "pid": os.getpid(), "started": _now()})
        return journal

    @classmethod
    def reopen(cls, run: RunState) -> Journal:
        try:
            fh = open(run.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run
        except OSError as exc:
            raise CliError(f"Cannot open the run journal {run.path}: {exc.strerror}.") from None
        if not _lock_file(fh, wait=False):
            fh.close()
            raise UsageError(
                f"Run {run.run_id} is being continued by another process right now.",
                hint="Wait for it to finish; `instantly runs list` shows its state.",
            )
        journal = cls(run.path, run.run_id, fh)
        journal._line({"kind": "resume", "pid": os.getpid(), "at": _now()})
        return journal

    def _line(self, item: Mapping[str, Any]) -> None:
        if self._broken:
            return
        text = redact(json.dumps(item, ensure_ascii=False, default=str)) + "\n"
        with self._lock:
            try:
                self._fh.write(text)
                self._fh.flush()  # the OS has it: a killed process loses nothing written
            except (OSError, ValueError):
                self._broken = True  # a full disk must not stop the run; the report says so

    def record(self, outcomes: Iterable[Outcome]) -> None:
        for o in outcomes:
            line = {"kind": "outcome", "email": o.email, "result": o.result, "error": o.error,
                    "code": o.code, "status": o.status,
                    "retry": o.result in (FAILED, SKIPPED) and retryable(o)}
            if o.extra.get("job_id"):
                line["job_id"] = o.extra["job_id"]
                # A job not known to have ended: a resume waits for it.
                line["wait"] = str(o.extra.get("job_status")) not in JOB_DONE
            self._line(line)

    @property
    def ok(self) -> bool:
        return not self._broken

    def finish(self, exit_code: int) -> int:
        """Close the run's pass; the number of targets still left."""
        self._line({"kind": "end", "exit_code": exit_code, "at": _now()})
        run = _read(self.path)
        self.close()
        return len(run.remaining()) if run is not None else 0

    def close(self) -> None:
        with self._lock:
            try:
                self._fh.close()
            except OSError:
                pass


def _lock_file(fh: IO[str], *, wait: bool = True) -> bool:
    """An advisory lock for the life of the run, so two processes never continue one run."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        return True
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:
        return False
    return True
