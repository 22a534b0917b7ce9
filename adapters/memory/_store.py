"""The in-memory `RecordStore`: compare-and-set writes, full history, outbox and catalogue."""

from __future__ import annotations

import builtins
import heapq
import itertools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from wfkit._clock import Clock, SystemClock
from wfkit._errors import RecordNotFound, VersionConflict, WorkflowInProgress
from wfkit._graph import WorkflowInfo
from wfkit._ports import EventSender, EventStreamer
from wfkit._query import Order, RecordFilter, SortKey
from wfkit._record import OutboxEvent, Record, outbox_event_for
from wfkit._runstate import RunState
from wfkit.adapters._feed import Subscribers

_Key = tuple[str, str]
_ACTIVE = frozenset(state for state in RunState if state.active)
_DATA_DELETED = RunState.DATA_DELETED  # a member read off its enum costs a lookup hook's call


class RecordStore:
    """A `RecordStore` held in process memory: fast, deterministic, and exact about the port.

    Every write is checked and applied without suspending, so it is atomic under asyncio. With
    `relay_to`, each committed outbox event is sent straight to that streamer instead of being kept
    (for workflows built with the outbox relay disabled, like luno's `WithOutbox`); if that send
    fails, the event stays in the outbox and the error propagates. The store stamps no time itself
    (outbox events carry the record's `updated_at`); `clock` is accepted like every memory adapter.
    """

    def __init__(self, clock: Clock | None = None, *, relay_to: EventStreamer | None = None) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._relay_to = relay_to
        self._senders: dict[str, EventSender] = {}
        self._latest: dict[str, Record] = {}  # run id -> latest version
        self._history: dict[str, builtins.list[Record]] = {}  # run id -> every version
        self._key_of: dict[str, _Key] = {}  # run id -> (workflow, foreign id) at creation
        self._created: builtins.list[str] = []  # run ids in creation order
        self._created_by_wf: dict[str, builtins.list[str]] = {}
        self._newest: dict[_Key, str] = {}  # most recently created run of a foreign id
        self._active: dict[_Key, str] = {}  # the active run of a foreign id
        self._outbox: dict[str, dict[str, OutboxEvent]] = {}  # workflow -> id -> event
        self._outbox_owner: dict[str, str] = {}  # outbox event id -> workflow
        self._catalogue: dict[str, WorkflowInfo] = {}
        self._subscribers = Subscribers()

    async def store(self, record: Record) -> None:
        """Write the next version of a run and its outbox event, or raise without writing."""
        event = self._commit(record)
        self._subscribers.notify(record.workflow_name)
        if self._relay_to is not None:
            await self._relay(self._relay_to, event)

    def subscribe(self, workflow_name: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after every write of `workflow_name` (wakes relays in every worker)."""
        return self._subscribers.subscribe(workflow_name, callback)

    def _commit(self, record: Record) -> OutboxEvent:
        run_id = record.run_id
        version = record.meta.version
        if version < 1:
            raise ValueError(f"record versions start at 1, got {version} for run {run_id}")
        current = self._latest.get(run_id)
        stored = current.meta.version if current is not None else None
        if (stored or 0) != version - 1:
            raise VersionConflict(run_id, expected=version - 1, actual=stored)
        key = self._key_of.get(run_id) or (record.workflow_name, record.foreign_id)
        holder = self._active.get(key)
        active = record.run_state in _ACTIVE
        if active and holder is not None and holder != run_id:
            raise WorkflowInProgress(key[0], key[1], holder)

        # Checked: from here on nothing raises, so the write is all or nothing.
        if active:
            if holder is None:
                self._active[key] = run_id
        elif holder == run_id:
            del self._active[key]
        if current is None:
            self._key_of[run_id] = key
            self._history[run_id] = [record]
            self._created.append(run_id)
            self._created_by_wf.setdefault(record.workflow_name, []).append(run_id)
            self._newest[key] = run_id
        else:
            history = self._history[run_id]
            if record.run_state is _DATA_DELETED:
                obj = record.object
                history[:] = [r if r.object == obj else r.replace(object=obj) for r in history]
            history.append(record)
        self._latest[run_id] = record
        event = outbox_event_for(record)
        outbox = self._outbox.get(event.workflow_name)
        if outbox is None:
            outbox = self._outbox[event.workflow_name] = {}
        outbox[event.id] = event
        self._outbox_owner[event.id] = event.workflow_name
        return event

    async def _relay(self, streamer: EventStreamer, event: OutboxEvent) -> None:
        sender = self._senders.get(event.topic)
        if sender is None:
            sender = await streamer.sender(event.topic)
            self._senders.setdefault(event.topic, sender)
        await sender.send(event.key, event.type, event.headers)
        await self.delete_outbox(event.id)

    async def lookup(self, run_id: str) -> Record:
        """The latest version of the run; `RecordNotFound` if there is none."""
        try:
            return self._latest[run_id]
        except KeyError:
            raise RecordNotFound(run_id=run_id) from None

    async def latest(self, workflow_name: str, foreign_id: str) -> Record:
        """The most recently created run of the foreign id; `RecordNotFound` if there is none."""
        run_id = self._newest.get((workflow_name, foreign_id))
        if run_id is None:
            raise RecordNotFound(workflow_name=workflow_name, foreign_id=foreign_id)
        return self._latest[run_id]

    def _runs(self, workflow_name: str | None, order: Order) -> Iterable[Record]:
        ids = self._created if workflow_name is None else self._created_by_wf.get(workflow_name, [])
        latest = self._latest
        ordered = ids if order is Order.ASC else reversed(ids)
        return (latest[run_id] for run_id in ordered)

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
        """A page of runs (latest versions) by `sort` in `order`; ties by creation order, same way."""
        if offset < 0 or limit < 0:
            raise ValueError(f"offset and limit must not be negative (got {offset}, {limit})")
        order, sort = Order(order), SortKey(sort)
        if sort is SortKey.CREATED:
            runs = self._runs(workflow_name, order)
            if filters is not None:
                runs = filter(filters.matches, runs)
            return builtins.list(itertools.islice(runs, offset, offset + limit))
        # Only the first offset + limit runs are kept (a heap), not the whole sorted store.
        value = _SORT_VALUES[sort]
        ranked = (
            (value(r), seq, r)
            for seq, r in enumerate(self._runs(workflow_name, Order.ASC))
            if filters is None or filters.matches(r)
        )
        pick = heapq.nsmallest if order is Order.ASC else heapq.nlargest
        top = pick(offset + limit, ranked, key=_rank)
        return [r for _, _, r in top[offset:]]

    async def count(self, workflow_name: str | None = None, *, filters: RecordFilter | None = None) -> int:
        """How many runs `list` would page through."""
        if filters is None:
            if workflow_name is None:
                return len(self._created)
            return len(self._created_by_wf.get(workflow_name, ()))
        return sum(1 for r in self._runs(workflow_name, Order.ASC) if filters.matches(r))

    async def history(self, run_id: str) -> builtins.list[Record]:
        """Every version of the run, ascending from version 1; `RecordNotFound` if none."""
        try:
            return builtins.list(self._history[run_id])
        except KeyError:
            raise RecordNotFound(run_id=run_id) from None

    async def list_outbox(self, workflow_name: str, limit: int = 1000) -> builtins.list[OutboxEvent]:
        """Unpublished outbox events of the workflow, oldest first."""
        events = self._outbox.get(workflow_name)
        if not events:
            return []
        if len(events) <= limit:
            return builtins.list(events.values())
        return builtins.list(itertools.islice(events.values(), max(limit, 0)))

    async def delete_outbox(self, event_id: str) -> None:
        """Forget a published outbox event; deleting an unknown id is a no-op."""
        workflow_name = self._outbox_owner.pop(event_id, None)
        if workflow_name is not None:
            del self._outbox[workflow_name][event_id]

    async def register(self, info: WorkflowInfo) -> None:
        """Record (or replace) a workflow's catalogue entry."""
        self._catalogue[info.name] = info

    async def workflows(self) -> builtins.list[WorkflowInfo]:
        """Catalogue entries, by name."""
        return [self._catalogue[name] for name in sorted(self._catalogue)]


def _utc(when: datetime) -> datetime:
    """`when` comparable with aware datetimes (naive ones are taken as UTC, as the SQL stores do)."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


_SORT_VALUES: dict[SortKey, Callable[[Record], Any]] = {
    SortKey.UPDATED: lambda r: _utc(r.updated_at),
    SortKey.STATUS: lambda r: r.status,
    SortKey.FOREIGN_ID: lambda r: r.foreign_id,
    SortKey.VERSION: lambda r: r.meta.version,
}
"""What each sort other than creation order compares (ties then go by creation order)."""


def _rank(item: tuple[Any, int, Record]) -> tuple[Any, int]:
    return item[0], item[1]
