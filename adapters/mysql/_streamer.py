"""The MySQL `EventStreamer`: an append-only event table and a committed cursor per receiver name.

Events get `AUTO_INCREMENT` ids. A cursor is "the id of the last acked event", so ids of one topic
must become visible in increasing order: each append locks the topic's row in `wfkit_topics`
(`SELECT … FOR UPDATE`) before drawing its id and holds it until commit, so a reader never sees id
n+1 before id n. MySQL has no NOTIFY: a caught-up receiver waits for a send made through the same
streamer object (woken at once) or `poll_frequency` seconds (default 0.1) for other processes'
sends. `ack` advances the cursor with `GREATEST`, so acking an older event never moves it back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import aiomysql

from wfkit._clock import Clock, SystemClock
from wfkit._record import Event
from wfkit.adapters.memory._streamer import ClosedError

from ._db import Database, OnDatabase, database, is_retryable

DEFAULT_POLL_FREQUENCY = 0.1
_BATCH = 100
_ATTEMPTS = 5


class EventStreamer(OnDatabase):
    """An `EventStreamer` in one MySQL/MariaDB database; open it with `async with`."""

    def __init__(
        self,
        url_or_db: str | Database,
        *,
        clock: Clock | None = None,
        poll_frequency: float = DEFAULT_POLL_FREQUENCY,
        **options: Any,
    ) -> None:
        self._db = database(url_or_db, **options)
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
        start = "(SELECT COALESCE(MAX(id), 0) FROM wfkit_events WHERE topic = %s)" if from_latest else "%s"
        async with self._db.transaction() as conn:
            await conn.execute(
                f"INSERT INTO wfkit_cursors (topic, name, position) SELECT %s, %s, {start} "
                "ON DUPLICATE KEY UPDATE position = position",
                (topic, name, topic if from_latest else 0),
            )
            position = await conn.fetchval(
                "SELECT position FROM wfkit_cursors WHERE topic = %s AND name = %s", (topic, name)
            )
        poll = self._poll_frequency if poll_frequency is None else poll_frequency
        return EventReceiver(self, topic, name, int(position), poll)

    async def _append(self, topic: str, key: str, type: int, headers: Mapping[str, str]) -> None:
        row = (topic, key, type, json.dumps(dict(headers)), self._clock.now().isoformat())
        for attempt in range(_ATTEMPTS):
            try:
                async with self._db.transaction() as conn:
                    await conn.execute(
                        "INSERT INTO wfkit_topics (topic) VALUES (%s) ON DUPLICATE KEY UPDATE topic = topic",
                        (topic,),
                    )
                    await conn.execute("SELECT topic FROM wfkit_topics WHERE topic = %s FOR UPDATE", (topic,))
                    await conn.execute(
                        "INSERT INTO wfkit_events (topic, `key`, type, headers, created_at) "
                        "VALUES (%s, %s, %s, %s, %s)",
                        row,
                    )
                break
            except aiomysql.MySQLError as exc:
                if not is_retryable(exc) or attempt == _ATTEMPTS - 1:
                    raise
        self._wake(topic)

    def _wake(self, topic: str) -> None:
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
    """Sends to one topic of a MySQL `EventStreamer`: each send is one committed row."""

    __slots__ = ("_closed", "_streamer", "_topic")

    def __init__(self, streamer: EventStreamer, topic: str) -> None:
        self._streamer = streamer
        self._topic = topic
        self._closed = False

    async def send(self, key: str, type: int, headers: Mapping[str, str]) -> None:
        """Append an event durably; receivers of this streamer wake at once, others at their poll."""
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
        """The next event after the last one delivered; waits (for a local send or a poll) when caught up."""
        streamer, topic = self._streamer, self._topic
        while True:
            self._check_open()
            if self._buffer:
                event = self._buffer.pop(0)
                self._pos = event.id
                return event
            fut = streamer._wait_for_send(topic)  # before reading, so no local send is missed
            try:
                rows = await streamer._db.fetchall(
                    "SELECT id, `key`, type, headers, created_at FROM wfkit_events "
                    "WHERE topic = %s AND id > %s ORDER BY id LIMIT %s",
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
            "UPDATE wfkit_cursors SET position = GREATEST(position, %s) WHERE topic = %s AND name = %s",
            (event.id, self._topic, self._name),
        )

    async def close(self) -> None:
        """Stop this receiver; un-acked events go to the next receiver opened with the same name."""
        self._closed = True
        self._buffer.clear()
