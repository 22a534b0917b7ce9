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
from wfkit.adapters._sqlstream import EventReceiver, EventSender, LocalWakeups

from ._db import Database, OnDatabase

DEFAULT_POLL_FREQUENCY = 0.05


class EventStreamer(LocalWakeups, OnDatabase):
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
        self._wake(topic)

    async def _fetch_after(self, topic: str, position: int, limit: int) -> list[Event]:
        rows = await self._db.fetchall(
            "SELECT id, key, type, headers, created_at FROM wfkit_events "
            "WHERE topic = ? AND id > ? ORDER BY id LIMIT ?",
            (topic, position, limit),
        )
        return [Event(r[0], r[1], r[2], json.loads(r[3]), datetime.fromisoformat(r[4])) for r in rows]

    async def _advance_cursor(self, topic: str, name: str, event_id: int) -> None:
        await self._db.execute(
            "UPDATE wfkit_cursors SET position = MAX(position, ?) WHERE topic = ? AND name = ?",
            (event_id, topic, name),
        )
