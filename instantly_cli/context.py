"""The one place that wires the layers together: Typer context → settings → a ready client.

Commands call :func:`output_format` (or :func:`out`), :func:`settings` and :func:`client`;
nothing else builds a client, opens the sandbox or hooks ``--verbose`` into the HTTP layer. What a
process is wired with (transport, clock, sleep, poll interval, the streams and whether each is a
terminal) is a :class:`Runtime`, handed in as the Typer context's ``obj`` (tests pass their own:
``CliRunner().invoke(app, args, obj=Runtime(terminal=Terminal(stdout_isatty=True)))``).
"""

from __future__ import annotations

import dataclasses
import gc
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

from instantly_cli import output
from instantly_cli.errors import UsageError
from instantly_cli.output import Output
from instantly_cli.settings import GlobalOptions, Settings, resolve, sandbox_state_path
from instantly_cli.targets import escape
from instantly_cli.terminal import Terminal

if TYPE_CHECKING:
    import httpx

    from instantly_cli.client import InstantlyClient
    from instantly_cli.ratelimit import RateLimiter
    from instantly_cli.services.workspaces import Workspace

MAX_READ_TIMEOUT = 3600.0


# eq/repr: never compared or printed; skipping them keeps start-up cheap.
@dataclass(repr=False, eq=False)
class Runtime:
    """What one invocation runs with. The defaults are the real world; tests replace them."""

    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    # Seconds between polls of a background job.
    poll_interval: float = 1.0
    # Base of the exponential retry backoff and the longest Retry-After honoured (seconds).
    backoff_base: float = 0.5
    max_retry_after: float = 60.0
    # --max-wait of a bulk command: the most time its run waits on 429s (None: the default).
    max_wait: float | None = None
    options: GlobalOptions = field(default_factory=GlobalOptions)
    # The output format the command resolved: the error handler writes errors in it.
    fmt: str | None = None
    # The limiter shared by every client of this invocation (one per process).
    limiter: RateLimiter | None = None
    # The streams and whether each is a terminal (default: the process's own).
    terminal: Terminal = field(default_factory=Terminal)


_OUTPUT = "instantly.output"
# What one invocation resolves once (in the root context's meta, which lives as long as the
# invocation): its settings (by allow_new_profile) and its sandbox transport.
_SETTINGS = "instantly.settings"
_SANDBOX = "instantly.sandbox"
# A roll-up opens its clients (and reads the settings) from worker threads at once.
_ONCE = threading.Lock()


def runtime(ctx: typer.Context) -> Runtime:
    """The invocation's runtime (made by the root callback; a bare one outside the CLI).

    The first call of an invocation (the root callback's) also resolves its :class:`Output`
    from the runtime's terminal, for every printing function until the invocation ends.
    """
    root = ctx.find_root()
    obj = root.obj
    if not isinstance(obj, Runtime):
        obj = Runtime()
        root.obj = obj
    if _OUTPUT not in root.meta:
        resolved = root.meta[_OUTPUT] = Output.resolve(obj.terminal)
        root.call_on_close(output.install(resolved))
    return obj


def out(ctx: typer.Context) -> Output:
    """The invocation's output: streams, terminal facts, width, colour and (once chosen) the
    format."""
    runtime(ctx)
    found: Output = ctx.find_root().meta[_OUTPUT]
    return found


def output_format(ctx: typer.Context, output_: str | None, json_output: bool = False) -> str:
    """Resolve ``-o``/``--json`` and record it, so errors are written in the same format."""
    fmt = out(ctx).choose(output_, json_output)
    runtime(ctx).fmt = fmt
    return fmt


def settings(ctx: typer.Context, *, allow_new_profile: bool = False) -> Settings:
    """The invocation's settings, resolved on the first call only: the config file is read,
    its secrets registered and a too-open file warned about once, however many parts ask."""
    rt = runtime(ctx)
    meta = ctx.find_root().meta
    with _ONCE:
        done: dict[bool, Settings] = meta.setdefault(_SETTINGS, {})
        resolved = done.get(allow_new_profile)
        if resolved is None:
            resolved = resolve(rt.options, allow_new_profile=allow_new_profile)
            if resolved.config.too_open and not done:
                path = resolved.config.path
                output.warn(f"{path} is readable by other users; run: chmod 600 {path}")
            done[allow_new_profile] = resolved
    # A copy: a caller may change its own (auth login sets the base URL it will save).
    return dataclasses.replace(resolved)


def read_timeout() -> float:
    """``INSTANTLY_TIMEOUT`` (seconds, above 0 and at most an hour), else the client's 30."""
    raw = os.environ.get("INSTANTLY_TIMEOUT", "").strip()
    if not raw:
        from instantly_cli.client import READ_TIMEOUT

        return READ_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    # At most an hour: 1e10 once reached the socket layer and ended in an OverflowError.
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_READ_TIMEOUT:
        raise UsageError(
            f"INSTANTLY_TIMEOUT must be a number of seconds above 0 and at most "
            f"{MAX_READ_TIMEOUT:.0f}, not '{raw[:40]}'.",
            hint="For example: INSTANTLY_TIMEOUT=30.",
        )
    return seconds


def max_response_bytes() -> int:
    """``INSTANTLY_MAX_RESPONSE_MB`` (a whole number of MB above 0), else the client's 64 MB."""
    raw = os.environ.get("INSTANTLY_MAX_RESPONSE_MB", "").strip()
    if not raw:
        from instantly_cli.client import MAX_RESPONSE_BYTES

        return MAX_RESPONSE_BYTES
    # ASCII digits only (int() also reads '²' or '١'), and few of them: int() of thousands of
    # digits raises its own ValueError.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or not 1 <= int(raw) <= 65536:
        shown = raw if len(raw) <= 20 else raw[:17] + "..."
        raise UsageError(
            "INSTANTLY_MAX_RESPONSE_MB must be a whole number of megabytes from 1 to 65536, "
            f"not '{escape(shown)}'.",
            hint="For example: INSTANTLY_MAX_RESPONSE_MB=256.",
        )
    return int(raw) * 1024 * 1024


def limiter(ctx: typer.Context, rate: float) -> RateLimiter:
    """The process's rate limiter, made on first use at ``rate`` requests per second."""
    rt = runtime(ctx)
    if rt.limiter is None:
        from instantly_cli.ratelimit import RateLimiter

        rt.limiter = (
            RateLimiter(rate) if rt.max_wait is None else RateLimiter(rate, max_wait=rt.max_wait)
        )
    return rt.limiter


def client(
    ctx: typer.Context,
    *,
    rate: float | None = None,
    resolved: Settings | None = None,
    api_key: str | None = None,
) -> InstantlyClient:
    """A client for the resolved settings: the real API, or the sandbox in-process.

    ``rate`` paces it with the process's limiter (bulk work); httpx is imported here (with the
    client), never at start-up.
    """
    from instantly_cli.client import InstantlyClient

    if gc.get_freeze_count():
        # main() froze start-up's objects; httpx and the client, loaded just now, live as long.
        gc.freeze()
    rt = runtime(ctx)
    s = resolved or settings(ctx)
    if s.workspace and not _is_id(s.workspace):
        # A name (`--workspace "Client A"`): its id, from the key's own workspace's list.
        s = dataclasses.replace(s, workspace=workspace_id(ctx, s.workspace, s, api_key=api_key))
    transport = rt.transport
    key = api_key or (None if s.sandbox else s.require_key())
    base_url = s.base_url
    if s.sandbox:
        transport = _sandbox_transport(ctx)
        key = key or s.api_key or "sandbox"
        base_url = "http://sandbox.invalid"
    return InstantlyClient(
        api_key=key or "",
        base_url=base_url,
        workspace=s.workspace,
        transport=transport,
        limiter=limiter(ctx, rate) if rate is not None else None,
        read_timeout=read_timeout(),
        on_exchange=output.log_exchange if s.verbose else None,
        sleep=rt.sleep,
        backoff_base=rt.backoff_base,
        max_retry_after=rt.max_retry_after,
        max_response_bytes=max_response_bytes(),
    )


def _is_id(text: str) -> bool:
    from instantly_cli.services.workspaces import is_id

    return is_id(text)


def workspace_id(
    ctx: typer.Context,
    text: str,
    resolved: Settings | None = None,
    *,
    api_key: str | None = None,
    option: str = "--workspace",
) -> str:
    """The id of the workspace ``text`` names (a name, any case, or an id) for the profile's
    key; names are cached per profile in the state folder. Exit 2 for an unknown or ambiguous
    name, with the close ones."""
    from instantly_cli.services import workspaces

    own = dataclasses.replace(resolved or settings(ctx), workspace=None)
    if workspaces.is_id(text):
        return text.strip().lower()

    def fetch() -> list[workspaces.Workspace]:
        from instantly_cli.errors import ForbiddenError

        try:
            return _directory(ctx, own, api_key)
        except ForbiddenError as exc:
            raise ForbiddenError(
                f"Cannot look up the workspace named '{text.strip()}': {exc.message}",
                hint="Give the workspace id instead (a key without the workspaces scope "
                "cannot read names).",
            ) from None

    return workspaces.resolve(text, fetch, name_cache(own, api_key), option=option)


def own_workspace_id(ctx: typer.Context, resolved: Settings | None = None) -> str | None:
    """The id of the key's own workspace: from the name cache, else read once (and cached);
    None when the key may not read it."""
    from instantly_cli.enums import WORKSPACE_CURRENT
    from instantly_cli.errors import CliError
    from instantly_cli.services import workspaces

    own = dataclasses.replace(resolved or settings(ctx), workspace=None)
    try:
        known = workspaces.known(lambda: _directory(ctx, own, None), name_cache(own))
    except CliError:
        return None
    return next((w.id.lower() for w in known if w.status == WORKSPACE_CURRENT), None)


def _directory(ctx: typer.Context, own: Settings, api_key: str | None) -> list[Workspace]:
    from instantly_cli.services import workspaces

    with client(ctx, resolved=own, api_key=api_key) as admin:
        return workspaces.directory(admin)


def name_cache(s: Settings, api_key: str | None = None) -> Any:
    """The workspace-name cache of the profile ``s`` (keyed by its key and base URL)."""
    from instantly_cli.services.workspaces import NameCache
    from instantly_cli.settings import state_dir

    key = api_key or s.api_key or ""
    base = "sandbox" if s.sandbox else s.base_url
    return NameCache.of(state_dir(), s.profile, base, key)


def _sandbox_transport(ctx: typer.Context) -> httpx.BaseTransport:
    """The invocation's one sandbox (its store opened and seeded once, however many clients a
    roll-up opens), and the banner saying so, once."""
    meta = ctx.find_root().meta
    with _ONCE:
        found: httpx.BaseTransport | None = meta.get(_SANDBOX)
        if found is None:
            from instantly_cli.client import wsgi_transport
            from instantly_cli.sandbox.app import SandboxApp
            from instantly_cli.sandbox.store import Store

            path = sandbox_state_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            store = Store(str(path))
            store.ensure_seeded()
            found = meta[_SANDBOX] = wsgi_transport(SandboxApp(store, record=False))
            output.banner("Using the sandbox (local emulator; no real workspace is touched).")
    return found
