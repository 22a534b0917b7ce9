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
import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from wfkit._clock import Clock, SystemClock
from wfkit._record import Event
from wfkit.adapters._feed import Subscribers
from wfkit.adapters._sqlstream import EventReceiver, EventSender, LocalWakeups, OneOffReceivers

from ._db import Database, OnDatabase, database
from ._watch import ForeignCommits

DEFAULT_POLL_FREQUENCY = 0.05


def insert_event(conn: sqlite3.Connection, row: tuple[str, str, int, str, str]) -> None:
    """Append `(topic, key, type, headers JSON, created_at ISO)` (the sender's and the store's way)."""
    conn.execute(
        "INSERT INTO wfkit_events (topic, key, type, headers, created_at) VALUES (?, ?, ?, ?, ?)", row
    )


def _retrieved(done: asyncio.Future[Any]) -> None:
    """Mark a fire-and-forget write's outcome as seen (its failure only delays a cursor)."""
    if not done.cancelled():
        done.exception()


class EventStreamer(LocalWakeups, OnDatabase, OneOffReceivers):
    """An `EventStreamer` in one SQLite file; open it with `async with` (or `open()`/`close()`)."""

    def __init__(
        self,
        path: str | Path | Database,
        *,
        clock: Clock | None = None,
        poll_frequency: float = DEFAULT_POLL_FREQUENCY,
        busy_timeout: float = 5.0,
        synchronous: str = "FULL",
    ) -> None:
        self._db = database(path, busy_timeout=busy_timeout, synchronous=synchronous)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._poll_frequency = poll_frequency
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._foreign = ForeignCommits(self._db, Subscribers(), every=poll_frequency)
        self._unwatch: Callable[[], None] | None = None
        self._acked: dict[tuple[str, str], int] = {}  # cursor positions not yet submitted
        self._cursor_write: asyncio.Future[Any] | None = None

    async def open(self) -> None:
        """Open the file, and watch it for other processes' commits: each one wakes every waiting
        receiver at once (one `PRAGMA data_version` per `poll_frequency`, however many receivers
        wait, and whatever poll they were opened with)."""
        await self._db.open()
        if self._unwatch is None:
            self._unwatch = self._foreign.subscribe("events", self._wake_all)

    async def close(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        if self._acked:
            self._write_cursors()  # the last positions, committed before the database closes
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
        start = "(SELECT COALESCE(MAX(id), 0) FROM wfkit_events WHERE topic = ?)" if from_latest else "?"

        def open_cursor(conn: sqlite3.Connection) -> int:
            conn.execute(
                f"INSERT INTO wfkit_cursors (topic, name, position) VALUES (?, ?, {start}) "
                "ON CONFLICT (topic, name) DO NOTHING",
                (topic, name, topic if from_latest else 0),
            )
            row = conn.execute(
                "SELECT position FROM wfkit_cursors WHERE topic = ? AND name = ?", (topic, name)
            ).fetchone()
            return int(row[0])

        if self._acked:
            self._write_cursors()  # before the cursor is read: a name reopened here resumes after them
        position = await self._db.write(open_cursor)
        poll = self._poll_frequency if poll_frequency is None else poll_frequency
        return EventReceiver(self, topic, name, position, poll)

    async def _append(self, topic: str, key: str, type: int, headers: Mapping[str, str]) -> None:
        row = (topic, key, type, json.dumps(dict(headers)), self._clock.now().isoformat())
        await self._db.write(lambda conn: insert_event(conn, row))
        self._wake(topic)

    async def _fetch_after(self, topic: str, position: int, limit: int) -> list[Event]:
        rows = await self._db.fetchall(
            "SELECT id, key, type, headers, created_at FROM wfkit_events "
            "WHERE topic = ? AND id > ? ORDER BY id LIMIT ?",
            (topic, position, limit),
        )
        return [Event(r[0], r[1], r[2], json.loads(r[3]), datetime.fromisoformat(r[4])) for r in rows]

    async def _advance_cursor(self, topic: str, name: str, event_id: int) -> None:
        # Not awaited, and coalesced: the newest position of each cursor rides the next commit,
        # one UPDATE per cursor however many events were acked while the previous one committed.
        # Acking is at-least-once anyway (a cursor lost to a crash only redelivers), and waiting
        # for an fsync per event would halve a consumer's pace.
        key = (topic, name)
        self._acked[key] = max(self._acked.get(key, 0), event_id)
        if self._cursor_write is None:
            self._write_cursors()

    def _write_cursors(self) -> None:
        """Submit the acked positions (writes commit in order: a receiver opened after sees them)."""
        rows = [(position, topic, name) for (topic, name), position in self._acked.items()]
        self._acked = {}
        try:
            written = self._db.submit(
                lambda conn: conn.executemany(
                    "UPDATE wfkit_cursors SET position = MAX(position, ?) WHERE topic = ? AND name = ?", rows
                )
            )
        except RuntimeError:  # the database is closed already: those events will be redelivered
            return
        self._cursor_write = written
        written.add_done_callback(self._cursors_written)

    def _cursors_written(self, written: asyncio.Future[Any]) -> None:
        _retrieved(written)
        if self._cursor_write is written:
            self._cursor_write = None
            if self._acked and self._unwatch is not None:  # still open: the next round
                self._write_cursors()
