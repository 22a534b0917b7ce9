"""The load every side of the store benchmark gets: N runs, a fixed number in flight, timed.

`drive(one, ...)` keeps `inflight` runs going: each slot takes the next key, calls `await one(key)`
(which triggers the run and returns once the driver has seen it complete) and records how long that
took, so latency is trigger-to-complete as the driver sees it, and a finished run is replaced at
once by a new one. With that many in flight, latency is mostly queueing (Little's law: p50 is about
in-flight / runs per second), so `drive` then also times `latency_runs` runs one at a time: the
latency of a run on an idle system. A side's result travels between processes as one JSON line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator

STEPS = 5
"""Steps per run in every side: S1 -> S2 -> S3 -> S4 -> S5 -> DONE, each committed before the next."""
RESULT_PREFIX = "BENCH-RESULT "
"""A side process prints its result as one line starting with this."""


@dataclasses.dataclass
class Result:
    """What one side measured (or why it could not)."""

    side: str
    runs: int = 0
    seconds: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    idle_p50_ms: float = 0.0
    idle_p99_ms: float = 0.0
    idle_runs: int = 0
    settings: str = ""
    note: str = ""
    error: str = ""

    @property
    def steps_per_s(self) -> float:
        return self.runs * STEPS / self.seconds if self.seconds else 0.0

    @property
    def runs_per_s(self) -> float:
        return self.runs / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return RESULT_PREFIX + json.dumps(dataclasses.asdict(self))

    @classmethod
    def parse(cls, text: str) -> Result | None:
        """The result in a side process's stdout (its last result line), if any."""
        for line in reversed(text.splitlines()):
            if line.startswith(RESULT_PREFIX):
                return cls(**json.loads(line[len(RESULT_PREFIX) :]))
        return None


@dataclasses.dataclass
class Measured:
    runs: int
    seconds: float
    latencies: list[float]
    idle: list[float]

    def result(self, side: str, settings: str, note: str = "") -> Result:
        p50, p99 = percentiles(self.latencies)
        idle_p50, idle_p99 = percentiles(self.idle)
        return Result(
            side,
            self.runs,
            self.seconds,
            p50,
            p99,
            idle_p50,
            idle_p99,
            len(self.idle),
            settings=settings,
            note=note,
        )


def percentiles(latencies: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds (nearest rank)."""
    if not latencies:
        return 0.0, 0.0
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, max(0, round(len(ordered) * 0.99) - 1))]
    return statistics.median(ordered) * 1000, p99 * 1000


async def drive(
    one: Callable[[str], Awaitable[None]],
    *,
    runs: int,
    inflight: int,
    warmup: int = 0,
    latency_runs: int = 0,
    prefix: str = "run",
) -> Measured:
    """Warm up with `warmup` runs (not counted), time `runs` runs with `inflight` at a time, then
    `latency_runs` runs one at a time."""
    if warmup:
        await _pump(one, (f"{prefix}-warm-{i}" for i in range(warmup)), min(inflight, warmup), [])
    latencies: list[float] = []
    start = time.perf_counter()
    await _pump(one, (f"{prefix}-{i}" for i in range(runs)), inflight, latencies)
    elapsed = time.perf_counter() - start
    idle: list[float] = []
    await _pump(one, (f"{prefix}-idle-{i}" for i in range(latency_runs)), 1, idle)
    return Measured(runs, elapsed, latencies, idle)


async def _pump(
    one: Callable[[str], Awaitable[None]], keys: Iterator[str], inflight: int, latencies: list[float]
) -> None:
    async def slot() -> None:
        for key in keys:  # a shared iterator: each key goes to exactly one slot
            start = time.perf_counter()
            await one(key)
            latencies.append(time.perf_counter() - start)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, inflight)):
            group.create_task(slot())


def emit(result: Result) -> None:
    """Print the side's result line (the parent process parses it)."""
    print(result.line(), flush=True)


def failed(side: str, exc: BaseException) -> Result:
    count = 1
    while isinstance(exc, BaseExceptionGroup):  # the runs in flight failed together: say why once
        count = max(count, len(exc.exceptions))
        exc = exc.exceptions[0]
    also = f" (and {count - 1} more runs)" if count > 1 else ""
    return Result(side, error=f"{type(exc).__name__}: {exc}{also}".strip())
