"""A deterministic asyncio event loop: virtual time and a seeded choice among ready callbacks.

Time only moves when every task is idle: the selector, asked to wait, advances the virtual clock
to the next timer instead of sleeping. Every callback made ready (a task step, a future's
callback) is inserted at a position of the ready queue drawn from a seeded RNG, so different
seeds explore different interleavings and one seed always replays the same one. No threads.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import gc
import heapq
import random
import selectors
from asyncio import base_events, events, format_helpers
from collections.abc import Callable, Mapping
from contextvars import Context
from typing import Any, TypeVarTuple, Unpack, cast

from wfkit import WfkitError

# BaseEventLoop's constants for its timer heap and idle waits (asyncio.base_events).
_MIN_SCHEDULED = base_events._MIN_SCHEDULED_TIMER_HANDLES  # type: ignore[attr-defined]
_MIN_CANCELLED_FRACTION = base_events._MIN_CANCELLED_TIMER_HANDLES_FRACTION  # type: ignore[attr-defined]
_MAX_SELECT_TIMEOUT = base_events.MAXIMUM_SELECT_TIMEOUT  # type: ignore[attr-defined]
_Ts = TypeVarTuple("_Ts")
_new_object = object.__new__


class Deadlock(WfkitError):
    """Nothing can ever run again: no ready callback, no timer, no I/O, yet the main task waits."""

    def __init__(self, pending: list[str]) -> None:
        self.pending = pending
        listed = "; ".join(pending[:10]) or "none"
        super().__init__(
            f"simulation deadlocked: every task waits on something that never happens ({listed})"
        )


class _VirtualSelector(selectors.BaseSelector):
    """A selector that never blocks: an idle wait advances the loop's virtual clock instead."""

    def __init__(self, loop: SimLoop) -> None:
        self._loop = loop
        self._inner = selectors.DefaultSelector()
        self._watched = 0  # registered files besides the loop's self-pipe
        self.woken = False  # the self-pipe was written to (call_soon_threadsafe, a signal)

    def nothing_to_watch(self) -> bool:
        """Only the self-pipe is registered, nothing was written to it and no signal handler could
        write to it: there is no I/O to look for."""
        return self._watched <= 0 and not self.woken and not getattr(self._loop, "_signal_handlers", None)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout == 0:
            return []  # callbacks are ready: real I/O (there is none in a simulation) waits for idle
        if not self.nothing_to_watch():  # else the syscall is skipped
            self.woken = False
            ready = self._inner.select(0)
            if ready:
                return ready
        if timeout is None:
            raise Deadlock(self._loop.pending_tasks())
        self._loop.advance(timeout)
        return []

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = self._inner.register(fileobj, events, data)
        self._watched = len(self._inner.get_map()) - 1
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        key = self._inner.unregister(fileobj)
        self._watched = len(self._inner.get_map()) - 1
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def close(self) -> None:
        self._inner.close()

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()


class _TimerHandle(events.TimerHandle):
    """`asyncio.TimerHandle` with a cheaper comparison; `SimLoop.call_at` builds it slot by slot."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        # The timer heap's comparison, without TimerHandle's isinstance check: it holds only timers.
        return self._when < other._when  # type: ignore[attr-defined,no-any-return]


class SimLoop(asyncio.SelectorEventLoop):
    """An event loop whose `time()` is virtual and whose ready queue is shuffled by a seed."""

    # BaseEventLoop's private state that the hot paths below use (annotations only).
    _ready: collections.deque[events.Handle]
    _scheduled: list[events.TimerHandle]
    _timer_cancelled_count: int
    _stopping: bool
    _closed: bool
    _debug: bool
    _clock_resolution: float
    _selector: _VirtualSelector

    def __init__(self, seed: int, *, start: float = 0.0) -> None:
        self._virtual_time = start
        self._sched_random = random.Random(seed).random
        super().__init__(selector=_VirtualSelector(self))
        self.on_advance: Callable[[float, float], None] | None = None

    def time(self) -> float:
        return self._virtual_time

    def _write_to_self(self) -> None:
        self._selector.woken = True
        super()._write_to_self()  # type: ignore[misc]

    def advance(self, seconds: float) -> None:
        """Move virtual time forward (only the selector does, when every task is idle)."""
        before = self._virtual_time
        self._virtual_time = before + seconds
        if self.on_advance is not None:
            self.on_advance(before, self._virtual_time)

    # The hot paths below replace BaseEventLoop's with the same behaviour minus what a simulation
    # never needs (thread checks, debug bookkeeping outside debug mode, an I/O poll while callbacks
    # are ready): every task wake-up and timer passes through them, so they set the simulator's pace.

    def call_soon(
        self, callback: Callable[[Unpack[_Ts]], object], *args: *_Ts, context: Context | None = None
    ) -> events.Handle:
        # Every call_soon (task wake-ups, future callbacks; the C Task and Future call it too)
        # lands at a seeded position of the ready queue, so each seed gives its own interleaving.
        if self._closed or self._debug:
            return super().call_soon(callback, *args, context=context)  # checks, then _call_soon
        # `events.Handle(callback, args, self, context)`, built slot by slot: no call to an
        # `__init__`, and none of its debug checks (this path runs outside debug mode only).
        handle: Any = _new_object(events.Handle)
        handle._context = contextvars.copy_context() if context is None else context
        handle._loop = self
        handle._callback = callback
        handle._args = args
        handle._cancelled = False
        handle._repr = None
        handle._source_traceback = None
        ready = self._ready
        n = len(ready)
        if n:
            position = int(self._sched_random() * (n + 1))  # randrange(n + 1) at a third of its cost
            if position == n:
                ready.append(handle)
            else:
                ready.insert(position, handle)
        else:
            ready.append(handle)
        return cast(events.Handle, handle)

    def _call_soon(self, callback: Any, args: Any, context: Any) -> events.Handle:
        # As call_soon above, for BaseEventLoop's own callers (call_soon_threadsafe, debug mode).
        handle = events.Handle(callback, args, self, context)
        ready = self._ready
        ready.insert(int(self._sched_random() * (len(ready) + 1)) if ready else 0, handle)
        return handle

    def call_later(
        self,
        delay: float,
        callback: Callable[[Unpack[_Ts]], object],
        *args: *_Ts,
        context: Context | None = None,
    ) -> events.TimerHandle:
        if delay is None:
            raise TypeError("delay must not be None")
        return self.call_at(self._virtual_time + delay, callback, *args, context=context)

    def call_at(
        self,
        when: float,
        callback: Callable[[Unpack[_Ts]], object],
        *args: *_Ts,
        context: Context | None = None,
    ) -> events.TimerHandle:
        if when is None or self._closed or self._debug:
            return super().call_at(when, callback, *args, context=context)
        # `_TimerHandle(when, callback, args, self, context)`, built as `call_soon` builds a handle.
        timer: Any = _new_object(_TimerHandle)
        timer._context = contextvars.copy_context() if context is None else context
        timer._loop = self
        timer._callback = callback
        timer._args = args
        timer._cancelled = False
        timer._repr = None
        timer._source_traceback = None
        timer._when = when
        heapq.heappush(self._scheduled, timer)
        timer._scheduled = True
        return cast(events.TimerHandle, timer)

    def _run_once(self) -> None:
        """Turns of the loop until `stop()`, each as `BaseEventLoop._run_once` takes one.

        `run_forever` calls this and stops once `_stopping` is set after a call; taking every turn
        in one call, and returning as soon as `_stopping` is set, is the same loop without a call
        per turn. Callbacks run in the same order as under BaseEventLoop.
        """
        ready = self._ready
        popleft = ready.popleft
        resolution = self._clock_resolution
        while not self._debug:  # debug mode: BaseEventLoop's turn, with its slow-callback warnings
            scheduled: list[Any] = self._scheduled
            count = len(scheduled)
            if count > _MIN_SCHEDULED and self._timer_cancelled_count / count > _MIN_CANCELLED_FRACTION:
                kept = []
                for timer in scheduled:
                    if timer._cancelled:
                        timer._scheduled = False
                    else:
                        kept.append(timer)
                heapq.heapify(kept)
                scheduled = self._scheduled = kept
                self._timer_cancelled_count = 0
            else:
                while scheduled and scheduled[0]._cancelled:
                    self._timer_cancelled_count -= 1
                    heapq.heappop(scheduled)._scheduled = False
            if not ready and not self._stopping:
                # Idle: let the selector look for real I/O, then move time to the next timer (or
                # raise Deadlock when there is none).
                timeout = None
                if scheduled:  # min(max(0, time to the next timer), the longest wait), inlined
                    timeout = scheduled[0]._when - self._virtual_time
                    if timeout < 0.0:
                        timeout = 0.0
                    elif timeout > _MAX_SELECT_TIMEOUT:
                        timeout = _MAX_SELECT_TIMEOUT
                selector = self._selector
                if timeout and selector.nothing_to_watch():
                    # What the selector would do, without the calls around it.
                    if self.on_advance is None:
                        self._virtual_time += timeout  # `advance(timeout)`, inlined
                    else:
                        self.advance(timeout)
                else:
                    self._process_events(selector.select(timeout))  # type: ignore[attr-defined]
            end_time = self._virtual_time + resolution
            while scheduled and scheduled[0]._when < end_time:
                timer = heapq.heappop(scheduled)
                timer._scheduled = False
                ready.append(timer)
            for _ in range(len(ready)):
                handle: Any = popleft()
                if handle._cancelled:
                    continue
                try:  # `handle._run()`, inlined
                    handle._context.run(handle._callback, *handle._args)
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException as exc:
                    self._callback_failed(handle, exc)
            handle = None  # break cycles when an exception occurs
            if self._stopping:
                return
        super()._run_once()  # type: ignore[misc]

    def _callback_failed(self, handle: Any, exc: BaseException) -> None:
        """What `Handle._run` does when its callback raises: report it to the exception handler."""
        cb = format_helpers._format_callback_source(handle._callback, handle._args)
        context: dict[str, Any] = {
            "message": f"Exception in callback {cb}",
            "exception": exc,
            "handle": handle,
        }
        if handle._source_traceback:
            context["source_traceback"] = handle._source_traceback
        self.call_exception_handler(context)

    def pending_tasks(self) -> list[str]:
        """Each unfinished task and the chain of awaits it is stuck in (for deadlock reports),
        e.g. `run_process at consume:131 > recv:144`, in a stable order."""
        return sorted(_await_chain(task.get_coro()) for task in asyncio.all_tasks(self))


def _await_chain(coro: Any) -> str:
    """`outer at fn:line > fn:line > ...`: where a coroutine waits, down to the innermost frame."""
    steps: list[str] = []
    current = coro
    while current is not None and len(steps) < 12:
        frame = getattr(current, "cr_frame", None) or getattr(current, "gi_frame", None)
        if frame is None:
            break
        steps.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
        current = getattr(current, "cr_await", None) or getattr(current, "gi_yieldfrom", None)
    return f"{getattr(coro, '__qualname__', coro)!s} at {' > '.join(steps) or '?'}"


GC_THRESHOLDS = (10_000, 10, 1_000)
"""The garbage collector's thresholds while a simulation runs (never lower than the process's).

A simulation keeps what it makes (record histories, event logs) until it ends, and CPython's full
collections re-scan all of it as it grows, finding nothing to free: a simulated week of hourly
timers spent a fifth of its time there. Raised thresholds make collections rarer (young cycles
are still collected); the previous thresholds are restored when the loop closes.
"""


def run(main: Any, *, seed: int, start: float = 0.0, set_aside: bool = False) -> Any:
    """Run a coroutine to completion on a fresh `SimLoop`, then close it.

    With `set_aside`, what the collector finds alive is set aside until the end (`_SetAside`).
    """
    loop = SimLoop(seed, start=start)
    thresholds = gc.get_threshold()
    if thresholds[0] > 0:  # 0: automatic collection is off, and stays off
        gc.set_threshold(
            *(max(mine, theirs) for mine, theirs in zip(GC_THRESHOLDS, thresholds, strict=False))
        )
    # Not when objects are frozen already: the caller froze them, and unfreezing is theirs to do.
    collector = _SetAside() if set_aside and gc.get_freeze_count() == 0 else None
    if collector is not None:
        gc.callbacks.append(collector)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_all(loop)
        finally:
            asyncio.set_event_loop(None)
            loop.close()
            gc.set_threshold(*thresholds)
            if collector is not None:
                gc.callbacks.remove(collector)
                gc.unfreeze()


class _SetAside:
    """A `gc.callbacks` entry that keeps the collector off what a simulation keeps to its end.

    After each collection, what survived it is frozen (`gc.freeze`): no later collection scans it
    again. After one that freed almost nothing, the next `SKIPPED` collections freeze the young
    objects unscanned: the cycles made meanwhile (a few objects per injected fault) are freed after
    the simulation, when `run` unfreezes everything. A week of hourly timers spent a twentieth of
    its time in collections that found nothing to free.
    """

    FEW = 64  # objects freed by a collection that found almost nothing
    SKIPPED = 7

    def __init__(self) -> None:
        self._skip = 0  # collections still to skip
        self._skipping = False

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._skipping = self._skip > 0
            if self._skipping:
                self._skip -= 1
                gc.freeze()  # the collection that starts now finds nothing to scan
        elif not self._skipping:
            gc.freeze()
            if info["collected"] < self.FEW:
                self._skip = self.SKIPPED


def _cancel_all(loop: SimLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
