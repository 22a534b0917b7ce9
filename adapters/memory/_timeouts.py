"""The in-memory `TimeoutStore`: scheduled timeouts kept per workflow in id order."""

from __future__ import annotations

import bisect
import builtins
from collections.abc import Callable
from datetime import datetime

from wfkit._clock import Clock, SystemClock
from wfkit._record import TimeoutRecord
from wfkit.adapters._feed import Subscribers

_LAST_ID = 2**63


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
        # (workflow, status) -> (expire_at, id) kept sorted: due rows and the next expiry by bisect
        self._by_expiry: dict[tuple[str, int], builtins.list[tuple[datetime, int]]] = {}
        self._by_run: dict[tuple[str, str], dict[int, TimeoutRecord]] = {}
        self._subscribers = Subscribers()
        self._expiry_subscribers: dict[str, builtins.list[Callable[[int, datetime], None]]] = {}

    def subscribe(self, workflow_name: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after every timeout created for `workflow_name` (wakes every poller)."""
        return self._subscribers.subscribe(workflow_name, callback)

    def subscribe_expiries(
        self, workflow_name: str, callback: Callable[[int, datetime], None]
    ) -> Callable[[], None]:
        """Call `callback(status, expire_at)` in every `create` for `workflow_name`, before it returns.

        The detailed form of `subscribe`: the engine wakes only the poller of that status, and only
        if its alarm would ring later. Returns a function that unsubscribes.
        """
        callbacks = self._expiry_subscribers.setdefault(workflow_name, [])
        callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in callbacks:
                callbacks.remove(callback)

        return unsubscribe

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
        # id, workflow, foreign id, run id, status, expire_at, created_at, completed, version
        row = TimeoutRecord(
            timeout_id,
            workflow_name,
            foreign_id,
            run_id,
            status,
            expire_at,
            self._clock.now(),
            False,
            version,
        )
        rows = self._by_workflow.get(workflow_name)
        if rows is None:
            rows = self._by_workflow[workflow_name] = {}
        rows[timeout_id] = row
        self._workflow_of[timeout_id] = workflow_name
        by_expiry = self._by_expiry.get((workflow_name, status))
        if by_expiry is None:
            by_expiry = self._by_expiry[(workflow_name, status)] = []
        entry = (expire_at, timeout_id)
        if not by_expiry or by_expiry[-1][0] <= expire_at:  # the latest so far (ids only grow): last
            by_expiry.append(entry)
        else:
            bisect.insort(by_expiry, entry)
        run_key = (workflow_name, run_id)
        of_run = self._by_run.get(run_key)
        if of_run is None:
            of_run = self._by_run[run_key] = {}
        of_run[timeout_id] = row
        self._subscribers.notify(workflow_name)
        watchers = self._expiry_subscribers.get(workflow_name)
        if watchers:
            for callback in tuple(watchers):
                callback(status, expire_at)
        return timeout_id

    async def complete(self, timeout_id: int) -> None:
        """Mark the timeout done so it is listed no more; an unknown id is a no-op."""
        self._drop(timeout_id)

    async def cancel(self, timeout_id: int) -> None:
        """Delete the timeout; an unknown id is a no-op."""
        self._drop(timeout_id)

    def _drop(self, timeout_id: int) -> None:
        workflow_name = self._workflow_of.pop(timeout_id, None)
        if workflow_name is None:
            return
        row = self._by_workflow[workflow_name].pop(timeout_id)
        by_expiry = self._by_expiry[(workflow_name, row.status)]
        if by_expiry[0][1] == timeout_id:  # the earliest, as a fired timeout usually is
            del by_expiry[0]
        else:
            del by_expiry[bisect.bisect_left(by_expiry, (row.expire_at, timeout_id))]
        by_run = self._by_run[(workflow_name, row.run_id)]
        del by_run[timeout_id]
        if not by_run:
            del self._by_run[(workflow_name, row.run_id)]

    async def list(self, workflow_name: str, *, run_id: str | None = None) -> builtins.list[TimeoutRecord]:
        """Uncompleted timeouts of the workflow (of one run, if given), by id."""
        if run_id is not None:
            return builtins.list(self._by_run.get((workflow_name, run_id), {}).values())
        return builtins.list(self._by_workflow.get(workflow_name, {}).values())

    async def list_valid(
        self, workflow_name: str, status: int, now: datetime
    ) -> builtins.list[TimeoutRecord]:
        """Uncompleted timeouts at `status` with `expire_at <= now`, by id."""
        by_expiry = self._by_expiry.get((workflow_name, status))
        if not by_expiry or by_expiry[0][0] > now:
            return []
        rows = self._by_workflow[workflow_name]
        if len(by_expiry) == 1 or by_expiry[1][0] > now:  # one due, the common case: no search
            return [rows[by_expiry[0][1]]]
        end = bisect.bisect_right(by_expiry, (now, _LAST_ID))
        return [rows[timeout_id] for timeout_id in sorted(timeout_id for _, timeout_id in by_expiry[:end])]

    async def next_expiry(self, workflow_name: str, status: int, after: datetime) -> datetime | None:
        """The earliest `expire_at` later than `after` among uncompleted timeouts at `status`."""
        by_expiry = self._by_expiry.get((workflow_name, status))
        if not by_expiry:
            return None
        first = by_expiry[0][0]
        if first > after:  # nothing due yet, the common case after a pass: no search
            return first
        i = bisect.bisect_right(by_expiry, (after, _LAST_ID))
        return by_expiry[i][0] if i < len(by_expiry) else None
