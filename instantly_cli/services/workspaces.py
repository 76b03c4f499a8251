"""Workspaces for agencies: names ↔ ids, the sub-workspaces of an admin key, and running one
job over many workspaces side by side.

- :func:`directory` reads the key's workspace and its workspace-group members;
  :class:`NameCache` keeps them per profile in the state folder, so a name costs no request
  once known (a name the cache does not know refreshes it once: it may be new).
- :func:`match` turns what a user typed (a name, any case; a whole id) into an id, or a usage
  error naming the close candidates; a truncated id gets a "did you mean".
- :func:`side_by_side` runs a job for each :class:`Unit` (a workspace reached through one key)
  in a bounded pool and hands the results back sorted by workspace name, whatever finished
  first. Pacing is the units' business: each key's clients share that key's limiter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar
from urllib.parse import quote

from instantly_cli.config_file import atomic_write
from instantly_cli.enums import MEMBER_ACCEPTED, WORKSPACE_CURRENT
from instantly_cli.errors import CliError, ForbiddenError, UsageError
from instantly_cli.services.accounts.get import find
from instantly_cli.services.names import close_hint
from instantly_cli.services.names import is_id as is_id  # context tells ids from names with it

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient

# Workspaces read at once. Each runs its own concurrent listing (at most 16 pages in flight), so
# this bounds the requests in flight to 16 x this, and the threads to match.
SIDE_BY_SIDE = 10
# A prefix of an id this long or longer is taken for a truncated id, not a name.
MIN_ID_PREFIX = 4

T = TypeVar("T")


class Workspace(NamedTuple):
    """A workspace a key can act on (``status``: current, or the member's status)."""

    id: str
    name: str
    status: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "status": self.status}


def directory(client: InstantlyClient) -> list[Workspace]:
    """The key's workspace first, then its sub-workspaces (any status) by name.

    A key that may not list group members (a 403: no scope, not an admin) has none."""
    current = client.current_workspace()
    found = [Workspace(str(current.get("id", "")), str(current.get("name", "")),
                       WORKSPACE_CURRENT)]
    try:
        members = [m for page in client.workspace_members() for m in page]
    except ForbiddenError:
        members = []
    subs = [
        Workspace(str(m.get("sub_workspace_id", "")), str(m.get("sub_workspace_name") or ""),
                  str(m.get("status", "")))
        for m in members
        if m.get("sub_workspace_id")
    ]
    return found + sorted(subs, key=lambda w: (w.name.casefold(), w.id))


def accepted(workspaces: Iterable[Workspace]) -> list[Workspace]:
    """The workspaces a key may act on: its own and the accepted sub-workspaces."""
    return [w for w in workspaces if w.status in (WORKSPACE_CURRENT, MEMBER_ACCEPTED)]


# -- names → ids --------------------------------------------------------------------------------


def _label(w: Workspace) -> str:
    return f"{w.name} ({w.id})" if w.name else w.id


def match(text: str, workspaces: Sequence[Workspace], *, option: str = "--workspace") -> str:
    """The id ``text`` names: a whole id, or a name (any case). Exit 2 otherwise, naming the
    candidates: every workspace of an ambiguous name, the one a truncated id begins, or the
    close names of an unknown one."""
    wanted = text.strip()
    if is_id(wanted):
        return wanted.lower()
    folded = wanted.casefold()
    # An id of another shape (the API documents ids as strings) that the key can act on.
    exact = [w for w in workspaces if w.id.casefold() == folded]
    if exact:
        return exact[0].id
    same = [w for w in workspaces if w.name.casefold() == folded]
    if len(same) == 1:
        return same[0].id
    if same:
        raise UsageError(
            f"{option} '{wanted}' names {len(same)} workspaces.",
            hint="Give the id of the one you mean: " + "; ".join(_label(w) for w in same) + ".",
        )
    prefix = [
        w for w in workspaces
        if len(wanted) >= MIN_ID_PREFIX and w.id.lower().startswith(folded)
    ]
    if prefix:
        raise UsageError(
            f"{option} '{wanted}' is not a whole workspace id.",
            hint="Did you mean " + " or ".join(_label(w) for w in prefix) + "?",
        )
    raise UnknownWorkspaceError(wanted, workspaces, option)


class UnknownWorkspaceError(UsageError):
    """No workspace has this name (the cache may be stale: the caller refreshes it once)."""

    def __init__(self, wanted: str, workspaces: Sequence[Workspace], option: str):
        names = [w.name for w in workspaces if w.name]
        if names:
            known = "Workspaces of this key: " + ", ".join(f"'{n}'" for n in names) + "."
        else:
            known = "`instantly workspaces list` shows the workspaces of this key."
        hint = close_hint(wanted, names, known)
        super().__init__(f"No workspace named '{wanted}' for this key ({option}).", hint=hint)


@dataclass
class NameCache:
    """The workspaces of one profile's key, kept in a JSON file of the state folder.

    ``stamp`` identifies the key and base URL it was read with (a hash, never the key): a
    cache written for another key is ignored."""

    path: Path
    stamp: str

    @classmethod
    def of(cls, folder: Path, profile: str, base_url: str, key: str) -> NameCache:
        digest = hashlib.sha256(f"{base_url}\n{key}".encode()).hexdigest()[:16]
        return cls(folder / "workspaces" / f"{quote(profile, safe='')}.json", digest)

    def load(self) -> list[Workspace] | None:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if doc.get("stamp") != self.stamp:
                return None
            return [Workspace(str(w["id"]), str(w["name"]), str(w["status"]))
                    for w in doc["workspaces"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # missing or damaged: read again

    def save(self, workspaces: Sequence[Workspace]) -> None:
        doc = {"stamp": self.stamp, "workspaces": [w.to_json() for w in workspaces]}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write(self.path, json.dumps(doc), prefix=".ws-")
        except OSError:
            pass  # a cache that cannot be written costs a request next time, nothing else


def known(fetch: Callable[[], list[Workspace]], cache: NameCache | None,
          *, fresh: bool = False) -> list[Workspace]:
    """The key's workspaces: the cache's, or read (and cached) when absent or ``fresh``."""
    if cache is not None and not fresh:
        cached = cache.load()
        if cached is not None:
            return cached
    found = fetch()
    if cache is not None:
        cache.save(found)
    return found


def resolve(text: str, fetch: Callable[[], list[Workspace]], cache: NameCache | None,
            *, option: str = "--workspace") -> str:
    """The id of the workspace ``text`` names; a name missing from the cache reads the
    workspaces again once (it may be new, or renamed)."""
    if is_id(text):
        return text.strip().lower()
    had_cache = cache is not None and cache.load() is not None
    try:
        return match(text, known(fetch, cache), option=option)
    except UnknownWorkspaceError:
        if not had_cache:
            raise
    return match(text, known(fetch, cache, fresh=True), option=option)


# -- side by side -------------------------------------------------------------------------------


@dataclass
class Unit:
    """One workspace reached through one key: ``open`` makes its client (with the key's
    limiter). ``name``/``id`` unknown (None) are read from ``GET /workspaces/current``."""

    profile: str
    id: str | None
    name: str | None
    open: Callable[[], InstantlyClient]
    # Why this unit cannot run at all (its profile has no key…): reported on its row.
    error: CliError | None = None
    # The caller's own record of where the unit points (its resolved settings): opaque here.
    where: Any = None

    @property
    def sort_key(self) -> tuple[str, str, str]:
        return ((self.name or self.profile).casefold(), self.profile, self.id or "")


@dataclass
class Done(Generic[T]):
    """What one unit gave: its value, or the error that stopped it."""

    unit: Unit
    value: T | None = None
    error: CliError | None = None
    warnings: list[str] = field(default_factory=list)

    def labels(self) -> dict[str, str | None]:
        return {"profile": self.unit.profile, "workspace_name": self.unit.name,
                "workspace_id": self.unit.id}


def side_by_side(units: Sequence[Unit], job: Callable[[InstantlyClient, Unit], T],
                 *, workers: int = SIDE_BY_SIDE) -> list[Done[T]]:
    """Run ``job`` for every unit, at most ``workers`` at once; one failing unit (401, 403, a
    server down) is reported on its result and the others complete. Sorted by workspace name.
    """

    def one(unit: Unit) -> Done[T]:
        if unit.error is not None:
            return Done(unit, error=unit.error)
        try:
            with unit.open() as client:
                unit = _named(client, unit)
                return Done(unit, value=job(client, unit))
        except CliError as exc:
            return Done(unit, error=exc)

    if not units:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(units))),
                            thread_name_prefix="workspace") as pool:
        done = list(pool.map(one, units))
    return sorted(done, key=lambda d: d.unit.sort_key)


def _named(client: InstantlyClient, unit: Unit) -> Unit:
    """The unit with its workspace's name and id (read when not known yet). A key that may
    not read its workspace (403) still lists its accounts: the name stays unknown."""
    if unit.name is not None and unit.id is not None:
        return unit
    try:
        current = client.current_workspace()
    except ForbiddenError:
        return unit
    return replace(unit, id=unit.id or current.get("id"), name=unit.name or current.get("name"))


# -- which workspace holds an address -----------------------------------------------------------


def find_accounts(client: InstantlyClient, emails: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The accounts of ``emails`` in the client's workspace, keyed by the address folded to
    lower case (emails compare case-insensitively); one ``search`` listing per address."""
    found: dict[str, dict[str, Any]] = {}
    for email in dict.fromkeys(e.casefold() for e in emails):
        account = find(client, email)
        if account is not None:
            found[email] = dict(account)
    return found
