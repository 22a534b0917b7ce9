"""`FakeClock`: business time that moves only when a test says so."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta


class FakeClock:
    """A `Clock` for tests: `step()` and `set()` move time and wake every sleeper now due.

    Sleepers wake in deadline order. Moving time never waits: the woken tasks run at the caller's
    next await.
    """

    def __init__(self, now: datetime | None = None) -> None:
        self._now = now if now is not None else datetime(2024, 1, 1, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._now

    def step(self, delta: timedelta | float) -> datetime:
        """Move time forward by `delta` (a timedelta or seconds)."""
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        if delta < timedelta(0):
            raise ValueError(f"FakeClock.step needs a positive delta, got {delta}; use set() to go back")
        return self.set(self._now + delta)

    def set(self, when: datetime) -> datetime:
        """Jump to `when` (forward or back) and wake every sleeper due by then."""
        self._now = when
        while self._sleepers and self._sleepers[0][0] <= when:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)
        return when

    async def sleep_until(self, when: datetime) -> None:
        if when <= self._now:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._seq), fut))
        await fut

    @property
    def next_deadline(self) -> datetime | None:
        """The earliest time a sleeper waits for, if any."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None
