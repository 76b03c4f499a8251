"""Account lifecycle steps for the bulk runner: delete, mark-fixed and move between workspaces.

Each ``*_work`` returns the per-unit function ``services.bulk.run`` calls; nothing here touches
the terminal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from instantly_cli.enums import (
    ACCOUNT_STATUS,
    ACTIVE_STATUS,
    DELETED,
    FAILED,
    FIXED,
    GONE,
    MOVE_SUCCESS,
    MOVED,
    UNCHANGED,
    WOULD_DELETE,
    WOULD_FIX,
    WOULD_MOVE,
)
from instantly_cli.errors import CliError, NetworkError, NotFoundError, UsageError
from instantly_cli.services.accounts.summary import domain_of
from instantly_cli.services.bulk import Outcome, Work, bisect

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient

# POST /accounts/move documents no maximum; 100 a call like every other bulk endpoint.
MOVE_BATCH = 100


# -- delete --------------------------------------------------------------------------------------


def delete_work(client: InstantlyClient, *, dry_run: bool) -> Work:
    """Delete one account; the outcome keeps the deleted Account the API returned.

    ``dry_run`` fetches the account instead (a missing one fails, exit 4 when alone). An account
    that is not there (in any case of its email) is ``gone``: deleting twice is no failure. A
    DELETE whose answer was lost is not repeated blindly: the account is looked up first.
    """
    from instantly_cli.services.accounts.get import spelling

    def work(unit: list[str]) -> list[Outcome]:
        email = unit[0]
        if dry_run:
            return [_flagged(Outcome(email, WOULD_DELETE, account=client.get_account(email)))]
        try:
            return [_flagged(Outcome(email, DELETED, account=client.delete_account(email)))]
        except NotFoundError:
            spelled = spelling(client, email)
            if spelled is None or spelled == email:
                return [Outcome(email, GONE, extra={"detail": "no such account (deleted "
                                                              "already)"})]
            return [Outcome(spelled, DELETED, account=client.delete_account(spelled))]
        except NetworkError as lost:
            try:
                client.get_account(email)
            except NotFoundError:
                return [
                    Outcome(
                        email,
                        DELETED,
                        warnings=[f"the answer was lost ({lost.message.rstrip('.')}); "
                                  "the account is gone now"],
                    )
                ]
            # Still there: the first DELETE did not happen, so one more is safe.
            return [Outcome(email, DELETED, account=client.delete_account(email))]

    return work


ACTIVE_NOTE = "active: it may be sending"


def _flagged(outcome: Outcome) -> Outcome:
    """An account deleted (or about to be) while active carries a warning: it may be sending."""
    if outcome.account is not None and is_active(outcome.account):
        outcome.warnings.append(ACTIVE_NOTE)
    return outcome


def is_active(account: Mapping[str, Any]) -> bool:
    status = account.get("status")
    return isinstance(status, int | float) and not isinstance(status, bool) and (
        status == ACTIVE_STATUS)


def _top(counts: Counter[str], few: int = 3) -> str:
    shown = ", ".join(f"{name} {n:,}" for name, n in counts.most_common(few))
    return shown + (f" and {len(counts) - few:,} more" if len(counts) > few else "")


def delete_brief(emails: Sequence[str], accounts: Sequence[Mapping[str, Any]],
                 missing: int = 0) -> tuple[list[str], bool]:
    """The lines a person reads before a delete (the domains hit, the status mix, every
    active account) and whether the answer must be the count: more than 10 accounts, or any
    active one."""
    domains = Counter(domain_of(e) for e in emails)
    lines = [f"  Domains: {_top(domains)}"]
    if accounts or missing:
        mix = Counter(ACCOUNT_STATUS.label(a.get("status")) or "no status" for a in accounts)
        if missing:
            mix["not found"] = missing
        lines.append(f"  Status:  {_top(mix, 6)}")
    active = [str(a.get("email")) for a in accounts if is_active(a)]
    if active:
        shown = ", ".join(active[:5]) + (f" and {len(active) - 5:,} more" if len(active) > 5
                                          else "")
        lines.append(f"  {len(active):,} active account" + (" is" if len(active) == 1 else "s are")
                     + f" possibly sending: {shown}")
    return lines, len(emails) > 10 or bool(active)


# -- mark-fixed ------------------------------------------------------------------------------------


def mark_fixed_work(client: InstantlyClient, *, dry_run: bool) -> Work:
    """Read the status, mark the account fixed, report the status before and after."""

    def work(unit: list[str]) -> list[Outcome]:
        email = unit[0]
        before = client.get_account(email)
        extra: dict[str, Any] = {"status_before": before.get("status")}
        if dry_run:
            status = extra["status_before"]
            errored = isinstance(status, int | float) and status < 0
            extra["status_after"] = None
            return [Outcome(email, WOULD_FIX if errored else UNCHANGED, extra=extra)]
        after = client.mark_fixed(email)
        extra["status_after"] = after.get("status")
        word = UNCHANGED if extra["status_before"] == extra["status_after"] else FIXED
        warnings = []
        status = after.get("status")
        if isinstance(status, int | float) and status < 0:
            warnings.append("still in an error status after mark-fixed")
        return [Outcome(email, word, account=after, extra=extra, warnings=warnings)]

    return work


# -- move ----------------------------------------------------------------------------------------


def check_move(source: str | None, destination: str) -> str | None:
    """The source workspace (given, or the current one; None: each account's
    ``organization``); exit 2 when the same as the destination."""
    destination = destination.strip()
    if not destination:
        raise UsageError("--to needs a workspace name or id.")
    if source and source.strip() == destination:
        raise UsageError(
            f"Source and destination are the same workspace ({destination}).",
            hint="--to must name another workspace.",
        )
    return source.strip() if source else None


def by_organization(
    client: InstantlyClient,
    batch: list[str],
    destination: str,
    in_destination: Callable[[str], bool] | None = None,
) -> tuple[dict[str, list[str]], list[Outcome]]:
    """The emails of ``batch`` grouped by the workspace each account is in (its
    ``organization``), and the outcomes of those that need no move: already in the
    destination (unchanged) or not found."""
    from instantly_cli.services.accounts.get import get_account

    groups: dict[str, list[str]] = {}
    settled: list[Outcome] = []
    for email in batch:
        try:
            account = get_account(client, email)
        except NotFoundError as exc:
            # Not in the current workspace: moved there before (a rerun), or nowhere.
            if in_destination is not None and in_destination(email):
                settled.append(Outcome(email, UNCHANGED, extra={
                    "to": destination, "detail": "in the destination already"}))
                continue
            settled.append(Outcome(email, FAILED, code=exc.code, error=exc.message,
                                   status=exc.status, extra={"to": destination}))
            continue
        org = str(account.get("organization") or "")
        extra = {"from": org, "to": destination}
        if org.lower() == destination.lower():
            settled.append(Outcome(email, UNCHANGED,
                                   extra={**extra, "detail": "in the destination already"}))
        elif not org:
            settled.append(Outcome(email, FAILED, code="no_organization", extra=extra,
                                   error="the account does not say which workspace it is in; "
                                   "pass --from"))
        else:
            groups.setdefault(org, []).append(email)
    return groups, settled


def move_work(
    client: InstantlyClient,
    source: str | None,
    destination: str,
    *,
    dry_run: bool,
    in_destination: Callable[[str], bool] | None = None,
) -> Work:
    """One ``POST /accounts/move`` per batch; the API moves a batch all or nothing.

    A move whose answer was lost is not repeated blindly: ``in_destination`` (a lookup in the
    destination workspace) tells whether it happened; only a batch found nowhere there is sent
    once more. Without ``source``, each account's ``organization`` is its source (one move per
    source workspace).
    """
    if source is None:
        return _from_organizations(client, destination, dry_run=dry_run,
                                   in_destination=in_destination)

    extra = {"from": source, "to": destination}

    def send(batch: list[str]) -> tuple[dict[str, Any], list[str]]:
        try:
            return client.move_accounts(batch, source, destination), []
        except NetworkError as lost:
            if in_destination is None:
                raise
            landed = [e for e in batch if in_destination(e)]
            if len(landed) == len(batch):
                note = (f"the answer was lost ({lost.message.rstrip('.')}); "
                        "the accounts are in the destination now")
                return {"status": MOVE_SUCCESS}, [note]
            if landed:
                raise NetworkError(
                    f"{lost.message.rstrip('.')}; {len(landed)} of {len(batch)} accounts of the "
                    "batch are in the destination already; --resume moves the rest.",
                ) from None
            return client.move_accounts(batch, source, destination), []

    def move(batch: list[str]) -> list[Outcome]:
        answer, warnings = send(batch)
        status = answer.get("status")
        if status not in (None, MOVE_SUCCESS):
            return [
                Outcome(
                    e,
                    FAILED,
                    code="not_moved",
                    error=f"the API answered status {status!r}",
                    extra=dict(extra),
                )
                for e in batch
            ]
        return [Outcome(e, MOVED, extra=dict(extra), warnings=list(warnings)) for e in batch]

    def work(batch: list[str]) -> list[Outcome]:
        if dry_run:
            return [Outcome(e, WOULD_MOVE, extra=dict(extra)) for e in batch]
        try:
            return move(batch)
        except NotFoundError as refusal:
            # All or nothing: one account not in the source refuses the batch. Those in the
            # destination already are unchanged (a move done before); the rest are halved until
            # the ones found nowhere are alone, so only they fail.
            there = {e for e in batch if in_destination(e)} if in_destination else set()
            rest = [e for e in batch if e not in there]
            outcomes = [Outcome(e, UNCHANGED, extra={**extra, "detail": "in the destination "
                                                     "already"}) for e in batch if e in there]
            if rest:
                # Sent as it was, the batch would be refused again: straight to its halves.
                outcomes += bisect(move, rest, _not_in_source, None if there else refusal)
            order = {e: i for i, e in enumerate(batch)}
            return sorted(outcomes, key=lambda o: order.get(o.email, len(order)))

    return work


def _not_in_source(err: CliError) -> bool:
    return isinstance(err, NotFoundError)


def _from_organizations(
    client: InstantlyClient,
    destination: str,
    *,
    dry_run: bool,
    in_destination: Callable[[str], bool] | None,
) -> Work:
    def work(batch: list[str]) -> list[Outcome]:
        groups, outcomes = by_organization(client, batch, destination, in_destination)
        for org, emails in groups.items():
            moves = move_work(client, org, destination, dry_run=dry_run,
                              in_destination=in_destination)
            outcomes += moves(emails)
        order = {e: i for i, e in enumerate(batch)}
        return sorted(outcomes, key=lambda o: order.get(o.email, len(order)))

    return work
