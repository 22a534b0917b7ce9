"""The in-memory `TimeoutStore`: scheduled timeouts kept in id order, indexed by expiry and run."""

from __future__ import annotations

import bisect
import builtins
from collections.abc import Callable
from datetime import datetime

from wfkit._clock import Clock, SystemClock
from wfkit._record import TimeoutRecord

_LAST_ID = 2**63


class TimeoutStore:
    """A `TimeoutStore` held in process memory; `created_at` comes from `clock`.

    Ids start at 1 and increase. Completed and cancelled timeouts are dropped, since the port only
    ever lists uncompleted ones; completing or cancelling an unknown id is a no-op.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._last_id = 0
        self._rows: dict[int, TimeoutRecord] = {}  # every uncompleted row; insertion = id order
        # (workflow, status) -> (expire_at, id) kept sorted: due rows and the next expiry by bisect
        self._by_expiry: dict[tuple[str, int], builtins.list[tuple[datetime, int]]] = {}
        self._by_run: dict[tuple[str, str], dict[int, TimeoutRecord]] = {}  # kept per run, like its records
        self._expiry_subscribers: dict[str, builtins.list[Callable[[int, datetime], None]]] = {}
        # A subclass that answers `list_valid` or `next_expiry` itself is asked those by `due`.
        cls = type(self)
        self._own_answers = (
            cls.list_valid is not TimeoutStore.list_valid or cls.next_expiry is not TimeoutStore.next_expiry
        )

    def subscribe(self, workflow_name: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after every timeout created for `workflow_name` (wakes every poller)."""

        def created(status: int, expire_at: datetime) -> None:
            callback()

        return self.subscribe_expiries(workflow_name, created)

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
        self._last_id = timeout_id = self._last_id + 1
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
        self._rows[timeout_id] = row
        by_expiry = self._by_expiry.get((workflow_name, status))
        if by_expiry is None:
            by_expiry = self._by_expiry[(workflow_name, status)] = []
        if not by_expiry or by_expiry[-1][0] <= expire_at:  # the latest so far (ids only grow): last
            by_expiry.append((expire_at, timeout_id))
        else:
            bisect.insort(by_expiry, (expire_at, timeout_id))
        of_run = self._by_run.get((workflow_name, run_id))
        if of_run is None:
            of_run = self._by_run[(workflow_name, run_id)] = {}
        of_run[timeout_id] = row
        watchers = self._expiry_subscribers.get(workflow_name)
        if watchers:
            for callback in tuple(watchers):
                callback(status, expire_at)
        return timeout_id

    async def complete(self, timeout_id: int) -> None:
        """Mark the timeout done so it is listed no more; an unknown id is a no-op."""
        row = self._rows.pop(timeout_id, None)
        if row is None:
            return
        by_expiry = self._by_expiry[(row.workflow_name, row.status)]
        if by_expiry[0][1] == timeout_id:  # the earliest, as a fired timeout usually is
            del by_expiry[0]
        else:
            del by_expiry[bisect.bisect_left(by_expiry, (row.expire_at, timeout_id))]
        del self._by_run[(row.workflow_name, row.run_id)][timeout_id]  # emptied, it stays for the next

    async def cancel(self, timeout_id: int) -> None:
        """Delete the timeout; an unknown id is a no-op."""
        await self.complete(timeout_id)  # completed rows are dropped too: the same thing here

    async def list(self, workflow_name: str, *, run_id: str | None = None) -> builtins.list[TimeoutRecord]:
        """Uncompleted timeouts of the workflow (of one run, if given), by id."""
        if run_id is not None:
            return builtins.list(self._by_run.get((workflow_name, run_id), {}).values())
        return [row for row in self._rows.values() if row.workflow_name == workflow_name]

    async def list_valid(
        self, workflow_name: str, status: int, now: datetime
    ) -> builtins.list[TimeoutRecord]:
        """Uncompleted timeouts at `status` with `expire_at <= now`, by id."""
        return self._due(workflow_name, status, now)[0]

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

    async def due(
        self, workflow_name: str, status: int, now: datetime
    ) -> tuple[builtins.list[TimeoutRecord], datetime | None]:
        """`list_valid(workflow_name, status, now)` and `next_expiry(workflow_name, status, now)` in
        one call: a timeout poller's two questions of a pass (an optional extension of the port)."""
        if self._own_answers:
            return await self.list_valid(workflow_name, status, now), await self.next_expiry(
                workflow_name, status, now
            )
        return self._due(workflow_name, status, now)

    def _due(
        self, workflow_name: str, status: int, now: datetime
    ) -> tuple[builtins.list[TimeoutRecord], datetime | None]:
        by_expiry = self._by_expiry.get((workflow_name, status))
        if not by_expiry:
            return [], None
        first = by_expiry[0]
        if first[0] > now:  # nothing due yet, the common case: no search
            return [], first[0]
        count = len(by_expiry)
        if count == 1:
            return [self._rows[first[1]]], None
        second = by_expiry[1][0]
        if second > now:  # one due, the other common case
            return [self._rows[first[1]]], second
        end = bisect.bisect_right(by_expiry, (now, _LAST_ID))
        rows = self._rows
        due = [rows[timeout_id] for timeout_id in sorted(timeout_id for _, timeout_id in by_expiry[:end])]
        return due, (by_expiry[end][0] if end < count else None)
