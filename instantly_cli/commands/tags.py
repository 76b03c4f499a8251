"""``instantly tags``: custom tags, who carries them, and assigning them to accounts."""

import difflib
import re
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from instantly_cli import context, output
from instantly_cli.commands import _bulk, handled
from instantly_cli.enums import FAILED, RESOURCE_TYPE
from instantly_cli.errors import CliError, ConflictError, NetworkError, UsageError
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
from instantly_cli.output import Column
from instantly_cli.services import bulk

if TYPE_CHECKING:
    from instantly_cli.client import Account, InstantlyClient

app = typer.Typer(help="Custom tags and their mappings to accounts.", no_args_is_help=True)

TAGS_PATH = "/api/v2/custom-tags"
MAPPINGS_PATH = "/api/v2/custom-tag-mappings"
# The toggle endpoint and the resource_ids filter take lists; 100 keeps bodies and URLs modest.
BATCH = 100
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _all_items(
    client: "InstantlyClient", path: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every item of every page; a pagination anomaly is reported, never looped on."""
    pager = client.pages(path, params)
    items = list(pager.items())
    if pager.anomaly:
        output.warn(f"Listing {path.rsplit('/', 1)[-1]} ended early: {pager.anomaly}.")
    return items


def _norm(label: str) -> str:
    return label.strip().casefold()


class TagIndex:
    """Every tag of the workspace (all pages), fetched once per command."""

    def __init__(self, tags: list[dict[str, Any]]):
        self.tags = tags
        self.by_id = {str(t.get("id")): t for t in tags}

    @classmethod
    def fetch(cls, client: "InstantlyClient") -> "TagIndex":
        return cls(_all_items(client, TAGS_PATH))

    @classmethod
    def for_client(cls, client: "InstantlyClient") -> "TagIndex":
        """The index for this client, fetched on first use: one client = one command."""
        index = _INDEXES.get(client)
        if index is None:
            index = _INDEXES[client] = cls.fetch(client)
        return index

    def label(self, tag_id: str) -> str:
        tag = self.by_id.get(tag_id)
        return str(tag.get("label")) if tag else f"unknown tag ({tag_id})"

    def find_label(self, label: str) -> list[dict[str, Any]]:
        """Tags whose label equals ``label`` (trimmed, case-insensitive)."""
        wanted = _norm(label)
        return [t for t in self.tags if _norm(str(t.get("label", ""))) == wanted]

    def resolve(self, spec: str) -> str:
        """A label (case-insensitive exact match) or an id → the tag id; exit 2 when unclear."""
        text = spec.strip()
        if text in self.by_id:
            return text
        matches = self.find_label(text)
        if len(matches) == 1:
            return str(matches[0]["id"])
        if len(matches) > 1:
            ids = ", ".join(f"{t['id']} ({t.get('label')})" for t in matches)
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


# One index per client (a command builds one client), so labels are fetched once per command
# even when several options (--tag and --tag-all) resolve labels.
_INDEXES: "weakref.WeakKeyDictionary[InstantlyClient, TagIndex]" = weakref.WeakKeyDictionary()


def _forget_index(client: "InstantlyClient") -> None:
    _INDEXES.pop(client, None)


def resolve_tag_ids(
    client: "InstantlyClient", specs: list[str] | None, index: "TagIndex | None" = None
) -> list[str]:
    if not specs:
        return []
    index = index or TagIndex.for_client(client)
    return list(dict.fromkeys(index.resolve(s) for s in specs))


def fetch_mappings(
    client: "InstantlyClient", resource_ids: list[str] | None = None
) -> list[dict[str, Any]]:
    """Every mapping (all pages), or those of ``resource_ids`` (asked for in batches)."""
    if resource_ids is None:
        return _all_items(client, MAPPINGS_PATH)
    out: list[dict[str, Any]] = []
    for chunk in bulk.batches(resource_ids, BATCH):
        out.extend(_all_items(client, MAPPINGS_PATH, {"resource_ids": ",".join(chunk)}))
    return out


def attach_tags(client: "InstantlyClient", accounts: Sequence["Account"]) -> None:
    """Add ``tags: [{id, label, description}]`` to each account, as ``include_tags`` does."""
    if not accounts:
        return
    emails = [str(a.get("email")) for a in accounts]
    mappings = fetch_mappings(client, emails)
    index = TagIndex.for_client(client)
    by_email: dict[str, list[dict[str, Any]]] = {e.lower(): [] for e in emails}
    for m in mappings:
        key = str(m.get("resource_id")).lower()
        if m.get("resource_type") != 1 or key not in by_email:
            continue
        tag = index.by_id.get(str(m.get("tag_id")))
        by_email[key].append(
            {
                "id": m.get("tag_id"),
                "label": tag.get("label") if tag else index.label(str(m.get("tag_id"))),
                "description": tag.get("description") if tag else None,
            }
        )
    for tags in by_email.values():
        tags.sort(key=lambda t: str(t["label"]).casefold())
    for account in accounts:
        account["tags"] = by_email.get(str(account.get("email")).lower(), [])


# -- shared bits -----------------------------------------------------------------------------


def _short_time(value: Any) -> str:
    """``2026-01-05T10:00:00.000Z`` → ``2026-01-05 10:00`` for tables (TSV keeps it exact)."""
    if not isinstance(value, str) or "T" not in value:
        return output.text_value(value)
    return value.replace("T", " ")[:16]


def _time_col(key: str, header: str, fmt: str) -> Column:
    return Column(key, header, fmt=_short_time if fmt == "table" else None)


def tag_columns(fmt: str) -> list[Column]:
    return [
        Column("label", "Label"),
        Column("id", "ID"),
        Column("description", "Description"),
        _time_col("timestamp_created", "Created", fmt),
    ]


def _emit_tag(tag: Mapping[str, Any], fmt: str, fields: list[str] | None, message: str) -> None:
    """One tag after a change: the object on stdout (table: a confirmation line only)."""
    if fmt == "table":
        output.success(message)
    elif fmt == "json":
        output.emit_json(output.pick(tag, fields) if fields else tag)
    else:
        output.emit_records([[tag]], fmt, tag_columns(fmt), fields=fields)


def _describe(tag: Mapping[str, Any]) -> str:
    return f"'{tag.get('label')}' (id {tag.get('id')})"


def _label_arg(text: str, what: str) -> str:
    label = text.strip()
    if not label:
        raise UsageError(f"{what} must not be blank.", hint='For example: "Client C".')
    return label


def _conflict(err: CliError, label: str, index: TagIndex, own_id: str | None = None) -> CliError:
    """A 409 on a label: name the tag that already has it."""
    existing = [t for t in index.find_label(label) if str(t.get("id")) != own_id]
    if existing:
        tag = existing[0]
        message = f"A tag labelled '{tag.get('label')}' already exists (id {tag.get('id')})."
    else:
        message = f"The API refused the label '{label}': {err.message}"
    out = ConflictError(
        message,
        hint="Labels are unique per workspace: use that tag, or pick another label "
        "(`instantly tags rename` changes a label).",
        status=err.status,
    )
    out.body = err.body
    return out


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
    with context.client(ctx) as client:
        tags = _all_items(client, TAGS_PATH, {"search": search or None})
    # The API pages by id; a workspace has few tags, so they are shown sorted by label.
    tags.sort(key=lambda t: (_norm(str(t.get("label", ""))), str(t.get("id"))))
    output.emit_records(
        [tags],
        fmt,
        tag_columns(fmt),
        fields=field_list,
        empty_message="No tags match." if search else "No tags yet.",
    )


# -- map -------------------------------------------------------------------------------------


def _resource_header(resource_type: int | None) -> str:
    return {1: "Account", 2: "Campaign"}.get(resource_type or 0, "Resource")


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
    from instantly_cli.targets import dedupe, validate_email

    fmt = context.output_format(ctx, output_, json_output)
    field_list = output.parse_fields(fields)
    resource_type = _parse_type(type_)
    grouping = by.strip().lower()
    if grouping not in ("mapping", "account"):
        raise UsageError(f"Unknown --by value '{by}'.", hint="Valid --by values: mapping, account.")
    emails = dedupe(validate_email(a) for a in account) if account else None
    with context.client(ctx) as client:
        index = TagIndex.for_client(client)
        wanted = set(resolve_tag_ids(client, tag, index)) if tag else None
        mappings = fetch_mappings(client, emails)
    wanted_emails = {e.lower() for e in emails} if emails else None
    rows = []
    for m in mappings:
        if resource_type is not None and m.get("resource_type") != resource_type:
            continue
        if wanted is not None and str(m.get("tag_id")) not in wanted:
            continue
        if wanted_emails is not None and str(m.get("resource_id")).lower() not in wanted_emails:
            continue
        rows.append({**m, "tag_label": index.label(str(m.get("tag_id")))})
    if grouping == "account":
        _emit_grouped(rows, fmt, field_list, resource_type)
        return
    rows.sort(
        key=lambda r: (
            r["tag_label"].casefold(),
            str(r.get("resource_type")),
            str(r.get("resource_id")).casefold(),
        )
    )
    cols = [
        Column("tag_label", "Tag"),
        Column("resource_id", _resource_header(resource_type)),
        Column("resource_type", "Type", enum=RESOURCE_TYPE),
        _time_col("timestamp_created", "Mapped at", fmt),
        Column("tag_id", "Tag ID"),
    ]
    if resource_type is not None and fmt == "table":
        cols = [c for c in cols if c.key != "resource_type"]
    output.emit_records(
        [rows], fmt, cols, fields=field_list, empty_message="No tag mappings match."
    )


def _emit_grouped(
    rows: list[dict[str, Any]], fmt: str, fields: list[str] | None, resource_type: int | None
) -> None:
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        rid, rtype = str(r.get("resource_id")), r.get("resource_type")
        group = groups.get((str(rtype), rid.lower()))
        if group is None:
            group = {"resource_id": rid, "resource_type": rtype}
            if rtype == 1:
                # "email" lets the JSON feed `tags assign --stdin` and `accounts update -`.
                group["email"] = rid
            group["tags"] = []
            groups[(str(rtype), rid.lower())] = group
        group["tags"].append({"id": r.get("tag_id"), "label": r["tag_label"]})
    out = sorted(
        groups.values(),
        key=lambda g: (str(g["resource_type"]), str(g["resource_id"]).casefold()),
    )
    for group in out:
        group["tags"].sort(key=lambda t: str(t["label"]).casefold())
    cols = [
        Column("resource_id", _resource_header(resource_type)),
        Column("resource_type", "Type", enum=RESOURCE_TYPE),
        Column("tags", "Tags"),
    ]
    if resource_type is not None and fmt == "table":
        cols = [c for c in cols if c.key != "resource_type"]
    output.emit_records([out], fmt, cols, fields=fields, empty_message="No tag mappings match.")


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
    fmt = context.output_format(ctx, output_, json_output)
    bulk.check_rate(rate, concurrency)
    if not [s for s in tag_specs if s.strip()]:
        raise UsageError("No tag given.", hint='Name tags by label or id: "Client A".')
    emails = _targets(account, stdin)
    command = "tags assign" if assign else "tags unassign"

    with context.client(ctx, rate=rate) as client:
        index = TagIndex.for_client(client)
        tag_ids = resolve_tag_ids(client, tag_specs, index)
        if dry_run:
            return _dry_run(client, index, tag_ids, emails, assign, fmt)
        _bulk.confirm_many(ctx, len(emails), "tag" if assign else "untag", yes)
        done = "assigned" if assign else "unassigned"

        def work(batch: list[str]) -> list[bulk.Outcome]:
            if not client.toggle_tags(tag_ids, batch, assign):
                return [
                    bulk.Outcome(
                        e,
                        FAILED,
                        code="not_applied",
                        error="the API answered success: false",
                        extra={"tag_ids": tag_ids},
                    )
                    for e in batch
                ]
            return [bulk.Outcome(e, done, extra={"tag_ids": tag_ids}) for e in batch]

        batches = bulk.batches(emails, BATCH)
        label = "Assigning" if assign else "Unassigning"
        result = _bulk.run(batches, work, concurrency=concurrency, label=label)
    return _bulk.finish(result, fmt=fmt, order=(done, FAILED), failures=failures, command=command)


def _dry_run(
    client: "InstantlyClient",
    index: TagIndex,
    tag_ids: list[str],
    emails: list[str],
    assign: bool,
    fmt: str,
) -> int:
    """Compare with the current mappings: who would gain or lose which tag. Sends no toggle."""
    started = time.monotonic()
    has: set[tuple[str, str]] = {
        (str(m.get("resource_id")).lower(), str(m.get("tag_id")))
        for m in fetch_mappings(client, emails)
        if m.get("resource_type") == 1
    }
    would = "would-assign" if assign else "would-unassign"
    outcomes = []
    for email in emails:
        changes = []
        for tag_id in tag_ids:
            present = (email.lower(), tag_id) in has
            changed = present != assign
            changes.append(
                {
                    "tag_id": tag_id,
                    "tag_label": index.label(tag_id),
                    "result": would if changed else "unchanged",
                }
            )
        result = would if any(c["result"] == would for c in changes) else "unchanged"
        outcomes.append(bulk.Outcome(email, result, extra={"changes": changes}))
    if fmt in ("json", "jsonl"):
        rows = [o.to_json() for o in outcomes]
        if fmt == "json":
            output.emit_json(rows)
        else:
            output.emit_records([rows], "jsonl", [])
    else:
        flat = [
            {"email": o.email, "tag": c["tag_label"], "change": _change_text(c["result"], assign)}
            for o in outcomes
            for c in o.extra["changes"]
        ]
        cols = [Column("email", "Email"), Column("tag", "Tag"), Column("change", "Change")]
        output.emit_records([flat], fmt, cols)
    run = bulk.RunResult(outcomes, False, time.monotonic() - started)
    return _bulk.finish(
        run,
        fmt=fmt,
        order=(would, "unchanged"),
        failures=None,
        command="tags assign" if assign else "tags unassign",
        emit=False,
    )


def _change_text(result: str, assign: bool) -> str:
    if result == "unchanged":
        return "unchanged (already has it)" if assign else "unchanged (does not have it)"
    return "would gain" if assign else "would lose"


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
    fmt = context.output_format(ctx, output_, json_output)
    field_list = output.parse_fields(fields)
    text = _label_arg(label, "The label")
    with context.client(ctx) as client:
        try:
            tag = client.create_tag(text, description)
        except ConflictError as err:
            raise _conflict(err, text, TagIndex.fetch(client)) from None
        except NetworkError as err:
            # Never retried blindly (a retry could create it twice): tell how to check.
            err.hint = (
                f"The tag may or may not have been created; check with "
                f"`instantly tags list --search '{text}'` before trying again."
            )
            raise
    _emit_tag(tag, fmt, field_list, f"Created tag {_describe(tag)}.")


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
    fmt = context.output_format(ctx, output_, json_output)
    field_list = output.parse_fields(fields)
    text = _label_arg(new_label, "The new label")
    body: dict[str, Any] = {"label": text}
    if description is not None:
        body["description"] = None if description.strip().lower() == "none" else description
    with context.client(ctx) as client:
        index = TagIndex.for_client(client)
        tag_id = index.resolve(tag)
        old = index.label(tag_id)
        try:
            updated = client.update_tag(tag_id, body)
        except ConflictError as err:
            raise _conflict(err, text, index, tag_id) from None
        _forget_index(client)
    _emit_tag(updated, fmt, field_list, f"Renamed tag '{old}' to {_describe(updated)}.")


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
    fmt = context.output_format(ctx, output_, json_output)
    field_list = output.parse_fields(fields)
    with context.client(ctx) as client:
        index = TagIndex.for_client(client)
        tag_id = index.resolve(tag)
        label = index.label(tag_id)
        _bulk.confirm(
            ctx,
            f"Delete tag '{label}' ({tag_id}) and remove it from every account and campaign?",
            f"Refusing to delete tag '{label}' without confirmation.",
            yes,
        )
        deleted = client.delete_tag(tag_id)
        _forget_index(client)
    shown = deleted if isinstance(deleted, dict) else index.by_id[tag_id]
    _emit_tag(shown, fmt, field_list, f"Deleted tag {_describe(shown)}.")
