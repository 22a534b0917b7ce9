"""The PostgreSQL `EventStreamer`: an append-only event table and a committed cursor per receiver name.

Events get `BIGSERIAL` ids. A cursor is "the id of the last acked event", so ids of one topic must
become visible in increasing order: each append takes `pg_advisory_xact_lock` on the topic before
drawing its id, and the lock is released only after the commit is visible, so a reader never sees
id n+1 before id n. Each append also queues `pg_notify('wfkit_events', topic)`; every streamer
LISTENs on a dedicated connection, so a caught-up receiver in any process wakes on commit instead of
waiting for its poll (`poll_frequency`, default 1 s, is only the fallback for a lost notification).
`ack` advances the cursor with `GREATEST`, so acking an older event never moves it back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from wfkit._clock import Clock, SystemClock
from wfkit._record import Event
from wfkit.adapters._sqlstream import (
    CoalescedAcks,
    EventReceiver,
    EventSender,
    LocalWakeups,
    OneOffReceivers,
)

from ._db import Database, OnDatabase, database

CHANNEL = "wfkit_events"
DEFAULT_POLL_FREQUENCY = 1.0


_APPEND = (
    "WITH turn AS (SELECT pg_advisory_xact_lock(hashtextextended($6, 0))), "
    "appended AS (INSERT INTO wfkit_events (topic, key, type, headers, created_at) "
    "SELECT $1, $2, $3, $4, $5 FROM turn RETURNING id) "
    "SELECT pg_notify($7, $1), pg_notify($8, $9) FROM appended"
)


async def append_event(
    conn: Any,
    topic: str,
    key: str,
    type: int,
    headers: str,
    created_at: str,
    also_notify: tuple[str, str] = (CHANNEL, ""),
) -> None:
    """Append an event inside the caller's transaction (the sender's, or a store write's own).

    One round trip: the topic's advisory lock (held to the commit, so ids of one topic become
    visible in order), the insert drawn after it, the topic's NOTIFY and `also_notify` (a second
    channel and payload, such as the store's change feed).
    """
    channel, payload = also_notify
    await conn.execute(
        _APPEND,
        topic,
        key,
        type,
        headers,
        created_at,
        f"wfkit_events:{topic}",
        CHANNEL,
        channel,
        payload or topic,
    )


class EventStreamer(CoalescedAcks, LocalWakeups, OnDatabase, OneOffReceivers):
    """An `EventStreamer` in one PostgreSQL database; open it with `async with` (or `open()`/`close()`)."""

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
        self._acked: dict[tuple[str, str], int] = {}  # cursor positions not yet written
        self._flusher: asyncio.Future[None] | None = None

    async def open(self) -> None:
        await self._db.open()
        try:
            await self._db.listen(CHANNEL, self._wake, self._wake_all)
        except BaseException:
            await self._db.close()
            raise

    async def close(self) -> None:
        await self._written_acks()
        self._db.unlisten(CHANNEL, self._wake, self._wake_all)
        await self._db.close()

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
        ephemeral: bool = False,
    ) -> EventReceiver:
        """A receiver of `topic` resuming from the cursor of `name` (created on first open).

        `from_latest` starts a name without a cursor after the newest event committed now; an
        `ephemeral` receiver writes no cursor at all (`OneOffReceivers`).
        """
        if ephemeral:
            poll = self._poll_frequency if poll_frequency is None else poll_frequency
            return await self._one_off(topic, name, poll, from_latest)
        await self._written_acks()  # a name reopened here resumes after everything acked here
        start = "(SELECT COALESCE(MAX(id), 0) FROM wfkit_events WHERE topic = $1)" if from_latest else "0"
        async with self._db.transaction() as conn:
            await conn.execute(
                f"INSERT INTO wfkit_cursors (topic, name, position) VALUES ($1, $2, {start}) "
                "ON CONFLICT (topic, name) DO NOTHING",
                topic,
                name,
            )
            position = await conn.fetchval(
                "SELECT position FROM wfkit_cursors WHERE topic = $1 AND name = $2", topic, name
            )
        poll = self._poll_frequency if poll_frequency is None else poll_frequency
        return EventReceiver(self, topic, name, int(position), poll)

    async def _append(self, topic: str, key: str, type: int, headers: Mapping[str, str]) -> None:
        async with self._db.transaction() as conn:
            await append_event(
                conn, topic, key, type, json.dumps(dict(headers)), self._clock.now().isoformat()
            )
        self._wake(topic)

    async def _fetch_after(self, topic: str, position: int, limit: int) -> list[Event]:
        rows = await self._db.pool.fetch(
            "SELECT id, key, type, headers, created_at FROM wfkit_events "
            "WHERE topic = $1 AND id > $2 ORDER BY id LIMIT $3",
            topic,
            position,
            limit,
        )
        return [Event(r[0], r[1], r[2], json.loads(r[3]), datetime.fromisoformat(r[4])) for r in rows]

    async def _write_positions(self, rows: list[tuple[int, str, str]]) -> None:
        await self._db.pool.executemany(
            "UPDATE wfkit_cursors SET position = GREATEST(position, $1) WHERE topic = $2 AND name = $3",
            rows,
        )
