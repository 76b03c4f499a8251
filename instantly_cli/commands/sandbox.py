"""``instantly sandbox``: serve the local emulator over HTTP, or reseed its state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from instantly_cli import output
from instantly_cli.commands import handled
from instantly_cli.errors import CliError, UsageError
from instantly_cli.options import examples

if TYPE_CHECKING:
    from types import FrameType

    from instantly_cli.sandbox.server import SandboxServer
    from instantly_cli.sandbox.store import Store

app = typer.Typer(
    help="Run a local emulator of the API, or reset its state.\n\n"
    "The emulator is stateful (SQLite) and also serves --sandbox in-process.",
    no_args_is_help=True,
)

DEFAULT_ACCOUNTS = 120
MAX_ACCOUNTS = 1_000_000

StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state",
        metavar="PATH",
        help="SQLite state file. [default: sandbox.sqlite3 in the user data folder; "
        "env INSTANTLY_DATA_DIR moves the folder]",
        show_default=False,
        dir_okay=False,
    ),
]
AccountsOpt = Annotated[
    int | None,
    typer.Option(
        "--accounts",
        metavar="N",
        help=f"Accounts to seed (1-{MAX_ACCOUNTS:,}). [default: {DEFAULT_ACCOUNTS}]",
        show_default=False,
    ),
]

SubAccountsOpt = Annotated[
    int,
    typer.Option(
        "--sub-accounts",
        metavar="N",
        help="Accounts to seed into each sub-workspace of the agency layout (0-100,000).",
    ),
]
SingleOpt = Annotated[
    bool,
    typer.Option(
        "--single-workspace",
        help="Seed a plain workspace instead of the agency layout (an admin workspace with 3 "
        "accepted, 1 pending and 1 rejected sub-workspace); every other x-as-workspace is "
        "then a 403.",
    ),
]
MAX_SUB_ACCOUNTS = 100_000
MAX_EXTRA_CAMPAIGNS = 10_000
ExtraCampaignsOpt = Annotated[
    int,
    typer.Option(
        "--extra-campaigns",
        metavar="N",
        help="Campaigns to add to the 16 seeded ones, for scale tests (0-10,000).",
    ),
]


def _check_extra_campaigns(extra: int) -> int:
    if not 0 <= extra <= MAX_EXTRA_CAMPAIGNS:
        raise UsageError(
            f"--extra-campaigns must be from 0 to {MAX_EXTRA_CAMPAIGNS:,}, not {extra}.",
            hint="For example: --extra-campaigns 34 (50 campaigns in all).",
        )
    return extra


def _seed_options(sub_accounts: int, single: bool) -> tuple[str, int]:
    if not 0 <= sub_accounts <= MAX_SUB_ACCOUNTS:
        raise UsageError(
            f"--sub-accounts must be from 0 to {MAX_SUB_ACCOUNTS:,}, not {sub_accounts}.",
            hint="For example: --sub-accounts 50.",
        )
    from instantly_cli.sandbox.seed import LAYOUTS

    return (LAYOUTS[1] if single else LAYOUTS[0]), sub_accounts


def _state_path(state: Path | None) -> Path:
    from instantly_cli.settings import sandbox_state_path

    return (state or sandbox_state_path()).expanduser()


def _check_accounts(accounts: int | None) -> int:
    if accounts is None:
        return DEFAULT_ACCOUNTS
    if not 1 <= accounts <= MAX_ACCOUNTS:
        raise UsageError(
            f"--accounts must be from 1 to {MAX_ACCOUNTS:,}, not {accounts}.",
            hint="For example: --accounts 500.",
        )
    return accounts


def _open_store(path: Path) -> Store:
    import sqlite3

    from instantly_cli.sandbox.store import Store

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return Store(str(path))
    except (OSError, sqlite3.Error) as exc:
        raise CliError(
            f"Cannot open the sandbox state {path}: {exc}.",
            hint="Pick another file with --state, or delete this one (it only holds sandbox data).",
        ) from None


def _seed_notice(count: int, path: Path) -> None:
    if count >= 50_000:
        output.notice(f"Seeding {count:,} accounts into {path} (this takes a moment)…")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _own_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM stop this command, whatever it inherited.

    A background job of a non-interactive shell starts with SIGINT ignored, and Python keeps it
    ignored; a server nobody can stop with SIGINT is a bug. Until it serves, a signal interrupts
    the start-up (exit 130, no traceback); the previous handlers come back at the end. Used as a
    decorator below ``handled``, so the interrupt gets the usual message and exit code.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (and receive signals)
        return
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


ServeExamples = examples(
    "instantly sandbox serve",
    "instantly sandbox serve --port 9000 --latency 80 --rate-limit --fail-rate 0.05",
    "INSTANTLY_BASE_URL=http://127.0.0.1:8765 INSTANTLY_API_KEY=any instantly accounts list",
)


@app.command("serve", epilog=ServeExamples)
@handled
@_own_signals()
def serve(
    host: Annotated[
        str, typer.Option("--host", metavar="HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", help="Port to listen on (0 picks a free one).")
    ] = 8765,
    state: StateOpt = None,
    accounts: AccountsOpt = None,
    latency: Annotated[
        float, typer.Option("--latency", metavar="MS", help="Delay added to every response.")
    ] = 0,
    rate_limit: Annotated[
        bool,
        typer.Option(
            "--rate-limit",
            help="Answer 429 above --rps per second or --rpm per minute, like the real API.",
        ),
    ] = False,
    rps: Annotated[
        int, typer.Option("--rps", metavar="N", help="Requests per second with --rate-limit.")
    ] = 100,
    rpm: Annotated[
        int, typer.Option("--rpm", metavar="N", help="Requests per minute with --rate-limit.")
    ] = 6000,
    fail_rate: Annotated[
        float,
        typer.Option(
            "--fail-rate", metavar="P", help="Share of requests (0-1) answered with a random 5xx."
        ),
    ] = 0.0,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            metavar="KEY",
            help="Accept only this bearer key (401 otherwise). [default: accept any key]",
            show_default=False,
        ),
    ] = None,
    sub_accounts: SubAccountsOpt = 0,
    single_workspace: SingleOpt = False,
    extra_campaigns: ExtraCampaignsOpt = 0,
    forbid: Annotated[
        list[str] | None,
        typer.Option(
            "--forbid",
            metavar="RESOURCE",
            help="Answer 403 to every request for this resource, like a key without its scope "
            "(repeatable; the first path segment of the API, e.g. audit-logs).",
        ),
    ] = None,
) -> None:
    """Serve the sandbox on a local port until Ctrl-C.

    Point any client (or the CLI, with --base-url) at its URL.
    """
    _check_serve(port, fail_rate, latency, rps, rpm, api_key)
    wanted = _check_accounts(accounts)
    layout, subs = _seed_options(sub_accounts, single_workspace)
    extra = _check_extra_campaigns(extra_campaigns)
    path = _state_path(state)

    from instantly_cli.sandbox.app import RESOURCES, SandboxApp

    for resource in forbid or ():
        if resource not in RESOURCES:
            raise UsageError(
                f"--forbid takes a resource of the API, not {resource!r}.",
                hint="One of: " + ", ".join(RESOURCES) + ".",
            )
    from instantly_cli.sandbox.server import SandboxServer

    store = _open_store(path)
    try:
        _seed_or_warn(store, path, wanted, accounts, layout, subs, extra,
                      reseed=bool(sub_accounts or single_workspace or extra))
        # No request log: a long-running server would keep every exchange in memory.
        sandbox_app = SandboxApp(store, api_key=api_key, record=False, forbidden=forbid or ())
        try:
            server = SandboxServer(
                sandbox_app,
                host,
                port,
                latency_ms=latency,
                rate_limit=rate_limit,
                rps=rps,
                rpm=rpm,
                fail_rate=fail_rate,
            )
        except OSError as exc:
            raise CliError(
                f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
                hint="Is another sandbox running? Pick another --port (0 picks a free one).",
            ) from None
        _announce(server, store.count_accounts(), path, api_key)
        _run_until_interrupted(server)
    finally:
        store.close()
    output.info("Sandbox stopped.")


def _check_serve(
    port: int, fail_rate: float, latency: float, rps: int, rpm: int, api_key: str | None
) -> None:
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be from 0 to 65535, not {port}.")
    if not 0.0 <= fail_rate <= 1.0:
        raise UsageError(
            f"--fail-rate must be from 0 to 1, not {fail_rate:g}.",
            hint="For example: --fail-rate 0.05 fails one request in twenty.",
        )
    if latency < 0:
        raise UsageError(f"--latency must be 0 or more milliseconds, not {latency:g}.")
    if rps < 1 or rpm < 1:
        raise UsageError("--rps and --rpm must be at least 1.")
    if api_key is not None and not api_key.strip():
        raise UsageError("--api-key must not be empty.", hint="Leave it out to accept any key.")


def _seed_or_warn(
    store: Store, path: Path, wanted: int, accounts: int | None, layout: str, subs: int,
    extra: int, *, reseed: bool,
) -> None:
    """Seed an empty state file; say that seeding options do not apply to a seeded one."""
    existing = store.count_accounts()
    if existing == 0:
        _seed_notice(wanted, path)
        store.ensure_seeded(wanted, layout=layout, sub_accounts=subs)
        if extra:
            store.seed_extra_campaigns(extra)
    elif accounts is not None and existing != accounts:
        output.warn(
            f"{path} already holds {existing:,} accounts; --accounts {accounts} is ignored. "
            f"Run `instantly sandbox reset --accounts {accounts}` to reseed."
        )
    elif reseed:
        output.warn(
            f"{path} is seeded already; --sub-accounts, --single-workspace and "
            "--extra-campaigns apply to a new seed. Run `instantly sandbox reset` with them "
            "to reseed."
        )


def _announce(server: SandboxServer, count: int, path: Path, api_key: str | None) -> None:
    output.info(f"Sandbox listening on {server.url}  ({count:,} accounts, state {path})")
    key = api_key if api_key is not None else "any"
    output.info("Point the CLI (or any client) at it:")
    output.info(f"  export INSTANTLY_BASE_URL={server.url} INSTANTLY_API_KEY={key}")
    if api_key is None:
        output.notice(
            "Any non-empty API key is accepted (start with --api-key KEY to require one)."
        )
    knobs = []
    if server.latency_ms:
        knobs.append(f"latency {server.latency_ms:g} ms")
    if server.rate_limit:
        knobs.append(f"rate limit {server.rps}/s and {server.rpm}/min")
    if server.fail_rate:
        knobs.append(f"random 5xx on {server.fail_rate:.0%} of requests")
    if server.app.forbidden:
        knobs.append("403 for " + ", ".join(sorted(server.app.forbidden)))
    if knobs:
        output.notice("Knobs: " + ", ".join(knobs) + ".")
    if server.host not in ("127.0.0.1", "localhost", "::1"):
        output.warn(f"listening on {server.host}: other machines can reach this sandbox.")
    output.notice("Press Ctrl-C to stop.")


def _run_until_interrupted(server: SandboxServer) -> None:
    """Serve until SIGINT or SIGTERM, then stop: in-flight requests drained, within ~2 s.

    The handlers only set an event: an exception raised at a random point could cut the
    shutdown itself short. A second signal during the stop changes nothing.
    """
    import signal
    import threading

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, on_signal)
    server.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:  # pragma: no cover - only off the main thread
        pass
    finally:
        server.stop(timeout=1.0)


ResetExamples = examples(
    "instantly sandbox reset",
    "instantly sandbox reset --accounts 5000",
    "instantly sandbox reset --state ./demo.sqlite3 --accounts 20",
    "instantly sandbox reset --sub-accounts 50",
)


@app.command("reset", epilog=ResetExamples)
@handled
def reset(
    state: StateOpt = None,
    accounts: AccountsOpt = None,
    sub_accounts: SubAccountsOpt = 0,
    single_workspace: SingleOpt = False,
    extra_campaigns: ExtraCampaignsOpt = 0,
) -> None:
    """Wipe the sandbox state and seed it again.

    The seed is deterministic: accounts, tags, mappings, campaigns and workspaces.
    """
    wanted = _check_accounts(accounts)
    layout, subs = _seed_options(sub_accounts, single_workspace)
    extra = _check_extra_campaigns(extra_campaigns)
    path = _state_path(state)
    store = _open_store(path)
    try:
        _seed_notice(wanted, path)
        store.reset(wanted, layout=layout, sub_accounts=subs)
        if extra:
            store.seed_extra_campaigns(extra)
        count = store.count_accounts()
    finally:
        store.close()
    output.success(f"Sandbox reset: {count:,} accounts seeded in {path}.")
