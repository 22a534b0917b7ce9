"""`SimClock`: business time read off the simulator's virtual loop time, plus clock jumps."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta

SIM_EPOCH = datetime(2030, 1, 1, tzinfo=UTC)


class SimClock:
    """A `Clock` whose `now()` is `epoch + loop.time() + jumps`.

    Sleepers wait on loop timers, so virtual time skips straight to them; `jump()` moves business
    time forward without moving loop time (an NTP step) and wakes every sleeper now due.
    """

    def __init__(self, epoch: datetime = SIM_EPOCH) -> None:
        self._epoch = epoch
        self._offset = 0.0
        self._cached_at = -1.0
        self._cached = epoch
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        seconds = asyncio.get_running_loop().time() + self._offset
        if seconds != self._cached_at:  # many reads share one virtual instant: build it once
            self._cached_at = seconds
            self._cached = self._epoch + timedelta(seconds=seconds)
        return self._cached

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.now()).total_seconds()
        if delay <= 0:
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        entry = (when, next(self._seq), fut)
        heapq.heappush(self._sleepers, entry)
        timer = loop.call_later(delay, self._wake_due)
        try:
            await fut
        finally:
            timer.cancel()

    def jump(self, seconds: float) -> None:
        """Move business time forward by `seconds` and wake the sleepers now due."""
        self._offset += seconds
        self._wake_due()

    def _wake_due(self) -> None:
        now = self.now()
        while self._sleepers and (self._sleepers[0][0] <= now or self._sleepers[0][2].done()):
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)
