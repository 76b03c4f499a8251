"""Bulk updates through a misbehaving API: every target is accounted for, nothing is mangled."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import AccountQuery, Store
from tests.children import user_env

KEY = "faults-key-5678"
VALUE = 4242  # no seed account has it


def emails_of(store: Store, count: int) -> list[str]:
    emails: list[str] = []
    while len(emails) < count:
        items, _ = store.list_accounts(AccountQuery(limit=100, sort_by="email", skip=len(emails)))
        if not items:
            break
        emails += [i["email"] for i in items]
    return emails[:count]


def has_value(store: Store, email: str) -> bool:
    account = store.get_account(email)
    return bool(account) and account.get("daily_limit") == VALUE  # type: ignore[union-attr]


@pytest.fixture
def faulty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SandboxServer, Store]]:
    store = Store(str(tmp_path / "faults.sqlite3"))
    store.ensure_seeded(1000)
    server = SandboxServer(
        SandboxApp(store, api_key=KEY),
        fail_rate=0.10,
        rate_limit=True,
        retry_after="mixed",
        seed=7,
    )
    server.slow_seconds = 3.0  # twice the read timeout below: a slow fault times out
    server.start()
    monkeypatch.setenv("INSTANTLY_BASE_URL", server.url)
    monkeypatch.setenv("INSTANTLY_API_KEY", KEY)
    # Not lower: on a loaded machine (parallel workers, stress-tests) a sound answer can take
    # a second, and a retry budget of 5 x 0.4 s ran out with the PATCH applied.
    monkeypatch.setenv("INSTANTLY_TIMEOUT", "1.5")
    monkeypatch.chdir(tmp_path)
    yield server, store
    server.stop()
    store.close()


def test_bulk_update_of_1000_through_faults_loses_nothing(cli, faulty, tmp_path: Path) -> None:
    server, store = faulty
    targets = emails_of(store, 1000)
    for kind, count in (("429", 5), ("429-no-retry-after", 5), ("slow", 3), ("drop", 5)):
        server.inject(kind, count, method="PATCH")
    failures = tmp_path / "failures.jsonl"
    result = cli(
        [
            "accounts",
            "update",
            "-",
            "--daily-limit",
            str(VALUE),
            "--rate",
            "100",
            "--yes",
            "-o",
            "jsonl",
            "--failures",
            str(failures),
        ],
        input="\n".join(targets),
    )
    assert result.exit_code in (0, 1), result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["email"] for r in rows) == sorted(targets)
    updated = {r["email"] for r in rows if r["result"] == "updated"}
    failed = {r["email"]: r for r in rows if r["result"] == "failed"}
    assert set(updated) | set(failed) == set(targets)
    # The summary's numbers are the sandbox's own record.
    assert updated == {e for e in targets if has_value(store, e)}
    assert f"updated {len(updated):,}" in result.stderr
    # Every failure is in the file, with a reason.
    if failed:
        listed = [json.loads(line) for line in failures.read_text().splitlines()]
        assert {r["email"] for r in listed} == set(failed)
        assert all(r["error"] for r in listed)
    else:
        assert not failures.exists()
    # No account was ever sent anything but the requested body.
    patches = [r for r in server.app.requests if r.method == "PATCH"]
    assert len(patches) >= 1000
    assert all(json.loads(r.body) == {"daily_limit": VALUE} for r in patches)
    assert (
        server.status_counts[429] >= 10
        and server.status_counts[503] + server.status_counts[500] + server.status_counts[502] > 0
    )
    # Feeding the failure file back finishes the rest.
    if failed:
        again = cli(
            [
                "accounts",
                "update",
                "-",
                "--daily-limit",
                str(VALUE),
                "--yes",
                "--failures",
                str(tmp_path / "again.jsonl"),
            ],
            input=failures.read_text(),
        )
        assert again.exit_code in (0, 1)
    server.fail_rate = 0.0
    if not all(has_value(store, e) for e in targets):
        last = cli(
            ["accounts", "update", "-", "--daily-limit", str(VALUE), "--yes"],
            input=(tmp_path / "again.jsonl").read_text(),
        )
        assert last.exit_code == 0, last.stderr
    assert all(has_value(store, e) for e in targets)


def test_create_is_never_blindly_retried(cli, faulty) -> None:
    server, store = faulty
    server.fail_rate = 0.0
    server.inject("503", 1, method="POST")
    result = cli(["tags", "create", "Retry me"])
    assert result.exit_code == 1
    posts = [r for r in server.app.requests if r.method == "POST"]
    assert len(posts) == 0  # the fault was served before the app: nothing created, no retry
    assert server.status_counts[503] == 1
    labels = {t["label"] for t in store.list_tags(limit=100)[0]}
    assert "Retry me" not in labels


def _run(
    args: list[str], server: SandboxServer, tmp_path: Path, stdin: str
) -> subprocess.Popen[str]:
    env = user_env()
    env.update(
        INSTANTLY_BASE_URL=server.url,
        INSTANTLY_API_KEY=KEY,
        INSTANTLY_CONFIG_DIR=str(tmp_path / "cfg"),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "instantly_cli", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.stdin is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    proc.stdin = None
    return proc


def test_two_bulk_runs_at_once_share_the_limit_and_lose_nothing(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "shared.sqlite3"))
    store.ensure_seeded(300)

    def clock() -> float:
        # The limiter's first second lasts until ten requests were refused: past the 100th,
        # requests are refused however slowly a loaded machine sends them; then time runs.
        return time.monotonic() if server.status_counts[429] >= 10 else 0.0

    server = SandboxServer(
        SandboxApp(store, api_key=KEY, record=False),
        rate_limit=True,
        retry_after="never",
        latency_ms=5,
        clock=clock,
    )
    server.start()
    try:
        # 150 each at --rate 100: together twice the server's 100/s, for 1.5 s.
        targets = emails_of(store, 300)
        halves = (targets[:150], targets[150:])
        procs = [
            _run(
                [
                    "accounts",
                    "update",
                    "-",
                    "--daily-limit",
                    str(VALUE),
                    "--rate",
                    "100",
                    "--yes",
                    "-o",
                    "jsonl",
                    "--failures",
                    str(tmp_path / f"f{n}.jsonl"),
                ],
                server,
                tmp_path,
                "\n".join(half),
            )
            for n, half in enumerate(halves)
        ]
        outputs = [p.communicate(timeout=120) for p in procs]
        for proc, (out, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err
            assert {json.loads(line)["result"] for line in out.splitlines()} == {"updated"}
        assert server.status_counts[429] >= 10  # they hit the shared limit, and backed off
        assert all(has_value(store, e) for e in targets)
    finally:
        server.stop()
        store.close()
