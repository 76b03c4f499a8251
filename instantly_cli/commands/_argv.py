"""The command line as typed, rebuilt from a Typer context: what a run's journal records and
every printed command repeats (its own options as given, and the global options typed anywhere
on the line)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

import typer

from instantly_cli import context

# The global options as every command (and noun) declares them again, after the verb; they
# store themselves into the runtime (expose_value=False), so their values are read there.
GLOBALS = ("profile", "workspace", "base_url", "sandbox")


def _value(ctx: typer.Context, param: Any) -> Any:
    name = param.name or ""
    if param.expose_value:
        return ctx.params.get(name)
    # Options that store themselves (the global options after the verb, --max-wait).
    rt = context.runtime(ctx)
    key = name.lstrip("_")
    return getattr(rt.options, key) if key in GLOBALS else getattr(rt, key, None)


def given_options(ctx: typer.Context, *, skip: Sequence[str] = ()) -> list[str]:
    """The command's own options exactly as typed (not defaults, not env), as argv tokens;
    the global options typed after the verb are :func:`global_args`'s."""
    tokens: list[str] = []
    for param in ctx.command.params:
        name = param.name or ""
        if name in skip or not getattr(param, "opts", None) or param.param_type_name != "option":
            continue
        if not typed(ctx, name) or (not param.expose_value
                                    and name.lstrip("_") in (*GLOBALS, "verbose")):
            continue
        value = _value(ctx, param)
        opts = list(param.opts)
        if getattr(param, "is_flag", False):
            secondary = list(getattr(param, "secondary_opts", []) or [])
            if value:
                tokens.append(opts[0])
            elif secondary:
                tokens.append(secondary[0])
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            tokens += [opts[0], str(item)]
    return tokens


def typed(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def global_args(ctx: typer.Context) -> list[str]:
    """The global options typed before the noun, after it or after the verb (env ones are still
    set for the next command), each once with the value that won (the one nearest the verb)."""
    given: set[str] = set()
    level: Any = ctx  # (a parent is a plain click context)
    while level is not None:
        for p in level.command.params:
            key = (p.name or "").lstrip("_")
            if key in GLOBALS and typed(level, p.name or ""):
                given.add(key)
        level = level.parent
    options = context.runtime(ctx).options
    tokens: list[str] = []
    for key in GLOBALS:
        value = getattr(options, key)
        if key in given and value:
            tokens += ["--sandbox"] if value is True else ["--" + key.replace("_", "-"), value]
    return tokens


def command_text(words: Sequence[str]) -> str:
    return "instantly " + " ".join(shlex.quote(w) for w in words)
