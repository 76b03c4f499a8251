"""stdout that fails, in the environment users have: no PYTHONUNBUFFERED (stdout into a file or
a pipe is block-buffered, so a write can fail late, at exit), and a cron job's bare environment.

A full disk (``> /dev/full``) is the tool's own ``Error:`` and exit 1, never Python's "Exception
ignored … OSError" and exit 120; a reader that left (EPIPE) stays quiet.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.children import CRON_PATH, cron_env, instantly, user_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full"),
]

TIMEOUT = 60
TRAILERS = ("Exception ignored", "Traceback", "Internal error")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A cron job using the built-in sandbox, its folders in this test's temp dir."""
    return cron_env(
        INSTANTLY_SANDBOX="1",
        INSTANTLY_CONFIG_DIR=str(tmp_path / "config"),
        INSTANTLY_DATA_DIR=str(tmp_path / "data"),
        INSTANTLY_STATE_DIR=str(tmp_path / "state"),
    )


def run(args: list[str], env: dict[str, str], *, stdin: str = "", full: bool = False
        ) -> subprocess.CompletedProcess[str]:
    if not full:
        return subprocess.run([*instantly(), *args], input=stdin, env=env, capture_output=True,
                              text=True, timeout=TIMEOUT)
    with open("/dev/full", "w") as stdout:
        return subprocess.run([*instantly(), *args], input=stdin, env=env, stdout=stdout,
                              stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)


def first_email(env: dict[str, str]) -> str:
    listed = run(["accounts", "list", "--limit", "1", "-o", "jsonl"], env)
    assert listed.returncode == 0, listed.stderr
    return str(json.loads(listed.stdout)["email"])


def assert_output_error(proc: subprocess.CompletedProcess[str]) -> None:
    """Exit 1 and the one documented error line, in text."""
    assert proc.returncode == 1, proc.stderr
    for trailer in TRAILERS:
        assert trailer not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: Could not write to stdout: No space left on device."], proc.stderr


def test_the_helpers_build_a_users_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    monkeypatch.setenv("PYTHONIOENCODING", "latin-1")
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("INSTANTLY_API_KEY", "from-outside")
    users = user_env(NO_COLOR="1")
    assert "PYTHONUNBUFFERED" not in users and "PYTHONIOENCODING" not in users
    assert "INSTANTLY_API_KEY" not in users and users["NO_COLOR"] == "1"
    assert users["LANG"] == "C.UTF-8"  # a login shell has a locale
    cron = cron_env(INSTANTLY_SANDBOX="1")
    assert cron["PATH"] == CRON_PATH and cron["INSTANTLY_SANDBOX"] == "1"
    assert not [k for k in cron if k.startswith(("LANG", "LC_", "PYTHON", "TERM"))], cron


def test_conftest_keeps_the_machines_python_variables_from_children() -> None:
    """Even a child started from os.environ as is runs without them."""
    assert "PYTHONUNBUFFERED" not in os.environ


def test_get_json_into_a_full_disk_is_the_json_error_and_exit_1(env: dict[str, str]) -> None:
    proc = run(["accounts", "get", first_email(env), "-o", "json"], env, full=True)
    assert proc.returncode == 1, proc.stderr
    for trailer in TRAILERS:
        assert trailer not in proc.stderr, proc.stderr
    [line] = proc.stderr.splitlines()  # -o json: the error is the JSON object, and only it
    error = json.loads(line)["error"]
    assert error["code"] == "output_error"
    assert error["message"] == "Could not write to stdout: No space left on device."


@pytest.mark.parametrize("fmt", ["jsonl", "tsv", "table", "csv"])
def test_list_into_a_full_disk_is_an_error_not_an_internal_error(
    env: dict[str, str], fmt: str
) -> None:
    proc = run(["accounts", "list", "--limit", "3", "-o", fmt], env, full=True)
    if fmt == "jsonl":
        assert json.loads(proc.stderr.splitlines()[-1])["error"]["code"] == "output_error"
        assert proc.returncode == 1 and not any(t in proc.stderr for t in TRAILERS)
    else:
        assert_output_error(proc)


def test_get_detail_view_into_a_full_disk(env: dict[str, str]) -> None:
    assert_output_error(run(["accounts", "get", first_email(env), "-o", "table"], env, full=True))


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["accounts", "list", "--help"]])
def test_help_and_version_into_a_full_disk(env: dict[str, str], args: list[str]) -> None:
    assert_output_error(run(args, env, full=True))


def test_update_from_stdin_into_a_full_disk_changes_and_says_the_results_were_lost(
    env: dict[str, str],
) -> None:
    """``env -i PATH=… instantly accounts update - … > /dev/full``: the change is made, the
    summary is on stderr, the lost results are one warning, and the exit code is 1, not 120."""
    email = first_email(env)
    proc = run(["accounts", "update", "-", "--daily-limit", "7", "--yes", "-o", "json"], env,
               stdin=email + "\n", full=True)
    assert proc.returncode == 1, proc.stderr
    assert not any(t in proc.stderr for t in TRAILERS), proc.stderr
    assert "updated 1, unchanged 0, failed 0 of 1" in proc.stderr
    assert "Could not write the results to stdout: No space left on device." in proc.stderr
    after = run(["accounts", "get", email, "-o", "json"], env)
    assert json.loads(after.stdout)["daily_limit"] == 7


def test_a_reader_that_leaves_is_quiet_and_exit_0(env: dict[str, str]) -> None:
    """``instantly accounts list --all -o jsonl | head -1`` in a cron job: no message at all."""
    proc = subprocess.Popen(
        [*instantly(), "accounts", "list", "--all", "-o", "jsonl"], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # like `head -1`: gone after one line
    err = proc.stderr.read()
    assert proc.wait(timeout=TIMEOUT) == 0, err
    assert json.loads(first)["email"]
    assert err == "", err


def test_a_reader_gone_before_anything_is_written_is_quiet(env: dict[str, str]) -> None:
    """``instantly accounts get EMAIL -o json | true``: the first write meets a closed pipe."""
    email = first_email(env)
    proc = subprocess.Popen(
        [*instantly(), "accounts", "get", email, "-o", "json"], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=TIMEOUT) == 0, err
    assert err == "", err
