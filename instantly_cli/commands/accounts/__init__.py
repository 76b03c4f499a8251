"""``instantly accounts``: list, inspect and change sending accounts (mailboxes).

One module per verb group; each registers its commands on :data:`app` (or :data:`warmup_app`).
A process imports only the module of the verb it runs (:func:`load`): the others are stand-ins
with the same name and help line, so ``accounts --help`` and a TAB stay fast.
"""

import importlib

import typer

app = typer.Typer(help="List, inspect and change sending accounts.", no_args_is_help=True)
warmup_app = typer.Typer(help="Turn warmup on or off (background jobs).", no_args_is_help=True)
app.add_typer(warmup_app, name="warmup")

# Verb → (its module, its help line), in help order. A test checks each line against the real
# command's.
VERBS: dict[str, tuple[str, str]] = {
    "get": ("get", "Show one account in detail, or several as a table."),
    "list": ("list", "List accounts, filtered and sorted."),
    "pause": ("state", "Pause sending from accounts."),
    "resume": ("state", "Resume sending from paused accounts."),
    "summary": ("summary", "Fleet health at a glance."),
    "find": ("find", "Which profile and workspace holds each address."),
    "diff": ("diff", "What changed since a snapshot."),
    "history": ("history", "One account's timeline from the fleet's snapshots."),
    "coverage": ("coverage", "Idle accounts, risky and stopped campaigns."),
    "update": ("update", "Change fields of one account or thousands."),
    "create": ("create", "Add IMAP/SMTP accounts."),
    "delete": ("lifecycle", "Delete accounts for good."),
    "mark-fixed": ("lifecycle", "Mark repaired accounts fixed."),
    "move": ("lifecycle", "Move accounts to another workspace."),
    "vitals": ("checks", "Check the DNS (MX, SPF, DKIM, DMARC) of domains."),
    "tracking-domain": ("checks", "Check a tracking domain's CNAME and SSL."),
    "analytics": ("analytics", "Sending analytics per account or per day."),
}
WARMUP_VERBS: dict[str, tuple[str, str]] = {
    "enable": ("warmup", "Turn warmup on and wait for the background jobs."),
    "disable": ("warmup", "Turn warmup off and wait for the background jobs."),
    "stats": ("analytics", "Warmup health of the last 14 days."),
}
_stand_ins: list[bool] = []


def _stand_in() -> None:
    """Never run: the CLI loads the real command of the verb it is given."""
    raise RuntimeError("a stand-in command ran; load() was not told the verb")


def load(verb: str | None, *, everything: bool = False) -> None:
    """Register every verb: the real command of ``verb`` (of all of them with ``everything``),
    and stand-ins for the rest. Stand-ins come first, so the help order is the table's; a real
    command registered later takes its stand-in's place."""
    if not _stand_ins:
        _stand_ins.append(True)
        for table, group in ((VERBS, app), (WARMUP_VERBS, warmup_app)):
            for name, (_, help_line) in table.items():
                group.command(name, help=help_line)(_stand_in)
    if everything:
        modules = {module for module, _ in [*VERBS.values(), *WARMUP_VERBS.values()]}
    elif verb == "warmup":
        modules = {module for module, _ in WARMUP_VERBS.values()}
    else:
        modules = {VERBS[verb][0]} if verb in VERBS else set()
    for module in sorted(modules):
        importlib.import_module(f"{__name__}.{module}")
