"""`SimEnv` and `SimRunner`: unit tests on virtual time, where a 30-day timeout takes milliseconds.

`SimRunner.run(scenario)` runs `await scenario(env)` on a fresh `SimLoop`: loop time is virtual
and jumps straight to the next timer whenever every task is idle, and `env.clock` (a `SimClock`)
reads business time off it. Workflows built with `env.build`/`env.run` sleep on that clock, so
waiting out a long timer costs only the timers in between, not their duration.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

from wfkit import AwaitTimeout, Builder, ProcessOptions, RandomIds, Workflow
from wfkit.adapters import memory
from wfkit.testing._simclock import SIM_EPOCH, SimClock
from wfkit.testing._simloop import SimLoop
from wfkit.testing._simloop import run as run_on_simloop

T = TypeVar("T")
S = TypeVar("S", bound=enum.IntEnum)
R = TypeVar("R")

IDLE_POLL = 3600.0
"""Seconds between the safety-net polls of idle relays and timeout pollers in a `SimEnv`.

The engine polls every 30 s even with a change feed, for writers the feed cannot see. The memory
adapters' feeds see every write of the environment, so the polls only cost virtual-time wake-ups:
120 a simulated hour per poller instead of one. Pass `defaults=`/`outbox=` options to override.
"""


class SimEnv:
    """One deployment's worth of memory adapters on a `SimClock`, like `WorkflowEnv` on virtual time.

    Use it inside `SimRunner.run` (the `wfkit_sim` fixture): business time is
    `clock.epoch + loop.time()`, and the loop skips idle stretches. The testing helpers
    (`require`, `await_timeout_insert`, `trigger_callback_on`, `wait_for`) work unchanged; their
    `timeout=` is in virtual seconds. Skip a long wait with `await env.advance(timedelta(days=30))`
    rather than a helper with a 30-day timeout: helpers re-check every 0.05 virtual seconds.
    """

    def __init__(self, *, seed: int = 0, epoch: datetime = SIM_EPOCH) -> None:
        self.seed = seed
        self.epoch = epoch
        self.clock = SimClock(epoch)
        self.store = memory.RecordStore(clock=self.clock)
        self.streamer = memory.EventStreamer(clock=self.clock)
        self.roles = memory.RoleScheduler(clock=self.clock)
        self.timeouts = memory.TimeoutStore(clock=self.clock)
        self.registry = CollectorRegistry()
        self.ids = RandomIds(seed)

    def build(self, builder: Builder[T, S], **options: Any) -> Workflow[T, S]:
        """Build on this environment's adapters, clock, ids and registry (options may override).

        Idle safety-net polls are stretched to `IDLE_POLL` unless `defaults=` or `outbox=` set a
        polling frequency themselves.
        """
        options.setdefault("timeout_store", self.timeouts)
        options.setdefault("clock", self.clock)
        options.setdefault("metrics", self.registry)
        options.setdefault("ids", self.ids)
        options["defaults"] = _idle_polls(options.get("defaults"))
        outbox = options.get("outbox")
        if outbox is None or outbox is True or isinstance(outbox, ProcessOptions):
            options["outbox"] = _idle_polls(outbox if isinstance(outbox, ProcessOptions) else None)
        return builder.build(self.streamer, self.store, self.roles, **options)

    @asynccontextmanager
    async def run(self, builder: Builder[T, S], **options: Any) -> AsyncIterator[Workflow[T, S]]:
        """Build, start, yield the workflow, and stop it afterwards."""
        wf = self.build(builder, **options)
        async with wf:
            yield wf

    def now(self) -> datetime:
        """Business time now (`epoch` plus virtual seconds, plus any `clock.jump`)."""
        return self.clock.now()

    async def advance(self, delta: timedelta | float) -> datetime:
        """Let `delta` (a timedelta or seconds) of virtual time pass; returns business time after.

        Everything due meanwhile happens in order, at its own virtual time, as it would in real
        time: timers, timeouts, backoffs, retries. Only the waiting is skipped.
        """
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        if seconds < 0:
            raise ValueError(f"advance() needs a non-negative delta, got {delta!r}")
        await asyncio.sleep(seconds)
        return self.now()

    async def advance_to(self, when: datetime) -> datetime:
        """Let virtual time pass until business time is `when` (no-op if it already is)."""
        return await self.advance(max((when - self.now()).total_seconds(), 0.0))


class SimRunner:
    """What the `wfkit_sim` fixture gives: `run(scenario)` on a fresh `SimEnv` and `SimLoop`.

    `limit` bounds the virtual time a scenario may take (a scenario waiting on something that
    never happens, while workflows keep polling, would otherwise run through simulated years);
    passing it raises `AwaitTimeout` naming the tasks still pending. When nothing at all can run
    again (no timer, no ready task), `Deadlock` is raised at once instead.
    """

    def __init__(self, *, seed: int = 0, limit: timedelta = timedelta(days=400)) -> None:
        self.seed = seed
        self.limit = limit
        self.env: SimEnv | None = None
        """The environment of the latest `run`, for assertions after it returned."""

    def run(
        self,
        scenario: Callable[[SimEnv], Awaitable[R]],
        *,
        seed: int | None = None,
        epoch: datetime = SIM_EPOCH,
    ) -> R:
        """`await scenario(env)` on virtual time and return its result (synchronous).

        `seed` (default: the runner's) picks the interleaving of ready tasks and the ids; the same
        seed replays the same run.
        """
        seed = self.seed if seed is None else seed
        env = self.env = SimEnv(seed=seed, epoch=epoch)
        limit = self.limit.total_seconds()
        name = getattr(scenario, "__qualname__", repr(scenario))

        async def main() -> R:
            loop = asyncio.get_running_loop()
            if not isinstance(loop, SimLoop):  # pragma: no cover - run_on_simloop makes one
                raise RuntimeError("SimRunner scenarios run on a SimLoop")
            end = loop.time() + limit
            # Its own task, so a `Deadlock` report names the scenario, not this wrapper.
            task = asyncio.ensure_future(scenario(env))
            me = asyncio.current_task()

            def past_limit(before: float, after: float) -> None:
                # Raised from the loop's idle wait, like `Deadlock`: no timer of ours is pending,
                # so a scenario with nothing left to wait for still deadlocks at once.
                if after > end:
                    loop.on_advance = None
                    others = sorted(_where(t) for t in asyncio.all_tasks(loop) if t not in (task, me))
                    raise AwaitTimeout(
                        f"{name} to finish within the virtual time limit; it waits in {_where(task)}"
                        f" (other tasks: {'; '.join(others[:6]) or 'none'})",
                        limit,
                    )

            loop.on_advance = past_limit
            try:
                return await task
            finally:
                loop.on_advance = None

        result: R = run_on_simloop(main(), seed=seed)
        return result


def _idle_polls(options: ProcessOptions | None) -> ProcessOptions:
    if options is None:
        return ProcessOptions(polling_frequency=IDLE_POLL)
    if options.polling_frequency is None:
        return dataclasses.replace(options, polling_frequency=IDLE_POLL)
    return options


def _where(task: asyncio.Future[Any]) -> str:
    """Where a task waits: its chain of awaited coroutines, innermost last."""
    coro: Any = task.get_coro() if isinstance(task, asyncio.Task) else None
    chain: list[str] = []
    while coro is not None and hasattr(coro, "cr_frame") and len(chain) < 12:
        frame = coro.cr_frame
        label = getattr(coro, "__qualname__", type(coro).__name__)
        chain.append(f"{label}:{frame.f_lineno}" if frame is not None else str(label))
        coro = coro.cr_await
    return " > ".join(chain) or "?"
