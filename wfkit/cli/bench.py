"""`wfkit bench [--store URL]`: how fast the engine runs on a store, with a built-in workflow.

What: a workflow of S steps (each increments a counter and moves to the next status, like
`bench/throughput.py`'s) is triggered N times with K runs in flight, then 50 times one at a time.
It reports steps/s and runs/s under load, trigger-to-complete latency under load (mostly queueing:
about K / runs per second) and on an idle engine, and the store's durability settings.
Why: one command to compare stores, machines and settings, without the repo's `bench/` scripts.

Under load a run counts as complete when a batched store read, every 5 ms, finds it COMPLETED
(as `bench/_wfkit_sql.py` does: one query for every waiting run, whatever K is); idle runs are
awaited with `Workflow.await_status`, which has no polling granularity. Heavy imports happen inside
the command, so `wfkit --help` stays fast.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import platform
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wfkit.cli._app import usage_error
from wfkit.cli._common import AsJson, print_json
from wfkit.cli._completions import STALL, Completions

if TYPE_CHECKING:
    from rich.progress import Progress

    from wfkit import Builder
    from wfkit.adapters import Backend

IDLE_RUNS = 50
"""Runs timed one at a time after the load: the latency of a run on an idle engine."""
WARMUP = 50
"""Uncounted runs first (at most N), so connection pools and caches are warm when timing starts."""
_HELP = (
    "The store: memory:// (default), sqlite:///file.db, postgresql://user@host/db, "
    "mysql://user@host/db. It WRITES its runs (workflow wfkit-bench-<hex>) there and leaves "
    "them: use a scratch database."
)


def bench(
    store: Annotated[str, typer.Option("--store", metavar="URL", help=_HELP)] = "memory://",
    runs: Annotated[
        int | None,
        typer.Option(
            "--runs",
            min=1,
            metavar="N",
            help="Runs timed under load (default: 5000 on memory://, 2000 on other stores).",
            show_default=False,
        ),
    ] = None,
    inflight: Annotated[
        int, typer.Option("--inflight", min=1, max=100_000, metavar="K", help="Runs kept in flight.")
    ] = 200,
    steps: Annotated[int, typer.Option("--steps", min=1, max=1000, metavar="S", help="Steps per run.")] = 5,
    as_json: AsJson = False,
) -> None:
    """Measure steps/s, runs/s and trigger-to-complete latency on a store.

    Triggers N runs of a built-in S-step workflow with K in flight, then 50 runs one at a time
    (idle latency). On a SQL store it writes those runs into the database under a new workflow
    name, wfkit-bench-<hex>, so they never mix with your runs, and leaves them there: point it
    at a scratch database.
    """
    from wfkit import ConfigurationError, WfkitError
    from wfkit.adapters import connect

    try:
        backend = connect(store)
    except ConfigurationError as exc:
        raise usage_error(exc, "--store") from None
    n = runs if runs is not None else 5000 if store.lower().startswith("memory:") else 2000
    name = f"wfkit-bench-{uuid.uuid4().hex[:8]}"
    try:
        result = asyncio.run(_measure(backend, name, n, inflight, steps, show=not as_json))
    except Exception as exc:  # a benchmark reports why it stopped in one line, never a traceback
        first: BaseException = exc
        while isinstance(first, BaseExceptionGroup):  # the runs in flight fail together: the first says why
            first = first.exceptions[0]
        if isinstance(first, WfkitError):
            raise first from None
        raise WfkitError(f"the benchmark stopped on {backend.url}: {type(first).__name__}: {first}") from None
    if as_json:
        print_json(result.document())
    else:
        _print_table(result)


@dataclass
class _Result:
    """What one `wfkit bench` measured."""

    store: str
    workflow: str
    steps: int
    runs: int
    inflight: int
    warmup: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    idle: list[float] = field(default_factory=list)
    durability: dict[str, str] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The `--json` document: rates per second, latencies in milliseconds."""
        return {
            "store": self.store,
            "workflow": self.workflow,
            "steps": self.steps,
            "runs": self.runs,
            "inflight": self.inflight,
            "warmup_runs": self.warmup,
            "seconds": round(self.seconds, 6),
            "steps_per_s": round(self.runs * self.steps / self.seconds, 1),
            "runs_per_s": round(self.runs / self.seconds, 1),
            "latency_ms": _percentiles(self.latencies),
            "idle_runs": len(self.idle),
            "idle_latency_ms": _percentiles(self.idle),
            "durability": self.durability,
            "completion": "run-state-change events followed under load; await_status when idle",
            "python": platform.python_version(),
        }


async def _measure(backend: Backend, name: str, runs: int, inflight: int, steps: int, show: bool) -> _Result:
    """Open the store, run the workflow, time the load and then the idle runs.

    The progress bar goes to stderr, and only to a terminal: redrawn in a log or a pipe it is noise.
    """
    from prometheus_client import CollectorRegistry
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (TextColumn("{task.description:<11}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    progress = Progress(*columns, console=console, transient=True, disable=not (show and console.is_terminal))
    builder, last = _builder(name, steps)
    result = _Result(backend.url, name, steps, runs, inflight, min(WARMUP, runs))
    with progress:
        async with backend:
            wf = backend.build(builder, metrics=CollectorRegistry())  # its own registry, not the process's
            async with wf:
                result.durability = await _durability(backend)
                completions = await Completions.follow(backend.streamer, name)

                async def one(key: str) -> None:
                    done = completions.watch(key)
                    await wf.trigger(key, initial={"count": 0})
                    await done

                try:
                    await _load(one, result, progress)
                finally:
                    await completions.close()
                idle = progress.add_task("idle", total=IDLE_RUNS)
                for i in range(IDLE_RUNS):  # one at a time: await_status has no poll granularity
                    start = time.perf_counter()
                    run_id = await wf.trigger(f"idle-{i}", initial={"count": 0})
                    await wf.await_status(f"idle-{i}", run_id, last, timeout=STALL)
                    result.idle.append(time.perf_counter() - start)
                    progress.advance(idle)
    return result


async def _load(one: Callable[[str], Awaitable[None]], result: _Result, progress: Progress) -> None:
    """The warm-up runs (not counted), then `result.runs` timed runs, `result.inflight` at a time."""
    warm = progress.add_task("warm-up", total=result.warmup)
    warm_keys = (f"warm-{i}" for i in range(result.warmup))
    await _pump(one, warm_keys, min(result.inflight, result.warmup), lambda _: progress.advance(warm))
    load = progress.add_task("under load", total=result.runs)

    def timed(seconds: float) -> None:
        result.latencies.append(seconds)
        progress.advance(load)

    start = time.perf_counter()
    await _pump(one, (f"load-{i}" for i in range(result.runs)), min(result.inflight, result.runs), timed)
    result.seconds = time.perf_counter() - start


def _builder(name: str, steps: int) -> tuple[Builder[dict[str, int], Any], enum.IntEnum]:
    """The workflow: STEP_1 -> STEP_2 -> ... -> DONE, each step adding one to `count`."""
    from wfkit import Builder, Run

    status = enum.IntEnum("BenchStatus", [*(f"STEP_{i}" for i in range(1, steps + 1)), "DONE"])  # type: ignore[misc]
    members: list[enum.IntEnum] = list(status)
    builder: Builder[dict[str, int], Any] = Builder(name, dict, status)
    for here, there in itertools.pairwise(members):

        async def step(run: Run[dict[str, int], Any], there: enum.IntEnum = there) -> enum.IntEnum:
            run.object["count"] += 1
            return there

        builder.add_step(here, step, there)
    return builder, members[-1]


async def _pump(
    one: Callable[[str], Awaitable[None]], keys: Iterator[str], inflight: int, done: Callable[[float], None]
) -> None:
    """Run `one(key)` for every key, `inflight` at a time; `done(seconds from trigger to seen complete)`."""

    async def slot() -> None:
        for key in keys:  # one shared iterator: each key goes to exactly one slot
            start = time.perf_counter()
            await one(key)
            done(time.perf_counter() - start)

    async with asyncio.TaskGroup() as group:
        for _ in range(inflight):
            group.create_task(slot())


async def _durability(backend: Backend) -> dict[str, str]:
    """SQLite's `synchronous`/`journal_mode` or PostgreSQL's `synchronous_commit`, else nothing.

    Read on wfkit's own connection through the adapter's private `_db` (there is no public way
    to ask); anything unexpected omits the settings rather than failing the benchmark.
    """
    db, scheme = getattr(backend.store, "_db", None), backend.url.split("://", 1)[0].lower()
    try:
        if scheme == "sqlite" and db is not None:
            sync, mode = await db.run(
                lambda c: [
                    c.execute(f"PRAGMA {name}").fetchone()[0] for name in ("synchronous", "journal_mode")
                ]
            )
            sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(int(sync), sync)
            return {"synchronous": str(sync), "journal_mode": str(mode).upper()}
        if scheme in ("postgresql", "postgres") and db is not None:
            return {"synchronous_commit": str(await db.pool.fetchval("SHOW synchronous_commit"))}
    except Exception:
        pass
    return {}


def _percentiles(latencies: list[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds (nearest rank), 0 for no samples."""
    ordered = sorted(latencies) or [0.0]
    p99 = ordered[min(len(ordered) - 1, max(0, round(len(ordered) * 0.99) - 1))]
    return {"p50": round(statistics.median(ordered) * 1000, 3), "p99": round(p99 * 1000, 3)}


def _print_table(result: _Result) -> None:
    from rich.console import Console
    from rich.table import Table

    doc = result.document()
    lat, idle = doc["latency_ms"], doc["idle_latency_ms"]
    table = Table(
        title=f"wfkit bench: {result.store}, {result.runs} runs x {result.steps} steps, "
        f"{result.inflight} in flight",
        title_justify="left",
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("steps/s", f"{doc['steps_per_s']:,.0f}")
    table.add_row("runs/s", f"{doc['runs_per_s']:,.0f}")
    table.add_row("seconds under load", f"{result.seconds:.3f}")
    for label, p in (
        (f"trigger-to-complete p50 / p99 ({result.inflight} in flight)", lat),
        (f"idle p50 / p99 ({len(result.idle)} runs one at a time)", idle),
    ):
        table.add_row(label, f"{p['p50']:.2f} / {p['p99']:.2f} ms")
    for setting, value in result.durability.items():
        table.add_row(setting, value)
    if not result.store.lower().startswith("memory:"):  # where its runs are, to find or delete them
        table.add_row("workflow", result.workflow)
    console = Console(highlight=False)
    console.print(table)
    console.print(f"completion: {doc['completion']}; {result.warmup} warm-up runs not counted", style="dim")
