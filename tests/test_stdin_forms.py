"""Targets and job ids on stdin: one reader for both, within the documented limits.

``accounts list --json`` writes its array on one line, longer than the 1 MB line limit with a
thousand accounts: the array is read whole under the 64 MB limit instead. ``jobs wait -`` reads
ids through the same reader: deep nesting, endless input and bytes that are not UTF-8 are exit 2
there too, never an internal error.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from instantly_cli import targets
from instantly_cli.errors import UsageError
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.server import SandboxServer
from instantly_cli.sandbox.store import Store
from instantly_cli.services import jobs
from tests.children import instantly, user_env
from tests.conftest import TEST_KEY, invoke
from tests.contract import validate_recorded

ZOE = "zoe.muller@acme-outreach.com"  # seeded, paused
TIMEOUT = 120


class Stdin:
    """A stdin whose binary buffer holds ``data``."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]


def refusal(data: bytes) -> UsageError:
    with pytest.raises(UsageError) as info:
        targets.read_stdin_targets(Stdin(data))
    return info.value


# -- the reader, directly -------------------------------------------------------------------------


def test_a_one_line_array_longer_than_a_line_is_read_whole() -> None:
    items = [{"email": f"user{n}@acme.io", "signature": "x" * 2000} for n in range(700)]
    line = json.dumps(items).encode()
    assert b"\n" not in line and len(line) > targets.MAX_LINE_BYTES
    emails = targets.read_stdin_targets(Stdin(b"\n \r\n" + line + b"\n"))
    assert emails == [f"user{n}@acme.io" for n in range(700)]
    # The same array, as job ids.
    ids = [{"job_id": f"{n:024x}", "note": "x" * 2000} for n in range(700)]
    got = targets.read_stdin_targets(Stdin(json.dumps(ids).encode()), jobs.JOB_IDS)
    assert got == [f"{n:024x}" for n in range(700)]


def test_lines_keep_the_line_limit_with_a_hint_about_arrays() -> None:
    long_object = json.dumps({"email": "a@acme.io", "note": "x" * targets.MAX_LINE_BYTES})
    for data in [b"ok@acme.io\n" + b"a" * (targets.MAX_LINE_BYTES + 1), long_object.encode()]:
        err = refusal(data)
        assert "longer than 1 MB" in err.message
        assert err.hint is not None and "JSON array" in err.hint and "64 MB" in err.hint
    # Blank lines before the first target are held to the limit too.
    assert "line 2 is longer" in refusal(b"\n" + b" " * (targets.MAX_LINE_BYTES + 5)).message


def test_an_array_names_its_bad_bytes_by_line_of_stdin() -> None:
    err = refusal(b"\n\n[\n" + b'{"email": "a@acme.io"},\n' + b'"caf\xe9@acme.io"]\n')
    assert err.message.startswith("stdin line 5 is not valid UTF-8 (byte \\xe9 at column 5)")


def test_job_ids_in_every_form() -> None:
    one, two, three = "a" * 24, "b" * 24, "C" * 24
    text = (
        "\ufeff# ids from warmup enable --no-wait\n"
        f"{one}\tops@acme.io\r\n"
        f'{{"job_id": "{two}", "emails": ["x@acme.io"]}}\n'
        f'{{"id": "{three}", "status": 1}}\n'
        f"{one}\n{three.lower()}\n"
    )
    assert jobs.read_ids(["-", "-"], Stdin(text.encode())) == [one, two, three]
    assert jobs.read_ids(["-"], io.StringIO(text)) == [one, two, three]  # no binary buffer


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"[" * 200_000, "nested too deeply"),
        (b"\xff" + b"a" * 23 + b"\n", "line 1 is not valid UTF-8"),
        (b"a" * 24 + b"\n\x1b[31m" + b"b" * 24 + b"\n", "line 2 contains a control"),
        (b'{"job_id": "x"}\nnot-a-job\n', "2 line(s) that are neither a job id"),
        (b'[{"id": "\\u202e' + b"a" * 24 + b'"}]', 'item 0: the "id" holds a control'),
        (b"\n# nothing\n", "No job ids on stdin"),
    ],
    ids=["nesting", "utf-8", "esc", "bad-lines", "bidi-in-json", "empty"],
)
def test_bad_job_ids_on_stdin_are_usage_errors(data: bytes, needle: str) -> None:
    with pytest.raises(UsageError) as info:
        jobs.read_ids(["-"], Stdin(data))
    assert needle in info.value.message
    assert "\x1b" not in info.value.message and "\u202e" not in info.value.message


def test_a_bad_job_id_argument_is_shown_escaped() -> None:
    with pytest.raises(UsageError) as info:
        jobs.read_ids(["\x1b[2J"], Stdin(b""))
    assert "\\x1b[2J" in info.value.message and "\x1b" not in info.value.message


# -- through the CLI ------------------------------------------------------------------------------


def test_jobs_wait_reads_tsv_rows_of_no_wait(sandbox: SandboxApp) -> None:
    submitted = invoke(["accounts", "warmup", "enable", ZOE, "--no-wait", "--yes", "-o", "tsv"])
    assert submitted.exit_code == 0, submitted.stderr
    [row] = submitted.stdout.splitlines()
    waited = invoke(["jobs", "wait", "-", "--json"], input=b"\xef\xbb\xbf" + row.encode())
    assert waited.exit_code == 0, waited.stderr
    [job] = json.loads(waited.stdout)
    assert job["id"] == row.split("\t")[0] and job["status"] == "success"


@pytest.fixture
def served() -> Iterator[tuple[SandboxServer, SandboxApp, Store]]:
    store = Store()
    store.ensure_seeded(120)
    app = SandboxApp(store, api_key=TEST_KEY)
    server = SandboxServer(app, "127.0.0.1", 0).start()
    yield server, app, store
    server.stop()
    validate_recorded(app, every_request=True)
    store.close()


def env_for(server: SandboxServer, tmp_path: Path) -> dict[str, str]:
    return user_env(
        INSTANTLY_CONFIG_DIR=str(tmp_path / "config"), INSTANTLY_DATA_DIR=str(tmp_path / "data"),
        INSTANTLY_BASE_URL=server.url, INSTANTLY_API_KEY=TEST_KEY, NO_COLOR="1",
    )


def test_accounts_list_json_over_a_line_pipes_into_a_dry_run(
    served: tuple[SandboxServer, SandboxApp, Store], tmp_path: Path
) -> None:
    """``accounts list --all --json | accounts pause - --dry-run`` with a list longer than 1 MB,
    both commands over loopback. It used to exit 2 ("stdin line 1 is longer than 1 MB")."""
    server, app, store = served
    emails = store.select_emails()
    for email in emails:  # long signatures make the one-line array longer than a line
        store.patch_account(email, {"signature": "<p>Best,</p>" + "x" * 10_000})
    env = env_for(server, tmp_path)
    listed = subprocess.run(
        [*instantly(), "accounts", "list", "--all", "--json"], env=env, capture_output=True,
        timeout=TIMEOUT,
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count(b"\n") <= 1 and len(listed.stdout) > targets.MAX_LINE_BYTES
    before = app.request_count
    paused = subprocess.run(
        [*instantly(), "accounts", "pause", "-", "--dry-run", "--rate", "100", "-o", "jsonl"],
        input=listed.stdout, env=env, capture_output=True, timeout=TIMEOUT,
    )
    assert paused.returncode == 0, paused.stderr
    assert f"Read {len(emails)} targets from stdin.".encode() in paused.stderr
    rows = [json.loads(line) for line in paused.stdout.splitlines()]
    assert sorted(r["email"] for r in rows) == emails
    assert {r["result"] for r in rows} <= {"would-pause", "unchanged"}
    assert app.request_count > before
    assert not [r for r in app.requests if r.method != "GET"]  # a dry run changes nothing


ENDLESS_ARRAY = (
    "import sys\nw = sys.stdout.buffer\nw.write(b'[')\nwhile True: w.write(b' ' * 65536)"
)


@pytest.mark.parametrize(
    "args", [["jobs", "wait", "-"], ["accounts", "pause", "-", "--dry-run"]], ids=["jobs", "pause"]
)
@pytest.mark.parametrize(
    ("producer", "needle"),
    [
        ("import sys; sys.stdout.write('[' * 200000)", "nested too deeply"),
        (ENDLESS_ARRAY, "larger than the limit of 64 MB; nothing was sent.\nHint: Pipe JSON lines"),
    ],
    ids=["nested", "endless"],
)
def test_bad_arrays_on_stdin_are_exit_2_and_send_nothing(
    served: tuple[SandboxServer, SandboxApp, Store], tmp_path: Path, args: list[str],
    producer: str, needle: str,
) -> None:
    server, app, _ = served
    source = subprocess.Popen(
        [sys.executable, "-c", producer], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        done = subprocess.run(
            [*instantly(), *args], stdin=source.stdout, env=env_for(server, tmp_path),
            capture_output=True, text=True, timeout=TIMEOUT,
        )
    finally:
        assert source.stdout is not None
        source.stdout.close()
        source.kill()
        source.wait()
    assert done.returncode == 2, done.stderr
    assert needle in done.stderr and "Internal error" not in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert app.request_count == 0
