"""Throughput and latency of a 5-step workflow on the memory adapters, beside a hand-written floor.

    python bench/throughput.py [--runs N] [--latency-runs M]
    python bench/throughput.py --store sqlite:////tmp/bench.db --store postgresql://postgres@127.0.0.1/postgres

Without `--store` it measures the memory adapters (below). With `--store URL` it measures wfkit on that
SQL database with 200 runs in flight, in one and in three worker processes, beside the eventsourcing
and DBOS peers doing the same workflow at the same durability (`_storebench.py`; the peers install
with `pip install -r bench/requirements.txt`, never as wfkit dependencies).

The floor is the least work a 5-step run can cost in asyncio: queue -> dict lookup -> JSON decode
-> step -> JSON encode -> dict write. wfkit does more per step (a version compare-and-set, the
history row, an outbox event, its relay and an ack), all of which the floor skips.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import enum
import gc
import itertools
import json
import statistics
import sys
import time
from typing import Any

from prometheus_client import CollectorRegistry

import wfkit
from wfkit import RecordFilter, RunState
from wfkit.adapters import memory


class Status(enum.IntEnum):
    S1 = 1
    S2 = 2
    S3 = 3
    S4 = 4
    S5 = 5
    DONE = 6


@dataclasses.dataclass
class Job:
    id: str
    count: int = 0


def builder(
    finished: list[int] | None = None, target: int = 0, done: asyncio.Event | None = None
) -> wfkit.Builder[Job, Status]:
    b = wfkit.Builder("bench", Job, Status)
    members = list(Status)
    for here, there in itertools.pairwise(members):

        async def step(run: wfkit.Run[Job, Status], there: Status = there) -> Status:
            run.object.count += 1
            if there is Status.DONE and finished is not None:
                finished[0] += 1
                if finished[0] >= target and done is not None:
                    done.set()
            return there

        b.add_step(here, step, there)
    return b


async def wfkit_throughput(runs: int) -> float:
    finished = [0]
    done = asyncio.Event()
    b = builder(finished, runs, done)
    store = memory.RecordStore()
    wf = b.build(memory.EventStreamer(), store, memory.RoleScheduler(), metrics=CollectorRegistry())
    async with wf:
        start = time.perf_counter()
        for i in range(runs):
            await wf.trigger(f"job-{i}", initial=Job(str(i)))
        await done.wait()
        completed = RecordFilter(run_states=[RunState.COMPLETED])
        while await store.count("bench", filters=completed) < runs:
            await asyncio.sleep(0)
        return time.perf_counter() - start


async def floor_throughput(runs: int) -> float:
    db: dict[str, str] = {}
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    done = asyncio.Event()
    finished = 0

    def step(obj: dict[str, Any]) -> None:
        obj["count"] += 1

    async def worker() -> None:
        nonlocal finished
        while True:
            run_id, status = await queue.get()
            obj = json.loads(db[run_id])
            step(obj)
            db[run_id] = json.dumps(obj)
            if status + 1 < Status.DONE:
                queue.put_nowait((run_id, status + 1))
            else:
                finished += 1
                if finished == runs:
                    done.set()

    task = asyncio.create_task(worker())
    start = time.perf_counter()
    for i in range(runs):
        db[f"job-{i}"] = json.dumps({"id": str(i), "count": 0})
        queue.put_nowait((f"job-{i}", 1))
    await done.wait()
    elapsed = time.perf_counter() - start
    task.cancel()
    return elapsed


async def latency(samples: int) -> list[float]:
    wf = builder().build(
        memory.EventStreamer(), memory.RecordStore(), memory.RoleScheduler(), metrics=CollectorRegistry()
    )
    out: list[float] = []
    async with wf:
        for i in range(samples):
            start = time.perf_counter()
            run_id = await wf.trigger(f"lat-{i}", initial=Job(str(i)))
            await wf.await_status(f"lat-{i}", run_id, Status.DONE, timeout=10)
            out.append(time.perf_counter() - start)
    return out


def main() -> None:
    import _storebench  # beside this file: the --store mode (its peers load only when measured)

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=None, help="runs per side (5000; 2000 with --store)")
    parser.add_argument(
        "--latency-runs", type=int, default=None, help="runs timed one at a time (200; 50 with --store)"
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="best of this many measurements (3; 1 with --store)"
    )
    _storebench.add_arguments(parser)
    args = parser.parse_args()
    if args.store:
        _storebench.main(args)
        return
    args.runs = args.runs or 5000
    args.latency_runs = 200 if args.latency_runs is None else args.latency_runs
    args.repeat = 3 if args.repeat is None else args.repeat
    gc.collect()
    steps = 5 * args.runs
    # Best of `--repeat` for each side, interleaved, so a noisy neighbour hurts both alike.
    floors, ours_all = [], []
    for _ in range(args.repeat):
        floors.append(asyncio.run(floor_throughput(args.runs)))
        ours_all.append(asyncio.run(wfkit_throughput(args.runs)))
    floor, ours = min(floors), min(ours_all)
    lat = asyncio.run(latency(args.latency_runs))
    ratio = ours / floor
    print(
        f"python {sys.version.split()[0]}, {args.runs} runs x 5 steps, memory adapters, one process, "
        f"best of {args.repeat}\n"
    )
    print(f"{'':24}{'steps/s':>12}{'runs/s':>12}{'seconds':>10}")
    print(f"{'floor (hand-written)':24}{steps / floor:>12,.0f}{args.runs / floor:>12,.0f}{floor:>10.3f}")
    print(f"{'wfkit':24}{steps / ours:>12,.0f}{args.runs / ours:>12,.0f}{ours:>10.3f}")
    print(f"\nwfkit is {ratio:.1f}x the floor's time (target <= 4x); target >= 25,000 steps/s")
    p50 = statistics.median(lat) * 1000
    p99 = sorted(lat)[max(0, int(len(lat) * 0.99) - 1)] * 1000
    print(
        f"trigger-to-complete latency, one 5-step run: p50 {p50:.2f} ms, p99 {p99:.2f} ms "
        f"over {len(lat)} runs (target p50 < 5 ms)"
    )


if __name__ == "__main__":
    main()
