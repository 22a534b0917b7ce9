"""Run control and outside input from the shell: `pause`, `resume`, `retry`, `cancel`, `delete`,
`trigger` and `callback`.

Control goes through `wfkit.Admin`, straight to the store (compare-and-set), so it needs no workflow
code and running workers pick the change up. `trigger` and `callback` run the workflow's own code
(a `module:attr` builder): trigger checks and encodes the object as the workflow would, a callback
function decides the next status. Neither does a step: trigger runs the workflow (as `trigger`
requires) without roles or outbox relay, just long enough to write the run, and a callback needs no
running processes at all. A worker on the same store picks the writes up.
"""

from __future__ import annotations

import asyncio
import enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wfkit.cli._app import usage_error
from wfkit.cli._common import (
    DEFAULT_STORE,
    AsJson,
    Store,
    by_name,
    connect_store,
    load_builder,
    open_store,
    parse_json,
    print_json,
    record_dict,
    status_name,
)

if TYPE_CHECKING:
    from wfkit import Record, RecordStore, Workflow, WorkflowInfo
    from wfkit.adapters import Backend

RunId = Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id.", show_default=False)]
Reason = Annotated[
    str, typer.Option("--reason", "-r", help="Why: kept with the run (run_state_reason).", show_default=False)
]
Target = Annotated[
    str,
    typer.Argument(
        metavar="MODULE:ATTR",
        help="The workflow's wfkit.Builder, or a function returning one (e.g. examples/orders.py:builder).",
        show_default=False,
    ),
]

_DONE = {
    "pause": "paused",
    "resume": "resumed",
    "retry": "retried",
    "cancel": "cancelled",
    "delete_data": "asked to delete the data of",
}


# -- run control (no workflow code) ---------------------------------------------------------------


def pause(run_id: RunId, reason: Reason = "", store: Store = DEFAULT_STORE, as_json: AsJson = False) -> None:
    """Pause a run: workers leave it alone until it is resumed."""
    _control("pause", run_id, reason, store, as_json)


def resume(run_id: RunId, store: Store = DEFAULT_STORE, as_json: AsJson = False) -> None:
    """Resume a paused run where it stopped."""
    _control("resume", run_id, "", store, as_json)


def retry(run_id: RunId, store: Store = DEFAULT_STORE, as_json: AsJson = False) -> None:
    """Run the current status's step again (resuming the run if it is paused)."""
    _control("retry", run_id, "", store, as_json)


def cancel(run_id: RunId, reason: Reason = "", store: Store = DEFAULT_STORE, as_json: AsJson = False) -> None:
    """Cancel a run for good: it never moves again."""
    _control("cancel", run_id, reason, store, as_json)


def delete(run_id: RunId, reason: Reason = "", store: Store = DEFAULT_STORE, as_json: AsJson = False) -> None:
    """Delete a finished run's object everywhere it is stored (irreversible, no prompt)."""
    _control("delete_data", run_id, reason, store, as_json)


def _control(action: str, run_id: str, reason: str, url: str, as_json: bool) -> None:
    from wfkit import Admin

    backend = connect_store(url)

    async def act() -> tuple[Record, WorkflowInfo | None]:
        async with open_store(backend):
            admin = Admin(backend.store)
            method = getattr(admin, action)
            record: Record = await (method(run_id, reason) if reason else method(run_id))
            return record, by_name(await admin.workflows()).get(record.workflow_name)

    record, info = asyncio.run(act())
    if as_json:
        print_json(record_dict(record, info))
        return
    typer.echo(
        f"{_DONE[action]} run {record.run_id} ({record.workflow_name} {record.foreign_id!r}): "
        f"{status_name(record, info)}, run state {record.run_state.name}, version {record.version}"
    )


# -- trigger and callback (the workflow's code) ---------------------------------------------------


def trigger(
    target: Target,
    foreign_id: Annotated[
        str,
        typer.Argument(
            metavar="FOREIGN_ID", help="Your id for the run (an order id...).", show_default=False
        ),
    ],
    object_json: Annotated[
        str | None,
        typer.Option(
            "--object",
            "-o",
            metavar="JSON",
            help="The run's initial object as JSON (default: the object type's defaults).",
            show_default=False,
        ),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            metavar="NAME",
            help="Start at this status (name or number) instead of the first.",
            show_default=False,
        ),
    ] = None,
    store: Store = DEFAULT_STORE,
    as_json: AsJson = False,
) -> None:
    """Start a run of a workflow for FOREIGN_ID; a worker on the same store does its steps."""
    backend, wf = _workflow(target, store, must_exist=False, trigger_only=True)
    start = None if status is None else parse_status(wf, status, "--status")
    initial = None if object_json is None else _decode_object(wf, object_json)

    async def write() -> Record:
        async with open_store(backend):
            async with wf:  # trigger needs a running workflow: one that never holds a role
                run_id = await wf.trigger(foreign_id, initial=initial, start_at=start)
            return await wf.store.lookup(run_id)

    record = asyncio.run(write())
    if as_json:
        print_json(record_dict(record, wf.info))
        return
    typer.echo(
        f"triggered run {record.run_id} ({record.workflow_name} {foreign_id!r}) at "
        f"{status_name(record, wf.info)}"
    )


def callback(
    target: Target,
    run: Annotated[
        str,
        typer.Argument(
            metavar="RUN_OR_FOREIGN_ID",
            help="The run's id, or its foreign id (the latest run for it).",
            show_default=False,
        ),
    ],
    status: Annotated[
        str,
        typer.Argument(
            metavar="STATUS", help="The status the run waits at (name or number).", show_default=False
        ),
    ],
    payload: Annotated[
        str,
        typer.Option(
            "--payload", "-p", metavar="JSON", help="The callback's payload, as JSON.", show_default=False
        ),
    ] = "",
    store: Store = DEFAULT_STORE,
    as_json: AsJson = False,
) -> None:
    """Deliver an outside answer (a payment, an approval) to a run waiting at STATUS."""
    backend, wf = _workflow(target, store, must_exist=True)
    st = parse_status(wf, status, "STATUS")
    if not any(edge.source == st and edge.kind == "callback" for edge in wf.info.edges):
        raise usage_error(
            f"workflow {wf.name!r} has no callback at {st.name}: add_callback(...) declares one", "STATUS"
        )
    if payload:
        parse_json(payload, "--payload")

    async def deliver() -> tuple[Record, Record]:
        async with open_store(backend):
            before = await _find(wf, run)
            if not (before.status == st and before.run_state.active and not before.run_state.stopped):
                from wfkit import WfkitError

                raise WfkitError(
                    f"run {before.run_id} ({before.foreign_id!r}) is at {status_name(before, wf.info)}, "
                    f"run state {before.run_state.name}, not waiting at {st.name}: nothing delivered"
                    + (" (resume it first)" if before.run_state.name == "PAUSED" else "")
                )
            await _call(wf, before.foreign_id, st, payload.encode())
            return before, await wf.store.lookup(before.run_id)

    before, after = asyncio.run(deliver())
    info = wf.info
    moved = after.version != before.version
    if as_json:
        print_json({"delivered": True, "moved": moved, "run": record_dict(after, info)})
    elif moved:
        typer.echo(
            f"callback delivered: run {after.run_id} ({after.foreign_id!r}) "
            f"{status_name(before, info)} -> {status_name(after, info)}"
        )
    else:
        typer.echo(
            f"callback delivered: the workflow skipped it, run {after.run_id} ({after.foreign_id!r}) "
            f"still waits at {status_name(after, info)}"
        )


# -- helpers --------------------------------------------------------------------------------------


def parse_status(wf: Workflow[Any, Any], text: str, param: str) -> enum.IntEnum:
    """A status of the workflow's enum by name (any case) or number; misuse otherwise."""
    status_type: type[enum.IntEnum] = wf.status_type
    members = {m.name.upper(): m for m in status_type}
    found = members.get(text.strip().upper())
    if found is None and text.strip().lstrip("-").isdigit():
        found = next((m for m in status_type if int(m) == int(text)), None)
    if found is None:
        names = ", ".join(m.name for m in status_type)
        raise usage_error(f"{text!r} is not a status of {wf.name!r}: use one of {names}", param)
    return found


def _decode_object(wf: Workflow[Any, Any], text: str) -> Any:
    from wfkit import CodecError, JsonCodec

    parse_json(text, "--object")
    object_type = wf.object_type
    try:
        return JsonCodec().decode(text.encode(), object_type)
    except CodecError as exc:
        raise usage_error(f"not a {object_type.__name__}: {exc}", "--object") from None


def _workflow(
    target: str, url: str, *, must_exist: bool, trigger_only: bool = False
) -> tuple[Backend, Workflow[Any, Any]]:
    """The target's workflow built on the store (not yet open); metrics on a private registry.

    `trigger_only`: built with `consumers=False`, so running it (which `trigger` requires) starts
    no step, relay or poller: the store's workers do that.
    """
    from prometheus_client import CollectorRegistry

    builder = load_builder(target)
    backend = connect_store(url, must_exist=must_exist)
    return backend, backend.build(builder, metrics=CollectorRegistry(), consumers=not trigger_only)


async def _find(wf: Workflow[Any, Any], ident: str) -> Record:
    """The run `ident` names: a run id of this workflow, else the latest run of a foreign id."""
    from wfkit import RecordNotFound, WfkitError

    store: RecordStore = wf.store
    try:
        record = await store.lookup(ident)
    except RecordNotFound:
        try:
            return await store.latest(wf.name, ident)
        except RecordNotFound:
            raise WfkitError(
                f"no run of {wf.name!r} has run id or foreign id {ident!r}: `wfkit runs list` shows them"
            ) from None
    if record.workflow_name != wf.name:
        raise WfkitError(f"run {ident} belongs to workflow {record.workflow_name!r}, not {wf.name!r}")
    latest = await store.latest(wf.name, record.foreign_id)
    if latest.run_id != record.run_id:
        raise WfkitError(
            f"run {ident} is not the latest run of {record.foreign_id!r} (that is {latest.run_id}): "
            "callbacks go to the latest run"
        )
    return record


async def _call(wf: Workflow[Any, Any], foreign_id: str, status: enum.IntEnum, payload: bytes) -> None:
    """`wf.callback`, with an exception from the user's callback function as one `WfkitError`."""
    from wfkit import WfkitError

    try:
        await wf.callback(foreign_id, status, payload)
    except WfkitError:
        raise
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"
        hint = " (is --payload what the callback expects?)" if isinstance(exc, KeyError | ValueError) else ""
        raise WfkitError(f"the {status.name} callback of {wf.name!r} raised {detail}{hint}") from None
