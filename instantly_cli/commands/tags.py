"""``instantly tags``: custom tags, who carries them, and assigning them to accounts.

Each command parses its options, calls ``services.tags`` and hands the result to ``views`` and
``output``; the domain (label resolution, the mapping join, toggle planning) lives in the service.
"""

import contextlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from instantly_cli import context, output
from instantly_cli.columns import parse_fields, pick
from instantly_cli.commands import _bulk, handled
from instantly_cli.enums import FAILED, RESOURCE_TYPE, UNCHANGED
from instantly_cli.errors import NotFoundError, UsageError
from instantly_cli.options import YesOpt, argument, arguments, examples, required
from instantly_cli.options_bundles import NO_VIEW, BulkOpts, View, bulk_options, view_options

if TYPE_CHECKING:
    from instantly_cli.client import InstantlyClient
    from instantly_cli.services.tags import TagIndex

app = typer.Typer(help="Custom tags and their mappings to accounts.", no_args_is_help=True)


# -- shared bits -----------------------------------------------------------------------------


def _emit_tag(tag: Mapping[str, Any], fmt: str, fields: list[str] | None, message: str) -> None:
    """One tag after a change: the object on stdout (table: a confirmation line only)."""
    from instantly_cli import views

    if fmt == "table":
        output.success(message)
    elif fmt == "json":
        output.emit_json(pick(tag, fields) if fields else tag)
    else:
        output.emit_records([[tag]], fmt, views.tag_columns(fmt), fields=fields)


def _label_arg(text: str, what: str) -> str:
    label = text.strip()
    if not label:
        raise UsageError(f"{what} must not be blank.", hint='For example: "Client C".')
    return label


def _resolve_existing(index: "TagIndex", spec: str) -> str:
    """The tag a command acts on: an unknown label or id is not found (exit 4), with the
    suggestions; an ambiguous label stays a usage error (exit 2)."""
    text = spec.strip()
    if text not in index.by_id and not index.find_label(text):
        try:
            index.resolve(text)
        except UsageError as err:
            raise NotFoundError(err.message, hint=err.hint) from None
    return index.resolve(text)


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
        "instantly tags list --no-counts",
    ),
)
@handled
@view_options("fields", "wide")
def list_tags(
    ctx: typer.Context,
    search: Annotated[
        str | None, typer.Option("--search", metavar="TEXT", help="Labels containing TEXT.")
    ] = None,
    counts: Annotated[
        bool | None,
        typer.Option(
            "--counts/--no-counts",
            help="Count the accounts of each tag (reads every tag mapping). "
            "[default: in tables only]",
            show_default=False,
        ),
    ] = None,
    view: View = NO_VIEW,
) -> None:
    """List every custom tag and how many accounts carry it.

    Tables count each tag's accounts; with --counts the other formats do too (an
    account_count field in JSON, a last column in TSV/CSV), so piped output stays as it was.
    """
    fmt = view.format(ctx)
    field_list = parse_fields(view.fields)
    if counts is None:
        counts = fmt == "table" or bool(field_list and "account_count" in field_list)
    from instantly_cli import views
    from instantly_cli.services import tags as service

    with context.client(ctx) as client:
        tags: Any = service.list_tags(client, search, output.warn)
        if counts and tags:
            tags = service.with_account_counts(client, tags, output.warn)
    output.emit_records(
        [tags],
        fmt,
        views.tag_columns(fmt, counts=counts),
        fields=field_list,
        empty_message="No tags match." if search else "No tags yet.",
        wide=view.wide,
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
@view_options("fields", "wide")
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
    view: View = NO_VIEW,
) -> None:
    """Show which accounts (or campaigns) carry which tags."""
    from instantly_cli import views
    from instantly_cli.services import tags as service
    from instantly_cli.targets import dedupe, validate_email

    fmt = view.format(ctx)
    field_list = parse_fields(view.fields)
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
        [rows], fmt, cols, fields=field_list, empty_message="No tag mappings match.", wide=view.wide
    )


# -- assign / unassign -----------------------------------------------------------------------

TagsAndTargetsArg = Annotated[list[str], arguments("TAG... TARGET")]
AccountOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--account", metavar="EMAIL", help="An account email (same as a TARGET); repeatable."
    ),
]
StdinOpt = Annotated[
    bool,
    typer.Option("--stdin", help="Read accounts from stdin (same as the TARGET -)."),
]
TOGGLE_ARGS = (
    "\b\nArguments:\n"
    "  TAG     a tag label or id; one or more, first\n"
    "  TARGET  an account email, or - to read emails / JSON / JSON lines from stdin\n"
    "          (the output of accounts list or tags map --by account)\n"
    "\n"
    "The first argument that is an email or - starts the targets; every argument before it "
    "is a tag. A tag whose label looks like an email is named by its id."
)


def split_tags_targets(args: list[str]) -> tuple[list[str], list[str]]:
    """``TAG… TARGET…`` → (tags, targets): targets start at the first email or ``-``."""
    from instantly_cli.targets import is_email

    first = next((i for i, a in enumerate(args) if a == "-" or is_email(a.strip())), len(args))
    tags, targets = args[:first], args[first:]
    for arg in targets:
        if arg != "-" and not is_email(arg.strip()):
            raise UsageError(
                f"'{arg}' comes after the first account but is not an email or -.",
                hint="Put every tag first, then the accounts: "
                'instantly tags assign "Client A" "Warm pool" a@acme.io b@acme.io',
            )
    return tags, targets


def _targets(positional: list[str], account: list[str] | None, stdin: bool) -> list[str]:
    from instantly_cli.targets import read_targets

    if stdin and output.stdin_is_tty():
        raise UsageError(
            "--stdin needs piped input.",
            hint="For example: instantly accounts list -o jsonl | instantly tags assign "
            "TAG - --yes",
        )
    args = [*positional, *(account or [])]
    if stdin:
        args.append("-")
    if not args:
        raise UsageError(
            "No accounts given.",
            hint="Name them after the tags (instantly tags assign TAG a@acme.io), or - to read "
            "them from stdin.",
        )
    # stdin is read once, however often - appears.
    first_dash = args.index("-") if "-" in args else -1
    return read_targets([a for i, a in enumerate(args) if a != "-" or i == first_dash])


def _command(assign: bool) -> Callable[..., int]:
    """assign or unassign; both verbs share this declaration."""
    verb = "assign" if assign else "unassign"

    @bulk_options()
    def command(
        ctx: typer.Context,
        args: TagsAndTargetsArg,
        account: AccountOpt = None,
        stdin: StdinOpt = False,
        *,
        opts: BulkOpts,
    ) -> int:
        from instantly_cli import views
        from instantly_cli.services import tags as service

        fmt = context.output_format(ctx, opts.output_, opts.json_output)
        resume, dry_run = opts.resume, opts.dry_run
        tag_specs, positional = ([], args) if resume else split_tags_targets(args)
        if not resume and not [s for s in tag_specs if s.strip()]:
            raise UsageError(
                "No tag given.", hint='Name the tags first, by label or id: "Client A" a@acme.io'
            )
        with contextlib.ExitStack() as stack:
            clients: list[InstantlyClient] = []

            def opened(rate: float) -> "InstantlyClient":  # noqa: UP037
                # Opened by a new run's plan (the tags are resolved first), or after a resume
                # has read its run's rate.
                if not clients:
                    clients.append(stack.enter_context(context.client(ctx, rate=rate)))
                return clients[0]

            index: list[TagIndex] = []

            def plan(emails: list[str]) -> _bulk.Plan:
                client = opened(opts.rate)
                index.append(service.TagIndex.fetch(client, output.warn))
                ids = service.resolve_tag_ids(index[0], tag_specs)
                labels = ", ".join(f"'{index[0].label(t)}'" for t in ids)
                return _bulk.Plan({"tag_ids": ids}, f"{verb} {labels}",
                                  [f"tag:{t}" for t in ids])

            session = stack.enter_context(_bulk.open_session(
                # --stdin is the target -: the engine says how many it read, as for -.
                ctx, f"tags {verb}", [*positional, "-"] if stdin else positional, plan,
                verb="tag" if assign else "untag",
                fmt=fmt, opts=opts, read=lambda targets: _targets(targets, account, stdin),
            ))
            client = opened(session.rate)
            tag_ids = list(session.what.get("tag_ids") or [])
            if dry_run and session.emails:
                plan_ = service.plan_toggle(client, index[0], tag_ids, session.emails, assign,
                                            warn=output.warn)
                rows = [o.to_json() for o in plan_.outcomes]

                def show() -> None:
                    if fmt in ("json", "jsonl"):
                        output.emit_records([rows], fmt, []) if fmt == "jsonl" else (
                            output.emit_json(rows))
                    else:
                        output.emit_records([views.tag_plan_rows(rows, assign)], fmt,
                                            views.TAG_PLAN_COLUMNS)

                return session.finish(plan_, order=(service.would_word(assign), UNCHANGED),
                                      show=show)
            result = session.run(
                service.toggle_batches(session.emails),
                service.toggle_work(client, tag_ids, assign), client=client,
                label="Assigning" if assign else "Unassigning",
            )
            return session.finish(result, order=(service.done_word(assign), FAILED))

    command.__doc__ = None
    command.__name__ = verb
    return command


AssignExamples = examples(
    'instantly tags assign "Client A" ops@acme.io',
    'instantly accounts list --provider google -o jsonl | instantly tags assign "Pool: Google" '
    "- --yes",
    'instantly tags assign "Client A" "Warm pool" a@acme.io b@acme.io --dry-run',
)
UnassignExamples = examples(
    'instantly tags unassign "Client A" ops@acme.io',
    'instantly tags map --tag "Warm pool" --by account -o jsonl '
    '| instantly tags unassign "Warm pool" - --dry-run',
)
# The help text is the decorator's (it lists the arguments).
assign = app.command(
    "assign",
    help="Give tags to accounts (100 accounts per request, paced).\n\n" + TOGGLE_ARGS,
    epilog=AssignExamples,
)(handled(_command(True)))
unassign = app.command(
    "unassign",
    help="Take tags off accounts (100 accounts per request, paced).\n\n" + TOGGLE_ARGS,
    epilog=UnassignExamples,
)(handled(_command(False)))


# -- create / rename / delete ----------------------------------------------------------------


@app.command(
    "create",
    epilog=examples(
        'instantly tags create "Client C"',
        'instantly tags create "Client C" --description "Mailboxes for client C" --json',
    ),
)
@handled
@view_options("fields")
def create(
    ctx: typer.Context,
    label: Annotated[str | None, argument("LABEL")] = None,
    description: Annotated[
        str | None, typer.Option("--description", metavar="TEXT", help="What the tag is for.")
    ] = None,
    view: View = NO_VIEW,
) -> None:
    """Create a custom tag (labels are unique per workspace).

    LABEL is the new tag's label.
    """
    from instantly_cli import views
    from instantly_cli.services import tags as service

    fmt = view.format(ctx)
    field_list = parse_fields(view.fields)
    label = required(label, "the LABEL", 'instantly tags create "Client C"')
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
@view_options("fields")
def rename(
    ctx: typer.Context,
    tag: Annotated[str | None, argument("TAG")] = None,
    new_label: Annotated[str | None, argument("NEW_LABEL")] = None,
    description: Annotated[
        str | None,
        typer.Option("--description", metavar="TEXT|none", help="Also change the description."),
    ] = None,
    view: View = NO_VIEW,
) -> None:
    """Change a tag's label (and, with --description, its description).

    TAG is the tag's label or id; NEW_LABEL its new label.
    """
    from instantly_cli import views
    from instantly_cli.services import tags as service

    fmt = view.format(ctx)
    field_list = parse_fields(view.fields)
    example = 'instantly tags rename "Client A" "Client A (EU)"'
    tag = required(tag, "the TAG and the NEW_LABEL", example)
    text = _label_arg(required(new_label, "the NEW_LABEL", example), "The new label")
    new_description = None
    if description is not None:
        new_description = None if description.strip().lower() == "none" else description
    with context.client(ctx) as client:
        index = service.TagIndex.fetch(client, output.warn)
        tag_id = _resolve_existing(index, tag)
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
@view_options("fields")
def delete(
    ctx: typer.Context,
    tag: Annotated[str | None, argument("TAG")] = None,
    yes: YesOpt = False,
    view: View = NO_VIEW,
) -> None:
    """Delete a custom tag and its mappings to accounts and campaigns.

    TAG is the tag's label or id. An unknown tag exits 4 (not found).
    """
    from instantly_cli import views
    from instantly_cli.services import tags as service

    fmt = view.format(ctx)
    field_list = parse_fields(view.fields)
    tag = required(tag, "the TAG", 'instantly tags delete "Old client"')
    with context.client(ctx) as client:
        index = service.TagIndex.fetch(client, output.warn)
        tag_id = _resolve_existing(index, tag)
        label = index.label(tag_id)
        _bulk.confirm(
            ctx,
            f"Delete tag '{label}' ({tag_id}) and remove it from every account and campaign?",
            f"Refusing to delete tag '{label}' without confirmation.",
            yes,
        )
        shown = service.delete_tag(client, index, tag_id)
    _emit_tag(shown, fmt, field_list, f"Deleted tag {views.describe_tag(shown)}.")
