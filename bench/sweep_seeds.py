"""Sweep thousands of simulation seeds of a 5-step workflow under a fault plan; stop at a violation.

    python bench/sweep_seeds.py [--seeds 0..2000] [--runs 6] [--nodes 3] [--faults default]

The slow companion of tests/test_simulation.py (which runs 200 seeds): the same workflow (five
steps, a payment callback racing a 30 s timeout), every seed checked by the simulator's oracle.
Prints progress, then seeds per second and the totals; exits 1 with the failure's explanation
(seed, plan, replay command, last trace lines) on the first seed that breaks a guarantee.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import sys
import time
from collections.abc import Callable
from datetime import timedelta

import wfkit
from wfkit.testing import FaultPlan, Workload, simulate


class Status(enum.IntEnum):
    RECEIVED = 1
    CHECKED = 2
    RESERVED = 3
    AWAITING_PAYMENT = 4
    PAID = 5
    PACKED = 6
    SHIPPED = 7
    EXPIRED = 8


@dataclasses.dataclass
class Order:
    steps: int = 0


def make_builder() -> wfkit.Builder[Order, Status]:
    b = wfkit.Builder("orders", Order, Status)

    def step(to: Status) -> Callable[[wfkit.Run[Order, Status]], Status]:
        def fn(run: wfkit.Run[Order, Status]) -> Status:
            run.object.steps += 1
            return to

        return fn

    for source, target in (
        (Status.RECEIVED, Status.CHECKED),
        (Status.CHECKED, Status.RESERVED),
        (Status.RESERVED, Status.AWAITING_PAYMENT),
        (Status.PAID, Status.PACKED),
        (Status.PACKED, Status.SHIPPED),
    ):
        b.add_step(source, step(target), target)
    b.add_callback(Status.AWAITING_PAYMENT, lambda run, payload: Status.PAID, Status.PAID)
    b.add_timeout(
        Status.AWAITING_PAYMENT,
        wfkit.after(timedelta(seconds=30)),
        lambda run, now: Status.EXPIRED,
        Status.EXPIRED,
    )
    return b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seeds", default="0..2000", help="A..B (B excluded)")
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--faults", default="default", help="a FaultPlan.parse() string")
    args = parser.parse_args()
    start, _, end = args.seeds.partition("..")
    seeds = range(int(start), int(end))
    plan = FaultPlan.parse(args.faults)
    workload = Workload(
        runs=args.runs,
        spacing=2.5,
        callbacks={int(Status.AWAITING_PAYMENT): b'{"paid": true}'},
        callback_every=40.0,
    )
    totals = {"runs_finished": 0, "transitions": 0, "step_calls": 0, "faults_injected": 0}
    simulated = 0.0
    began = time.perf_counter()
    for n, seed in enumerate(seeds, 1):
        report = simulate(
            make_builder, seed=seed, nodes=args.nodes, workload=workload, faults=plan, keep_trace=False
        )
        if not report.ok:
            report = simulate(make_builder, seed=seed, nodes=args.nodes, workload=workload, faults=plan)
            print(report.explain(), file=sys.stderr)
            return 1
        for key in totals:
            totals[key] += report.stats[key]
        simulated += report.stats["simulated_seconds"]
        if n % 250 == 0:
            print(f"  {n}/{len(seeds)} seeds ok ({time.perf_counter() - began:.1f}s)", flush=True)
    wall = time.perf_counter() - began
    print(
        f"{len(seeds)} seeds ok ({plan.describe()}, {args.nodes} nodes, {args.runs} runs each) "
        f"in {wall:.1f}s: {len(seeds) / wall:.0f} seeds/s, {totals['step_calls'] / wall:.0f} step calls/s, "
        f"{simulated / wall:.0f} simulated s/s"
    )
    print("  " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
