"""The account, job and bulk services, called directly: no Typer, no terminal.

Clients talk to the sandbox's WSGI app or an ``httpx.MockTransport``; clocks and sleeps are fakes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from instantly_cli.client import InstantlyClient
from instantly_cli.enums import DISABLED, ENABLED, FAILED, PAUSED, SKIPPED, UNCHANGED, UPDATED
from instantly_cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NOT_FOUND, EXIT_OK, UsageError
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import Store
from instantly_cli.services import bulk, jobs
from instantly_cli.services.accounts import state, update, warmup
from tests.conftest import TEST_KEY


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store(":memory:")
    s.ensure_seeded(40)
    yield s
    s.close()


@pytest.fixture
def app(store: Store) -> SandboxApp:
    return SandboxApp(store, api_key=TEST_KEY)


@pytest.fixture
def client(app: SandboxApp) -> Iterator[InstantlyClient]:
    c = InstantlyClient(
        api_key=TEST_KEY,
        base_url="http://sandbox.test",
        transport=httpx.WSGITransport(app=app),
        backoff_base=0.001,
        max_retry_after=0.01,
    )
    yield c
    c.close()


def an_account(store: Store, **where: Any) -> dict[str, Any]:
    from instantly_cli.sandbox.store import AccountQuery

    page, _ = store.list_accounts(AccountQuery(limit=100))
    for acc in page:
        if all(acc.get(k) == v for k, v in where.items()):
            return acc
    raise AssertionError(f"no seeded account with {where}")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


# -- building and checking a change -------------------------------------------------------------


def test_build_change_precedence_body_then_set_then_flags() -> None:
    change = update.build_change(
        '{"daily_limit": 10, "first_name": "Body"}',
        ["daily_limit=20", "last_name=Set"],
        [("daily_limit", 30)],
    )
    assert change == {"daily_limit": 30, "first_name": "Body", "last_name": "Set"}


def test_build_change_reads_body_from_stdin_and_refuses_unknown_fields(monkeypatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO('{"sending_gap": 5}'))
    assert update.build_change("@-", [], []) == {"sending_gap": 5}
    with pytest.raises(UsageError):
        update.build_change('{"no_such_field": 1}', [], [])


def test_diff_compares_numbers_by_value_and_reports_write_only_actions() -> None:
    current = {"daily_limit": 30.0, "warmup": {"limit": 10, "advanced": {"open_rate": 0.5}}}
    body = {
        "daily_limit": 30,
        "warmup": {"limit": 12, "advanced": {"open_rate": 0.5}},
        "skip_cname_check": True,
    }
    assert update.diff(current, body) == [
        {"field": "warmup.limit", "old": 10, "new": 12},
        {"field": "skip_cname_check", "old": None, "new": True},
    ]


def test_not_applied_names_fields_the_api_answered_differently() -> None:
    problems = update.not_applied(
        {"daily_limit": 40, "remove_tracking_domain": True}, {"daily_limit": 30}
    )
    assert problems == ["daily_limit not applied (sent 40, the API has 30)"]


def test_warmup_change_is_sent_merged_with_the_current_settings() -> None:
    current = {"warmup": {"limit": 10, "increment": "1", "advanced": {"open_rate": 0.4}}}
    merged = update.merged_warmup(current, {"warmup": {"advanced": {"weekday_only": True}}})
    assert merged == {
        "warmup": {
            "limit": 10,
            "increment": "1",
            "advanced": {"open_rate": 0.4, "weekday_only": True},
        }
    }
    assert update.merged_warmup(current, {"daily_limit": 5}) == {"daily_limit": 5}


def test_update_work_patches_verifies_and_skips_what_would_not_change(
    client: InstantlyClient, app: SandboxApp, store: Store
) -> None:
    acc = an_account(store)
    email = acc["email"]
    limit = acc["warmup"]["limit"]
    same = update.update_work(client, {"warmup": {"limit": limit}}, dry_run=False, strict=True)
    assert [o.result for o in same([email])] == [UNCHANGED]
    assert not [r for r in app.requests if r.method == "PATCH"]
    work = update.update_work(client, {"daily_limit": 41}, dry_run=False, strict=True)
    (outcome,) = work([email])
    assert outcome.result == UPDATED and outcome.account is not None
    assert store.get_account(email)["daily_limit"] == 41  # type: ignore[index]


def test_dry_run_work_fetches_and_diffs_but_never_patches(
    client: InstantlyClient, app: SandboxApp, store: Store
) -> None:
    email = an_account(store)["email"]
    work = update.update_work(client, {"daily_limit": 77}, dry_run=True, strict=False)
    (outcome,) = work([email])
    assert outcome.extra["changes"][0]["new"] == 77
    assert [r.method for r in app.requests] == ["GET"]


def test_strict_update_fails_a_field_the_api_did_not_apply() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"email": "a@b.co", "daily_limit": 1})

    transport = httpx.MockTransport(handler)
    c = InstantlyClient(api_key=TEST_KEY, base_url="http://m", transport=transport)
    (outcome,) = update.update_work(c, {"daily_limit": 9}, dry_run=False, strict=True)(["a@b.co"])
    assert outcome.result == FAILED and outcome.code == "not_applied"


# -- pause ---------------------------------------------------------------------------------------


def test_pause_reads_the_bulk_answer_per_email(client: InstantlyClient, store: Store) -> None:
    email = an_account(store, status=1)["email"]
    out = state.pause_work(client)([email, "ghost@nowhere.io"])
    assert [(o.email, o.result) for o in out] == [(email, PAUSED), ("ghost@nowhere.io", FAILED)]


def test_a_lone_missing_target_is_looked_up_so_it_fails_as_not_found(
    client: InstantlyClient,
) -> None:
    (outcome,) = state.pause_work(client)(["ghost@nowhere.io"])
    assert outcome.code == "not_found"
    assert bulk.RunResult([outcome], False, 0.0).exit_code() == EXIT_NOT_FOUND


# -- warmup jobs -----------------------------------------------------------------------------------


def job_client(states: dict[str, list[str]]) -> InstantlyClient:
    """A mock API whose jobs walk through the given states, one per poll (the last repeats)."""

    def handler(request: httpx.Request) -> httpx.Response:
        job_id = request.url.path.rsplit("/", 1)[-1]
        seq = states[job_id]
        status = seq.pop(0) if len(seq) > 1 else seq[0]
        data = {"error": "mailbox gone"} if status == "failed" else None
        return httpx.Response(200, json={"id": job_id, "status": status, "data": data})

    return InstantlyClient(
        api_key=TEST_KEY, base_url="http://m", transport=httpx.MockTransport(handler)
    )


def test_waiting_ends_when_every_job_is_done() -> None:
    clock = FakeClock()
    c = job_client({"a": ["pending", "in-progress", "success"], "b": ["failed"]})
    waited = jobs.wait_for_jobs(
        c, ["a", "b"], timeout=60, interval=2, clock=clock, sleep=clock.sleep
    )
    assert {j: s["status"] for j, s in waited.states.items()} == {"a": "success", "b": "failed"}
    assert not waited.timed_out and clock.slept == [2, 2]


def test_a_job_that_never_ends_times_out_on_the_fake_clock() -> None:
    clock = FakeClock()
    c = job_client({"a": ["in-progress"]})
    waited = jobs.wait_for_jobs(c, ["a"], timeout=10, interval=3, clock=clock, sleep=clock.sleep)
    assert waited.timed_out and waited.pending() == ["a"]
    assert clock.now >= 10


def test_a_poll_that_keeps_failing_ends_the_wait_with_the_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"statusCode": 500, "error": "x", "message": "down"})

    c = InstantlyClient(
        api_key=TEST_KEY,
        base_url="http://m",
        transport=httpx.MockTransport(handler),
        backoff_base=0.0,
    )
    clock = FakeClock()
    waited = jobs.wait_for_jobs(c, ["a"], timeout=10, clock=clock, sleep=clock.sleep)
    assert waited.error is not None and waited.states["a"]["status"] == "unknown"


def test_judge_warmup_turns_job_states_into_results() -> None:
    result = bulk.RunResult(
        [
            bulk.Outcome("a@x.io", "submitted", extra={"job_id": "j1"}),
            bulk.Outcome("b@x.io", "submitted", extra={"job_id": "j2"}),
            bulk.Outcome("c@x.io", "submitted", extra={"job_id": "j3"}),
        ],
        False,
        0.0,
    )
    waited = jobs.JobWait(
        states={
            "j1": {"id": "j1", "status": "success"},
            "j2": {"id": "j2", "status": "failed", "data": {"error": "banned"}},
            "j3": {"id": "j3", "status": "in-progress"},
        },
        timed_out=True,
    )
    warmup.judge_warmup(result, waited, enable=True, timeout=30)
    assert [o.result for o in result.outcomes] == [ENABLED, FAILED, FAILED]
    assert "banned" in (result.outcomes[1].error or "")
    assert "still in-progress after 30 s" in (result.outcomes[2].error or "")
    assert result.exit_code() == EXIT_FAILED
    waited.interrupted, waited.timed_out = True, False
    again = bulk.RunResult([bulk.Outcome("c@x.io", "submitted", extra={"job_id": "j3"})], False, 0)
    warmup.judge_warmup(again, waited, enable=False, timeout=30)
    # An interrupted wait: the job goes on, the target stays submitted (--resume waits for it).
    assert [o.result for o in again.outcomes] == ["submitted"]
    assert again.outcomes[0].extra["job_id"] == "j3"
    assert DISABLED not in [o.result for o in again.outcomes]


def test_submitted_jobs_groups_targets_by_job() -> None:
    result = bulk.RunResult(
        [
            bulk.Outcome("a@x.io", "submitted", extra={"job_id": "j1"}),
            bulk.Outcome("b@x.io", "submitted", extra={"job_id": "j1"}),
            bulk.Outcome("c@x.io", FAILED),
        ],
        False,
        0.0,
    )
    assert warmup.submitted_jobs(result) == [{"job_id": "j1", "emails": ["a@x.io", "b@x.io"]}]


# -- the bulk runner -----------------------------------------------------------------------------


def test_every_target_is_accounted_for_when_work_raises() -> None:
    def work(unit: list[str]) -> list[bulk.Outcome]:
        if unit[0].startswith("bad"):
            raise RuntimeError("boom")
        return [bulk.Outcome(unit[0], UPDATED)]

    units = [[e] for e in ["a@x.io", "bad@x.io", "b@x.io"]]
    result = bulk.run(units, work, concurrency=2)
    assert [(o.email, o.result) for o in result.outcomes] == [
        ("a@x.io", UPDATED),
        ("bad@x.io", FAILED),
        ("b@x.io", UPDATED),
    ]
    assert result.exit_code() == EXIT_FAILED
    assert "updated 2, failed 1 of 3" in result.summary((UPDATED, FAILED))


def test_an_interrupted_run_reports_in_flight_and_unstarted_targets_as_skipped() -> None:
    """Ctrl-C arrives while one unit is in flight: it finishes, the rest are not started."""
    started = threading.Event()
    release = threading.Event()
    told: list[int] = []

    def work(unit: list[str]) -> list[bulk.Outcome]:
        started.set()
        release.wait(10)
        return [bulk.Outcome(unit[0], UPDATED)]

    def interrupt() -> None:
        started.wait(10)
        import _thread

        _thread.interrupt_main()

    def on_interrupt(pending: int) -> None:
        told.append(pending)
        release.set()

    threading.Thread(target=interrupt, daemon=True).start()
    units = [[f"{i}@x.io"] for i in range(5)]
    result = bulk.run(units, work, concurrency=1, on_interrupt=on_interrupt)
    assert told == [1]
    assert result.interrupted and result.exit_code() == EXIT_INTERRUPTED
    assert [o.result for o in result.outcomes] == [UPDATED] + [SKIPPED] * 4
    assert sum(o.result == SKIPPED for o in result.outcomes) == 4


def test_a_failure_file_is_written_whole_only_when_there_are_failures(tmp_path) -> None:
    outcomes = [bulk.Outcome("a@x.io", FAILED, error="nope"), bulk.Outcome("b@x.io", UPDATED)]
    path = tmp_path / "f.jsonl"
    assert bulk.write_failures(outcomes, path)
    assert path.read_text(encoding="utf-8").count("\n") == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".instantly-")]
    assert not bulk.write_failures([bulk.Outcome("b@x.io", UPDATED)], tmp_path / "g.jsonl")
    assert not (tmp_path / "g.jsonl").exists()
    assert bulk.RunResult([bulk.Outcome("b@x.io", UPDATED)], False, 0).exit_code() == EXIT_OK
