"""Profiles, env precedence, resolving :class:`Settings`; the data and state folders.

The config file itself is read and written by :mod:`instantly_cli.config_file` only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from instantly_cli.config_file import Config, Profile, load_config, update_config, user_dir
from instantly_cli.errors import MissingKeyError, UsageError
from instantly_cli.targets import escape

DEFAULT_BASE_URL = "https://api.instantly.ai"
SANDBOX_KEY = "sandbox"


def data_dir() -> Path:
    """Where the sandbox keeps its state (env ``INSTANTLY_DATA_DIR`` overrides)."""
    return user_dir("INSTANTLY_DATA_DIR", "data")


def state_dir() -> Path:
    """Run journals and failure files of bulk runs (env ``INSTANTLY_STATE_DIR`` overrides)."""
    return user_dir("INSTANTLY_STATE_DIR", "state")


def sandbox_state_path() -> Path:
    return data_dir() / "sandbox.sqlite3"


def set_default_profile(name: str) -> tuple[Config, str]:
    """Make ``name`` the default profile and save; returns the config and the previous
    default. An unknown name is not found (exit 4), with the close names."""
    import difflib

    from instantly_cli.errors import NotFoundError

    wanted = name.strip()

    def check(cfg: Config) -> None:
        if wanted in cfg.profiles:
            return
        names = sorted(cfg.profiles)
        close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.5)
        if close:
            hint = "Did you mean: " + ", ".join(close) + "?"
        elif names:
            hint = f"Profiles in {cfg.path}: {', '.join(names)}."
        else:
            hint = f"No profile is saved yet; create one: instantly --profile {wanted} auth login"
        raise NotFoundError(f"No profile '{wanted}'.", hint=hint)

    cfg = load_config()
    check(cfg)
    previous = cfg.default_profile
    if previous == wanted:
        return cfg, previous

    def switch(fresh: Config) -> None:
        nonlocal previous
        check(fresh)  # removed since the read above: refused, nothing written
        previous, fresh.default_profile = fresh.default_profile, wanted

    return update_config(switch), previous


def mask(key: str | None) -> str:
    """Show only the last 4 characters of a key (nothing of a short one)."""
    if not key:
        return ""
    return "****" + key[-4:] if len(key) >= 12 else "****"


class GlobalOptions(NamedTuple):
    """What the root callback parsed; commands resolve it into :class:`Settings` when needed."""

    profile: str | None = None
    base_url: str | None = None
    workspace: str | None = None
    sandbox: bool = False
    verbose: bool = False


@dataclass(repr=False, eq=False)
class Settings:
    """What a command runs with: the profile, key, base URL and workspace, resolved."""

    profile: str
    api_key: str | None
    key_source: str | None  # "env", "config", "sandbox" or None
    base_url: str
    workspace: str | None
    sandbox: bool
    verbose: bool
    config: Config
    # The profile's alert webhooks and health thresholds (flags replace them).
    notify: list[str] = field(default_factory=list)
    at_risk_below: float | None = None
    watch_below: float | None = None

    def require_key(self) -> str:
        if not self.api_key:
            raise MissingKeyError(f"No API key for profile '{self.profile}'.")
        return self.api_key


def check_key(key: str, where: str) -> str:
    """Strip stray surrounding white space (a key file's line end); refuse anything a header
    cannot carry, before it reaches the network or an error message."""
    key = key.strip()
    if not key or not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        raise UsageError(
            f"The API key from {where} contains spaces, control or non-ASCII characters.",
            hint="Copy the key again exactly as Instantly shows it; `instantly auth login` "
            "checks it before saving.",
        )
    return key


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def check_base_url(url: str, where: str = "") -> str:
    """``url`` without its trailing slash; exit 2 unless it is an http(s) URL with a host and,
    if any, a numeric port (httpx refuses the rest only when the first request is sent, and the
    CLI would call that a bug). ``where`` says where it was read, for the hint."""
    valid = url.startswith(("http://", "https://")) and url.isprintable() and not any(
        c.isspace() for c in url
    )
    try:
        parts = urlsplit(url)
        _ = parts.port  # reading it checks it: 'abc', '-1' and 99999 raise ValueError
    except ValueError:  # also 'http://[::1' (an unclosed IPv6 bracket)
        valid = False
    if not valid or not parts.hostname:
        raise UsageError(
            f"Invalid base URL '{escape(url)}'.",
            hint=f"Use a full URL such as https://api.instantly.ai{where}.",
        )
    return url.rstrip("/")


def resolve(opts: GlobalOptions, *, allow_new_profile: bool = False) -> Settings:
    """Apply precedence: flags > env > profile > defaults; the key: env > profile."""
    from instantly_cli.errors import check_profile_names, register_secret, register_url_secret

    check_profile_names(opts.profile, os.environ.get("INSTANTLY_PROFILE"))
    cfg = load_config()
    explicit = opts.profile or os.environ.get("INSTANTLY_PROFILE") or None
    name = explicit or cfg.default_profile
    profile = cfg.profiles.get(name)
    if profile is None:
        if explicit and not allow_new_profile and cfg.profiles:
            raise UsageError(
                f"Unknown profile '{name}'.",
                hint=f"Profiles in {cfg.path}: {', '.join(sorted(cfg.profiles))}.",
            )
        profile = Profile(name=name)
    sandbox = opts.sandbox or _env_flag("INSTANTLY_SANDBOX")
    env_key = os.environ.get("INSTANTLY_API_KEY") or None
    if sandbox:
        key, source = SANDBOX_KEY, "sandbox"
    elif env_key:
        key, source = env_key, "env"
    elif profile.api_key:
        key, source = profile.api_key, "config"
    else:
        key, source = None, None
    register_secret(key if source != "sandbox" else None)
    register_secret(profile.api_key)
    if key is not None and source != "sandbox":
        key = check_key(key, "INSTANTLY_API_KEY" if source == "env" else f"profile '{name}'")
    base_url = (
        opts.base_url
        or os.environ.get("INSTANTLY_BASE_URL")
        or profile.base_url
        or DEFAULT_BASE_URL
    )
    register_url_secret(base_url)
    given = opts.base_url or os.environ.get("INSTANTLY_BASE_URL")
    base_url = check_base_url(
        base_url, "" if given else f" (base_url of profile '{name}' in {cfg.path})"
    )
    workspace = opts.workspace or os.environ.get("INSTANTLY_WORKSPACE") or profile.workspace
    return Settings(
        profile=name,
        api_key=key,
        key_source=source,
        base_url=base_url,
        workspace=workspace or None,
        sandbox=sandbox,
        verbose=opts.verbose,
        config=cfg,
        notify=list(profile.notify or []),
        at_risk_below=profile.at_risk_below,
        watch_below=profile.watch_below,
    )
