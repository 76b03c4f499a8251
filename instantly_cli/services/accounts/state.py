"""`accounts pause|resume`: the per-account work for the bulk engine, reading pause answers;
an account already in the wanted state is unchanged."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from instantly_cli.enums import (
    ACCOUNT_STATUS,
    ACTIVE_STATUS,
    FAILED,
    PAUSED,
    PAUSED_STATUS,
    RESUMED,
    UNCHANGED,
    WOULD_PAUSE,
    WOULD_RESUME,
)
from instantly_cli.errors import CliError, NotFoundError
from instantly_cli.services.bulk import Outcome, Work, failed

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient

BATCH = 100


def _status_name(code: object) -> str:
    value = ACCOUNT_STATUS.get(code)
    return value.name if value else f"unknown ({code})"


def _state_change(email: str, result: str, old: object, new: int, detail: str | None = None
                  ) -> Outcome:
    """An outcome that says which status the account had and has (``from``/``to`` CLI names)."""
    extra: dict[str, Any] = {"from": _status_name(old), "to": _status_name(new)}
    if detail:
        extra["detail"] = detail
    return Outcome(email, result, extra=extra)


def pause_work(client: InstantlyClient, *, dry_run: bool = False) -> Work:
    """One bulk-pause request per batch of 100, read back per email.

    The API lists an account it did not pause in ``failed_emails`` — also one that was already
    paused (a retry after Ctrl-C), so each refused account is read before it is called a failure:
    already paused is ``unchanged``. ``dry_run`` reads every account and sends nothing."""

    def refused(email: str) -> Outcome:
        try:
            current = client.get_account(email)
        except NotFoundError as err:
            return failed(email, err)
        except CliError as err:
            return Outcome(email, FAILED, code="not_paused", status=err.status,
                           error=f"the API did not pause it, and reading it failed: {err.message}")
        status = current.get("status")
        if status == PAUSED_STATUS:
            return _state_change(email, UNCHANGED, status, PAUSED_STATUS, "already paused")
        return Outcome(
            email,
            FAILED,
            code="not_paused",
            error=f"the API did not pause it (status {_status_name(status)})",
            extra={"from": _status_name(status), "to": _status_name(status)},
        )

    def preview(email: str) -> Outcome:
        status = client.get_account(email).get("status")
        if status == PAUSED_STATUS:
            return _state_change(email, UNCHANGED, status, PAUSED_STATUS, "already paused")
        return _state_change(email, WOULD_PAUSE, status, PAUSED_STATUS)

    def work(batch: list[str]) -> list[Outcome]:
        if dry_run:
            out = []
            for email in batch:
                try:
                    out.append(preview(email))
                except CliError as err:
                    out.append(failed(email, err))
            return out
        answer = client.pause_accounts(batch)
        paused = {str(e).lower() for e in answer.get("paused_emails") or []}
        refused_emails = {str(e).lower() for e in answer.get("failed_emails") or []}
        out = []
        for email in batch:
            if email.lower() in paused:
                out.append(Outcome(email, PAUSED, extra={"to": _status_name(PAUSED_STATUS)}))
            elif email.lower() in refused_emails:
                out.append(refused(email))
            else:
                out.append(
                    Outcome(
                        email,
                        FAILED,
                        code="not_reported",
                        error="the API did not report this account",
                    )
                )
        return out

    return work


def resume_work(client: InstantlyClient, *, dry_run: bool = False) -> Work:
    """Read each account first: one already active is ``unchanged`` and nothing is sent (so a
    resume only acts on accounts that are paused, and only on the ones targeted)."""

    def work(unit: list[str]) -> list[Outcome]:
        email = unit[0]
        status = client.get_account(email).get("status")
        if status == ACTIVE_STATUS:
            return [_state_change(email, UNCHANGED, status, ACTIVE_STATUS, "already active")]
        if dry_run:
            return [_state_change(email, WOULD_RESUME, status, ACTIVE_STATUS)]
        account = client.resume_account(email)
        out = _state_change(email, RESUMED, status, account.get("status", ACTIVE_STATUS))
        out.account = account
        return [out]

    return work
