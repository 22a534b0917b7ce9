"""`Admin`: list, inspect and control runs over any RecordStore, without the workflow's code."""

from __future__ import annotations

import builtins

from wfkit._clock import Clock, SystemClock
from wfkit._control import Action, control
from wfkit._graph import WorkflowInfo
from wfkit._ports import RecordStore
from wfkit._query import Order, RecordFilter, SortKey
from wfkit._record import Record


class Admin:
    """Run control and listing for operators: what the CLI and TUI use.

    Control writes go straight to the store (compare-and-set, with an outbox event), so running
    workers pick them up as they would a change made through the workflow.
    """

    def __init__(self, store: RecordStore, clock: Clock | None = None) -> None:
        self.store = store
        self.clock: Clock = clock or SystemClock()

    async def workflows(self) -> builtins.list[WorkflowInfo]:
        return await self.store.workflows()

    async def list(
        self,
        workflow_name: str | None = None,
        *,
        offset: int = 0,
        limit: int = 25,
        order: Order = Order.DESC,
        filters: RecordFilter | None = None,
        sort: SortKey = SortKey.CREATED,
    ) -> builtins.list[Record]:
        return await self.store.list(
            workflow_name, offset=offset, limit=limit, order=order, filters=filters, sort=sort
        )

    async def count(self, workflow_name: str | None = None, *, filters: RecordFilter | None = None) -> int:
        return await self.store.count(workflow_name, filters=filters)

    async def lookup(self, run_id: str) -> Record:
        return await self.store.lookup(run_id)

    async def history(self, run_id: str) -> builtins.list[Record]:
        return await self.store.history(run_id)

    async def pause(self, run_id: str, reason: str = "") -> Record:
        return await control(self.store, run_id, Action.PAUSE, self.clock.now(), reason)

    async def resume(self, run_id: str) -> Record:
        return await control(self.store, run_id, Action.RESUME, self.clock.now())

    async def retry(self, run_id: str) -> Record:
        return await control(self.store, run_id, Action.RETRY, self.clock.now())

    async def cancel(self, run_id: str, reason: str = "") -> Record:
        return await control(self.store, run_id, Action.CANCEL, self.clock.now(), reason)

    async def delete_data(self, run_id: str, reason: str = "") -> Record:
        return await control(self.store, run_id, Action.DELETE_DATA, self.clock.now(), reason)
