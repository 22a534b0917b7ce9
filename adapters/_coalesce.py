"""Coalesced reads: concurrent lookups of single keys answered by one query for all of them.

A step consumer handles many events at once, and each starts with a `lookup(run_id)`; one round trip
per lookup costs more in the driver than in the database. `Coalesced` queues the keys asked for
while `in_flight` queries are running and asks for all of them in the next one, the read-side twin
of group commit. A key asked for twice in one batch is fetched once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalesced(Generic[K, V]):
    """`await get(key)`: the value `fetch_many` returns for `key` (or `None` when it returns none)."""

    def __init__(
        self,
        fetch_many: Callable[[Sequence[K]], Awaitable[dict[K, V]]],
        *,
        in_flight: int = 2,
        max_keys: int = 256,
    ) -> None:
        self._fetch_many = fetch_many
        self._in_flight = in_flight
        self._max_keys = max_keys
        self._queue: dict[K, list[asyncio.Future[V | None]]] = {}
        self._running: set[asyncio.Future[None]] = set()

    async def get(self, key: K) -> V | None:
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._queue.setdefault(key, []).append(future)
        self._start()
        return await future

    def _start(self) -> None:
        while self._queue and len(self._running) < self._in_flight:
            keys = list(self._queue)[: self._max_keys]
            task = asyncio.ensure_future(self._answer({key: self._queue.pop(key) for key in keys}))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Future[None]) -> None:
        self._running.discard(task)
        self._start()

    async def _answer(self, batch: dict[K, list[asyncio.Future[V | None]]]) -> None:
        try:
            values = await self._fetch_many(list(batch))
        except BaseException as exc:
            for futures in batch.values():
                for future in futures:
                    if future.done():
                        continue
                    if isinstance(exc, Exception):
                        future.set_exception(exc)
                    else:
                        future.cancel()
            if not isinstance(exc, Exception):
                raise
        else:
            for key, futures in batch.items():
                value = values.get(key)
                for future in futures:
                    if not future.done():
                        future.set_result(value)


def padded(keys: Sequence[K]) -> list[K]:
    """`keys` padded with its last key to a power of two, so a query with one marker per key comes
    in a handful of shapes (drivers cache one prepared statement per shape)."""
    size = 1
    while size < len(keys):
        size *= 2
    return [*keys, *[keys[-1]] * (size - len(keys))]
