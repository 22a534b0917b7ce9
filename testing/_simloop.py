"""A deterministic asyncio event loop: virtual time and a seeded choice among ready callbacks.

Time only moves when every task is idle: the selector, asked to wait, advances the virtual clock
to the next timer instead of sleeping. Every callback made ready (a task step, a future's
callback) is inserted at a position of the ready queue drawn from a seeded RNG, so different
seeds explore different interleavings and one seed always replays the same one. No threads.
"""

from __future__ import annotations

import asyncio
import random
import selectors
from asyncio import events
from collections.abc import Callable, Mapping
from typing import Any

from wfkit import WfkitError


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

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout == 0:
            return []  # callbacks are ready: real I/O (there is none in a simulation) waits for idle
        ready = self._inner.select(0)
        if ready:
            return ready
        if timeout is None:
            raise Deadlock(self._loop.pending_tasks())
        self._loop.advance(timeout)
        return []

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def close(self) -> None:
        self._inner.close()

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()


class SimLoop(asyncio.SelectorEventLoop):
    """An event loop whose `time()` is virtual and whose ready queue is shuffled by a seed."""

    def __init__(self, seed: int, *, start: float = 0.0) -> None:
        self._virtual_time = start
        self._sched_random = random.Random(seed).random
        super().__init__(selector=_VirtualSelector(self))
        self.on_advance: Callable[[float, float], None] | None = None

    def time(self) -> float:
        return self._virtual_time

    def advance(self, seconds: float) -> None:
        """Move virtual time forward (only the selector does, when every task is idle)."""
        before = self._virtual_time
        self._virtual_time = before + seconds
        if self.on_advance is not None:
            self.on_advance(before, self._virtual_time)

    def _call_soon(self, callback: Any, args: Any, context: Any) -> events.Handle:
        # CPython 3.11+ funnels call_soon (task wake-ups, future callbacks) through here.
        handle = super()._call_soon(callback, args, context)  # type: ignore[misc]
        ready = self._ready  # type: ignore[attr-defined]
        n = len(ready)
        if n > 1:
            position = int(self._sched_random() * n)  # randrange(n) at a third of its cost
            if position != n - 1:
                ready.pop()
                ready.insert(position, handle)
        return handle  # type: ignore[no-any-return]

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


def run(main: Any, *, seed: int, start: float = 0.0) -> Any:
    """Run a coroutine to completion on a fresh `SimLoop`, then close it."""
    loop = SimLoop(seed, start=start)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_all(loop)
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _cancel_all(loop: SimLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
