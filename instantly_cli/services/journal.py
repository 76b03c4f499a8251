"""The progress journal of a bulk run: what was asked, and each target's outcome as it lands.

One JSON-lines file per run in ``<state folder>/runs/<RUN_ID>.jsonl``, append-only and flushed
after every outcome, so that whatever kills the process (Ctrl-C, a closed terminal, ``kill -9``,
a crash) the next ``--resume`` knows exactly which targets are left. Lines:

- ``{"kind": "start", "version": 1, "run_id", "command", "params", "where", "targets", "pid",
  "started"}`` — ``params`` are the command's options (never a secret: the API key is not an
  option), ``where`` the profile / workspace / base URL / sandbox it acted on;
- ``{"kind": "outcome", "email", "result", "error", "code"}`` — one per finished target (the last
  line of an email wins);
- ``{"kind": "resume", "pid", "at"}`` when a later process continues the run;
- ``{"kind": "end", "exit_code", "at"}`` when a process finished its pass.

A run whose every target has a final result deletes its journal; unfinished ones are kept until
resumed to the end, and any journal or failure file older than :data:`KEEP_DAYS` is pruned when
the next bulk run starts.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from instantly_cli.enums import NOT_FINAL
from instantly_cli.errors import CliError, UsageError, redact
from instantly_cli.services.bulk import Outcome

VERSION = 1
KEEP_DAYS = 30


def runs_dir(state: Path) -> Path:
    return state / "runs"


def failures_dir(state: Path) -> Path:
    return state / "failures"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class RunState:
    """A journal read back: the run's request and the last result of each target."""

    run_id: str
    path: Path
    command: str
    params: dict[str, Any]
    where: dict[str, Any]
    targets: list[str]
    started: str
    results: dict[str, str] = field(default_factory=dict)
    # Background jobs of targets last seen submitted (warmup), oldest first.
    jobs: dict[str, str] = field(default_factory=dict)

    def remaining(self) -> list[str]:
        """Targets without a final result (never reached, in flight at death, failed, skipped)."""
        return [e for e in self.targets if self.results.get(e.lower(), "") in NOT_FINAL | {""}]

    def job_ids(self) -> list[str]:
        """Jobs of targets whose last outcome is ``submitted`` (still to be waited for)."""
        from instantly_cli.enums import SUBMITTED

        return list(dict.fromkeys(
            j for e, j in self.jobs.items() if self.results.get(e) == SUBMITTED
        ))

    def describe(self) -> str:
        return f"{self.run_id} ({self.command}, started {self.started}, " + (
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
                params=dict(item.get("params") or {}),
                where=dict(item.get("where") or {}),
                targets=[str(t) for t in item.get("targets") or []],
                started=str(item.get("started", "")),
            )
        elif kind == "outcome" and state is not None:
            email = str(item.get("email", "")).lower()
            state.results[email] = str(item.get("result", ""))
            if item.get("job_id"):
                state.jobs[email] = str(item["job_id"])
    return state


def runs(state: Path, command: str | None = None) -> list[RunState]:
    """Unfinished runs (newest first), of one command when given."""
    folder = runs_dir(state)
    found = []
    for path in sorted(folder.glob("*.jsonl"), reverse=True) if folder.is_dir() else []:
        run = _read(path)
        if run is not None and (command is None or run.command == command):
            found.append(run)
    return found


def load(state: Path, run_id: str | None, command: str) -> RunState:
    """The run to resume: ``run_id``, or the newest unfinished run of ``command``."""
    candidates = runs(state, command)
    if run_id is None:
        if not candidates:
            raise UsageError(
                f"No unfinished run of `instantly {command}` to resume in {runs_dir(state)}.",
                hint="Runs that finished every target delete their journal.",
            )
        return candidates[0]
    path = runs_dir(state) / f"{run_id}.jsonl"
    run = _read(path) if "/" not in run_id and path.is_file() else None
    if run is None or run.command != command:
        listed = "; ".join(r.describe() for r in candidates[:5]) or "none"
        raise UsageError(
            f"No unfinished run '{run_id}' of `instantly {command}`.",
            hint=f"Unfinished runs of this command: {listed}.",
        )
    return run


def prune(state: Path, *, days: int = KEEP_DAYS, now: float | None = None) -> None:
    """Delete journals and failure files older than ``days`` (best effort)."""
    cutoff = (time.time() if now is None else now) - days * 86400
    for folder in (runs_dir(state), failures_dir(state)):
        if not folder.is_dir():
            continue
        for path in folder.glob("*.jsonl"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass


class Journal:
    """An open journal, appended to by the run's worker threads."""

    def __init__(self, path: Path, run_id: str, fh: IO[str]):
        self.path = path
        self.run_id = run_id
        self._fh = fh
        self._lock = threading.Lock()
        self._broken = False

    @classmethod
    def start(
        cls,
        state: Path,
        *,
        command: str,
        params: Mapping[str, Any],
        where: Mapping[str, Any],
        targets: Sequence[str],
    ) -> Journal:
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
        journal._line(
            {
                "kind": "start",
                "version": VERSION,
                "run_id": run_id,
                "command": command,
                "params": dict(params),
                "where": dict(where),
                "targets": list(targets),
                "pid": os.getpid(),
                "started": _now(),
            }
        )
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
                hint="Wait for it to finish; it deletes the journal when every target is done.",
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
                    "code": o.code}
            if o.extra.get("job_id"):
                line["job_id"] = o.extra["job_id"]
            self._line(line)

    @property
    def ok(self) -> bool:
        return not self._broken

    def finish(self, outcomes: Sequence[Outcome], exit_code: int) -> bool:
        """Close the run's pass; delete the journal when no target is left. True if kept."""
        self._line({"kind": "end", "exit_code": exit_code, "at": _now()})
        run = _read(self.path)
        left = run.remaining() if run is not None else [o.email for o in outcomes]
        self.close()
        if not left and not self._broken:
            self.path.unlink(missing_ok=True)
            return False
        return True

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
