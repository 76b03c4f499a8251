"""The global options (--profile, --workspace, --base-url, --sandbox, -v): declared by the root
callback and again by every command, so they work before the noun and after the verb."""

import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer


def complete_profiles(incomplete: str) -> list[str]:
    from instantly_cli.config_file import load_config
    from instantly_cli.errors import CliError

    try:
        names = sorted(load_config().profiles)
    except CliError:
        return []
    return [n for n in names if n.startswith(incomplete)]


# -- global options, also accepted after the noun and the verb ---------------------------------
# The root callback parses them before the noun; every command (and each noun's callback)
# declares them again, so `instantly accounts list --profile b` works like `instantly --profile b
# accounts list`. Each later copy writes into the invocation's GlobalOptions as it is parsed, so
# the value nearest the command wins. Only the root copy reads the environment, or an
# INSTANTLY_PROFILE would override an explicit --profile given before the noun.

def _store_global(name: str) -> Callable[[typer.Context, Any], Any]:
    def store(ctx: typer.Context, value: Any) -> Any:
        if ctx.resilient_parsing or value is None or value is False:
            return value
        from instantly_cli.context import runtime

        rt = runtime(ctx)
        rt.options = rt.options._replace(**{name: value})
        return value

    return store


ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        metavar="NAME",
        help="Config profile to use (global option; also before the command).",
        autocompletion=complete_profiles,
        callback=_store_global("profile"),
        expose_value=False,
    ),
]
WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        metavar="ID|NAME",
        help="Act on this workspace, by id or name (global option).",
        callback=_store_global("workspace"),
        expose_value=False,
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        metavar="URL",
        help="API base URL (global option).",
        callback=_store_global("base_url"),
        expose_value=False,
    ),
]
SandboxOpt = Annotated[
    bool,
    typer.Option(
        "--sandbox",
        help="Use the built-in local emulator (global option).",
        callback=_store_global("sandbox"),
        expose_value=False,
    ),
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Log each HTTP exchange on stderr (global option).",
        callback=_store_global("verbose"),
        expose_value=False,
    ),
]


# Every command wears these (``commands.handled`` adds those it does not define itself), so
# `instantly accounts list --profile b` works like `instantly --profile b accounts list`.
GLOBAL_OPTIONS: list[tuple[str, Any, Any]] = [
    ("_profile", ProfileOpt, None),
    ("_workspace", WorkspaceOpt, None),
    ("_base_url", BaseUrlOpt, None),
    ("_sandbox", SandboxOpt, False),
    ("_verbose", VerboseOpt, False),
]


def option_flags(annotation: Any) -> set[str]:
    """The option names an ``Annotated[..., typer.Option("--x", "-x")]`` declares (Typer keeps
    the first name in ``default`` when the default lives in the signature)."""
    flags: set[str] = set()
    for meta in getattr(annotation, "__metadata__", ()):
        names = [getattr(meta, "default", None), *(getattr(meta, "param_decls", None) or ())]
        flags.update(n for n in names if isinstance(n, str) and n.startswith("-"))
    return flags


def with_global_options(signature: inspect.Signature) -> inspect.Signature:
    """``signature`` plus the global options its command does not declare itself (``auth
    login`` keeps its own --base-url/--workspace). They store themselves into the runtime and
    are never passed to the function (``expose_value=False``)."""
    taken: set[str] = set()
    for parameter in signature.parameters.values():
        taken |= option_flags(parameter.annotation)
    extra = []
    for name, alias, default in GLOBAL_OPTIONS:
        if name in signature.parameters or option_flags(alias) & taken:
            continue
        kind = inspect.Parameter.KEYWORD_ONLY
        extra.append(inspect.Parameter(name, kind, default=default, annotation=alias))
    params = list(signature.parameters.values())
    return signature.replace(parameters=[*params, *extra])
