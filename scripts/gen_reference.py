"""Write docs/reference.md from the CLI itself: every command, option and example.

    python scripts/gen_reference.py            # rewrite docs/reference.md
    python scripts/gen_reference.py --check    # exit 1 if docs/reference.md is stale

The page is built from the Typer command tree (``typer.main.get_command``) and the attributes of
its command and parameter objects, never from rendered ``--help`` screens, so it does not depend
on the terminal's width, on colour or on the installed Typer's help layout.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference.md"
REGENERATE = "python scripts/gen_reference.py"

# Click marks a paragraph "do not rewrap" with a line holding only \b.
NO_REWRAP = "\x08"


def root_command() -> Any:
    """The full command tree (every noun and verb real, no start-up stand-ins)."""
    if str(ROOT) not in sys.path:
        # A clean checkout that is not installed still finds its own package.
        sys.path.insert(0, str(ROOT))
    import typer

    from instantly_cli.cli import app

    return typer.main.get_command(app)


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every visible command below ``command``, in the order the help lists them."""
    for name, sub in (getattr(command, "commands", None) or {}).items():
        if sub.hidden:
            continue
        yield path + (name,), sub
        yield from walk(sub, path + (name,))


def is_group(command: Any) -> bool:
    return bool(getattr(command, "commands", None))


def anchor(title: str) -> str:
    """GitHub's anchor for a heading of plain words."""
    return "".join(c for c in title.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def clean(text: str | None) -> str:
    lines = [line for line in (text or "").splitlines() if line.strip() != NO_REWRAP]
    return textwrap.dedent("\n".join(lines)).strip()


def prose(text: str) -> str:
    """Help text as Markdown: indented blocks (argument lists) stay verbatim in a code block."""
    out: list[str] = []
    for para in text.split("\n\n"):
        lines = para.splitlines()
        if len(lines) > 1 and all(line.startswith("  ") for line in lines[1:]):
            out.append("```text\n" + para + "\n```")
        else:
            out.append(para)
    return "\n\n".join(out)


def examples(epilog: str | None) -> tuple[str, list[str]]:
    """The epilog's text before "Examples:", and the example command lines."""
    text = clean(epilog)
    before, marker, after = text.partition("Examples:")
    if not marker:
        return text, []
    return before.strip(), textwrap.dedent(after.strip("\n")).strip().splitlines()


def usage(path: tuple[str, ...], command: Any) -> str:
    words = ["instantly", *path]
    if any(p.param_type_name == "option" for p in command.params):
        words.append("[OPTIONS]")
    for param in command.params:
        if param.param_type_name != "argument":
            continue
        name = param.metavar or param.name.upper()
        if param.nargs == -1 and "..." not in name:
            name += "..."
        words.append(name if param.required else f"[{name}]")
    if is_group(command):
        words.append("COMMAND")
    return " ".join(words)


def option_names(param: Any) -> str:
    names = sorted(param.opts, key=lambda o: (o.startswith("--"), o))
    joined = ", ".join(names)
    if param.secondary_opts:
        joined += " / " + ", ".join(param.secondary_opts)
    if param.metavar and not param.is_flag:
        joined += f" {param.metavar}"
    return f"`{joined}`"


def default_of(param: Any) -> str | None:
    """The default Click would show, when the help text does not already state it."""
    help_text = param.help or ""
    default = param.default
    if "[default:" in help_text or not param.show_default or callable(default):
        return None
    if default is None or default == () or default == []:
        return None
    if param.is_flag:
        if param.secondary_opts:
            return str(param.opts[0] if default else param.secondary_opts[0])
        return None
    if isinstance(default, list | tuple):
        return ", ".join(str(v) for v in default)
    return str(default)


def option_line(param: Any) -> str:
    parts = [clean(param.help).replace("\n", " ")]
    default = default_of(param)
    if default is not None:
        parts.append(f"[default: {default}]")
    envvar = param.envvar
    if envvar and "[env:" not in (param.help or ""):
        names = envvar if isinstance(envvar, str) else ", ".join(envvar)
        parts.append(f"[env: {names}]")
    if param.required:
        parts.append("[required]")
    return f"- {option_names(param)}: " + " ".join(p for p in parts if p)


def section(path: tuple[str, ...], command: Any, global_opts: set[frozenset[str]]) -> str:
    title = "instantly " + " ".join(path)
    out = [f"{'#' * min(len(path) + 1, 4)} {title}", ""]
    out += ["```text", usage(path, command), "```", "", prose(clean(command.help)), ""]
    options = [
        p
        for p in command.params
        if p.param_type_name == "option"
        and not getattr(p, "hidden", False)
        and frozenset(p.opts) not in global_opts
    ]
    if any(frozenset(p.opts) in global_opts for p in command.params):
        options_title = "Options (and the [global options](#global-options)):"
    else:
        options_title = "Options:"
    if options:
        out += [options_title, "", *(option_line(p) for p in options), ""]
    elif options_title != "Options:":
        out += ["Options: the [global options](#global-options).", ""]
    if is_group(command):
        out += ["Commands:", ""]
        for name, sub in command.commands.items():
            if not sub.hidden:
                link = anchor(f"{title} {name}")
                out.append(f"- [`{name}`](#{link}): {sub.get_short_help_str(limit=200)}")
        out.append("")
    text, lines = examples(command.epilog)
    if text:
        out += [text, ""]
    if lines:
        out += ["Examples:", "", "```sh", *lines, "```", ""]
    return "\n".join(out)


def render() -> str:
    root = root_command()
    global_opts = {frozenset(p.opts) for p in root.params if p.param_type_name == "option"}
    commands = list(walk(root))
    out = [
        "# Command reference",
        "",
        "<!-- Generated by `" + REGENERATE + "` from the CLI itself; do not edit by hand."
        " A test fails when this page is stale. -->",
        "",
        prose(clean(root.help)),
        "",
        "```text",
        "instantly [GLOBAL OPTIONS] COMMAND [ARGS]...",
        "```",
        "",
        "## Commands",
        "",
    ]
    for path, command in commands:
        title = "instantly " + " ".join(path)
        indent = "  " * (len(path) - 1)
        short = command.get_short_help_str(limit=200)
        out.append(f"{indent}- [`{title}`](#{anchor(title)}): {short}")
    out += ["", "## Global options", ""]
    out += [
        "Accepted before the command, and (all but `--version`) after the noun or the verb too.",
        "",
    ]
    out += [option_line(p) for p in root.params if p.param_type_name == "option"]
    out.append("")
    text, lines = examples(root.epilog)
    if lines:
        out += ["Examples:", "", "```sh", *lines, "```", ""]
    for path, command in commands:
        out.append(section(path, command, global_opts))
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else ""
        if current != text:
            print(f"docs/reference.md is stale; regenerate it with: {REGENERATE}",
                  file=sys.stderr)
            return 1
        return 0
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
