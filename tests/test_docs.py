"""The documentation stays true: the reference is generated from the CLI and fresh, every command
is in it, links between the pages resolve, the README stays short, and every sample in docs/
that runs against the sandbox runs (in-process, in order, on a fresh sandbox per page)."""

from __future__ import annotations

import importlib.util
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import invoke

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
GENERATOR = ROOT / "scripts" / "gen_reference.py"
README_MAX_LINES = 250
# The pages a user reads; reference.md is generated (its examples are checked by test_shell).
GUIDE = sorted(p for p in DOCS.glob("*.md") if p.name != "reference.md")


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_reference", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = load_generator()


# -- the reference -----------------------------------------------------------------------------


def test_reference_is_fresh() -> None:
    current = (DOCS / "reference.md").read_text(encoding="utf-8")
    assert current == GEN.render(), (
        f"docs/reference.md is stale; regenerate it with: {GEN.REGENERATE}"
    )


def test_reference_does_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    first = GEN.render()
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("CLICOLOR_FORCE", "1")
    assert GEN.render() == first


def commands() -> list[tuple[tuple[str, ...], Any]]:
    return list(GEN.walk(GEN.root_command()))


def test_every_command_is_in_the_reference() -> None:
    reference = (DOCS / "reference.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^#{2,4} (instantly [a-z -]+)$", reference, flags=re.MULTILINE))
    paths = {"instantly " + " ".join(path) for path, _ in commands()}
    assert {"instantly accounts list", "instantly tags assign", "instantly api"} <= paths
    assert paths - headings == set(), "commands missing from docs/reference.md"


def test_every_option_of_every_command_is_in_the_reference() -> None:
    reference = (DOCS / "reference.md").read_text(encoding="utf-8")
    for path, command in commands():
        section = reference.split(f" instantly {' '.join(path)}\n", 1)[1]
        section = re.split(r"^#{2,4} instantly ", section, maxsplit=1, flags=re.MULTILINE)[0]
        for param in command.params:
            if param.param_type_name == "option" and not param.hidden:
                shown = "`" + ", ".join(sorted(param.opts, key=lambda o: (o.startswith("--"), o)))
                is_global = "[global options](#global-options)" in section
                assert shown in section or is_global, f"{shown}` of {path} not documented"


def test_the_check_mode_names_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "reference.md"
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr(GEN, "REFERENCE", stale)
    assert GEN.main(["--check"]) == 1
    assert "python scripts/gen_reference.py" in capsys.readouterr().err
    assert GEN.main([]) == 0
    assert GEN.main(["--check"]) == 0


# -- the README and the links ------------------------------------------------------------------


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


def test_readme_keeps_the_test_command() -> None:
    # .ci/run and scripts/stress-tests run exactly this line.
    assert "pip install -e '.[test]' && pytest" in README.read_text(encoding="utf-8")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    found = set()
    for title in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


@pytest.mark.parametrize("page", [README, *GUIDE, DOCS / "reference.md"], ids=lambda p: p.name)
def test_links_resolve(page: Path) -> None:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, fragment = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        assert linked.exists(), f"{page.name}: link to a missing file: {target}"
        if fragment and linked.suffix == ".md":
            assert fragment in anchors(linked), f"{page.name}: no heading for #{fragment}"


def test_every_guide_page_is_linked_from_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    for page in [*GUIDE, DOCS / "reference.md"]:
        assert f"docs/{page.name}" in readme, f"README.md does not link docs/{page.name}"


# -- the samples that run against the sandbox --------------------------------------------------


@dataclass
class Sample:
    line: int
    command: str
    exit_code: int = 0


@dataclass
class Page:
    samples: list[Sample] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)


RUNNABLE = "instantly --sandbox "


@dataclass
class Block:
    lang: str
    info: str
    line: int  # of the block's first line inside the fences
    body: list[str]


def blocks(text: str) -> list[Block]:
    found: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\S*)(.*)$", lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        found.append(Block(fence.group(1), fence.group(2), i + 2, lines[i + 1 : end]))
        i = end + 1
    return found


SHELL_BLOCKS = ("console", "sh", "shell", "bash")


def shell_commands(block: Block) -> list[Sample]:
    """The command lines of a shell or console block (continuations joined, ``$ `` dropped);
    in a console block what follows a command until the next prompt is its output, where
    ``[exit N]`` gives its exit code."""
    if block.lang not in SHELL_BLOCKS or "file=" in block.info:
        return []
    body, found, k = block.body, [], 0
    while k < len(body):
        start, command = k, body[k].strip()
        while command.endswith("\\") and k + 1 < len(body):
            k += 1
            command = command[:-1] + " " + body[k].strip()
        k += 1
        if block.lang == "console" and not command.startswith("$ "):
            continue
        sample = Sample(block.line + start, command.removeprefix("$ "))
        while block.lang == "console" and k < len(body) and not body[k].startswith("$ "):
            code = re.fullmatch(r"\[exit (\d+)\]", body[k].strip())
            if code:
                sample.exit_code = int(code.group(1))
            k += 1
        found.append(sample)
    return found


def parse(text: str) -> Page:
    """The runnable samples of a page, and the files its blocks declare (``csv file=NAME``)."""
    page = Page()
    for block in blocks(text):
        named = re.search(r"\bfile=(\S+)", block.info)
        if named:
            page.files[named.group(1)] = "\n".join(block.body) + "\n"
        page.samples += [s for s in shell_commands(block) if s.command.startswith(RUNNABLE)]
    return page


def pipeline(command: str) -> list[tuple[list[str], str | None, str | None]]:
    """``a | b < in > out`` as (argv, stdin file, stdout file) per stage."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars="|<>")
    lexer.whitespace_split = True
    stages: list[tuple[list[str], str | None, str | None]] = []
    argv: list[str] = []
    stdin = stdout = None
    tokens = list(lexer)
    n = 0
    while n < len(tokens):
        token = tokens[n]
        if token == "|":
            stages.append((argv, stdin, stdout))
            argv, stdin, stdout = [], None, None
        elif token in ("<", ">"):
            n += 1
            if token == "<":
                stdin = tokens[n]
            else:
                stdout = tokens[n]
        else:
            argv.append(token)
        n += 1
    stages.append((argv, stdin, stdout))
    return stages


def run(sample: Sample, where: str) -> None:
    data: str | None = None
    stages = pipeline(sample.command)
    for number, (argv, stdin, stdout) in enumerate(stages):
        assert argv[:1] == ["instantly"], (
            f"{where}: a sandbox sample may only pipe between instantly commands: "
            f"{sample.command}"
        )
        if stdin is not None:
            data = Path(stdin).read_text(encoding="utf-8")
        result = invoke(argv[1:], input=data)
        last = number == len(stages) - 1
        wanted = sample.exit_code if last else 0
        assert result.exit_code == wanted, (
            f"{where}: `{sample.command}` exited {result.exit_code}, the page says {wanted}\n"
            f"stdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}"
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        data = result.stdout
        if stdout is not None:
            Path(stdout).write_text(data, encoding="utf-8")
            data = None


PAGES_WITH_SAMPLES = [p for p in GUIDE if parse(p.read_text(encoding="utf-8")).samples]


def test_the_sample_parser() -> None:
    page = parse(
        "```csv file=a.csv\nemail\nx@y.io\n```\n"
        "```console\n$ instantly --sandbox accounts list \\\n  --limit 2\nout\n[exit 1]\n"
        "$ instantly accounts list\n```\n"
        "```sh\ninstantly --sandbox accounts get a@b.io  # comment\n```\n"
    )
    assert page.files == {"a.csv": "email\nx@y.io\n"}
    assert [(s.command, s.exit_code) for s in page.samples] == [
        ("instantly --sandbox accounts list  --limit 2", 1),
        ("instantly --sandbox accounts get a@b.io  # comment", 0),
    ]
    assert pipeline("instantly a --x 'p>q' < in.txt | instantly b - > out.txt  # c") == [
        (["instantly", "a", "--x", "p>q"], "in.txt", None),
        (["instantly", "b", "-"], None, "out.txt"),
    ]


def test_the_guide_has_runnable_samples() -> None:
    names = {p.name for p in PAGES_WITH_SAMPLES}
    assert {"lifecycle.md", "accounts.md", "sandbox.md", "output.md"} <= names


@pytest.mark.parametrize("page", PAGES_WITH_SAMPLES, ids=lambda p: p.name)
def test_sandbox_samples_run(page: Path) -> None:
    parsed = parse(page.read_text(encoding="utf-8"))
    for name, content in parsed.files.items():
        Path(name).write_text(content, encoding="utf-8")
    for sample in parsed.samples:
        run(sample, f"docs/{page.name} line {sample.line}")


# -- every command line in the README and the guide names real commands and options ------------


def invocations(command: str) -> list[list[str]]:
    """The argv of every ``instantly`` in a shell line (after env assignments, pipes, &&)."""
    try:
        tokens = list(shlex.shlex(command, posix=True, punctuation_chars="|&;<>()"))
    except ValueError:
        return []
    runs: list[list[str]] = []
    current: list[str] | None = None
    for token in tokens:
        if token and set(token) <= set("|&;<>()"):
            current = None
        elif current is not None:
            current.append(token)
        elif token == "instantly":
            current = []
            runs.append(current)
    return runs


def check_invocation(root: Any, argv: list[str]) -> str | None:
    """Why ``instantly argv`` names no command or an option that does not exist, or None."""
    global_opts = {o for p in root.params for o in (*p.opts, *p.secondary_opts)}
    takes_value = {o for p in root.params if not p.is_flag for o in p.opts}
    command, path, skip = root, [], False
    for word in argv:
        if skip:
            skip = False
        elif word in takes_value:
            skip = True
        elif word in global_opts:
            continue
        elif word.startswith("-") or not getattr(command, "commands", None):
            break
        elif word in command.commands:
            command = command.commands[word]
            path.append(word)
        else:
            return f"no command `instantly {' '.join([*path, word])}`"
    known = global_opts | {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    known |= {"--help", "-h"}
    for word in argv:
        if word == "--":
            break
        name = word.split("=", 1)[0]
        if re.fullmatch(r"--?[A-Za-z][\w-]*", name) and name not in known:
            # A value that looks like an option (``--fail-if 'x'`` never does) is rare in docs.
            return f"`instantly {' '.join(path)}` has no option {name}"
    return None


@pytest.mark.parametrize("page", [README, *GUIDE], ids=lambda p: p.name)
def test_samples_name_real_commands_and_options(page: Path) -> None:
    root = GEN.root_command()
    problems = []
    for block in blocks(page.read_text(encoding="utf-8")):
        for sample in shell_commands(block):
            for argv in invocations(sample.command):
                problem = check_invocation(root, argv)
                if problem:
                    problems.append(f"{page.name} line {sample.line}: {problem}: {sample.command}")
    assert not problems, "\n".join(problems)


def test_the_option_check_can_fail() -> None:
    root = GEN.root_command()
    assert check_invocation(root, ["accounts", "list", "--statuz", "x"]) is not None
    assert check_invocation(root, ["acounts", "list"]) is not None
    assert check_invocation(root, ["--profile", "b", "accounts", "update", "-", "--yes"]) is None
    assert invocations("A=1 instantly x | jq . && instantly y -o tsv") == [
        ["x"], ["y", "-o", "tsv"]
    ]
