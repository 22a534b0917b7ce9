"""Shared pieces of the contract suites: running a test body, bounded waits, sample records."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import itertools
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias, TypeVar

from wfkit._ports import Connector, EventStreamer, RecordStore, RoleScheduler, TimeoutStore
from wfkit._record import ConnectorEvent, Meta, Record
from wfkit._runstate import RunState

T = TypeVar("T")
P = TypeVar("P")

RecordStoreFactory: TypeAlias = Callable[[], AbstractAsyncContextManager[RecordStore]]
"""Makes a fresh, empty record store; entered inside the test's event loop."""
EventStreamerFactory: TypeAlias = Callable[[], AbstractAsyncContextManager[EventStreamer]]
"""Makes a fresh, empty event streamer; entered inside the test's event loop."""
TimeoutStoreFactory: TypeAlias = Callable[[], AbstractAsyncContextManager[TimeoutStore]]
"""Makes a fresh, empty timeout store; entered inside the test's event loop."""
RoleSchedulerFactory: TypeAlias = Callable[[int], AbstractAsyncContextManager[builtins.list[RoleScheduler]]]
"""Makes `instances` role schedulers of one fresh deployment (processes competing for roles)."""
ConnectorFactory: TypeAlias = Callable[
    [builtins.list[ConnectorEvent]], AbstractAsyncContextManager[Connector]
]
"""Makes a fresh connector whose source holds exactly the given events, in order."""

T0 = datetime(2024, 1, 1, 8, 30, tzinfo=UTC)
"""The base timestamp of sample records: whole seconds, so any store can keep it exactly."""

WORKFLOW = "my_workflow"
FOREIGN_ID = "Andrew Wormald"
OBJECT = b'{"uid":"u-1","email":"andrew@workflow.com","country_code":"GB"}'

_run_ids = itertools.count(1)


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run one test body on a fresh event loop, so the suites need no async pytest plugin."""
    asyncio.run(main)


def using(
    factory: Callable[[], AbstractAsyncContextManager[P]], body: Callable[[P], Awaitable[None]]
) -> None:
    """Enter a fresh adapter from `factory` inside the test's loop and run `body` with it."""

    async def main() -> None:
        async with factory() as port:
            await body(port)

    run(main())


async def within(aw: Awaitable[T], seconds: float) -> T:
    """Await something that must happen, failing the test if it takes more than `seconds`."""
    return await asyncio.wait_for(aw, seconds)


async def settle(turns: int = 50) -> None:
    """Give every ready task many turns of the loop, so whatever would happen now has happened."""
    for _ in range(turns):
        await asyncio.sleep(0)


def new_run_id() -> str:
    """A fresh run id in UUID form (unique within the process)."""
    return str(uuid.UUID(int=next(_run_ids), version=4))


def make_record(
    run_id: str | None = None,
    *,
    workflow_name: str = WORKFLOW,
    foreign_id: str = FOREIGN_ID,
    status: int = 1,
    run_state: RunState = RunState.INITIATED,
    created_at: datetime = T0,
    obj: bytes = OBJECT,
) -> Record:
    """Version 1 of a run, with every meta field set so stores must keep them all."""
    return Record(
        workflow_name=workflow_name,
        foreign_id=foreign_id,
        run_id=run_id if run_id is not None else new_run_id(),
        run_state=run_state,
        status=status,
        object=obj,
        created_at=created_at,
        updated_at=created_at,
        meta=Meta(
            version=1,
            run_state_reason="",
            status_description=f"STATUS_{status}",
            trace_origin="contract",
            traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
    )


def next_version(record: Record, **changes: Any) -> Record:
    """The record's next version one second later, with `changes` applied."""
    meta = dataclasses.replace(record.meta, version=record.meta.version + 1)
    if "status" in changes:
        meta = dataclasses.replace(meta, status_description=f"STATUS_{changes['status']}")
    updated = record.updated_at + timedelta(seconds=1)
    return dataclasses.replace(record, meta=meta, updated_at=updated, **changes)
