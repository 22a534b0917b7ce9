"""Condition waits for the end-to-end tests: no fixed sleeps, every wait has a deadline."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from datetime import datetime

from wfkit.testing import FakeClock

WAIT = 5.0  # seconds of real time before a wait gives up and the test fails


async def eventually(cond: Callable[[], bool | Awaitable[bool]], what: str, *, timeout: float = WAIT) -> None:
    """Re-check `cond` (plain or async) at every turn of the loop until it holds."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                ok = cond()
                if inspect.isawaitable(ok):
                    ok = await ok
                if ok:
                    return
                await asyncio.sleep(0.001)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


async def sleeper_at(clock: FakeClock, when: datetime, *, timeout: float = WAIT) -> None:
    """Wait until something sleeps on the fake clock until exactly `when` (the earliest sleeper).

    Stepping the clock before a process has computed its deadline from `now()` would move the
    deadline too; waiting for the sleeper first makes the step land where the test means it to.
    """
    await eventually(
        lambda: clock.next_deadline == when, f"a sleeper on the clock until {when}", timeout=timeout
    )
