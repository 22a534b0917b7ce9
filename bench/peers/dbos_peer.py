"""DBOS Transact doing the benchmark's 5-step workflow, idiomatically.

A run is one `@DBOS.workflow()` calling a `@DBOS.step()` five times: DBOS checkpoints the workflow's
start, each step's output and the workflow's result in its system database, each its own commit
(7 per run; wfkit and eventsourcing commit 6). The system database is the benchmark's: a SQLite file
or a fresh PostgreSQL database, through `system_database_url` as DBOS's docs configure it.

Durability: DBOS's SQLite engine leaves `journal_mode` at SQLite's default (DELETE) and
`synchronous` at its default (FULL); the file is put in WAL mode before DBOS opens it (the mode is
persistent in the file) so every side runs WAL with synchronous=FULL. Both settings, and on
PostgreSQL `synchronous_commit` and `fsync`, are read back on DBOS's own engine.

Two ways to drive it, as DBOS's docs show both (`--dbos-mode`): `sync` starts plain workflow
functions with `DBOS.start_workflow` (each runs on DBOS's executor threads; the driver awaits the
handle's result from a thread), `async` runs `async def` workflows and steps with
`DBOS.start_workflow_async` on the driver's event loop.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import Any

from _databases import PG_SHOW, SYNCHRONOUS, pg_settings, prepare_sqlite_wal, sqlite_path
from _drive import STEPS, Result, drive

NAME = "DBOS"


def _register(mode: str) -> Any:
    """The workflow function (decorated before `DBOS(...)`/`launch`, as DBOS requires)."""
    from dbos import DBOS

    if mode == "async":

        @DBOS.step()
        async def step_async(count: int) -> int:
            return count + 1

        @DBOS.workflow()
        async def job_async(key: str) -> int:
            count = 0
            for _ in range(STEPS):
                count = await step_async(count)
            return count

        return job_async

    @DBOS.step()
    def step(count: int) -> int:
        return count + 1

    @DBOS.workflow()
    def job(key: str) -> int:
        count = 0
        for _ in range(STEPS):
            count = step(count)
        return count

    return job


def durability(instance: Any, sqlite: bool) -> str:
    """The settings on a connection of DBOS's own system-database engine (a private attribute)."""
    engine = instance._sys_db.engine
    with engine.connect() as conn:
        if sqlite:
            sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            return f"synchronous={SYNCHRONOUS.get(int(sync), sync)} journal={str(mode).upper()}"
        return pg_settings({name: str(conn.exec_driver_sql(f"SHOW {name}").scalar()) for name in PG_SHOW})


async def measure(
    url: str, *, runs: int, inflight: int, warmup: int, latency_runs: int, threads: int, mode: str = "sync"
) -> Result:
    from dbos import DBOS

    sqlite = url.startswith("sqlite")
    if sqlite:
        path = sqlite_path(url)
        prepare_sqlite_wal(path)
        system_url = f"sqlite:///{path}"
    else:
        system_url = url
    workflow = _register(mode)
    config: dict[str, Any] = {
        "name": "wfkit-bench",
        "system_database_url": system_url,
        "log_level": "WARNING",
        # DBOS's default pool (20), or --peer-threads if larger (more made no difference here)
        "sys_db_pool_size": max(20, threads),
    }
    instance = DBOS(config=config)  # type: ignore[arg-type]
    DBOS.launch()
    loop = asyncio.get_running_loop()
    waiters = ThreadPoolExecutor(max_workers=inflight + 4, thread_name_prefix="dbos-driver")
    try:
        settings = durability(instance, sqlite)

        if mode == "async":

            async def one(key: str) -> None:
                handle = await DBOS.start_workflow_async(workflow, key)
                await handle.get_result()

        else:

            async def one(key: str) -> None:
                handle = await loop.run_in_executor(waiters, DBOS.start_workflow, workflow, key)
                await loop.run_in_executor(waiters, handle.get_result)

        measured = await drive(
            one, runs=runs, inflight=inflight, warmup=warmup, latency_runs=latency_runs, prefix="dbos"
        )
    finally:
        waiters.shutdown(wait=False)
        DBOS.destroy(destroy_registry=True)
    return measured.result(
        f"{NAME} {version('dbos')}",
        settings,
        note=f"{mode} workflows; start, 5 step outputs and the result checkpointed, each a commit",
    )
