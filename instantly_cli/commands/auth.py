"""``instantly auth``: log in with an API key, see which key is in use, log out."""

import sys
from typing import Annotated, Any

import typer

from instantly_cli import context, output
from instantly_cli.commands import handled
from instantly_cli.config_file import Config, Profile, update_config
from instantly_cli.errors import (
    AuthError,
    CliError,
    MissingKeyError,
    UsageError,
    check_profile_name,
    redact,
    safe_url,
)
from instantly_cli.options import argument, examples
from instantly_cli.options_bundles import NO_VIEW, View, view_options
from instantly_cli.settings import DEFAULT_BASE_URL, Settings, check_base_url, check_key, mask
from instantly_cli.targets import read_bounded

app = typer.Typer(
    help="Log in, check, switch and log out of API keys (profiles).", no_args_is_help=True
)


def _verify(ctx: typer.Context, settings: Settings, key: str) -> None:
    """Check ``key`` against the API; raises the typed error on rejection."""
    settings.api_key = key
    with context.client(ctx, resolved=settings, api_key=key) as client:
        client.verify()


LoginExamples = examples(
    "instantly auth login",
    "printf '%s' \"$KEY\" | instantly --profile client-a auth login --with-token",
)


@app.command("login", epilog=LoginExamples)
@handled
def login(
    ctx: typer.Context,
    with_token: Annotated[
        bool, typer.Option("--with-token", help="Read the key from stdin instead of a prompt.")
    ] = False,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", metavar="URL", help="Save this API base URL in the profile."),
    ] = None,
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", metavar="ID", help="Save a workspace id (x-as-workspace)."),
    ] = None,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Save without checking the key with the API.")
    ] = False,
) -> None:
    """Save an API key to a profile, after checking it works."""
    settings = context.settings(ctx, allow_new_profile=True)
    if base_url:  # refused before the key is asked for
        settings.base_url = check_base_url(base_url)
    if with_token:
        key = read_bounded(sys.stdin, "The key on standard input", 1024 * 1024).strip()
    elif output.stdin_is_tty():
        key = output.prompt_secret("Paste your Instantly API key (input is hidden)").strip()
    else:
        raise UsageError(
            "No terminal to prompt on.",
            hint="Pipe the key with --with-token: ... | instantly auth login --with-token",
        )
    if not key:
        raise UsageError(
            "No API key given.", hint="Create one in Instantly: Settings → Integrations → API."
        )
    from instantly_cli.errors import register_secret

    register_secret(key)
    key = check_key(key, "the input")
    name = settings.profile
    if workspace:
        settings.workspace = workspace
    if not no_verify:
        try:
            _verify(ctx, settings, key)
        except AuthError as err:
            raise AuthError(
                f"The API rejected this key ({err.message}); nothing was saved.", status=err.status
            ) from None
    becomes_default = False

    def save(cfg: Config) -> None:
        nonlocal becomes_default
        # A profile becomes the default only when there is no default to keep: the first one,
        # or one replacing a default that no longer exists. An existing default is never moved.
        becomes_default = cfg.default_profile not in cfg.profiles
        profile = cfg.profiles.setdefault(name, Profile(name=name))
        profile.api_key = key
        if base_url:
            profile.base_url = settings.base_url
        if workspace:
            profile.workspace = workspace
        if becomes_default:
            cfg.default_profile = name

    cfg = update_config(save)
    checked = "" if no_verify else "verified, "
    output.success(f"Logged in: profile '{name}' ({checked}key {mask(key)}) saved to {cfg.path}.")
    if becomes_default:
        output.info(f"'{name}' is the default profile.")
    elif cfg.default_profile != name:
        output.info(
            f"The default profile is still '{cfg.default_profile}'. Use this one with "
            f"--profile {name}, or make it the default: instantly auth switch {name}"
        )
    if settings.key_source == "env":
        output.warn("INSTANTLY_API_KEY is set and takes precedence over the saved key.")


def _host(url: object) -> str:
    """``https://api.instantly.ai`` → ``api.instantly.ai`` (a base URL on a narrow terminal)."""
    text = str(url or "")
    return text.split("://", 1)[-1]


def _live_check(ctx: typer.Context, settings: Settings, key: str) -> str:
    try:
        _verify(ctx, settings, key)
    except CliError as err:
        # This lands on stdout, which is not scrubbed: an API that echoes the key must not leak it.
        return f"failed: {redact(err.message)}"
    return "ok"


@app.command("status", epilog=examples("instantly auth status", "instantly auth status --json"))
@handled
@view_options("wide")
def status(
    ctx: typer.Context,
    offline: Annotated[bool, typer.Option("--offline", help="Skip the live check.")] = False,
    view: View = NO_VIEW,
) -> None:
    """Show every profile: key source, masked key, live check.

    Also the base URL and workspace of each; * marks the profile in use.
    """
    fmt = view.format(ctx)
    active = context.settings(ctx)
    cfg = active.config
    names = sorted(set(cfg.profiles) | {active.profile})
    rows: list[dict[str, Any]] = []
    active_ok = False
    for name in names:
        profile = cfg.profiles.get(name) or Profile(name=name)
        is_active = name == active.profile
        if is_active:
            key, source, base, ws = (
                active.api_key,
                active.key_source,
                active.base_url,
                active.workspace,
            )
        else:
            key, source = profile.api_key, "config" if profile.api_key else None
            base = profile.base_url or DEFAULT_BASE_URL
            ws = profile.workspace
        check = "skipped"
        if not key:
            check = "no key"
        elif not offline:
            probe = Settings(
                name, key, source, base, ws, active.sandbox and is_active, active.verbose, cfg
            )
            check = "ok (sandbox)" if probe.sandbox else _live_check(ctx, probe, key)
        if is_active:
            active_ok = check.startswith("ok") or (offline and bool(key))
        rows.append(
            {
                "profile": name,
                "active": is_active,
                "key_source": source,
                "key": mask(key) if source != "sandbox" else "sandbox",
                "base_url": safe_url(base),
                "workspace": ws,
                "check": check,
            }
        )
    from instantly_cli.columns import Column

    columns = [
        Column("active", "", fmt=lambda v: "*" if v else "", priority=100),
        Column("profile", "Profile", priority=100),
        Column("key_source", "Source", priority=40),
        Column("key", "Key", priority=60),
        Column("base_url", "Base URL", priority=30, short=_host),
        Column("workspace", "Workspace", priority=50),
        Column("check", "Check", priority=90),
    ]
    output.emit_records([rows], fmt, columns, wide=view.wide)
    if not active_ok:
        if not active.api_key:
            raise MissingKeyError(f"Profile '{active.profile}' has no API key.")
        raise AuthError(f"The key of profile '{active.profile}' does not work.")


@app.command(
    "switch",
    epilog=examples("instantly auth switch client-b", "instantly auth status --offline"),
)
@handled
def switch(
    ctx: typer.Context,
    name: Annotated[str | None, argument("NAME")] = None,
) -> None:
    """Make a saved profile the default one.

    NAME is the profile (see instantly auth status). An unknown name exits 4 and suggests
    close ones. INSTANTLY_PROFILE and --profile still win over the default.
    """
    import os

    from instantly_cli.settings import set_default_profile

    if name is None:
        raise UsageError("Name the profile.", hint="For example: instantly auth switch client-b")
    check_profile_name(name, "auth switch")
    cfg, previous = set_default_profile(name)
    if previous == cfg.default_profile:
        output.info(f"'{cfg.default_profile}' is already the default profile.")
    else:
        output.success(
            f"Default profile is now '{cfg.default_profile}' (was '{previous}'), in {cfg.path}."
        )
    env = os.environ.get("INSTANTLY_PROFILE")
    if env and env != cfg.default_profile:
        output.warn(f"INSTANTLY_PROFILE={env} is set and takes precedence over the default.")


@app.command(
    "logout", epilog=examples("instantly auth logout", "instantly --profile client-a auth logout")
)
@handled
def logout(
    ctx: typer.Context,
) -> None:
    """Remove the saved API key of the profile."""
    settings = context.settings(ctx)
    name = settings.profile
    saved = settings.config.profiles.get(name)
    if saved is None or not saved.api_key:
        output.info(f"Profile '{name}' has no saved key; nothing to do.")
    else:

        def forget(cfg: Config) -> None:
            profile = cfg.profiles.get(name)
            if profile is not None:
                profile.api_key = None
                if not profile.to_toml():
                    del cfg.profiles[name]

        cfg = update_config(forget)
        output.success(f"Removed the key of profile '{name}' from {cfg.path}.")
    if settings.key_source == "env":
        output.warn("INSTANTLY_API_KEY is still set in the environment and will be used.")
