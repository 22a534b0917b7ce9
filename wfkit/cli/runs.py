"""`wfkit runs list|show|history`: read runs from a store, as Rich tables or JSON.

No workflow code is needed: status names come from the store's catalogue (what each workflow
registers when it runs). With `--json` each command prints one JSON document: `list` and `history`
an array of records, `show` one record; a record's object is decoded when it is JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from wfkit.cli._app import usage_error
from wfkit.cli._common import (
    DEFAULT_STORE,
    AsJson,
    Store,
    by_name,
    connect_store,
    decode_object,
    open_store,
    print_json,
    record_dict,
    status_name,
)

if TYPE_CHECKING:
    from rich.console import Console

    from wfkit import Record, RunState, SortKey, WorkflowInfo

runs_app = typer.Typer(
    name="runs",
    help="List runs and show a run's fields and history.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

RunId = Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id.", show_default=False)]
SORTS = ("created", "updated", "status", "foreign-id", "version")
"""`--sort` values: `wfkit.SortKey` members as the command line spells them."""
_STYLE = {"COMPLETED": "green", "PAUSED": "yellow", "CANCELLED": "red", "DATA_DELETED": "dim"}


@runs_app.command("list")
def list_runs(
    store: Store = DEFAULT_STORE,
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", metavar="NAME", help="Only this workflow's runs.")
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            "-s",
            metavar="NAME|NUM",
            help="Only runs at this status (repeatable).",
            show_default=False,
        ),
    ] = None,
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            metavar="STATE",
            help="Only runs in this run state: INITIATED, RUNNING, PAUSED, CANCELLED, COMPLETED, "
            "DATA_DELETED, REQUESTED_DATA_DELETED (repeatable).",
            show_default=False,
        ),
    ] = None,
    foreign_id: Annotated[
        list[str] | None,
        typer.Option(
            "--foreign-id",
            "-f",
            metavar="ID",
            help="Only runs of this foreign id (repeatable).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=10_000, help="At most this many runs.")
    ] = 25,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many runs first.")] = 0,
    sort: Annotated[
        str,
        typer.Option(
            "--sort",
            metavar="KEY",
            help=f"Sort by {', '.join(SORTS[:-1])} or {SORTS[-1]} of each run's latest version, "
            "largest (newest) first; ties in creation order.",
            autocompletion=lambda: list(SORTS),
        ),
    ] = "created",
    oldest_first: Annotated[
        bool,
        typer.Option("--oldest-first", "--ascending", help="Oldest (with --sort, smallest) first."),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """List runs, newest first (or by --sort), with filters."""
    from wfkit import Admin, Order, RecordFilter, SortKey, WfkitError

    sort_key = _sort_key(sort)
    run_states = [_run_state(text) for text in state or ()]
    backend = connect_store(store)

    async def fetch() -> tuple[list[Record], int, dict[str, WorkflowInfo]]:
        async with open_store(backend):
            admin = Admin(backend.store)
            infos = by_name(await admin.workflows())
            if workflow is not None and workflow not in infos:
                known = ", ".join(sorted(infos)) or "none yet"
                raise WfkitError(f"no workflow {workflow!r} in this store (workflows: {known})")
            filters = RecordFilter(
                foreign_ids=tuple(foreign_id or ()),
                statuses=_statuses(status or (), infos, workflow),
                run_states=tuple(run_states),
            )
            order = Order.ASC if oldest_first else Order.DESC
            records = await admin.list(
                workflow, offset=offset, limit=limit, order=order, filters=filters, sort=sort_key
            )
            return records, await admin.count(workflow, filters=filters), infos

    records, total, infos = asyncio.run(fetch())
    if as_json:
        print_json([record_dict(r, infos.get(r.workflow_name)) for r in records])
        return
    console = _console()
    if not records:
        console.print(f"no runs (of {total})" if offset else "no runs")
        return
    console.print(_runs_table(records, infos))
    end = offset + len(records)
    more = f"; --offset {end} for more" if end < total else ""
    if sort_key is SortKey.CREATED:
        order_text = "oldest first" if oldest_first else "newest first"
    else:
        order_text = f"by {sort_key.value.replace('_', '-')}, {'ascending' if oldest_first else 'descending'}"
    console.print(f"runs {offset + 1}-{end} of {total}, {order_text}{more}", style="dim")


@runs_app.command("show")
def show(run_id: RunId, store: Store = DEFAULT_STORE, as_json: AsJson = False) -> None:
    """A run's fields and its object."""
    record, info, versions = asyncio.run(_one(run_id, store))
    if as_json:
        print_json(record_dict(record, info))
        return
    from rich.json import JSON
    from rich.table import Table

    data = record_dict(record, info)
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key in ("run_id", "workflow_name", "foreign_id"):
        table.add_row(key.replace("_", " "), str(data[key]))
    table.add_row("status", f"{data['status_name']} ({record.status})")
    table.add_row("run state", _styled(record.run_state.name))
    if record.meta.run_state_reason:
        table.add_row("reason", record.meta.run_state_reason)
    table.add_row("version", f"{record.version} ({versions} in history: wfkit runs history {record.run_id})")
    table.add_row("created", record.created_at.isoformat(sep=" ", timespec="seconds"))
    table.add_row("updated", record.updated_at.isoformat(sep=" ", timespec="seconds"))
    table.add_row("trace origin", record.meta.trace_origin or "-")
    table.add_row("traceparent", record.meta.traceparent or "-")
    console = _console()
    console.print(table)
    obj, is_json = decode_object(record.object)
    console.print("[bold]object[/]")
    if is_json:
        console.print(JSON.from_data(obj))
    else:
        console.print(f"({len(record.object)} bytes, not JSON; base64) {obj}")


@runs_app.command("history")
def history(run_id: RunId, store: Store = DEFAULT_STORE, as_json: AsJson = False) -> None:
    """Every version of a run, oldest first: how it moved through its statuses."""
    from rich import box
    from rich.table import Table

    from wfkit import Admin, RecordNotFound

    backend = connect_store(store)

    async def fetch() -> tuple[list[Record], WorkflowInfo | None]:
        async with open_store(backend):
            admin = Admin(backend.store)
            versions = await admin.history(run_id)
            if not versions:
                raise RecordNotFound(run_id=run_id)
            infos = by_name(await admin.workflows())
            return versions, infos.get(versions[-1].workflow_name)

    versions, info = asyncio.run(fetch())
    if as_json:
        print_json([record_dict(r, info) for r in versions])
        return
    first = versions[0]
    start = first.updated_at
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title=f"run {run_id} ({first.workflow_name} {first.foreign_id!r}), "
        f"created {start.astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')}",
        title_justify="left",
    )
    table.add_column("ver", justify="right")
    table.add_column("status")
    table.add_column("run state")
    table.add_column("at", justify="right", no_wrap=True)
    table.add_column("reason", overflow="fold")
    for r in versions:
        table.add_row(
            str(r.version),
            f"{status_name(r, info)} ({r.status})",
            _styled(r.run_state.name),
            f"+{(r.updated_at - start).total_seconds():.3f}s",
            r.meta.run_state_reason,
        )
    _console().print(table)


# -- helpers --------------------------------------------------------------------------------------


async def _one(run_id: str, url: str) -> tuple[Record, WorkflowInfo | None, int]:
    from wfkit import Admin

    backend = connect_store(url)
    async with open_store(backend):
        admin = Admin(backend.store)
        record = await admin.lookup(run_id)
        versions = len(await admin.history(run_id))
        return record, by_name(await admin.workflows()).get(record.workflow_name), versions


def _runs_table(records: Sequence[Record], infos: dict[str, WorkflowInfo]) -> object:
    from rich import box
    from rich.table import Table

    now = datetime.now(UTC)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("run id", no_wrap=True, min_width=36)
    table.add_column("workflow", overflow="fold")
    table.add_column("foreign id", overflow="fold", min_width=10)
    table.add_column("status", overflow="fold")
    table.add_column("run state", overflow="fold")
    table.add_column("updated", justify="right", no_wrap=True)
    for r in records:
        table.add_row(
            r.run_id,
            r.workflow_name,
            r.foreign_id,
            status_name(r, infos.get(r.workflow_name)),
            _styled(r.run_state.name),
            _age(now, r.updated_at),
        )
    return table


def _age(now: datetime, then: datetime) -> str:
    """How long ago, shortly: 42s, 5m, 3h, then the date."""
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return f"{max(seconds, 0):.0f}s ago"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m ago"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h ago"
    return then.astimezone().strftime("%Y-%m-%d")


def _run_state(text: str) -> RunState:
    from wfkit import RunState

    name = text.strip().upper().replace("-", "_").replace(" ", "_")
    if name in RunState.__members__ and name != "UNKNOWN":
        return RunState[name]
    if name.isdigit() and int(name) in {int(s) for s in RunState if s.valid}:
        return RunState(int(name))
    names = ", ".join(s.name for s in RunState if s.valid)
    raise usage_error(f"{text!r} is not a run state: use one of {names}", "--state")


def _sort_key(text: str) -> SortKey:
    """The `SortKey` of a `--sort` value (`foreign-id` or `foreign_id`, any case)."""
    from wfkit import SortKey

    wanted = text.strip().lower().replace("-", "_").replace(" ", "_")
    if wanted in {key.value for key in SortKey}:
        return SortKey(wanted)
    raise usage_error(f"{text!r} is not a sort key: use one of {', '.join(SORTS)}", "--sort")


def _statuses(texts: Sequence[str], infos: dict[str, WorkflowInfo], workflow: str | None) -> tuple[int, ...]:
    """Status numbers for names (from the catalogue of `workflow`, or of every workflow) or numbers."""
    scope = [infos[workflow]] if workflow is not None else list(infos.values())
    numbers: list[int] = []
    for text in texts:
        if text.strip().lstrip("-").isdigit():
            numbers.append(int(text))
            continue
        wanted = text.strip().upper()
        found = {n for info in scope for n, name in info.statuses.items() if name.upper() == wanted}
        if not found:
            names = sorted({name for info in scope for name in info.statuses.values()})
            where = f"workflow {workflow!r}" if workflow else "any workflow in this store"
            raise usage_error(
                f"{text!r} is not a status of {where}: use one of {', '.join(names) or '(none)'}", "--status"
            )
        if len(found) > 1:
            raise usage_error(
                f"status {text!r} has different numbers in different workflows: pass --workflow NAME",
                "--status",
            )
        numbers.extend(found)
    return tuple(numbers)


def _styled(state: str) -> str:
    style = _STYLE.get(state)
    return f"[{style}]{state}[/]" if style else state


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False)
