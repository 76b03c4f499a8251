"""``instantly accounts``: list, inspect and change sending accounts (mailboxes).

One module per verb group; each registers its commands on :data:`app` (or :data:`warmup_app`).
"""

import typer

app = typer.Typer(help="List, inspect and change sending accounts.", no_args_is_help=True)
warmup_app = typer.Typer(help="Turn warmup on or off (background jobs).", no_args_is_help=True)
app.add_typer(warmup_app, name="warmup")

# Registration order is help order.
from instantly_cli.commands.accounts import get, list, state, summary, update, warmup  # noqa: E402, F401, I001
from instantly_cli.commands.accounts import create  # noqa: E402, F401
from instantly_cli.commands.accounts import lifecycle  # noqa: E402, F401
from instantly_cli.commands.accounts import checks  # noqa: E402, F401
from instantly_cli.commands.accounts import analytics  # noqa: E402, F401
