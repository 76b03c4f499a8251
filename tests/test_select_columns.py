"""Tables and --fields agree: every header is a name --fields takes for its own column; hidden
columns are announced."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
from typer.testing import Result

from instantly_cli import columns, schema, views, views_fleet
from instantly_cli.columns import Column, field_names, header_name
from instantly_cli.context import Runtime
from instantly_cli.sandbox.app import SandboxApp
from instantly_cli.terminal import Terminal

Cli = Callable[..., Result]


def every_column_list() -> dict[str, list[Column]]:
    """Every column list the CLI prints with: module-level lists and the column builders."""
    found: dict[str, list[Column]] = {}
    for module in (views, views_fleet, columns):
        for name, value in vars(module).items():
            if isinstance(value, list) and value and all(isinstance(c, Column) for c in value):
                found[f"{module.__name__}.{name}"] = value
    for fmt in ("table", "tsv"):
        found[f"account_columns {fmt}"] = [
            *views.account_columns(fmt, True), views_fleet.HEALTH_COLUMN
        ]
        found[f"tag_columns {fmt}"] = views.tag_columns(fmt, counts=True)
        found[f"job_columns {fmt}"] = views.job_columns(fmt)
        found[f"warmup_stats_columns {fmt}"] = views_fleet.warmup_stats_columns(fmt)
        for resource in (None, 1):
            found[f"tag_map_columns {fmt} {resource}"] = views.tag_map_columns(fmt, resource)
            found[f"tag_groups_columns {fmt} {resource}"] = views.tag_groups_columns(
                fmt, resource
            )
    return found


@pytest.mark.parametrize("name", sorted(every_column_list()))
def test_every_header_is_a_field_name_of_its_own_column(name: str) -> None:
    cols = every_column_list()[name]
    kind = schema.guess_object({c.key.split(".")[0] for c in cols})
    fields = schema.fields_of(kind) if kind else frozenset()
    for c in cols:
        given = header_name(c.header)
        assert field_names([given], cols) == [c.key], (name, c.header, c.key)
        # A header never names a different field of an API object (that name means the field).
        assert given == c.key or given not in fields, (name, c.header, c.key)
        if c.short_header:
            short = header_name(c.short_header)
            assert short == c.key or short not in fields, (name, c.short_header, c.key)


def test_fields_takes_the_score_header(cli: Cli, sandbox: SandboxApp) -> None:
    result = cli(["accounts", "list", "--limit", "3", "--fields", "email,score", "-o", "jsonl"])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows and all(set(r) == {"email", "stat_warmup_score"} for r in rows)
    tsv = cli(["accounts", "list", "--limit", "3", "--fields", "Score,daily_limit"])
    assert tsv.exit_code == 0, tsv.stderr
    assert len(tsv.stdout.splitlines()[0].split("\t")) == 2


def _table(cli: Cli, runtime: Runtime, monkeypatch: pytest.MonkeyPatch, width: int,
           *args: str) -> tuple[str, Result]:
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setenv("NO_COLOR", "1")
    screen = io.StringIO()
    runtime.terminal = Terminal(stdout=screen, stdout_isatty=True)
    result = cli(["accounts", "list", "--limit", "20", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return screen.getvalue(), result


def test_hidden_columns_are_counted_and_name_wide(
    cli: Cli, sandbox: SandboxApp, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen, result = _table(cli, runtime, monkeypatch, 120, "--filter", "error",
                            "--fields", "email,status,status_message,health")
    header = screen.splitlines()[0].split()
    assert len(header) < 4
    notes = [line for line in result.stderr.splitlines() if "--wide" in line]
    assert len(notes) == 1
    assert f"{4 - len(header)} of 4 columns hidden" in notes[0]
    wide, result = _table(cli, runtime, monkeypatch, 120, "--wide",
                          "--fields", "email,status,status_message,health")
    assert "hidden" not in result.stderr


def test_no_note_when_everything_fits(
    cli: Cli, sandbox: SandboxApp, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, result = _table(cli, runtime, monkeypatch, 200, "--fields", "email,status")
    assert "hidden" not in result.stderr
