"""What every command that walks the account pages says when the walk ends early."""

from instantly_cli import output
from instantly_cli.errors import CliError


def report_cut(anomaly: str | None, strict: bool, consequence: str = "") -> None:
    """Warn on stderr why a listing ended early (the pager's loop guard stopped it); with
    ``strict``, exit 1. ``consequence`` says what that means for this command's output."""
    if not anomaly:
        return
    output.warn(f"Listing ended early: {anomaly}{consequence}.")
    if strict:
        raise CliError(
            "Pagination stopped early (--strict); the output may be incomplete.",
            hint="Retry later; without --strict the listing ends with what was fetched.",
        )
