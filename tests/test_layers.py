"""The house's layers: every import points down, and no circle exists.

The rules, top to bottom (``LAYERS`` below is the same order):

- ``__main__`` → ``cli`` (the root app) → ``commands`` (Typer only) → ``options_bundles`` (groups
  of options handed to a command as one value: filters, view, bulk) → ``options`` →
  ``options_global`` (the global options every command wears) → ``context``
  (the one place that wires settings, the client, the sandbox and the output together).
- ``services``: the domain, callable without a terminal: no typer, rich, click or ``output``.
- ``views`` (data → rows) → ``output`` (the only printing) → ``dashboard`` (panels and bars) →
  ``columns`` (column data and ``--fields`` picking) → ``terminal`` (the streams and their
  facts; it writes nothing). ``output`` imports nothing of the HTTP side (``client``,
  ``paging``, ``ratelimit``): ``--verbose``'s exchange type is in ``schema``.
- ``client`` (the only HTTP, the only ``httpx`` with ``context``) → ``paging`` (the pager; it
  asks pages of anything with ``request``) → ``ratelimit`` (the limiter, Retry-After).
- ``settings`` (profiles, env precedence) → ``config_file`` (the only code reading or writing
  the config file).
- ``fields``/``schema``, ``targets``, ``enums``, ``interrupts``, ``errors`` and the version.
- ``sandbox`` is a world of its own: the standard library and its own modules only; only
  ``context`` and the ``sandbox`` commands use it.

A module may import modules of its own layer only where ``SAME_LAYER_OK`` says so (``commands``
may use ``commands/_bulk.py``), and any layer below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "instantly_cli"

# Top to bottom. Each entry: layer name → module-name prefixes (relative to the package).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("main", ("__main__",)),
    ("entry", ("cli",)),
    ("commands", ("commands",)),
    ("options_bundles", ("options_bundles",)),
    ("options", ("options",)),
    ("options_global", ("options_global",)),
    ("context", ("context",)),
    ("services", ("services",)),
    ("views", ("views", "views_fleet")),
    ("output", ("output",)),
    ("dashboard", ("dashboard",)),
    ("columns", ("columns",)),
    ("terminal", ("terminal",)),
    ("asking", ("asking",)),
    ("webhooks", ("webhooks",)),
    ("client", ("client",)),
    ("endpoints", ("campaign_api",)),
    ("paging", ("paging",)),
    ("ratelimit", ("ratelimit",)),
    ("settings", ("settings",)),
    ("config_file", ("config_file",)),
    ("fields", ("fields", "schema")),
    ("targets", ("targets",)),
    ("enums", ("enums",)),
    ("interrupts", ("interrupts",)),
    ("errors", ("errors",)),
    ("version", ("__init__",)),
]
# The emulator is a world of its own: the standard library and its own modules only.
SANDBOX = "sandbox"
# Within a layer, these may import each other (a noun's modules share its package helpers).
SAME_LAYER_OK = {"commands", "services"}
# Modules that must not touch the terminal or the framework.
NO_TERMINAL = ("services",)
TERMINAL_MODULES = ("typer", "rich", "click", "instantly_cli.output")
# Below-the-line arrows the layer order alone would allow, refused: printing knows nothing of HTTP.
NEVER: dict[str, tuple[str, ...]] = dict.fromkeys(
    ("output", "dashboard", "columns", "terminal", "views", "views_fleet"),
    ("client", "paging", "ratelimit", "webhooks"),
)
# The only modules that import httpx (context only for type checking: Runtime.transport).
HTTPX_OK = ("client", "context", "webhooks")


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(name: str) -> int | None:
    if name == SANDBOX or name.startswith(SANDBOX + "."):
        return None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                return index
    raise AssertionError(f"instantly_cli.{name} is in no layer of tests/test_layers.py")


def imports(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import of the package or of a terminal module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, int]] = []
    package = module_name(path)
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if is_pkg else package.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join(["instantly_cli", *base, *(node.module or "").split(".")]).strip(".")
            else:
                mod = node.module or ""
            # ``from instantly_cli.x import y`` imports the module ``x.y`` when there is one.
            base_dir = PACKAGE.joinpath(*mod.split(".")[1:])
            subs = [
                a.name
                for a in node.names
                if (base_dir / f"{a.name}.py").exists() or (base_dir / a.name).is_dir()
            ]
            if mod == "instantly_cli":
                mod = "instantly_cli.__init__"
            found.append((mod, node.lineno))
            found += [(f"{mod.removesuffix('.__init__')}.{sub}", node.lineno) for sub in subs]
    return found


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p) or "__init__")
def test_imports_point_down(path: Path) -> None:
    name = module_name(path)
    own = layer_of(name)
    bad = []
    for mod, line in imports(path):
        if own is None:  # the sandbox
            if mod.startswith("instantly_cli") and not mod.startswith("instantly_cli.sandbox"):
                bad.append(f"line {line}: the sandbox imports {mod}")
            continue
        if mod in TERMINAL_MODULES or mod.split(".")[0] in TERMINAL_MODULES[:3]:
            if LAYERS[own][0] in NO_TERMINAL:
                bad.append(f"line {line}: {name} (a service) imports {mod}")
        if mod.split(".")[0] == "httpx" and name not in HTTPX_OK:
            bad.append(f"line {line}: {name} imports httpx (only {', '.join(HTTPX_OK)} may)")
        if not mod.startswith("instantly_cli."):
            continue
        target = mod.removeprefix("instantly_cli.")
        if target.split(".")[0] in NEVER.get(name, ()):
            bad.append(f"line {line}: {name} imports {target}: printing knows nothing of HTTP")
        theirs = layer_of(target)
        if theirs is None:
            if LAYERS[own][0] != "context" and not name.startswith("commands.sandbox"):
                bad.append(f"line {line}: only context.py and `sandbox` commands use the sandbox")
            continue
        if theirs < own or (theirs == own and LAYERS[own][0] not in SAME_LAYER_OK):
            if target != name:
                bad.append(f"line {line}: {name} ({LAYERS[own][0]}) imports {target} "
                           f"({LAYERS[theirs][0]}), which is not below it")
    assert not bad, "\n".join(bad)


def test_no_import_circles() -> None:
    graph: dict[str, set[str]] = {}
    for path in SOURCES:
        name = module_name(path)
        graph[name] = {
            m.removeprefix("instantly_cli.")
            for m, _ in imports(path)
            if m.startswith("instantly_cli.") and m.removeprefix("instantly_cli.") != name
        }
    known = set(graph)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            nxt = nxt if nxt in known else nxt.rsplit(".", 1)[0]
            if nxt not in known or nxt == node:
                continue
            # A package importing its own submodules (registration) is not a circle.
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                if not all(c.startswith(nxt + ".") or c == nxt for c in cycle):
                    raise AssertionError("import circle: " + " → ".join(cycle))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_commands_hold_no_http_paths_polls_or_sleeps() -> None:
    offenders = []
    for path in (PACKAGE / "commands").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for needle in ("/api/v2/", "time.sleep(", "import httpx"):
            # `instantly api` prints the raw path it was given: the prefix is its subject.
            if needle == "/api/v2/" and path.name == "api.py":
                continue
            if needle in text:
                offenders.append(f"{path.relative_to(PACKAGE)}: {needle}")
    assert not offenders, offenders


def _body_length(func: ast.FunctionDef) -> int:
    """Lines of a function below its signature, without its docstring."""
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if not body:
        return 0
    return (body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1


def test_command_bodies_are_short() -> None:
    long = []
    for path in (PACKAGE / "commands").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            is_command = any(
                isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "command"
                for d in node.decorator_list
            )
            if is_command and _body_length(node) > 60:
                long.append(f"{path.relative_to(PACKAGE)}:{node.name} ({_body_length(node)})")
    assert not long, long


def test_only_config_file_opens_the_config_file() -> None:
    """Its lock, its atomic 0600 writes and its refusal of FIFOs live in one module."""
    offenders = []
    for path in SOURCES:
        name = module_name(path)
        if name in ("config_file",) or name.startswith(SANDBOX):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names]
                mod = getattr(node, "module", None) or ""
                if "tomli_w" in names or "tomllib" in names or mod in ("tomli_w", "tomllib"):
                    offenders.append(f"{name}:{node.lineno}")
    assert not offenders, offenders


MAX_MODULE_LINES = 600


def test_the_split_modules_stay_small() -> None:
    """No grab-bag module: every module outside the sandbox does one job, in at most 600 lines
    (split by job when one grows past it)."""
    long = {
        module_name(path): n
        for path in SOURCES
        if not module_name(path).startswith(SANDBOX)
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long
