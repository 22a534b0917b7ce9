"""What the SQL event streamers share: senders, receivers and in-process wake-ups.

Each dialect's `EventStreamer` keeps events in a table with a cursor per receiver name and says
how to append (`_append`), read past a position (`_fetch_after`) and move a cursor forward
(`_advance_cursor`); everything else about delivery lives here once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

from wfkit._errors import WfkitError
from wfkit._record import Event
from wfkit.adapters.memory._streamer import ClosedError

BATCH = 100
"""Events a receiver reads per query."""


class LocalWakeups:
    """Futures of receivers waiting on a topic, resolved by a send (or a NOTIFY) for that topic."""

    _waiters: dict[str, set[asyncio.Future[None]]]

    def _wake(self, topic: str) -> None:
        waiters = self._waiters.pop(topic, None)
        for fut in waiters or ():
            if not fut.done():
                fut.set_result(None)

    def _wake_all(self) -> None:
        """Wake every waiting receiver (sends may have gone unnoticed, e.g. while a LISTEN was down)."""
        for topic in tuple(self._waiters):
            self._wake(topic)

    def _wait_for_send(self, topic: str) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(topic, set()).add(fut)
        return fut

    def _forget_waiter(self, topic: str, fut: asyncio.Future[None]) -> None:
        waiters = self._waiters.get(topic)
        if waiters is not None:
            waiters.discard(fut)
            if not waiters:
                del self._waiters[topic]


class OneOffReceivers:
    """`receiver(..., ephemeral=True)` for the SQL streamers: a one-off wait (such as `await_status`)
    keeps its position in memory and writes no cursor row, so one-off names never pile up in
    `wfkit_cursors`; durable names (consumers) keep their rows across reopens."""

    ephemeral_receivers = True
    """The engine asks for this before passing `ephemeral`."""

    async def _one_off(
        self: _ReadableTable, topic: str, name: str, poll: float, from_latest: bool
    ) -> EventReceiver:
        position = 0
        if from_latest:
            rows = await self._fetch(
                "SELECT COALESCE(MAX(id), 0) FROM wfkit_events WHERE topic = ?", (topic,)
            )
            position = int(rows[0][0])
        return EventReceiver(self, topic, name, position, poll, durable=False)


class CoalescedAcks:
    """`_advance_cursor` for a streamer whose cursor writes are each a commit of their own.

    Acks are coalesced: the newest position of each cursor is written by one background flush
    while the previous one is in flight (one round trip for many events, however busy). Acking is
    at-least-once anyway: a position lost to a crash only redelivers. The dialect says how to
    write positions (`_write_positions`); `_written_acks` waits for what was acked so far.
    """

    _acked: dict[tuple[str, str], int]
    _flusher: asyncio.Future[None] | None
    _write_errors: tuple[type[Exception], ...] = (WfkitError, OSError)
    """The errors that mean "not written" (a dialect adds its driver's)."""

    async def _write_positions(self, rows: list[tuple[int, str, str]]) -> None:
        """Move each `(position, topic, name)` cursor forward to its position (never back)."""
        raise NotImplementedError

    async def _advance_cursor(self, topic: str, name: str, event_id: int) -> None:
        key = (topic, name)
        self._acked[key] = max(self._acked.get(key, 0), event_id)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush_cursors())

    async def _written_acks(self) -> None:
        """Wait until every ack made so far is written (at most two flushes, however busy)."""
        for _ in range(2):
            if self._flusher is not None:
                await asyncio.gather(self._flusher, return_exceptions=True)
            if not self._acked:
                return
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.ensure_future(self._flush_cursors())

    async def _flush_cursors(self) -> None:
        """Write the newest acked position of each cursor; acks made meanwhile start the next flush."""
        try:
            if self._acked:
                batch, self._acked = self._acked, {}
                rows = sorted((position, topic, name) for (topic, name), position in batch.items())
                try:
                    await self._write_positions(rows)
                except self._write_errors:
                    return  # the database is away: the cursors stay behind, events are redelivered
        finally:
            if self._acked:
                self._flusher = asyncio.ensure_future(self._flush_cursors())


class EventTable(Protocol):
    """What `EventSender` and `EventReceiver` need from a dialect's streamer."""

    async def _append(self, topic: str, key: str, type: int, headers: Mapping[str, str]) -> None: ...

    async def _fetch_after(self, topic: str, position: int, limit: int) -> list[Event]: ...

    async def _advance_cursor(self, topic: str, name: str, event_id: int) -> None: ...

    def _wait_for_send(self, topic: str) -> asyncio.Future[None]: ...

    def _forget_waiter(self, topic: str, fut: asyncio.Future[None]) -> None: ...


class _ReadableTable(EventTable, Protocol):
    """A streamer that can also run a read (its `OnDatabase`): what `OneOffReceivers` needs."""

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]: ...


class EventSender:
    """Sends to one topic of a SQL `EventStreamer`: each send is one committed row."""

    __slots__ = ("_closed", "_streamer", "_topic")

    def __init__(self, streamer: EventTable, topic: str) -> None:
        self._streamer = streamer
        self._topic = topic
        self._closed = False

    async def send(self, key: str, type: int, headers: Mapping[str, str]) -> None:
        """Append an event durably; waiting receivers wake (in other processes too where the
        database can notify, else at their next poll)."""
        if self._closed:
            raise ClosedError(f"sender of topic {self._topic!r}")
        await self._streamer._append(self._topic, key, type, headers)

    async def close(self) -> None:
        self._closed = True


class EventReceiver:
    """Reads one topic under a name: delivers from its own position, commits on `ack`."""

    def __init__(
        self, streamer: EventTable, topic: str, name: str, position: int, poll: float, *, durable: bool = True
    ) -> None:
        self._streamer = streamer
        self._topic = topic
        self._name = name
        self._pos = position  # id of the last event delivered (or acked before this receiver)
        self._poll = poll
        self._durable = durable  # False: a one-off wait whose position is never written
        self._buffer: list[Event] = []
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"receiver {self._name!r} of topic {self._topic!r}")

    async def recv(self) -> Event:
        """The next event after the last one delivered; waits (for a wake-up or a poll) when caught up."""
        streamer, topic = self._streamer, self._topic
        while True:
            self._check_open()
            event = self.recv_nowait()
            if event is not None:
                return event
            fut = streamer._wait_for_send(topic)  # before reading, so no wake-up is missed
            try:
                self._buffer = await streamer._fetch_after(topic, self._pos, BATCH)
                if self._buffer:
                    continue
                await asyncio.wait((fut,), timeout=self._poll)
            finally:
                streamer._forget_waiter(topic, fut)

    def recv_nowait(self) -> Event | None:
        """The next event if one is already read, without waiting (`recv` reads more)."""
        if self._buffer and not self._closed:
            event = self._buffer.pop(0)
            self._pos = event.id
            return event
        return None

    async def ack(self, event: Event) -> None:
        """Commit this name's cursor past `event`; acking an older event never moves it back."""
        self._check_open()
        if self._durable:
            await self._streamer._advance_cursor(self._topic, self._name, event.id)

    async def close(self) -> None:
        """Stop this receiver; un-acked events go to the next receiver opened with the same name."""
        self._closed = True
        self._buffer.clear()
