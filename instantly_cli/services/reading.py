"""Reading accounts by email: the read-only lookups one-shot commands make.

Kept apart from :mod:`instantly_cli.services.accounts` (the bulk work) so ``accounts get`` does
not import the bulk runner at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from instantly_cli.errors import NotFoundError

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.schema import Account


def get_accounts(
    client: InstantlyClient, emails: Sequence[str]
) -> tuple[list[Account], list[str]]:
    """The accounts found and the emails that were not; a lone missing email raises (exit 4)."""
    found: list[Account] = []
    missing: list[str] = []
    for email in emails:
        try:
            found.append(client.get_account(email))
        except NotFoundError:
            if len(emails) == 1:
                raise
            missing.append(email)
    return found, missing
