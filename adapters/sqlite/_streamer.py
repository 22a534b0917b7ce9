"""The SQLite `EventStreamer`: an append-only event table and a committed cursor per receiver name.

Events get AUTOINCREMENT ids; SQLite has one writer at a time, so ids are committed in increasing
order and a cursor ("the id of the last acked event") never skips one. A receiver reads forward
from its own position in batches; when caught up it waits for a send made through the same
streamer object (woken at once) or `poll_frequency` seconds (default 0.05) for other processes'
sends. `ack` advances the cursor with `MAX`, so acking an older event never moves it back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from wfkit._clock import Clock, SystemClock
from wfkit._record import Event
from wfkit.adapters.memory._streamer import ClosedError

from ._db import Database, OnDatabase

DEFAULT_POLL_FREQUENCY = 0.05
_BATCH = 100


class EventStreamer(OnDatabase):
    """An `EventStreamer` in one SQLite file; open it with `async with` (or `open()`/`close()`)."""

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Clock | None = None,
        poll_frequency: float = DEFAULT_POLL_FREQUENCY,
        busy_timeout: float = 5.0,
        synchronous: str = "FULL",
    ) -> None:
        self._db = Database(path, busy_timeout=busy_timeout, synchronous=synchronous)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._poll_frequency = poll_frequency
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}

    async def sender(self, topic: str) -> EventSender:
        """A sender that appends to `topic`."""
        return EventSender(self, topic)

    async def receiver(
        self,
        topic: str,
        name: str,
        *,
        poll_frequency: float | None = None,
        from_latest: bool = False,
    ) -> EventReceiver:
        """A receiver of `topic` resuming from the cursor of `name` (created on first open).

        `from_latest` starts a name without a cursor after the newest event committed now.
        """
        async with self._db.transaction() as conn:
            start = "(SELECT COALESCE(MAX(id), 0) FROM wfkit_events WHERE topic = ?)" if from_latest else "?"
            await conn.execute(
                f"INSERT INTO wfkit_cursors (topic, name, position) VALUES (?, ?, {start}) "
                "ON CONFLICT (topic, name) DO NOTHING",
                (topic, name, topic if from_latest else 0),
            )
            rows = await conn.execute_fetchall(
                "SELECT position FROM wfkit_cursors WHERE topic = ? AND name = ?", (topic, name)
            )
        position = int(next(iter(rows))[0])
        poll = self._poll_frequency if poll_frequency is None else poll_frequency
        return EventReceiver(self, topic, name, position, poll)

    async def _append(self, topic: str, key: str, type: int, headers: Mapping[str, str]) -> None:
        await self._db.execute(
            "INSERT INTO wfkit_events (topic, key, type, headers, created_at) VALUES (?, ?, ?, ?, ?)",
            (topic, key, type, json.dumps(dict(headers)), self._clock.now().isoformat()),
        )
        waiters = self._waiters.pop(topic, None)
        for fut in waiters or ():
            if not fut.done():
                fut.set_result(None)

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


class EventSender:
    """Sends to one topic of a SQLite `EventStreamer`: each send is one committed row."""

    __slots__ = ("_closed", "_streamer", "_topic")

    def __init__(self, streamer: EventStreamer, topic: str) -> None:
        self._streamer = streamer
        self._topic = topic
        self._closed = False

    async def send(self, key: str, type: int, headers: Mapping[str, str]) -> None:
        """Append an event durably; receivers of this streamer object waiting on the topic wake."""
        if self._closed:
            raise ClosedError(f"sender of topic {self._topic!r}")
        await self._streamer._append(self._topic, key, type, headers)

    async def close(self) -> None:
        self._closed = True


class EventReceiver:
    """Reads one topic under a name: delivers from its own position, commits on `ack`."""

    def __init__(self, streamer: EventStreamer, topic: str, name: str, position: int, poll: float) -> None:
        self._streamer = streamer
        self._topic = topic
        self._name = name
        self._pos = position  # id of the last event delivered (or acked before this receiver)
        self._poll = poll
        self._buffer: list[Event] = []
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"receiver {self._name!r} of topic {self._topic!r}")

    async def recv(self) -> Event:
        """The next event after the last one delivered; waits when caught up."""
        streamer, topic = self._streamer, self._topic
        while True:
            self._check_open()
            if self._buffer:
                event = self._buffer.pop(0)
                self._pos = event.id
                return event
            fut = streamer._wait_for_send(topic)  # before reading, so no send is missed
            try:
                rows = await streamer._db.fetchall(
                    "SELECT id, key, type, headers, created_at FROM wfkit_events "
                    "WHERE topic = ? AND id > ? ORDER BY id LIMIT ?",
                    (topic, self._pos, _BATCH),
                )
                if rows:
                    self._buffer = [
                        Event(r[0], r[1], r[2], json.loads(r[3]), datetime.fromisoformat(r[4])) for r in rows
                    ]
                    continue
                await asyncio.wait((fut,), timeout=self._poll)
            finally:
                streamer._forget_waiter(topic, fut)

    async def ack(self, event: Event) -> None:
        """Commit this name's cursor past `event`; acking an older event never moves it back."""
        self._check_open()
        await self._streamer._db.execute(
            "UPDATE wfkit_cursors SET position = MAX(position, ?) WHERE topic = ? AND name = ?",
            (event.id, self._topic, self._name),
        )

    async def close(self) -> None:
        """Stop this receiver; un-acked events go to the next receiver opened with the same name."""
        self._closed = True
        self._buffer.clear()
