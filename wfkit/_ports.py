"""The ports: the interfaces every adapter implements, as `typing.Protocol`s.

The contract suites in `wfkit.testing.contracts` pin the semantics described here.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from wfkit._graph import WorkflowInfo
from wfkit._query import Order, RecordFilter, SortKey
from wfkit._record import ConnectorEvent, Event, OutboxEvent, Record, TimeoutRecord


class RecordStore(Protocol):
    """**Protocol:** durable runs, their full history, their outbox and the workflow catalogue.

    `store(record)` is a compare-and-set on `record.meta.version`: version 1 creates the run (and
    raises `WorkflowInProgress` when the foreign id already has an active run); version n > 1
    updates it only when the stored version is n - 1, else `VersionConflict`. The new version, its
    history row and exactly one outbox event (`outbox_event_for(record)`) are written atomically.
    Writing a DATA_DELETED version replaces the object in every earlier version of the run.
    """

    async def store(self, record: Record) -> None: ...

    async def lookup(self, run_id: str) -> Record:
        """The latest version of the run; `RecordNotFound` if there is none."""
        ...

    async def latest(self, workflow_name: str, foreign_id: str) -> Record:
        """The most recently created run of the foreign id; `RecordNotFound` if there is none."""
        ...

    async def list(
        self,
        workflow_name: str | None = None,
        *,
        offset: int = 0,
        limit: int = 25,
        order: Order = Order.ASC,
        filters: RecordFilter | None = None,
        sort: SortKey = SortKey.CREATED,
    ) -> builtins.list[Record]:
        """A page of runs (latest versions) by `sort` (creation order by default) in `order`;
        ties fall back to creation order in the same direction, so pages are stable."""
        ...

    async def count(self, workflow_name: str | None = None, *, filters: RecordFilter | None = None) -> int:
        """How many runs `list` would page through."""
        ...

    async def history(self, run_id: str) -> builtins.list[Record]:
        """Every version of the run, ascending from version 1; `RecordNotFound` if none."""
        ...

    async def list_outbox(self, workflow_name: str, limit: int = 1000) -> builtins.list[OutboxEvent]:
        """Unpublished outbox events of the workflow, oldest first."""
        ...

    async def delete_outbox(self, event_id: str) -> None:
        """Forget a published outbox event; deleting an unknown id is a no-op."""
        ...

    async def register(self, info: WorkflowInfo) -> None:
        """Record (or replace) a workflow's catalogue entry."""
        ...

    async def workflows(self) -> builtins.list[WorkflowInfo]:
        """Catalogue entries, by name."""
        ...


class ChangeFeed(Protocol):
    """**Protocol (optional):** a store that says when it was written to.

    Record and timeout stores may implement it; the engine then wakes its outbox relay and
    timeout pollers on every write, from any worker, instead of waiting for its next poll.
    """

    def subscribe(self, workflow_name: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` (synchronously, quickly) after each write for `workflow_name`;
        returns a function that unsubscribes."""
        ...


class EventSender(Protocol):
    """**Protocol:** publishes events to one topic."""

    async def send(self, key: str, type: int, headers: Mapping[str, str]) -> None: ...

    async def close(self) -> None: ...


class EventReceiver(Protocol):
    """**Protocol:** a named, resumable reader of one topic.

    `recv` returns the next event after the last one delivered; `ack` commits the receiver's cursor
    past it. Events delivered but not acked are delivered again to the next receiver opened with the
    same name (after a crash, an error, or `close`).

    Optional: `recv_nowait() -> Event | None`, the next event when it can be had without waiting
    (already read or sent), else None. A consumer handling several events at once then takes
    buffered events without starting a task per wait.
    """

    async def recv(self) -> Event: ...

    async def ack(self, event: Event) -> None: ...

    async def close(self) -> None: ...


class EventStreamer(Protocol):
    """**Protocol:** topics of events with named cursors.

    `from_latest=True` starts a receiver whose name has no cursor yet at the head as of this call
    (events sent after it returns are delivered); once a cursor exists it is ignored.
    """

    async def sender(self, topic: str) -> EventSender: ...

    async def receiver(
        self,
        topic: str,
        name: str,
        *,
        poll_frequency: float | None = None,
        from_latest: bool = False,
    ) -> EventReceiver: ...


class TimeoutStore(Protocol):
    """**Protocol:** scheduled timeouts; ids increase in creation order."""

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
        """Schedule a timeout for the run's record `version` at `status`; returns its id."""
        ...

    async def complete(self, timeout_id: int) -> None: ...

    async def cancel(self, timeout_id: int) -> None:
        """Delete the timeout; an unknown id is a no-op."""
        ...

    async def list(self, workflow_name: str, *, run_id: str | None = None) -> builtins.list[TimeoutRecord]:
        """Uncompleted timeouts of the workflow (only the run's, when `run_id` is given), by id."""
        ...

    async def next_expiry(self, workflow_name: str, status: int, after: datetime) -> datetime | None:
        """The earliest `expire_at` later than `after` of uncompleted timeouts at `status`."""
        ...

    async def list_valid(
        self, workflow_name: str, status: int, now: datetime
    ) -> builtins.list[TimeoutRecord]:
        """Uncompleted timeouts at `status` with `expire_at <= now`, by id."""
        ...


class RoleScheduler(Protocol):
    """**Protocol:** exclusive roles across every process of a deployment.

    `async with scheduler.hold(role):` returns once this process holds the role; if the role is
    lost, the body is cancelled and the block raises `RoleLost`.
    """

    def hold(self, role: str) -> AbstractAsyncContextManager[None]: ...


class ConnectorConsumer(Protocol):
    """**Protocol:** a named, resumable reader of external events."""

    async def recv(self) -> ConnectorEvent: ...

    async def ack(self, event: ConnectorEvent) -> None: ...

    async def close(self) -> None: ...


class Connector(Protocol):
    """**Protocol:** a source of external events that a workflow consumes."""

    async def consumer(self, name: str) -> ConnectorConsumer: ...
