"""The bulk services without a terminal: the runner's journal hook and Ctrl-C shield, the
journal format, the dry-run summary and warmup bisection planning."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from instantly_cli.enums import FAILED, SUBMITTED, UPDATED
from instantly_cli.errors import AuthError, CliError, NotFoundError
from instantly_cli.interrupts import Shield
from instantly_cli.services import bulk, journal
from instantly_cli.services.accounts.update import diff_summary
from instantly_cli.services.accounts.warmup import replace_outcomes, split_failed_jobs
from instantly_cli.services.bulk import Outcome, RunResult


def test_run_hands_every_units_outcomes_to_on_done() -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def record(outcomes: list[Outcome]) -> None:
        with lock:
            seen.extend(o.email for o in outcomes)

    units = [[f"u{i}@x.io"] for i in range(25)]
    result = bulk.run(units, lambda unit: [Outcome(unit[0], UPDATED)], concurrency=4,
                      on_done=record)
    assert sorted(seen) == sorted(u[0] for u in units)
    assert [o.email for o in result.outcomes] == [u[0] for u in units]


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")
def test_shield_turns_presses_into_counts_and_is_given_back() -> None:
    before = signal.getsignal(signal.SIGINT)
    shield = Shield().install()
    try:
        assert shield.installed
        signal.raise_signal(signal.SIGINT)  # would raise KeyboardInterrupt without the shield
        signal.raise_signal(signal.SIGINT)
        assert shield.presses == 2
        with pytest.raises(KeyboardInterrupt), shield.raising():
            signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)  # raising() ended: ignored again
        assert shield.presses == 4
    finally:
        shield.release()
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")
def test_a_press_under_the_shield_stops_the_run_like_ctrl_c() -> None:
    started = threading.Event()
    release = threading.Event()

    def work(unit: list[str]) -> list[Outcome]:
        started.set()
        release.wait(10)
        return [Outcome(unit[0], UPDATED)]

    notices: list[int] = []

    def on_interrupt(pending: int) -> None:
        notices.append(pending)
        release.set()

    shield = Shield().install()
    try:
        timer = threading.Thread(target=lambda: (started.wait(10),
                                                 signal.pthread_kill(threading.main_thread().ident
                                                                     or 0, signal.SIGINT)))
        timer.start()
        result = bulk.run([[f"u{i}@x.io"] for i in range(5)], work, concurrency=1,
                          on_interrupt=on_interrupt, shield=shield)
        timer.join()
    finally:
        shield.release()
    assert result.interrupted and notices == [1]
    assert [o.result for o in result.outcomes][0] == UPDATED  # the in-flight one finished
    assert {o.result for o in result.outcomes[1:]} == {"skipped"}


def _start(command: str, targets: list[str]) -> dict[str, Any]:
    return {"command": command, "argv": command.split(), "change": "x", "keys": ["status"],
            "params": {"rate": 5.0}, "where": {"profile": "p"}, "targets": targets,
            "yes": True}


def test_journal_round_trip_torn_lines_and_final_failures(tmp_path: Path) -> None:
    targets = ["a@x.io", "B@x.io", "c@x.io", "d@x.io"]
    j = journal.Journal.start(tmp_path, _start("accounts pause", targets))
    j.record([Outcome("a@x.io", "paused"), Outcome("b@x.io", FAILED, error="nope", status=503),
              Outcome("d@x.io", FAILED, error="gone", code="not_found", status=404)])
    with open(j.path, "a") as fh:
        fh.write('{"kind": "outcome", "email": "c@x')  # torn by a kill
    state = journal.load(tmp_path, None, "accounts pause")
    assert state.run_id == j.run_id and state.params == {"rate": 5.0}
    # Retryable failure (case-insensitive) and unwritten are left; a 404 is final.
    assert state.remaining() == ["B@x.io", "c@x.io"]
    assert journal.load(tmp_path, j.run_id, "accounts pause").path == j.path
    with pytest.raises(Exception, match="No unfinished run"):
        journal.load(tmp_path, None, "accounts resume")
    j.close()
    again = journal.Journal.reopen(state)
    again.record([Outcome("B@x.io", "paused"), Outcome("c@x.io", "unchanged")])
    assert again.finish(0) == 0
    assert j.path.exists() and journal.runs(tmp_path)[0].state == "finished"


def test_journal_lines_are_json_with_the_documented_kinds(tmp_path: Path) -> None:
    j = journal.Journal.start(tmp_path, _start("accounts update", ["a@x.io"]))
    j.record([Outcome("a@x.io", FAILED, error="boom", code="internal_error")])
    assert j.finish(1) == 1
    kinds = [json.loads(line)["kind"] for line in j.path.read_text().splitlines()]
    assert kinds == ["start", "outcome", "end"]
    assert (j.path.stat().st_mode & 0o077) == 0  # private to the user


def test_conflicts_are_newer_runs_on_a_shared_key_and_account(tmp_path: Path) -> None:
    old = journal.Journal.start(tmp_path, _start("accounts pause", ["a@x.io", "b@x.io"]))
    old.close()
    newer = journal.Journal.start(tmp_path, _start("accounts resume", ["A@x.io", "z@x.io"]))
    newer.record([Outcome("A@x.io", "resumed"), Outcome("z@x.io", "resumed")])
    newer.finish(0)
    state = journal.find(tmp_path, old.run_id)
    [(run, hit)] = journal.conflicts(tmp_path, state, state.remaining())
    assert run.run_id == newer.run_id and hit == ["A@x.io"]
    assert journal.conflicts(tmp_path, state, ["b@x.io"]) == []


def test_diff_summary_counts_each_direction() -> None:
    records = [
        {"changes": [{"field": "daily_limit", "old": 10, "new": 30}]},
        {"changes": [{"field": "daily_limit", "old": 50, "new": 30}]},
        {"changes": [{"field": "daily_limit", "old": 60, "new": 30},
                     {"field": "signature", "old": "Hi", "new": None}]},
        {"changes": [{"field": "daily_limit", "old": None, "new": 30},
                     {"field": "signature", "old": "Hi", "new": "Yo"}]},
        {"changes": []},
    ]
    assert diff_summary(records) == [
        "daily_limit: 4 accounts — raised 1, lowered 2, set from empty 1",
        "signature: 2 accounts — cleared 1, changed 1",
    ]


def test_split_failed_jobs_halves_only_jobs_with_several_emails() -> None:
    def job_failed(email: str, job: str) -> Outcome:
        return Outcome(email, FAILED, code="job_failed", extra={"job_id": job})

    outcomes = [job_failed(f"a{i}@x.io", "J1") for i in range(5)]
    outcomes += [job_failed("lone@x.io", "J2"), Outcome("ok@x.io", "enabled")]
    result = RunResult(outcomes, False, 0.0)
    assert split_failed_jobs(result) == [["a0@x.io", "a1@x.io"],
                                         ["a2@x.io", "a3@x.io", "a4@x.io"]]
    replace_outcomes(result, [Outcome("a0@x.io", SUBMITTED, extra={"job_id": "J3"})])
    assert result.outcomes[0].result == SUBMITTED and len(result.outcomes) == 7


def test_bisect_halves_a_refused_batch_until_the_bad_email_is_alone() -> None:
    sent: list[list[str]] = []

    def work(batch: list[str]) -> list[Outcome]:
        sent.append(batch)
        if "bad@x.io" in batch:
            raise NotFoundError(f"Account not found: bad@x.io ({len(batch)} sent)")
        return [Outcome(e, UPDATED) for e in batch]

    def unknown(err: CliError) -> bool:
        return isinstance(err, NotFoundError)

    batch = ["a@x.io", "b@x.io", "bad@x.io", "c@x.io", "d@x.io"]
    out = bulk.bisect(work, batch, unknown)
    assert [(o.email, o.result) for o in out] == [
        ("a@x.io", UPDATED), ("b@x.io", UPDATED), ("bad@x.io", FAILED), ("c@x.io", UPDATED),
        ("d@x.io", UPDATED)]
    assert out[2].code == "not_found"
    assert sent == [batch, batch[:2], batch[2:], batch[2:3], batch[3:]]
    # Told the batch was refused already, its halves go first; any other error is not split.
    sent.clear()
    assert [o.result for o in bulk.bisect(work, batch[1:3], unknown, NotFoundError("no"))] == [
        UPDATED, FAILED]
    assert sent == [["b@x.io"], ["bad@x.io"]]
    sent.clear()

    def refused(batch: list[str]) -> list[Outcome]:
        sent.append(batch)
        raise AuthError("The API key was rejected.")

    out = bulk.bisect(refused, batch, unknown)
    assert sent == [batch] and {(o.result, o.code) for o in out} == {(FAILED, "unauthorized")}
