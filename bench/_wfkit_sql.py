"""wfkit's side of the store benchmark: the 5-step `builder()` of throughput.py on a SQL store.

One worker: the workflow runs in the driver's process (`wfkit.adapters.connect(url).build(...)`),
which triggers runs through it. N workers: N `wfkit worker bench/throughput.py:builder` processes
do the steps; the driver only triggers, through a copy of the workflow that never holds a role and
relays nothing (as `wfkit trigger` does). Either way the driver sees a run complete when the
engine's COMPLETED event reaches one receiver of the run-state-change topic (`Completions`), woken
by the database where it can notify and else reading every `poll` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from _databases import PG_SHOW, pg_settings, sqlite_settings
from _drive import Measured, Result, drive
from prometheus_client import CollectorRegistry

from wfkit import RunState
from wfkit.adapters import Backend, connect
from wfkit.cli._completions import Completions

THROUGHPUT = Path(__file__).resolve().with_name("throughput.py")
READY = "wfkit worker ready:"
_COMPLETED = [RunState.COMPLETED]


async def measure(
    url: str,
    *,
    workers: int,
    runs: int,
    inflight: int,
    warmup: int,
    latency_runs: int,
    poll: float,
    lease: float | None,
) -> Result:
    """Run the benchmark for wfkit with `workers` worker processes (1: in the driver's process)."""
    from throughput import Job, builder  # the file the worker processes load

    side = f"wfkit ({workers} worker{'s' if workers > 1 else ''})"
    options: dict[str, Any] = {} if lease is None else {"lease": lease}
    backend = connect(url, **options)
    async with _workers(url, workers, lease) as check, backend:
        # With worker processes, the driver's copy is a client: it triggers, the workers do the steps.
        wf = backend.build(builder(), metrics=CollectorRegistry(), consumers=workers == 1)
        settings = await durability(backend)
        async with wf:
            completions = await Completions.follow(
                backend.streamer, wf.name, poll=poll, check=check, stall=120.0
            )

            async def one(key: str) -> None:
                done = completions.watch(key)
                await wf.trigger(key, initial=Job(key))
                await done

            try:
                measured: Measured = await drive(
                    one, runs=runs, inflight=inflight, warmup=warmup, latency_runs=latency_runs
                )
            finally:
                await completions.close()
    where = "in the driver's process" if workers == 1 else f"{workers} `wfkit worker` processes"
    note = f"{where}; completions followed on the run-state-change topic (poll fallback {poll * 1000:g} ms)"
    return measured.result(side, settings, note=note)


async def durability(backend: Backend) -> str:
    """The settings in effect on wfkit's own connection (the store's; workers open theirs alike).

    Reads the adapter's private `_db` (no public way to ask); falls back to saying it could not.
    """
    db = getattr(backend.store, "_db", None)
    if db is None:
        return "unknown (no _db on the store)"
    if hasattr(db, "run"):  # SQLite: one connection on its own thread
        return str(await db.run(sqlite_settings))
    pool = getattr(db, "pool", None)
    if pool is not None:  # PostgreSQL: a pooled asyncpg connection
        return pg_settings({name: await pool.fetchval(f"SHOW {name}") for name in PG_SHOW})
    return "unknown"


@asynccontextmanager
async def _workers(url: str, count: int, lease: float | None) -> AsyncIterator[Callable[[], None]]:
    """`count` worker processes on `url` (none for one worker: it runs in this process).

    Yields a check that raises once any of them has exited.
    """
    procs: list[asyncio.subprocess.Process] = []

    def check() -> None:
        for proc in procs:
            if proc.returncode is not None:
                raise RuntimeError(f"wfkit worker pid {proc.pid} exited (rc {proc.returncode}) mid-benchmark")

    if count <= 1:
        yield check
        return
    try:
        for _ in range(count):
            procs.append(await _spawn(url, lease))
        for proc in procs:
            await _ready(proc)
        yield check
    finally:
        await asyncio.gather(*(_stop(proc) for proc in procs))


async def _spawn(url: str, lease: float | None) -> asyncio.subprocess.Process:
    args = ["worker", f"{THROUGHPUT}:builder", "--store", url, "--metrics-port", "0"]
    args += ["--log-level", "WARNING"] + ([] if lease is None else ["--lease", str(lease)])
    # `-c` puts the working directory on sys.path: run from a neutral one so no checkout shadows wfkit
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from wfkit.cli import main; main()",
        *args,
        stdout=asyncio.subprocess.PIPE,
        cwd=tempfile.gettempdir(),
    )


async def _ready(proc: asyncio.subprocess.Process, timeout: float = 60.0) -> None:
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(timeout):
            while line := await proc.stdout.readline():
                if line.decode(errors="replace").startswith(READY):
                    return
    except TimeoutError:
        raise RuntimeError(f"wfkit worker (pid {proc.pid}) not ready within {timeout:g} s") from None
    raise RuntimeError(f"wfkit worker (pid {proc.pid}) exited before it was ready (rc {await proc.wait()})")


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), 20)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
