"""The dedicated LISTEN connection of a PostgreSQL `Database`, re-opened whenever it drops.

NOTIFY wakes receivers, relays and timeout pollers in every process at once; without a live LISTEN
they fall back to their safety polls (up to 30 s for a relay). So a keeper task watches the
connection (asyncpg's termination callback, plus a ping every `PING` seconds for connections that
die silently), and when it is gone reconnects with backoff, LISTENs on every channel again and
calls each subscriber's `resync`, since notifications sent while it was away are lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

PING = 10.0
"""Seconds between pings of an idle LISTEN connection."""
RETRY_FIRST, RETRY_MAX = 0.05, 2.0
"""Reconnect backoff: the first delay, doubling up to the maximum."""

Callback = Callable[[str], None]
Resync = Callable[[], None]
_log = logging.getLogger("wfkit")


class Listener:
    """LISTEN on channels over one connection made by `connect()`, kept open for the owner's life."""

    def __init__(self, connect: Callable[[], Awaitable[Any]], where: str) -> None:
        self._connect = connect
        self._where = where
        self._conn: Any = None
        self._channels: dict[str, list[Callback]] = {}
        self._resyncs: list[Resync] = []
        self._lock = asyncio.Lock()  # one operation at a time on the connection
        self._keeper: asyncio.Task[None] | None = None
        self.reconnects = 0
        """How many times the connection was re-opened (for tests and logs)."""

    @property
    def started(self) -> bool:
        return self._keeper is not None

    async def start(self) -> None:
        """Connect now (so an unreachable server fails the caller) and start the keeper."""
        self._conn = await self._connect()
        self._keeper = asyncio.ensure_future(self._keep())

    async def add(self, channel: str, callback: Callback, resync: Resync | None = None) -> None:
        """Call `callback(payload)` for each NOTIFY on `channel`, `resync()` after each reconnect."""
        if resync is not None:
            self._resyncs.append(resync)
        callbacks = self._channels.get(channel)
        if callbacks is None:
            callbacks = self._channels[channel] = []
            async with self._lock:
                if self._conn is not None and not self._conn.is_closed():
                    await self._conn.add_listener(channel, self._dispatch)
                # else: the keeper is reconnecting and LISTENs on every channel once connected
        callbacks.append(callback)

    def remove(self, channel: str, callback: Callback, resync: Resync | None = None) -> None:
        """Stop calling `callback` (and `resync`); the LISTEN itself stays until `close`."""
        callbacks = self._channels.get(channel)
        if callbacks is not None and callback in callbacks:
            callbacks.remove(callback)
        if resync is not None and resync in self._resyncs:
            self._resyncs.remove(resync)

    async def close(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        conn, self._conn = self._conn, None
        self._channels.clear()
        self._resyncs.clear()
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)
            conn.terminate()

    def _dispatch(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        for callback in tuple(self._channels.get(channel, ())):
            callback(payload)

    async def _keep(self) -> None:
        while True:
            await self._until_lost(self._conn)
            self._conn.terminate()
            _log.warning("the LISTEN connection to PostgreSQL at %s dropped: re-opening it", self._where)
            await self._reopen()
            self.reconnects += 1
            _log.info("the LISTEN connection to PostgreSQL at %s is open again", self._where)
            for resync in tuple(self._resyncs):
                resync()  # wake everyone: what was notified meanwhile is lost

    async def _until_lost(self, conn: Any) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        while not lost.is_set() and not conn.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), PING)
                return
            try:
                async with self._lock, asyncio.timeout(PING):
                    await conn.execute("SELECT 1")
            except Exception:
                return

    async def _reopen(self) -> None:
        delay = RETRY_FIRST
        while True:
            conn: Any = None
            try:
                conn = await self._connect()
                async with self._lock:
                    for channel in self._channels:
                        await conn.add_listener(channel, self._dispatch)
                    self._conn = conn
                return
            except Exception as exc:  # down, starting up, refusing: try again
                if conn is not None:
                    conn.terminate()
                _log.debug("re-opening LISTEN at %s failed (%s); retrying in %.2f s", self._where, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
