"""Reading accounts by email: the read-only lookups one-shot commands make.

Kept apart from :mod:`instantly_cli.services.accounts` (the bulk work) so ``accounts get`` does
not import the bulk runner at start-up.

Emails are case-insensitive to the people who type them, but the API's account path is exact:
an address typed in another case than the API's is looked up by ``search`` and used as the API
spells it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from instantly_cli.errors import NotFoundError

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.schema import Account


def find(client: InstantlyClient, email: str) -> Account | None:
    """The account of ``email`` in any case, or None when no account has it. ``search`` is a
    substring search, so only an exact (case-insensitive) match counts."""
    want = email.strip().casefold()
    for item in client.list_accounts({"search": email.strip()}, limit=100).items():
        found = item.get("email")
        if isinstance(found, str) and found.casefold() == want:
            return cast("Account", item)
    return None


def spelling(client: InstantlyClient, email: str) -> str | None:
    """The API's spelling of ``email`` (any case), or None when no account has it."""
    account = find(client, email)
    return None if account is None else account["email"]


def get_account(client: InstantlyClient, email: str) -> Account:
    """One account by email in any case (exit 4 when there is none)."""
    try:
        return client.get_account(email)
    except NotFoundError:
        spelled = spelling(client, email)
        if spelled is None or spelled == email:
            raise
        return client.get_account(spelled)


def get_accounts(
    client: InstantlyClient, emails: Sequence[str]
) -> tuple[list[Account], list[str]]:
    """The accounts found and the emails that were not; a lone missing email raises (exit 4)."""
    found: list[Account] = []
    missing: list[str] = []
    for email in emails:
        try:
            found.append(get_account(client, email))
        except NotFoundError:
            if len(emails) == 1:
                raise
            missing.append(email)
    return found, missing
