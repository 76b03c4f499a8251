"""One module per noun; this file holds the few helpers every command shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from instantly_cli import output
from instantly_cli.settings import GlobalOptions, Settings, resolve

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient, RateLimiter


def global_options(ctx: typer.Context) -> GlobalOptions:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, GlobalOptions) else GlobalOptions()


def get_settings(ctx: typer.Context, *, allow_new_profile: bool = False) -> Settings:
    settings = resolve(global_options(ctx), allow_new_profile=allow_new_profile)
    if settings.config.too_open:
        output.warn(
            f"{settings.config.path} is readable by other users; "
            f"run: chmod 600 {settings.config.path}"
        )
    return settings


def get_client(ctx: typer.Context, *, limiter: RateLimiter | None = None) -> InstantlyClient:
    """Resolve settings and build the client (httpx is imported here, never at start-up)."""
    from instantly_cli.client import make_client

    return make_client(get_settings(ctx), limiter=limiter)
