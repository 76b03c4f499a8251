"""``instantly tags``: custom tags, who carries them, and assigning them to accounts."""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Any

import typer

from instantly_cli.errors import UsageError

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient

app = typer.Typer(help="Custom tags and their mappings to accounts.", no_args_is_help=True)

TAGS_PATH = "/api/v2/custom-tags"
MAPPINGS_PATH = "/api/v2/custom-tag-mappings"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class TagIndex:
    """Every tag of the workspace (all pages), fetched once per command."""

    def __init__(self, tags: list[dict[str, Any]]):
        self.tags = tags
        self.by_id = {str(t.get("id")): t for t in tags}

    @classmethod
    def fetch(cls, client: InstantlyClient) -> TagIndex:
        return cls(list(client.pages(TAGS_PATH).items()))

    def label(self, tag_id: str) -> str:
        tag = self.by_id.get(tag_id)
        return str(tag.get("label")) if tag else f"unknown tag ({tag_id})"

    def resolve(self, spec: str) -> str:
        """A label (case-insensitive exact match) or an id → the tag id; exit 2 when unclear."""
        text = spec.strip()
        if text in self.by_id:
            return text
        matches = [t for t in self.tags if str(t.get("label", "")).casefold() == text.casefold()]
        if len(matches) == 1:
            return str(matches[0]["id"])
        if len(matches) > 1:
            ids = ", ".join(str(t["id"]) for t in matches)
            raise UsageError(
                f"Tag label '{spec}' matches {len(matches)} tags.",
                hint=f"Use one of the ids: {ids}.",
            )
        if _UUID.match(text):
            raise UsageError(
                f"No tag has the id '{spec}'.", hint="`instantly tags list` shows them."
            )
        labels = [str(t.get("label", "")) for t in self.tags]
        close = difflib.get_close_matches(text, labels, n=3, cutoff=0.5)
        close += [lb for lb in labels if text.casefold() in lb.casefold() and lb not in close][:3]
        hint = (
            "Did you mean: " + ", ".join(repr(c) for c in close[:3]) + "?"
            if close
            else "`instantly tags list` shows every tag."
        )
        raise UsageError(f"No tag is labelled '{spec}'.", hint=hint)


def resolve_tag_ids(
    client: InstantlyClient, specs: list[str] | None, index: TagIndex | None = None
) -> list[str]:
    if not specs:
        return []
    index = index or TagIndex.fetch(client)
    return list(dict.fromkeys(index.resolve(s) for s in specs))


def attach_tags(client: InstantlyClient, accounts: list[dict[str, Any]]) -> None:
    """Add ``tags: [{id, label, description}]`` to each account, as ``include_tags`` does."""
    if not accounts:
        return
    emails = [str(a.get("email")) for a in accounts]
    mappings = list(client.pages(MAPPINGS_PATH, {"resource_ids": ",".join(emails)}).items())
    index = TagIndex.fetch(client)
    by_email: dict[str, list[dict[str, Any]]] = {e: [] for e in emails}
    for m in mappings:
        if m.get("resource_type") != 1 or m.get("resource_id") not in by_email:
            continue
        tag = index.by_id.get(str(m.get("tag_id")))
        by_email[str(m["resource_id"])].append(
            {
                "id": m.get("tag_id"),
                "label": tag.get("label") if tag else index.label(str(m.get("tag_id"))),
                "description": tag.get("description") if tag else None,
            }
        )
    for account in accounts:
        account["tags"] = by_email.get(str(account.get("email")), [])
