"""``instantly config``: where the config file is and what it holds (secrets masked)."""

from typing import Annotated, Any

import typer

from instantly_cli import output
from instantly_cli.commands import handled
from instantly_cli.config_file import config_path, load_config
from instantly_cli.options import examples
from instantly_cli.options_bundles import NO_VIEW, View, view_options
from instantly_cli.settings import mask, state_dir

app = typer.Typer(help="Show the config file's path and contents.", no_args_is_help=True)


@app.command(
    "path",
    epilog=examples(
        "instantly config path",
        '$EDITOR "$(instantly config path)"',
        'ls "$(instantly config path --state)/runs"   # unfinished bulk runs (--resume)',
        'ls "$(instantly config path --state)/history"   # one database per workspace',
    ),
)
@handled
def path(
    ctx: typer.Context,
    state: Annotated[
        bool,
        typer.Option(
            "--state",
            help="Print the state folder instead: bulk run journals (runs/), failure files "
            "(failures/) and the fleet's history (history/). [env: INSTANTLY_STATE_DIR]",
        ),
    ] = False,
) -> None:
    """Print the path of the config file (it may not exist yet)."""
    output.emit_text(str(state_dir() if state else config_path()))


@app.command("show", epilog=examples("instantly config show", "instantly config show --json"))
@handled
@view_options()
def show(
    ctx: typer.Context,
    view: View = NO_VIEW,
) -> None:
    """Print the config with API keys masked."""
    from instantly_cli.errors import safe_url
    from instantly_cli.services.accounts.diff import safe_url as webhook_url

    fmt = view.format(ctx)
    cfg = load_config()
    if cfg.too_open:
        output.warn(f"{cfg.path} is readable by other users; run: chmod 600 {cfg.path}")
    doc: dict[str, Any] = {
        "path": str(cfg.path),
        "exists": cfg.exists,
        "default_profile": cfg.default_profile,
        "profiles": {
            name: {
                **p.to_toml(),
                **({"api_key": mask(p.api_key)} if p.api_key else {}),
                **({"base_url": safe_url(p.base_url)} if p.base_url else {}),
                # A webhook's path and query carry its secret (Slack's do): host only.
                **({"notify": [webhook_url(u) for u in p.notify]} if p.notify else {}),
            }
            for name, p in sorted(cfg.profiles.items())
        },
    }
    if fmt in ("json", "jsonl"):
        output.emit_json(doc)
        return
    rows = [("path", str(cfg.path)), ("default_profile", cfg.default_profile)]
    for name, body in doc["profiles"].items():
        rows += [(f"profiles.{name}.{k}", _text(v)) for k, v in body.items()]
    if not cfg.exists:
        output.info(f"No config file yet at {cfg.path}; `instantly auth login` creates it.")
    output.emit_kv(rows, fmt)


def _text(value: object) -> str:
    """A profile value as one line: a list comma-separated, a number as written."""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)
