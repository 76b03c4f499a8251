"""Every test runs with its own config and data folder and no INSTANTLY_* from the outside."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
import typer.testing
from typer.testing import CliRunner, Result

from instantly_cli.cli import app as cli_app
from instantly_cli.context import Runtime
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.sandbox.store import Store
from instantly_cli.terminal import Terminal
from tests.children import NOT_A_USERS

TEST_KEY = "test-key-Zq7Wm3Kx9Lp2"
COLOR_VARS = ("NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR", "TERM")


# The runtime the current test's CLI invocations are wired with (see the ``runtime`` fixture).
_RUNTIME: list[Runtime] = []


@functools.cache
def _command(app: typer.Typer) -> Any:
    """The Click command of a Typer app, built once per app and process.

    ``CliRunner.invoke`` rebuilds it from the app on every call (reading every command's
    signature and annotations again): two thirds of the CPU of an in-process CLI test. The
    command is stateless between invocations (a context and the Runtime are made per call), and
    the program builds it once per process too."""
    return _build_command(app)


_build_command = typer.testing._get_command


@pytest.fixture(autouse=True, scope="session")
def command_built_once() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.testing, "_get_command", _command)
        yield


def test_runtime() -> Runtime:
    """Retries keep their logic but not their waiting; jobs are polled without pause."""
    # No controlling terminal to ask on, even when pytest itself runs on one.
    return Runtime(backoff_base=0.001, max_retry_after=0.01, poll_interval=0.0,
                   terminal=Terminal(open_tty=lambda: None))


@pytest.fixture(autouse=True)
def runtime() -> Iterator[Runtime]:
    """What every CLI invocation of this test runs with: set ``runtime.transport`` to point the
    CLI at an in-process app or a mock (the seam is an argument, not a module global)."""
    rt = test_runtime()
    _RUNTIME.append(rt)
    yield rt
    _RUNTIME.remove(rt)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Without the Python variables test machines export (PYTHONUNBUFFERED…), so even a child
    # started from os.environ runs the way users run it (see tests/children.py).
    for name in list(os.environ):
        if name.startswith("INSTANTLY_") or name in COLOR_VARS or name in NOT_A_USERS:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INSTANTLY_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("INSTANTLY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INSTANTLY_STATE_DIR", str(tmp_path / "state"))
    # Subprocesses whose environment a test builds without INSTANTLY_* still keep their run
    # journals and failure files out of the real user state folder (platformdirs reads it).
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    return tmp_path


@pytest.fixture(autouse=True)
def own_working_directory(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test runs in an empty folder of its own: nothing it writes lands in the repo."""
    cwd = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(cwd)
    return cwd


def invoke(
    args: list[str],
    input: str | bytes | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    **kwargs: Any,
) -> Result:
    """Run the CLI in-process with a fresh copy of the test's runtime (``transport`` overrides)."""
    base = _RUNTIME[-1] if _RUNTIME else test_runtime()
    rt = Runtime(
        transport=transport or base.transport,
        backoff_base=base.backoff_base,
        max_retry_after=base.max_retry_after,
        poll_interval=base.poll_interval,
        sleep=base.sleep,
        clock=base.clock,
        terminal=base.terminal,
    )
    return CliRunner().invoke(cli_app, args, input=input, obj=rt, **kwargs)


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Run the CLI in-process; stdout and stderr are kept apart."""
    return invoke


@functools.cache
def _seeded() -> bytes:
    """The seeded sandbox database, made once per process (seeding is 1/20 s of CPU a test)."""
    template = Store(":memory:")
    template.ensure_seeded(120)
    try:
        return template._conn.serialize()
    finally:
        template.close()


@pytest.fixture
def store() -> Iterator[Store]:
    """The sandbox's seeded data set (120 accounts), in memory, this test's own copy."""
    s = Store(":memory:")
    s._conn.deserialize(_seeded())
    yield s
    s.close()


@pytest.fixture
def sandbox(
    store: Store, monkeypatch: pytest.MonkeyPatch, runtime: Runtime
) -> Iterator[SandboxApp]:
    """The emulator, in-process; every request the suite sends through it is contract-checked."""
    from tests.contract import validate_recorded

    app = SandboxApp(store, api_key=TEST_KEY)
    runtime.transport = httpx.WSGITransport(app=app)
    monkeypatch.setenv("INSTANTLY_API_KEY", TEST_KEY)
    monkeypatch.setenv("INSTANTLY_BASE_URL", "http://sandbox.test")
    yield app
    validate_recorded(app, every_request=True)


@pytest.fixture
def mock_api(
    monkeypatch: pytest.MonkeyPatch, runtime: Runtime
) -> Callable[[Callable[[httpx.Request], httpx.Response]], list[httpx.Request]]:
    """Install a MockTransport handler (for what the sandbox cannot produce); returns the log."""

    def install(handler: Callable[[httpx.Request], httpx.Response]) -> list[httpx.Request]:
        seen: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return handler(request)

        runtime.transport = httpx.MockTransport(record)
        monkeypatch.setenv("INSTANTLY_API_KEY", TEST_KEY)
        monkeypatch.setenv("INSTANTLY_BASE_URL", "http://mock.test")
        return seen

    return install


def envelope(status: int, error: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"statusCode": status, "error": error, "message": message})
