"""`SimClock`: business time read off the simulator's virtual loop time, plus clock jumps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from wfkit.testing._simloop import SimLoop

SIM_EPOCH = datetime(2030, 1, 1, tzinfo=UTC)


class SimClock:
    """A `Clock` whose `now()` is `epoch + loop.time() + jumps`.

    Sleepers wait on loop timers, so virtual time skips straight to them; `jump()` moves business
    time forward without moving loop time (an NTP step) and wakes every sleeper now due.
    `call_at(when, callback)` is the callback form of `sleep_until` (no task, no future): the
    engine's timeout pollers use it for their alarms when a clock offers it. A sleeper not yet due
    at a jump still wakes at the loop time it was set for (late in business time, never early).

    A clock given its `SimLoop` reads that loop's time without asking which loop is running
    (`asyncio.get_running_loop()` makes a `getpid()` system call each time, and the engine reads
    the clock several times per step); it must then only be used on that loop. A clock made with
    `jumps=False` never jumps (`jump()` raises), so it keeps no book of the alarms a jump would ring.
    """

    def __init__(
        self,
        epoch: datetime = SIM_EPOCH,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        jumps: bool = True,
    ) -> None:
        self._loop = loop if isinstance(loop, SimLoop) else None  # another loop: asked for each time
        self._jumps = jumps
        self._epoch = epoch
        self._offset = 0.0
        self._cached_at = -1.0
        self._cached = epoch
        # call_at's timers (pending or not, pruned now and then) by id, in the order they were set
        self._alarms: dict[int, tuple[asyncio.TimerHandle, datetime, Callable[[], object]]] = {}
        self._prune_at = 64

    def now(self) -> datetime:
        loop = self._loop
        if loop is None:
            running = asyncio.get_running_loop()
            # The simulator's loop keeps its virtual time in an attribute: read it without a call.
            seconds = (running._virtual_time if type(running) is SimLoop else running.time()) + self._offset
        else:
            seconds = loop._virtual_time + self._offset
        if seconds != self._cached_at:  # many reads share one virtual instant: build it once
            self._cached_at = seconds
            self._cached = self._epoch + timedelta(0, seconds)  # positional: a third cheaper
        return self._cached

    async def sleep_until(self, when: datetime) -> None:
        if when <= self.now():
            return
        fut: asyncio.Future[None] = (self._loop or asyncio.get_running_loop()).create_future()

        def ring() -> None:
            if not fut.done():
                fut.set_result(None)

        alarm = self.call_at(when, ring)
        try:
            await fut
        finally:
            alarm.cancel()

    def call_at(self, when: datetime, callback: Callable[[], object]) -> asyncio.TimerHandle:
        """Call `callback()` once business time reaches `when` (on the next turn if it has).

        It is a loop timer (`cancel()` it to forget the call) at the loop time business time
        reaches `when`; a clock jump past `when` makes the call during the jump instead.
        """
        loop = self._loop or asyncio.get_running_loop()
        # The loop time at which business time (epoch + loop time + offset) reaches `when`.
        timer = loop.call_at((when - self._epoch).total_seconds() - self._offset, callback)
        if not self._jumps:
            return timer
        alarms = self._alarms
        if len(alarms) >= self._prune_at:  # forget alarms that rang or were cancelled
            for key in [k for k, (t, _, _) in alarms.items() if not _pending(t)]:
                del alarms[key]
            self._prune_at = max(64, 2 * len(alarms))
        alarms[id(timer)] = (timer, when, callback)  # by identity: equal timers (same time, callback) differ
        return timer

    def jump(self, seconds: float) -> None:
        """Move business time forward by `seconds` and wake the sleepers now due."""
        if not self._jumps:
            raise RuntimeError("this SimClock was made with jumps=False: make it with jumps=True to jump it")
        self._offset += seconds
        now = self.now()
        alarms = self._alarms
        due = [  # in the order they were set (a stable sort keeps it for equal times)
            (when, key) for key, (timer, when, _) in alarms.items() if when <= now and _pending(timer)
        ]
        due.sort(key=_first)
        for _, key in due:
            timer, _, callback = alarms.pop(key)
            if not timer.cancelled():  # an earlier callback may have cancelled it
                timer.cancel()
                callback()


def _first(item: tuple[datetime, int]) -> datetime:
    return item[0]


def _pending(timer: asyncio.TimerHandle) -> bool:
    """Neither cancelled nor rung (asyncio's timers say; a loop's own timer type may not)."""
    return not timer.cancelled() and getattr(timer, "_scheduled", True) is not False
