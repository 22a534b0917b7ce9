"""The MySQL `EventStreamer`: an append-only event table and a committed cursor per receiver name.

Events get `AUTO_INCREMENT` ids. A cursor is "the id of the last acked event", so ids of one topic
must become visible in increasing order: each append locks the topic's row in `wfkit_topics`
(`INSERT … ON DUPLICATE KEY UPDATE`) before drawing its id and holds it until commit, so a reader
never sees id n+1 before id n. MySQL has no NOTIFY: a caught-up receiver waits for a send made
through the same streamer object or the same `Database`'s store (woken at once), or
`poll_frequency` seconds (default 0.1) for other processes' sends. `ack` advances the cursor with
`GREATEST`, so acking an older event never moves it back; acks are coalesced (`CoalescedAcks`): one
transaction writes the newest position of every cursor acked while the previous one committed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import aiomysql

from wfkit._clock import Clock, SystemClock
from wfkit._errors import WfkitError
from wfkit._record import Event
from wfkit.adapters._sqlstream import (
    CoalescedAcks,
    EventReceiver,
    EventSender,
    LocalWakeups,
    OneOffReceivers,
)

from ._db import Database, OnDatabase, database, is_retryable

DEFAULT_POLL_FREQUENCY = 0.1
_ATTEMPTS = 5


async def append_events(conn: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    """Append events, each `(topic, key, type, headers, created_at)`, inside the caller's transaction
    (a sender's, or a batch of store writes): their topics' rows in `wfkit_topics` are locked in
    sorted order to the commit, so ids of one topic become visible in order and concurrent
    appenders never deadlock; ids are drawn in the order of `rows`.

    `INSERT … ON DUPLICATE KEY UPDATE` takes each row's exclusive lock whether it creates the row or
    finds it (InnoDB locks a duplicate it updates exclusively), so no `SELECT … FOR UPDATE` follows.
    """
    topics = sorted({row[0] for row in rows})
    await conn.execute(
        f"INSERT INTO wfkit_topics (topic) VALUES {', '.join(['(%s)'] * len(topics))} "
        "ON DUPLICATE KEY UPDATE topic = topic",
        topics,
    )
    await conn.execute(
        "INSERT INTO wfkit_events (topic, `key`, type, headers, created_at) VALUES "
        + ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows)),
        [value for row in rows for value in row],
    )


class EventStreamer(CoalescedAcks, LocalWakeups, OnDatabase, OneOffReceivers):
    """An `EventStreamer` in one MySQL/MariaDB database; open it with `async with`."""

    _write_errors = (WfkitError, OSError, aiomysql.MySQLError)

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

    async def close(self) -> None:
        await self._written_acks()
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
        encoded, created_at = json.dumps(dict(headers)), self._clock.now().isoformat()
        for attempt in range(_ATTEMPTS):
            try:
                async with self._db.transaction() as conn:
                    await append_events(conn, [(topic, key, type, encoded, created_at)])
                break
            except aiomysql.MySQLError as exc:
                if not is_retryable(exc) or attempt == _ATTEMPTS - 1:
                    raise
        self._wake(topic)

    async def _fetch_after(self, topic: str, position: int, limit: int) -> list[Event]:
        rows = await self._db.fetchall(
            "SELECT id, `key`, type, headers, created_at FROM wfkit_events "
            "WHERE topic = %s AND id > %s ORDER BY id LIMIT %s",
            (topic, position, limit),
        )
        return [Event(r[0], r[1], r[2], json.loads(r[3]), datetime.fromisoformat(r[4])) for r in rows]

    async def _write_positions(self, rows: list[tuple[int, str, str]]) -> None:
        async with self._db.transaction() as conn:
            for row in rows:
                await conn.execute(
                    "UPDATE wfkit_cursors SET position = GREATEST(position, %s) "
                    "WHERE topic = %s AND name = %s",
                    row,
                )
