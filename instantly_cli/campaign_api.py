"""The campaign endpoints of :class:`~instantly_cli.client.InstantlyClient`, as a mixin.

They live apart so the client module stays one job in at most 600 lines; the requests still go
through the client's one request loop (retries, pacing, decoding): the mixin only names paths
and shapes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import quote

from instantly_cli.schema import Campaign, SendingStatus

if TYPE_CHECKING:
    from instantly_cli.paging import Pager

CAMPAIGNS = "/api/v2/campaigns"
MAPPINGS = "/api/v2/account-campaign-mappings"


class _Client(Protocol):
    def pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        page_size: int = 100,
        offset: bool = False,
    ) -> Pager: ...

    def _object(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        body: Any | None = None,
        safe_to_repeat: bool | None = None,
    ) -> dict[str, Any]: ...


def campaign_path(campaign_id: str) -> str:
    return f"{CAMPAIGNS}/{quote(campaign_id, safe='')}"


class CampaignEndpoints:
    """``/campaigns`` and ``/account-campaign-mappings``."""

    def list_campaigns(
        self: _Client, params: Mapping[str, Any] | None = None, *, limit: int | None = None
    ) -> Pager:
        """``GET /campaigns`` by cursor (``search``, ``status``, ``tag_ids`` … as given)."""
        return self.pages(CAMPAIGNS, params, limit=limit)

    def get_campaign(self: _Client, campaign_id: str) -> Campaign:
        return cast(Campaign, self._object("GET", campaign_path(campaign_id)))

    def set_campaign_accounts(
        self: _Client, campaign_id: str, emails: Sequence[str]
    ) -> Campaign:
        return cast(
            Campaign,
            self._object("PATCH", campaign_path(campaign_id), body={"email_list": list(emails)}),
        )

    def sending_status(self: _Client, campaign_id: str) -> SendingStatus:
        """Why a campaign sends slowly or not at all (both fields may be null)."""
        path = f"{campaign_path(campaign_id)}/sending-status"
        return cast(SendingStatus, self._object("GET", path))

    def account_campaigns(self: _Client, email_address: str) -> Pager:
        """``GET /account-campaign-mappings/{email}``: the campaigns one account serves."""
        return self.pages(f"{MAPPINGS}/{quote(email_address, safe='@')}")
