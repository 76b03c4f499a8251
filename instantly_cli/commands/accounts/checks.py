"""``instantly accounts vitals|tracking-domain``: DNS checks, usable as CI gates (exit 1)."""

from typing import Annotated

import typer

from instantly_cli import context, output
from instantly_cli.columns import parse_fields, pick
from instantly_cli.commands import handled
from instantly_cli.commands.accounts import app
from instantly_cli.errors import EXIT_FAILED, EXIT_OK
from instantly_cli.options import TargetsArg, argument, examples, required
from instantly_cli.options_bundles import NO_VIEW, View, view_options


@app.command(
    "vitals",
    epilog=examples(
        "instantly accounts vitals ops@acme.io sales@acme.io",
        "instantly accounts vitals acme.io ses.tailspin.dev",
        "instantly accounts list --all -o jsonl | instantly accounts vitals - --json",
    ),
)
@handled
@view_options("fields")
def vitals(
    ctx: typer.Context,
    targets: TargetsArg,
    view: View = NO_VIEW,
) -> int:
    """Check the DNS (MX, SPF, DKIM, DMARC) of domains.

    The accounts' domains are each tested once; exit 1 when any fails. TARGET is an account
    email, a bare domain (acme.io), or - for emails on stdin.

    Accounts that share a domain are tested once (one of them is sent).
    """
    from instantly_cli import views_fleet
    from instantly_cli.services.accounts import checks
    from instantly_cli.targets import read_targets

    fmt = view.format(ctx)
    field_list = parse_fields(view.fields)
    # A bare domain is tested as it is (the API takes domains too); the rest are targets.
    bare = [t for t in targets if t != "-" and "@" not in t]
    given = [t for t in targets if t not in bare]
    emails = [checks.check_domain(t) for t in bare]
    if given or not bare:
        emails += read_targets(given)
    domains = len(checks.by_domain(emails))
    with context.client(ctx) as client, output.progress(domains, "Testing domains") as advance:
        results = checks.run_vitals(client, emails, advance=advance)
    failed = [r for r in results if not r.passed]
    records = [r.to_json() for r in results]
    if fmt in ("json", "jsonl"):
        output.emit_records([records], fmt, [], fields=field_list)
    else:
        output.emit_records(
            [views_fleet.vitals_rows(records)], fmt, views_fleet.VITALS_COLUMNS, fields=field_list
        )
    output.info(
        f"{len(results):,} domain(s) of {len(emails):,} account(s): "
        f"{len(results) - len(failed):,} passed, {len(failed):,} failed"
    )
    return EXIT_FAILED if failed else EXIT_OK


@app.command(
    "tracking-domain",
    epilog=examples(
        "instantly accounts tracking-domain track.acme.io",
        "instantly accounts tracking-domain track.acme.io --json | jq .ssl",
    ),
)
@handled
@view_options("fields")
def tracking_domain(
    ctx: typer.Context,
    host: Annotated[str | None, argument("HOST")] = None,
    view: View = NO_VIEW,
) -> int:
    """Check a tracking domain's CNAME and SSL.

    Exit 1 when either is not ok.

    HOST is the tracking domain's host name, e.g. track.acme.io.
    """
    from instantly_cli import views_fleet
    from instantly_cli.services.accounts import checks

    fmt = view.format(ctx)
    field_list = parse_fields(view.fields)
    example = "instantly accounts tracking-domain track.acme.io"
    name = checks.check_host(required(host, "the HOST", example))
    with context.client(ctx) as client:
        status, ok = checks.tracking_domain(client, name)
    if fmt == "json":
        output.emit_json(pick(status, field_list) if field_list else status)
    elif fmt == "jsonl":
        output.emit_records([[status]], fmt, [], fields=field_list)
    else:
        output.emit_records([[views_fleet.ctd_row(status, name)]], fmt, views_fleet.CTD_COLUMNS,
                            fields=field_list)
    return EXIT_OK if ok else EXIT_FAILED
