"""What resolving a name or an id typed by a user shares: telling an id from a name, and the
``Did you mean`` hint of a name that matched nothing (tags, campaigns, workspaces)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_id(text: str) -> bool:
    return bool(UUID.match(text.strip()))


def close_hint(text: str, names: Sequence[str], otherwise: str) -> str:
    """``Did you mean: …?`` with up to three names close to ``text`` or containing it (case
    ignored), else ``otherwise``."""
    by_fold = {n.casefold(): n for n in names if n}
    close = [by_fold[n] for n in difflib.get_close_matches(
        text.casefold(), list(by_fold), n=3, cutoff=0.5)]
    close += [n for n in by_fold.values() if text.casefold() in n.casefold() and n not in close]
    if not close:
        return otherwise
    return "Did you mean: " + ", ".join(f"'{n}'" for n in close[:3]) + "?"
