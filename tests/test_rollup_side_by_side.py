"""Roll-ups (issue 25) over real loopback servers: workspaces run side by side with bounded
concurrency, each key paced by its own limiter (sub-workspaces of one key share it), `accounts
diff --all-profiles`, and `accounts find` across profiles.

Concurrency is shown by state, never by timing: a gate in front of the sandbox holds each
workspace's first account listing until enough workspaces have arrived (a deadline that fails
the test, not one that makes it pass).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any, cast

import pytest
import typer
from typer.testing import CliRunner, Result

from instantly_cli.client import InstantlyClient
from instantly_cli.config_file import Profile, update_config
from instantly_cli.context import Runtime
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.seed import DEFAULT_WORKSPACE_NAME, SUB_WORKSPACES
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import AccountQuery, Store
from instantly_cli.services import workspaces
from tests import test_workspaces
from tests.conftest import TEST_KEY

Cli = Callable[..., Result]
# The loopback servers fixture: one seeded store and sandbox server per call, stopped after.
servers = test_workspaces.servers
ACCEPTED = {name: ws_id for ws_id, name, status, _ in SUB_WORKSPACES if status == "accepted"}
SUB = 7  # accounts seeded into each sub-workspace
# Long enough for a busy machine to start every workspace; reached only when they run one
# after another (then the test fails).
GATE_TIMEOUT = 20.0


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


class Gate:
    """WSGI middleware: the first account listing of each workspace (by ``x-as-workspace``
    and server) waits until ``want`` workspaces have sent theirs, or ``GATE_TIMEOUT``."""

    def __init__(self, want: int) -> None:
        self.want = want
        self.arrived: set[str] = set()
        self.timed_out = False
        self._cond = threading.Condition()

    def install(self, server: SandboxServer) -> SandboxServer:
        """Put the gate in front of ``server``'s app (it is called per request)."""
        app = server.app

        def gated(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            if environ["PATH_INFO"] == "/api/v2/accounts" and environ["REQUEST_METHOD"] == "GET":
                self.arrive(f"{server.url}/{environ.get('HTTP_X_AS_WORKSPACE', '')}")
            return app(environ, start_response)

        server.app = cast(SandboxApp, gated)
        return server

    def arrive(self, workspace: str) -> None:
        with self._cond:
            if workspace in self.arrived:
                return
            self.arrived.add(workspace)
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: len(self.arrived) >= self.want or
                                       self.timed_out, timeout=GATE_TIMEOUT):
                self.timed_out = True  # let every waiter go: the test fails, quickly
                self._cond.notify_all()


def profiles(made: list[tuple[SandboxServer, Store]]) -> list[str]:
    names = [f"client-{i:02d}" for i in range(len(made))]
    update_config(lambda cfg: cfg.profiles.update({
        name: Profile(name, api_key=TEST_KEY, base_url=srv.url)
        for name, (srv, _) in zip(names, made, strict=True)}))
    return names


def emails(store: Store) -> list[str]:
    page = store.list_accounts(AccountQuery(limit=100))[0]
    return [a["email"] for a in page]


# -- side by side, bounded ------------------------------------------------------------------------


def test_the_workspaces_of_an_admin_key_are_read_side_by_side(
    cli: Cli, servers: Callable[..., tuple[SandboxServer, Store]], monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate(want=1 + len(ACCEPTED))  # the key's own workspace and every accepted one
    server = gate.install(servers(60, sub_accounts=SUB, rate_limit=True)[0])
    monkeypatch.setenv("INSTANTLY_API_KEY", TEST_KEY)
    monkeypatch.setenv("INSTANTLY_BASE_URL", server.url)
    doc = as_json(cli(["accounts", "summary", "--all-workspaces", "--json"]))
    assert not gate.timed_out, f"only {sorted(gate.arrived)} ran at once"
    assert doc["total"]["total"] == 60 + len(ACCEPTED) * SUB
    assert [r["workspace_name"] for r in doc["profiles"]] == sorted(
        [DEFAULT_WORKSPACE_NAME, *ACCEPTED], key=str.casefold)
    # Their one key's limiter keeps the four under the key's rate limit.
    assert server.status_counts[429] == 0


def test_profiles_are_read_side_by_side_each_on_its_own_server(
    cli: Cli, servers: Callable[..., tuple[SandboxServer, Store]]
) -> None:
    gate = Gate(want=4)
    made = [servers(30 + i) for i in range(4)]
    for server, _ in made:
        gate.install(server)
    names = profiles(made)
    doc = as_json(cli(["accounts", "summary", "--all-profiles", "--json"]))
    assert not gate.timed_out, f"only {sorted(gate.arrived)} ran at once"
    assert [r["profile"] for r in doc["profiles"]] == names
    assert [r["total"] for r in doc["profiles"]] == [30 + i for i in range(4)]


@pytest.mark.parametrize("workers", [3, None])
def test_side_by_side_runs_at_most_workers_at_once_and_sorts_by_name(workers: int | None
                                                                      ) -> None:
    # None: the default bound, the one every roll-up runs with.
    bound = workers or workspaces.SIDE_BY_SIDE
    count = 3 * bound
    barrier = threading.Barrier(bound, timeout=GATE_TIMEOUT)
    lock = threading.Lock()
    running = [0]
    most = [0]

    def job(_client: InstantlyClient, unit: workspaces.Unit) -> str:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            barrier.wait()  # `bound` jobs must be in flight together
        finally:
            with lock:
                running[0] -= 1
        return unit.name or ""

    units = [workspaces.Unit("p", f"id-{i}", f"Client {count - i:03d}",
                             lambda: cast(InstantlyClient, contextlib.nullcontext()))
             for i in range(count)]
    done = (workspaces.side_by_side(units, job) if workers is None
            else workspaces.side_by_side(units, job, workers=workers))
    assert [d.error for d in done] == [None] * count
    assert most[0] == bound
    assert [d.value for d in done] == sorted(u.name or "" for u in units)


# -- one limiter per key --------------------------------------------------------------------------


def test_sub_workspaces_share_their_keys_limiter_and_profiles_have_their_own(
    servers: Callable[..., tuple[SandboxServer, Store]], runtime: Runtime
) -> None:
    from instantly_cli.commands.accounts import _rollup

    made = [servers(10, sub_accounts=SUB) for _ in range(2)]
    names = profiles(made)
    seen: list[tuple[str, str | None, int]] = []
    probe = typer.Typer()

    @probe.command()
    def limiters(ctx: typer.Context) -> None:
        for unit in _rollup.units(ctx, all_profiles=True, all_workspaces=True):
            assert unit.error is None, unit.error
            with unit.open() as client:
                seen.append((unit.profile, unit.id, id(client.limiter)))

    result = CliRunner().invoke(probe, [], obj=runtime, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert len(seen) == 2 * (1 + len(ACCEPTED))
    by_profile = {name: {lim for p, _, lim in seen if p == name} for name in names}
    # Every workspace of one key: one limiter; two keys: two.
    assert all(len(lims) == 1 for lims in by_profile.values()), by_profile
    assert len(set.union(*by_profile.values())) == 2


# -- diff and find across profiles ----------------------------------------------------------------


def test_diff_all_profiles_compares_each_with_its_own_history_and_survives_a_failure(
    cli: Cli, servers: Callable[..., tuple[SandboxServer, Store]]
) -> None:
    made = [servers(40), servers(50)]
    first, second = profiles(made)
    assert as_json(cli(["accounts", "diff", "--all-profiles", "--json"])) == []
    store = made[1][1]
    victim = next(e for e in emails(store) if e not in emails(made[0][1]))
    store.simulate(victim, status=-1)
    records = as_json(cli(["accounts", "diff", "--all-profiles", "--json"]))
    assert {(r["profile"], r["email"], r["workspace_name"]) for r in records} == {
        (second, victim, DEFAULT_WORKSPACE_NAME)}
    # Each profile's history is the one its single run reads: nothing new since.
    assert as_json(cli(["--profile", second, "accounts", "diff", "--json"])) == []
    # One profile's server fails: the other still completes, and the exit code is 1.
    made[0][0].inject("500", 10_000)
    store.simulate(victim, status=1)
    result = cli(["accounts", "diff", "--all-profiles", "--json"])
    assert result.exit_code == 1, result.stderr
    assert {(r["profile"], r["email"]) for r in json.loads(result.stdout)} == {(second, victim)}
    assert f"Profile '{first}'" in result.stderr and "1 of 2 workspaces" in result.stderr


def test_find_looks_in_every_profile_and_folds_case(
    cli: Cli, servers: Callable[..., tuple[SandboxServer, Store]]
) -> None:
    made = [servers(40), servers(50)]
    first, second = profiles(made)
    only_second = next(e for e in emails(made[1][1]) if e not in emails(made[0][1]))
    both = next(e for e in emails(made[0][1]) if e in emails(made[1][1]))
    result = cli(["accounts", "find", only_second.upper(), only_second, both, "--json"])
    rows = as_json(result)
    assert [(r["email"], r["profile"]) for r in rows] == [
        (only_second, second), (both, first), (both, second)]
    assert all(r["workspace_name"] == DEFAULT_WORKSPACE_NAME for r in rows)
    # The same address in two spellings is one target: one row, in the API's spelling.
    table = ok(cli(["accounts", "find", only_second.upper(), only_second.title(), "-o", "tsv"]))
    assert table.stdout.splitlines() == [
        f"{only_second}\t{second}\t{DEFAULT_WORKSPACE_NAME}\t{rows[0]['workspace_id']}\tfound"]
