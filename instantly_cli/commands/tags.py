"""``instantly tags``: custom tags, who carries them, and assigning them to accounts.

Each command parses its options, calls ``services.tags`` and hands the result to ``views`` and
``output``; the domain (label resolution, the mapping join, toggle planning) lives in the service.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from instantly_cli import context, output
from instantly_cli.commands import _bulk, handled
from instantly_cli.enums import FAILED, RESOURCE_TYPE, UNCHANGED
from instantly_cli.errors import UsageError
from instantly_cli.options import (
    ConcurrencyOpt,
    DryRunOpt,
    FailuresOpt,
    FieldsOpt,
    JsonOpt,
    OutputOpt,
    RateOpt,
    YesOpt,
    examples,
)
from instantly_cli.services import bulk

if TYPE_CHECKING:
    pass

app = typer.Typer(help="Custom tags and their mappings to accounts.", no_args_is_help=True)


# -- shared bits -----------------------------------------------------------------------------


def _emit_tag(tag: Mapping[str, Any], fmt: str, fields: list[str] | None, message: str) -> None:
    """One tag after a change: the object on stdout (table: a confirmation line only)."""
    from instantly_cli import views

    if fmt == "table":
        output.success(message)
    elif fmt == "json":
        output.emit_json(output.pick(tag, fields) if fields else tag)
    else:
        output.emit_records([[tag]], fmt, views.tag_columns(fmt), fields=fields)


def _label_arg(text: str, what: str) -> str:
    label = text.strip()
    if not label:
        raise UsageError(f"{what} must not be blank.", hint='For example: "Client C".')
    return label


def _parse_type(text: str) -> int | None:
    key = text.strip().lower()
    if key == "all":
        return None
    try:
        return int(RESOURCE_TYPE.parse(key))
    except UsageError:
        raise UsageError(
            f"Unknown resource type '{text}'.",
            hint="Valid --type values: " + ", ".join([*RESOURCE_TYPE.names, "all"]) + ".",
        ) from None


# -- list ------------------------------------------------------------------------------------


@app.command(
    "list",
    epilog=examples(
        "instantly tags list",
        "instantly tags list --search client --json | jq -r '.[].id'",
    ),
)
@handled
def list_tags(
    ctx: typer.Context,
    search: Annotated[
        str | None, typer.Option("--search", metavar="TEXT", help="Labels containing TEXT.")
    ] = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
) -> None:
    """List every custom tag: label, id, description, created."""
    fmt = context.output_format(ctx, output_, json_output)
    field_list = output.parse_fields(fields)
    from instantly_cli import views
    from instantly_cli.services import tags as service

    with context.client(ctx) as client:
        tags = service.list_tags(client, search, output.warn)
    output.emit_records(
        [tags],
        fmt,
        views.tag_columns(fmt),
        fields=field_list,
        empty_message="No tags match." if search else "No tags yet.",
    )


# -- map -------------------------------------------------------------------------------------


@app.command(
    "map",
    epilog=examples(
        "instantly tags map",
        'instantly tags map --tag "Client A" -o jsonl | jq -r .resource_id',
        "instantly tags map --account ops@acme.io --account sales@acme.io",
        "instantly tags map --by account --type all",
    ),
)
@handled
def map_tags(
    ctx: typer.Context,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", metavar="TAG", help="Only these tags (label or id); repeatable."),
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", metavar="EMAIL", help="Only these accounts; repeatable."),
    ] = None,
    type_: Annotated[
        str,
        typer.Option(
            "--type",
            metavar="TYPE",
            help="Resources to show: account, campaign or all.",
            autocompletion=lambda incomplete: [
                n for n in [*RESOURCE_TYPE.names, "all"] if n.startswith(incomplete)
            ],
        ),
    ] = "account",
    by: Annotated[
        str,
        typer.Option(
            "--by",
            metavar="ROWS",
            help="mapping: one row per mapping; account: one row per account with its tags.",
        ),
    ] = "mapping",
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
) -> None:
    """Show which accounts (or campaigns) carry which tags."""
    from instantly_cli import views
    from instantly_cli.services import tags as service
    from instantly_cli.targets import dedupe, validate_email

    fmt = context.output_format(ctx, output_, json_output)
    field_list = output.parse_fields(fields)
    resource_type = _parse_type(type_)
    grouping = by.strip().lower()
    if grouping not in ("mapping", "account"):
        raise UsageError(f"Unknown --by value '{by}'.", hint="Valid --by values: mapping, account.")
    emails = dedupe(validate_email(a) for a in account) if account else None
    with context.client(ctx) as client:
        index = service.TagIndex.fetch(client, output.warn)
        rows = service.map_rows(
            client,
            index,
            tag_specs=tag,
            emails=emails,
            resource_type=resource_type,
            warn=output.warn,
        )
    if grouping == "account":
        rows = service.group_by_resource(rows)
        cols = views.tag_groups_columns(fmt, resource_type)
    else:
        cols = views.tag_map_columns(fmt, resource_type)
    output.emit_records(
        [rows], fmt, cols, fields=field_list, empty_message="No tag mappings match."
    )


# -- assign / unassign -----------------------------------------------------------------------

TagsArg = Annotated[
    list[str],
    typer.Argument(metavar="TAG", help="Tag labels or ids.", show_default=False),
]
AccountOpt = Annotated[
    list[str] | None,
    typer.Option("--account", metavar="EMAIL", help="An account email; repeatable."),
]
StdinOpt = Annotated[
    bool,
    typer.Option(
        "--stdin",
        help="Read accounts from stdin: emails, or JSON / JSON lines from `accounts list`.",
    ),
]


def _targets(account: list[str] | None, stdin: bool) -> list[str]:
    from instantly_cli.targets import dedupe, read_targets, validate_email

    if account and stdin:
        raise UsageError(
            "Give accounts with --account or --stdin, not both.",
            hint="Pipe every account on stdin, or name them all with --account.",
        )
    if stdin:
        if output.stdin_is_tty():
            raise UsageError(
                "--stdin needs piped input.",
                hint="For example: instantly accounts list -o jsonl | instantly tags assign "
                "TAG --stdin --yes",
            )
        return read_targets(["-"])
    if not account:
        raise UsageError(
            "No accounts given.", hint="Name accounts with --account EMAIL, or pipe them: --stdin."
        )
    return dedupe(validate_email(a) for a in account)


def _toggle_command(
    ctx: typer.Context,
    *,
    assign: bool,
    tag_specs: list[str],
    account: list[str] | None,
    stdin: bool,
    dry_run: bool,
    yes: bool,
    rate: float,
    concurrency: int,
    failures: Path | None,
    output_: str | None,
    json_output: bool,
) -> int:
    from instantly_cli import views
    from instantly_cli.services import tags as service

    fmt = context.output_format(ctx, output_, json_output)
    bulk.check_rate(rate, concurrency)
    if not [s for s in tag_specs if s.strip()]:
        raise UsageError("No tag given.", hint='Name tags by label or id: "Client A".')
    emails = _targets(account, stdin)
    command = "tags assign" if assign else "tags unassign"

    with context.client(ctx, rate=rate) as client:
        index = service.TagIndex.fetch(client, output.warn)
        tag_ids = service.resolve_tag_ids(index, tag_specs)
        if dry_run:
            plan = service.plan_toggle(client, index, tag_ids, emails, assign, warn=output.warn)
            rows = [o.to_json() for o in plan.outcomes]
            if fmt == "json":
                output.emit_json(rows)
            elif fmt == "jsonl":
                output.emit_records([rows], "jsonl", [])
            else:
                flat = views.tag_plan_rows(rows, assign)
                output.emit_records([flat], fmt, views.TAG_PLAN_COLUMNS)
            order = (service.would_word(assign), UNCHANGED)
            return _bulk.finish(
                plan, fmt=fmt, order=order, failures=None, command=command, emit=False
            )
        _bulk.confirm_many(ctx, len(emails), "tag" if assign else "untag", yes)
        result = _bulk.run(
            service.toggle_batches(emails),
            service.toggle_work(client, tag_ids, assign),
            concurrency=concurrency,
            label="Assigning" if assign else "Unassigning",
        )
    order = (service.done_word(assign), FAILED)
    return _bulk.finish(result, fmt=fmt, order=order, failures=failures, command=command)


AssignExamples = examples(
    'instantly tags assign "Client A" --account ops@acme.io',
    'instantly accounts list --provider google -o jsonl | instantly tags assign "Pool: Google" '
    "--stdin --yes",
    'instantly tags assign "Client A" "Warm pool" --account a@acme.io --account b@acme.io '
    "--dry-run",
)


@app.command("assign", epilog=AssignExamples)
@handled
def assign(
    ctx: typer.Context,
    tag_specs: TagsArg,
    account: AccountOpt = None,
    stdin: StdinOpt = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    rate: RateOpt = bulk.DEFAULT_RATE,
    concurrency: ConcurrencyOpt = bulk.DEFAULT_CONCURRENCY,
    failures: FailuresOpt = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int:
    """Give tags to accounts (100 accounts per request, paced)."""
    return _toggle_command(
        ctx,
        assign=True,
        tag_specs=tag_specs,
        account=account,
        stdin=stdin,
        dry_run=dry_run,
        yes=yes,
        rate=rate,
        concurrency=concurrency,
        failures=failures,
        output_=output_,
        json_output=json_output,
    )


UnassignExamples = examples(
    'instantly tags unassign "Client A" --account ops@acme.io',
    'instantly tags map --tag "Warm pool" --by account -o jsonl '
    '| instantly tags unassign "Warm pool" --stdin --dry-run',
)


@app.command("unassign", epilog=UnassignExamples)
@handled
def unassign(
    ctx: typer.Context,
    tag_specs: TagsArg,
    account: AccountOpt = None,
    stdin: StdinOpt = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    rate: RateOpt = bulk.DEFAULT_RATE,
    concurrency: ConcurrencyOpt = bulk.DEFAULT_CONCURRENCY,
    failures: FailuresOpt = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
) -> int:
    """Take tags off accounts (100 accounts per request, paced)."""
    return _toggle_command(
        ctx,
        assign=False,
        tag_specs=tag_specs,
        account=account,
        stdin=stdin,
        dry_run=dry_run,
        yes=yes,
        rate=rate,
        concurrency=concurrency,
        failures=failures,
        output_=output_,
        json_output=json_output,
    )


# -- create / rename / delete ----------------------------------------------------------------


@app.command(
    "create",
    epilog=examples(
        'instantly tags create "Client C"',
        'instantly tags create "Client C" --description "Mailboxes for client C" --json',
    ),
)
@handled
def create(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(metavar="LABEL", help="The new tag's label.")],
    description: Annotated[
        str | None, typer.Option("--description", metavar="TEXT", help="What the tag is for.")
    ] = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
) -> None:
    """Create a custom tag (labels are unique per workspace)."""
    from instantly_cli import views
    from instantly_cli.services import tags as service

    fmt = context.output_format(ctx, output_, json_output)
    field_list = output.parse_fields(fields)
    text = _label_arg(label, "The label")
    with context.client(ctx) as client:
        tag = service.create_tag(client, text, description, output.warn)
    _emit_tag(tag, fmt, field_list, f"Created tag {views.describe_tag(tag)}.")


@app.command(
    "rename",
    epilog=examples(
        'instantly tags rename "Client A" "Client A (EU)"',
        "instantly tags rename 0e6c1a2b-… \"Warm pool\" --description 'Warming up'",
    ),
)
@handled
def rename(
    ctx: typer.Context,
    tag: Annotated[str, typer.Argument(metavar="TAG", help="The tag: label or id.")],
    new_label: Annotated[str, typer.Argument(metavar="NEW_LABEL", help="Its new label.")],
    description: Annotated[
        str | None,
        typer.Option("--description", metavar="TEXT|none", help="Also change the description."),
    ] = None,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
) -> None:
    """Change a tag's label (and, with --description, its description)."""
    from instantly_cli import views
    from instantly_cli.services import tags as service

    fmt = context.output_format(ctx, output_, json_output)
    field_list = output.parse_fields(fields)
    text = _label_arg(new_label, "The new label")
    new_description = None
    if description is not None:
        new_description = None if description.strip().lower() == "none" else description
    with context.client(ctx) as client:
        index = service.TagIndex.fetch(client, output.warn)
        tag_id = index.resolve(tag)
        old = index.label(tag_id)
        updated = service.rename_tag(
            client,
            index,
            tag_id,
            text,
            new_description,
            change_description=description is not None,
        )
    _emit_tag(updated, fmt, field_list, f"Renamed tag '{old}' to {views.describe_tag(updated)}.")


@app.command(
    "delete",
    epilog=examples('instantly tags delete "Old client"', "instantly tags delete 0e6c1a2b-… --yes"),
)
@handled
def delete(
    ctx: typer.Context,
    tag: Annotated[str, typer.Argument(metavar="TAG", help="The tag: label or id.")],
    yes: YesOpt = False,
    output_: OutputOpt = None,
    json_output: JsonOpt = False,
    fields: FieldsOpt = None,
) -> None:
    """Delete a custom tag; its mappings to accounts and campaigns go with it."""
    from instantly_cli import views
    from instantly_cli.services import tags as service

    fmt = context.output_format(ctx, output_, json_output)
    field_list = output.parse_fields(fields)
    with context.client(ctx) as client:
        index = service.TagIndex.fetch(client, output.warn)
        tag_id = index.resolve(tag)
        label = index.label(tag_id)
        _bulk.confirm(
            ctx,
            f"Delete tag '{label}' ({tag_id}) and remove it from every account and campaign?",
            f"Refusing to delete tag '{label}' without confirmation.",
            yes,
        )
        shown = service.delete_tag(client, index, tag_id)
    _emit_tag(shown, fmt, field_list, f"Deleted tag {views.describe_tag(shown)}.")
