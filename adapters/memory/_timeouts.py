"""The in-memory `TimeoutStore`: scheduled timeouts kept per workflow in id order."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime

from wfkit._clock import Clock, SystemClock
from wfkit._record import TimeoutRecord

from ._feed import Subscribers


class TimeoutStore:
    """A `TimeoutStore` held in process memory; `created_at` comes from `clock`.

    Ids start at 1 and increase. Completed and cancelled timeouts are dropped, since the port only
    ever lists uncompleted ones; completing or cancelling an unknown id is a no-op.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._last_id = 0
        self._by_workflow: dict[str, dict[int, TimeoutRecord]] = {}  # insertion = id order
        self._workflow_of: dict[int, str] = {}
        self._subscribers = Subscribers()

    def subscribe(self, workflow_name: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after every timeout created for `workflow_name` (wakes every poller)."""
        return self._subscribers.subscribe(workflow_name, callback)

    async def create(
        self,
        workflow_name: str,
        foreign_id: str,
        run_id: str,
        status: int,
        expire_at: datetime,
        *,
        version: int = 0,
    ) -> int:
        """Schedule a timeout of the run at `status`, due at `expire_at`; returns its id."""
        self._last_id += 1
        timeout_id = self._last_id
        row = TimeoutRecord(
            id=timeout_id,
            workflow_name=workflow_name,
            foreign_id=foreign_id,
            run_id=run_id,
            status=status,
            expire_at=expire_at,
            created_at=self._clock.now(),
            version=version,
        )
        self._by_workflow.setdefault(workflow_name, {})[timeout_id] = row
        self._workflow_of[timeout_id] = workflow_name
        self._subscribers.notify(workflow_name)
        return timeout_id

    async def complete(self, timeout_id: int) -> None:
        """Mark the timeout done so it is listed no more; an unknown id is a no-op."""
        self._drop(timeout_id)

    async def cancel(self, timeout_id: int) -> None:
        """Delete the timeout; an unknown id is a no-op."""
        self._drop(timeout_id)

    def _drop(self, timeout_id: int) -> None:
        workflow_name = self._workflow_of.pop(timeout_id, None)
        if workflow_name is not None:
            del self._by_workflow[workflow_name][timeout_id]

    async def list(self, workflow_name: str) -> builtins.list[TimeoutRecord]:
        """Uncompleted timeouts of the workflow, by id."""
        return builtins.list(self._by_workflow.get(workflow_name, {}).values())

    async def list_valid(
        self, workflow_name: str, status: int, now: datetime
    ) -> builtins.list[TimeoutRecord]:
        """Uncompleted timeouts at `status` with `expire_at <= now`, by id."""
        rows = self._by_workflow.get(workflow_name, {}).values()
        return [r for r in rows if r.status == status and r.expire_at <= now]
