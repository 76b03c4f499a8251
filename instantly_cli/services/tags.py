"""Custom tags: label ↔ id over every page, the mapping join, and assign/unassign planning.

No terminal here: warnings reach these functions as a ``warn`` callback, and they return data
(tags, mapping rows, outcomes, a run result) for the command to render.
"""

from __future__ import annotations

import difflib
import shlex
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

from instantly_cli.enums import (
    ASSIGNED,
    FAILED,
    RESOURCE_TYPE,
    UNASSIGNED,
    UNCHANGED,
    WOULD_ASSIGN,
    WOULD_UNASSIGN,
)
from instantly_cli.errors import CliError, ConflictError, NetworkError, UsageError
from instantly_cli.services import bulk
from instantly_cli.services.names import is_id

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.paging import Pager
    from instantly_cli.schema import Account, Tag, TagMapping

Warn = Callable[[str], None]

# The toggle endpoint and the resource_ids filter take lists; 100 keeps bodies and URLs modest.
BATCH = 100
ACCOUNT = int(RESOURCE_TYPE.parse("account"))


def _ignore(message: str) -> None:
    """The default ``warn``: callers that show warnings pass ``output.warn``."""


def all_items(pager: Pager, what: str, warn: Warn = _ignore) -> list[dict[str, Any]]:
    """Every item of every page; a pagination anomaly is reported through ``warn``, never
    looped on."""
    items = list(pager.items())
    if pager.anomaly:
        warn(f"Listing {what} ended early: {pager.anomaly}.")
    return items


def norm(label: str) -> str:
    """How labels compare: trimmed, case-insensitive."""
    return label.strip().casefold()


class TagIndex:
    """Every tag of the workspace (all pages). Build it once per command and pass it along."""

    def __init__(self, tags: Sequence[Tag]):
        self.tags: list[Tag] = list(tags)
        self.by_id: dict[str, Tag] = {str(t.get("id")): t for t in self.tags}

    @classmethod
    def fetch(cls, client: InstantlyClient, warn: Warn = _ignore) -> TagIndex:
        return cls(cast("list[Tag]", all_items(client.list_tags(), "custom-tags", warn)))

    def label(self, tag_id: str) -> str:
        tag = self.by_id.get(tag_id)
        return str(tag.get("label")) if tag else f"unknown tag ({tag_id})"

    def find_label(self, label: str) -> list[Tag]:
        """Tags whose label equals ``label`` (trimmed, case-insensitive)."""
        wanted = norm(label)
        return [t for t in self.tags if norm(str(t.get("label", ""))) == wanted]

    def resolve(self, spec: str) -> str:
        """A label (case-insensitive exact match) or an id → the tag id; exit 2 when unclear."""
        text = spec.strip()
        if text in self.by_id:
            return text
        matches = self.find_label(text)
        if len(matches) == 1:
            return str(matches[0]["id"])
        if len(matches) > 1:
            ids = ", ".join(f"{t['id']} ({t.get('label')})" for t in matches)
            raise UsageError(
                f"Tag label '{spec}' matches {len(matches)} tags.",
                hint=f"Use one of the ids: {ids}.",
            )
        if is_id(text):
            raise UsageError(
                f"No tag has the id '{spec}'.", hint="`instantly tags list` shows them."
            )
        # Only a near-identical label (a typo) is suggested; otherwise the tag is new.
        labels = [str(t.get("label", "")) for t in self.tags]
        folded = {lb.casefold(): lb for lb in labels}
        close = difflib.get_close_matches(text.casefold(), list(folded), n=1, cutoff=0.9)
        hint = f"Create it: instantly tags create {shlex.quote(text)}"
        if close:
            hint += f" (or did you mean '{folded[close[0]]}'?)"
        raise UsageError(f"No tag is labelled '{spec}'.", hint=hint)


def resolve_tag_ids(index: TagIndex, specs: Iterable[str] | None) -> list[str]:
    """Labels or ids → tag ids, in the order given, each once."""
    return list(dict.fromkeys(index.resolve(s) for s in specs or ()))


def list_tags(
    client: InstantlyClient, search: str | None = None, warn: Warn = _ignore
) -> list[Tag]:
    """Every tag (optionally those whose label contains ``search``), sorted by label."""
    tags = cast(
        "list[Tag]", all_items(client.list_tags({"search": search or None}), "custom-tags", warn)
    )
    # The API pages by id; a workspace has few tags, so they are shown sorted by label.
    tags.sort(key=lambda t: (norm(str(t.get("label", ""))), str(t.get("id"))))
    return tags


def fetch_mappings(
    client: InstantlyClient, resource_ids: Sequence[str] | None = None, warn: Warn = _ignore
) -> list[TagMapping]:
    """Every mapping (all pages), or those of ``resource_ids`` (asked for in batches)."""
    what = "custom-tag-mappings"
    if resource_ids is None:
        return cast("list[TagMapping]", all_items(client.list_tag_mappings(), what, warn))
    out: list[dict[str, Any]] = []
    for chunk in bulk.batches(resource_ids, BATCH):
        pager = client.list_tag_mappings({"resource_ids": ",".join(chunk)})
        out.extend(all_items(pager, what, warn))
    return cast("list[TagMapping]", out)


def attach_tags(
    client: InstantlyClient,
    accounts: Sequence[Account],
    index: TagIndex | None = None,
    warn: Warn = _ignore,
) -> None:
    """Add ``tags: [{id, label, description}]`` to each account, as ``include_tags`` does.

    ``index`` is fetched (after the mappings) when not given; nothing is fetched for no accounts.
    """
    if not accounts:
        return
    emails = [str(a.get("email")) for a in accounts]
    mappings = fetch_mappings(client, emails, warn)
    if index is None:
        index = TagIndex.fetch(client, warn)
    by_email: dict[str, list[dict[str, Any]]] = {e.lower(): [] for e in emails}
    for m in mappings:
        key = str(m.get("resource_id")).lower()
        if m.get("resource_type") != ACCOUNT or key not in by_email:
            continue
        tag = index.by_id.get(str(m.get("tag_id")))
        by_email[key].append(
            {
                "id": m.get("tag_id"),
                "label": tag.get("label") if tag else index.label(str(m.get("tag_id"))),
                "description": tag.get("description") if tag else None,
            }
        )
    for tags in by_email.values():
        tags.sort(key=lambda t: str(t["label"]).casefold())
    for account in accounts:
        account["tags"] = by_email.get(str(account.get("email")).lower(), [])


# -- tags map ----------------------------------------------------------------------------------


def map_rows(
    client: InstantlyClient,
    index: TagIndex,
    *,
    tag_specs: Sequence[str] | None = None,
    emails: Sequence[str] | None = None,
    resource_type: int | None = ACCOUNT,
    warn: Warn = _ignore,
) -> list[dict[str, Any]]:
    """The mappings that match, each with its ``tag_label``, sorted by tag then resource.

    ``resource_type`` None means every type; labels in ``tag_specs`` resolve before any mapping
    is fetched (a bad label sends nothing more).
    """
    wanted = set(resolve_tag_ids(index, tag_specs)) if tag_specs else None
    mappings = fetch_mappings(client, emails, warn)
    wanted_emails = {e.lower() for e in emails} if emails else None
    rows: list[dict[str, Any]] = []
    for m in mappings:
        if resource_type is not None and m.get("resource_type") != resource_type:
            continue
        if wanted is not None and str(m.get("tag_id")) not in wanted:
            continue
        if wanted_emails is not None and str(m.get("resource_id")).lower() not in wanted_emails:
            continue
        rows.append({**m, "tag_label": index.label(str(m.get("tag_id")))})
    rows.sort(
        key=lambda r: (
            r["tag_label"].casefold(),
            str(r.get("resource_type")),
            str(r.get("resource_id")).casefold(),
        )
    )
    return rows


def group_by_resource(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mapping rows → one row per resource with its ``tags: [{id, label}]`` (sorted by label).

    Accounts also get ``email``, so the JSON feeds `tags assign --stdin` and `accounts update -`.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        rid, rtype = str(r.get("resource_id")), r.get("resource_type")
        key = (str(rtype), rid.lower())
        group = groups.get(key)
        if group is None:
            group = {"resource_id": rid, "resource_type": rtype}
            if rtype == ACCOUNT:
                group["email"] = rid
            group["tags"] = []
            groups[key] = group
        group["tags"].append({"id": r.get("tag_id"), "label": r["tag_label"]})
    out = sorted(
        groups.values(),
        key=lambda g: (str(g["resource_type"]), str(g["resource_id"]).casefold()),
    )
    for group in out:
        group["tags"].sort(key=lambda t: str(t["label"]).casefold())
    return out


# -- assign / unassign -------------------------------------------------------------------------


def done_word(assign: bool) -> str:
    return ASSIGNED if assign else UNASSIGNED


def would_word(assign: bool) -> str:
    return WOULD_ASSIGN if assign else WOULD_UNASSIGN


def toggle_work(
    client: InstantlyClient, tag_ids: Sequence[str], assign: bool
) -> bulk.Work:
    """The per-batch work of `tags assign/unassign`: one toggle request per batch of emails.

    An answer of ``success: false`` fails every email of the batch (nothing was applied).
    """
    ids = list(tag_ids)
    done = done_word(assign)

    def send(batch: list[str]) -> list[bulk.Outcome]:
        if not client.toggle_tags(ids, batch, assign):
            return [
                bulk.Outcome(
                    e,
                    FAILED,
                    code="not_applied",
                    error="the API answered success: false",
                    extra={"tag_ids": ids},
                )
                for e in batch
            ]
        return [bulk.Outcome(e, done, extra={"tag_ids": ids}) for e in batch]

    # One unknown account refuses the whole batch: only the unknown ones fail.
    return lambda batch: bulk.bisect(send, batch, _unknown)


def _unknown(err: CliError) -> bool:
    return err.code == "not_found"


def toggle_batches(emails: Sequence[str]) -> list[list[str]]:
    return bulk.batches(emails, BATCH)


def plan_toggle(
    client: InstantlyClient,
    index: TagIndex,
    tag_ids: Sequence[str],
    emails: Sequence[str],
    assign: bool,
    *,
    warn: Warn = _ignore,
    clock: Callable[[], float] = time.monotonic,
) -> bulk.RunResult:
    """The dry run: compare with the current mappings, who would gain or lose which tag.

    Sends no toggle. Each outcome carries ``changes: [{tag_id, tag_label, result}]``.
    """
    started = clock()
    has: set[tuple[str, str]] = {
        (str(m.get("resource_id")).lower(), str(m.get("tag_id")))
        for m in fetch_mappings(client, emails, warn)
        if m.get("resource_type") == ACCOUNT
    }
    would = would_word(assign)
    outcomes = []
    for email in emails:
        changes = []
        for tag_id in tag_ids:
            present = (email.lower(), tag_id) in has
            changes.append(
                {
                    "tag_id": tag_id,
                    "tag_label": index.label(tag_id),
                    "result": would if present != assign else UNCHANGED,
                }
            )
        result = would if any(c["result"] == would for c in changes) else UNCHANGED
        outcomes.append(bulk.Outcome(email, result, extra={"changes": changes}))
    return bulk.RunResult(outcomes, False, clock() - started)


# -- create / rename / delete ------------------------------------------------------------------


def label_conflict(
    err: CliError, label: str, index: TagIndex, own_id: str | None = None
) -> CliError:
    """A 409 on a label: name the tag that already has it."""
    existing = [t for t in index.find_label(label) if str(t.get("id")) != own_id]
    if existing:
        tag = existing[0]
        message = f"A tag labelled '{tag.get('label')}' already exists (id {tag.get('id')})."
    else:
        message = f"The API refused the label '{label}': {err.message}"
    out = ConflictError(
        message,
        hint="Labels are unique per workspace: use that tag, or pick another label "
        "(`instantly tags rename` changes a label).",
        status=err.status,
    )
    out.body = err.body
    return out


def create_tag(
    client: InstantlyClient, label: str, description: str | None = None, warn: Warn = _ignore
) -> Tag:
    """Create a tag; a 409 names the tag holding the label, a network failure says how to check."""
    try:
        return client.create_tag(label, description)
    except ConflictError as err:
        raise label_conflict(err, label, TagIndex.fetch(client, warn)) from None
    except NetworkError as err:
        # Never retried blindly (a retry could create it twice): tell how to check.
        err.hint = (
            f"The tag may or may not have been created; check with "
            f"`instantly tags list --search '{label}'` before trying again."
        )
        raise


def rename_tag(
    client: InstantlyClient,
    index: TagIndex,
    tag_id: str,
    label: str,
    description: str | None = None,
    *,
    change_description: bool = False,
) -> Tag:
    """Give ``tag_id`` a new label (and, with ``change_description``, a new description)."""
    body: dict[str, Any] = {"label": label}
    if change_description:
        body["description"] = description
    try:
        return client.update_tag(tag_id, body)
    except ConflictError as err:
        raise label_conflict(err, label, index, tag_id) from None


def delete_tag(client: InstantlyClient, index: TagIndex, tag_id: str) -> Tag:
    """Delete ``tag_id``; the deleted tag (the API's answer, else the one in ``index``)."""
    deleted = client.delete_tag(tag_id)
    return deleted if isinstance(deleted, dict) else index.by_id[tag_id]


def with_account_counts(
    client: InstantlyClient, tags: Sequence[Tag], warn: Warn = _ignore
) -> list[dict[str, Any]]:
    """Each tag with ``account_count``: how many accounts carry it (from every mapping)."""
    counts: dict[str, int] = {}
    for m in fetch_mappings(client, None, warn):
        if m.get("resource_type") == ACCOUNT:
            tag_id = str(m.get("tag_id"))
            counts[tag_id] = counts.get(tag_id, 0) + 1
    return [{**t, "account_count": counts.get(str(t.get("id")), 0)} for t in tags]
