"""How many transitions per second PostgreSQL itself can make durable here, without any engine.

    python bench/pg_ceiling.py [--store postgresql://user@host:5432/db] [--transitions N]

Each transition does the durable work a wfkit step needs at the least: the run's row advanced
with a version compare-and-set, a history row and an event row, with `synchronous_commit=on`
(an fsync per commit). Transitions are batched into one statement per commit, with one read of
new events after each, on K connections at once. The table shows the ceiling a workflow engine
on this server and machine could approach, to set wfkit's own figures (`throughput.py
--store`) against: the gap is the engine's cost per step, not the database's.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg
from _databases import Target

_SCHEMA = """
CREATE TABLE runs (run_id text PRIMARY KEY, version bigint NOT NULL, status bigint NOT NULL, object bytea);
CREATE TABLE history (
    run_id text, version bigint, status bigint, object bytea, PRIMARY KEY (run_id, version)
);
CREATE TABLE events (id bigserial PRIMARY KEY, topic text NOT NULL, key text NOT NULL);
CREATE INDEX events_topic ON events (topic, id);
"""
_STEP = """
WITH w AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS w(run_id, version, object)),
advanced AS (UPDATE runs AS r SET version = w.version, status = w.version, object = w.object FROM w
             WHERE r.run_id = w.run_id AND r.version = w.version - 1 RETURNING r.run_id),
history AS (INSERT INTO history SELECT run_id, version, version, object FROM w),
events AS (INSERT INTO events (topic, key) SELECT 'status-' || version, run_id FROM w)
SELECT count(*) FROM advanced
"""
_SHAPES = ((8, 2), (32, 2), (32, 4), (128, 2))
"""(transitions per commit, connections at once) measured."""


async def measure(url: str, batch: int, connections: int, transitions: int) -> float:
    """Transitions per second for `connections` loops committing `batch` transitions at a time."""
    setup = await asyncpg.connect(url)
    try:
        await setup.execute("DROP TABLE IF EXISTS runs, history, events")
        await setup.execute(_SCHEMA)
        runs = [f"run-{i}" for i in range(batch * connections)]
        await setup.executemany("INSERT INTO runs VALUES ($1, 0, 0, '')", [(r,) for r in runs])
        await setup.execute("ANALYZE")
    finally:
        await setup.close()
    conns = [await asyncpg.connect(url) for _ in range(connections)]
    obj = b"x" * 64
    done = 0

    async def loop(k: int) -> None:
        nonlocal done
        ids = runs[k * batch : (k + 1) * batch]
        conn, version, seen = conns[k], 0, 0
        while done < transitions:
            version += 1
            if await conn.fetchval(_STEP, ids, [version] * batch, [obj] * batch) != batch:
                raise RuntimeError("a compare-and-set failed: the probe is broken")
            rows = await conn.fetch("SELECT id, key FROM events WHERE id > $1 ORDER BY id LIMIT 1000", seen)
            seen = rows[-1][0] if rows else seen
            done += batch

    try:
        started = time.perf_counter()
        await asyncio.gather(*(loop(k) for k in range(connections)))
        return done / (time.perf_counter() - started)
    finally:
        for conn in conns:
            await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--transitions", type=int, default=40_000, help="per shape (40000)")
    args = parser.parse_args()
    target = Target.parse(args.store)
    if target.kind != "postgresql":
        raise SystemExit("--store: a postgresql:// URL (a server and a database to run CREATE DATABASE from)")
    await target.check()
    print(f"{'per commit':>10} {'connections':>11} {'transitions/s':>14}")
    for batch, connections in _SHAPES:
        async with target.fresh("ceiling") as url:
            conn = await asyncpg.connect(url)
            durability = await conn.fetchval("SHOW synchronous_commit")
            await conn.close()
            rate = await measure(url, batch, connections, args.transitions)
        print(f"{batch:>10} {connections:>11} {rate:>14,.0f}")
    print(
        f"synchronous_commit={durability}; each transition: run row compare-and-set, history row, event row"
    )


if __name__ == "__main__":
    asyncio.run(main())
