"""eventsourcing (pyeventsourcing) doing the benchmark's 5-step workflow, idiomatically.

A run is a `Job` aggregate: created by `trigger` (one commit), then advanced five times by `advance`,
each a `Stepped` event saved before the next step starts (five more commits), exactly as wfkit's run
is triggered and then takes five committed steps. Every `advance` loads the aggregate from the
store (`repository.get`) as a worker picking the run up would; no aggregate cache.

Persistence is the library's own recorders, chosen by environment as its docs say:
`PERSISTENCE_MODULE=eventsourcing.sqlite` (WAL, which the recorder sets itself; `synchronous` is
SQLite's default, FULL, read back from the application's own connection) or `eventsourcing.postgres`
(`synchronous_commit` and `fsync` read back the same way). The library is synchronous, so the 200
runs in flight are asyncio tasks whose calls run on a pool of `threads` threads (with a connection
pool to match): steps of different runs interleave and commit concurrently as far as the library
and the database allow.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import Any
from uuid import UUID

from _databases import PG_SHOW, SYNCHRONOUS, pg_parts, pg_settings, sqlite_path
from _drive import STEPS, Result, drive

NAME = "eventsourcing"


def _application(env: dict[str, str]) -> Any:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Job(Aggregate):
        @event("Triggered")
        def __init__(self, key: str) -> None:
            self.key = key
            self.status = 1
            self.count = 0

        @event("Stepped")
        def step(self, to: int) -> None:
            self.status = to
            self.count += 1

    class Jobs(Application):
        def trigger(self, key: str) -> UUID:
            job = Job(key)
            self.save(job)
            return job.id

        def advance(self, job_id: UUID) -> int:
            job = self.repository.get(job_id)
            job.step(job.status + 1)
            self.save(job)
            return job.status

    return Jobs(env=env)


def environment(url: str, threads: int) -> dict[str, str]:
    if url.startswith("sqlite"):
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(sqlite_path(url))}
    pg = pg_parts(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": pg["dbname"],
        "POSTGRES_HOST": pg["host"],
        "POSTGRES_PORT": str(pg["port"]),
        "POSTGRES_USER": pg["user"],
        "POSTGRES_PASSWORD": pg["password"],
        "POSTGRES_POOL_SIZE": str(threads),
        "POSTGRES_MAX_OVERFLOW": "0",
    }


def durability(app: Any, sqlite: bool) -> str:
    """The settings on one of the application's own connections."""
    values: dict[str, str] = {}
    with app.recorder.datastore.transaction(commit=False) as cursor:
        for name in ("synchronous", "journal_mode") if sqlite else PG_SHOW:
            cursor.execute(f"PRAGMA {name}" if sqlite else f"SHOW {name}")
            row = cursor.fetchone()
            values[name] = str(row[0] if sqlite else next(iter(row.values())))
    if not sqlite:
        return pg_settings(values)
    sync = SYNCHRONOUS.get(int(values["synchronous"]), values["synchronous"])
    return f"synchronous={sync} journal={values['journal_mode'].upper()}"


async def measure(
    url: str, *, runs: int, inflight: int, warmup: int, latency_runs: int, threads: int
) -> Result:
    sqlite = url.startswith("sqlite")
    env = environment(url, threads)
    app = _application(env)
    if sqlite:  # keep a connection per thread (default: 5 kept, overflow ones closed on return)
        app.recorder.datastore.pool.pool_size = max(app.recorder.datastore.pool.pool_size, threads)
    settings = durability(app, sqlite)
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="es")
    loop = asyncio.get_running_loop()

    async def one(key: str) -> None:
        job_id = await loop.run_in_executor(pool, app.trigger, key)
        for _ in range(STEPS):
            await loop.run_in_executor(pool, app.advance, job_id)

    try:
        measured = await drive(
            one, runs=runs, inflight=inflight, warmup=warmup, latency_runs=latency_runs, prefix="es"
        )
    finally:
        pool.shutdown(wait=True)
        app.close()
    return measured.result(
        f"{NAME} {version('eventsourcing')}",
        settings,
        note=f"{threads} threads; repository.get + save per step",
    )
