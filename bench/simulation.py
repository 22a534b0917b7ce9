"""How fast the deterministic simulator runs the real engine, in wall time.

    python bench/simulation.py [--seeds N] [--runs R] [--timer-runs M] [--days D] [--aligned] [--profile]

1. A 5-step workflow with a callback and a timeout (the shape of `examples/payments.py`) on 3
   nodes under `FaultPlan.default()`: simulated steps (step-function calls plus transitions) per
   wall second, and runs per wall second. Target: >= 10,000 steps per wall second with faults on.
2. A timer-dominated workload: 1,000 runs, each waiting on an hourly timeout (a reminder that loops
   back to the same status) until a simulated week has passed, then completing: simulated seconds
   per wall second. Target: >= 100,000.

Wall time is measured around each `simulate()` call (set-up and final checks included); each
figure is the best of `--repeat` measurements. `--profile` runs each workload once more under
cProfile and prints the top functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import enum
import gc
import io
import pstats
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import wfkit
from wfkit.testing import FaultPlan, Report, Workload, simulate

STEPS_TARGET = 10_000
TIMER_TARGET = 100_000
WEEK = 7 * 24 * 3600


# -- workload 1: five steps, a callback and a timeout ---------------------------------------------


class Pay(enum.IntEnum):
    RECEIVED = 1
    CHECKED = 2
    RESERVED = 3
    AWAITING = 4
    CONFIRMED = 5
    CAPTURED = 6
    COMPLETED = 7
    EXPIRED = 8


@dataclasses.dataclass
class Payment:
    amount: int = 1250
    refs: list[str] = dataclasses.field(default_factory=list)


def payments() -> wfkit.Builder[Payment, Pay]:
    b = wfkit.Builder("bench-payments", Payment, Pay)

    def step(to: Pay) -> Callable[[wfkit.Run[Payment, Pay]], Any]:
        async def fn(run: wfkit.Run[Payment, Pay]) -> Pay:
            run.object.refs.append(f"{to.name}-{run.idempotency_key}")
            return to

        return fn

    async def confirmed(run: wfkit.Run[Payment, Pay], payload: bytes) -> Pay:
        return Pay.CONFIRMED

    async def expire(run: wfkit.Run[Payment, Pay], now: datetime) -> Pay:
        return Pay.EXPIRED

    b.add_step(Pay.RECEIVED, step(Pay.CHECKED), Pay.CHECKED)
    b.add_step(Pay.CHECKED, step(Pay.RESERVED), Pay.RESERVED)
    b.add_step(Pay.RESERVED, step(Pay.AWAITING), Pay.AWAITING)
    b.add_callback(Pay.AWAITING, confirmed, Pay.CONFIRMED)
    b.add_timeout(Pay.AWAITING, wfkit.after(timedelta(minutes=15)), expire, Pay.EXPIRED)
    b.add_step(Pay.CONFIRMED, step(Pay.CAPTURED), Pay.CAPTURED)
    b.add_step(Pay.CAPTURED, step(Pay.COMPLETED), Pay.COMPLETED)
    return b


# -- workload 2: hourly reminders for a week ------------------------------------------------------


class Remind(enum.IntEnum):
    START = 1
    WAITING = 2
    DONE = 3


@dataclasses.dataclass
class Reminders:
    sent: int = 0


def reminders(days: float) -> Callable[[], wfkit.Builder[Reminders, Remind]]:
    hours = round(days * 24)

    def make() -> wfkit.Builder[Reminders, Remind]:
        b = wfkit.Builder("bench-reminders", Reminders, Remind)

        async def begin(run: wfkit.Run[Reminders, Remind]) -> Remind:
            return Remind.WAITING

        async def remind(run: wfkit.Run[Reminders, Remind], now: datetime) -> Remind:
            run.object.sent += 1
            return Remind.DONE if run.object.sent >= hours else Remind.WAITING

        b.add_step(Remind.START, begin, Remind.WAITING)
        b.add_timeout(Remind.WAITING, wfkit.after(timedelta(hours=1)), remind, Remind.WAITING, Remind.DONE)
        return b

    return make


# -- measuring ------------------------------------------------------------------------------------


def timed(fn: Callable[[], Report]) -> tuple[Report, float]:
    gc.collect()
    start = time.perf_counter()
    report = fn()
    return report, time.perf_counter() - start


def checked(report: Report) -> Report:
    if not report.ok:
        sys.exit(f"the benchmark's simulation failed:\n{report.explain()}")
    return report


def _where(file: str) -> str:
    for marker in ("/wfkit/", "/site-packages/", "/lib/python3.11/", "/lib/python3.12/", "/lib/python3.13/"):
        if marker in file:
            return ("wfkit/" if marker == "/wfkit/" else "") + file.split(marker)[-1]
    return file


def profile(fn: Callable[[], Report], top: int) -> str:
    """Top functions by own time, own time per file, and the engine's heaviest cumulative paths."""
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    rows: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    rows = pstats.Stats(profiler, stream=io.StringIO()).stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in rows.values())
    out = [f"  {'own s':>7} {'share':>6} {'calls':>10}  function (total {total:.2f} s under cProfile)"]
    for (file, line, name), (_cc, calls, own, _cum, _callers) in sorted(
        rows.items(), key=lambda kv: kv[1][2], reverse=True
    )[:top]:
        out.append(f"  {own:>7.2f} {own / total:>6.1%} {calls:>10,}  {_where(file)}:{line}:{name}")
    per_file: dict[str, float] = {}
    for (file, _line, _name), row in rows.items():
        per_file[_where(file)] = per_file.get(_where(file), 0.0) + row[2]
    out.append(f"\n  {'own s':>7} {'share':>6}  file")
    for file, own in sorted(per_file.items(), key=lambda kv: kv[1], reverse=True)[:top]:
        out.append(f"  {own:>7.2f} {own / total:>6.1%}  {file}")
    out.append(f"\n  {'cum s':>7} {'share':>6} {'calls':>10}  wfkit function (cumulative)")
    ours = [kv for kv in rows.items() if _where(kv[0][0]).startswith("wfkit/")]
    for (file, line, name), (_cc, calls, _own, cum, _callers) in sorted(
        ours, key=lambda kv: kv[1][3], reverse=True
    )[:top]:
        out.append(f"  {cum:>7.2f} {cum / total:>6.1%} {calls:>10,}  {_where(file)}:{line}:{name}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the faulty workload per measurement")
    parser.add_argument("--runs", type=int, default=200, help="runs per seed of the faulty workload")
    parser.add_argument("--timer-runs", type=int, default=1000)
    parser.add_argument("--days", type=float, default=7.0, help="simulated days of hourly reminders")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many measurements")
    parser.add_argument("--aligned", action="store_true", help="also time the timer runs triggered at once")
    parser.add_argument("--profile", action="store_true", help="profile each workload once (cProfile)")
    args = parser.parse_args()

    # 1. The faulty workload: `--seeds` simulations, each of `--runs` runs.
    workload = Workload(runs=args.runs, spacing=0.5, callbacks={int(Pay.AWAITING): b"{}"})
    plan = FaultPlan.default()

    def faulty(seed: int) -> Callable[[], Report]:
        return lambda: simulate(payments, seed=seed, nodes=3, workload=workload, faults=plan)

    best: tuple[float, int, int, int] | None = None
    for _ in range(args.repeat):
        steps = runs = faults = 0
        wall = 0.0
        for seed in range(1, args.seeds + 1):
            report, elapsed = timed(faulty(seed))
            checked(report)
            wall += elapsed
            steps += report.stats["step_calls"] + report.stats["transitions"]
            runs += report.stats["runs_finished"]
            faults += report.stats["faults_injected"]
        if best is None or wall < best[0]:
            best = (wall, steps, runs, faults)
    assert best is not None
    wall1, steps1, runs1, faults1 = best

    # 2. The timer workload: one simulation, a week of hourly timeouts. Triggers are staggered over
    # the first hour (every run's timer falls due at its own moment, the hard case); `--aligned`
    # also measures them all triggered at once (the poller fires each hour's timeouts in a batch).
    make_reminders = reminders(args.days)
    max_time = args.days * 86400 + 4 * 3600

    def timer_run(spacing: float) -> Callable[[], Report]:
        wl = Workload(runs=args.timer_runs, spacing=spacing, max_time=max_time)
        none = FaultPlan.none()
        return lambda: simulate(make_reminders, seed=1, nodes=3, workload=wl, faults=none, keep_trace=False)

    def best_timer(spacing: float) -> tuple[float, Report]:
        best: tuple[float, Report] | None = None
        for _ in range(args.repeat):
            report, elapsed = timed(timer_run(spacing))
            checked(report)
            if best is None or elapsed < best[0]:
                best = (elapsed, report)
        assert best is not None
        return best

    staggered = 3600 / max(args.timer_runs, 1)
    timers = [("staggered", best_timer(staggered))]
    if args.aligned:
        timers.append(("aligned", best_timer(0.0)))

    print(f"python {sys.version.split()[0]}, wfkit.testing.simulate, 3 nodes, best of {args.repeat}\n")
    print(f"{'workload':44}{'measured':>16}{'target':>12}  ")
    steps_rate = steps1 / wall1
    print(
        f"{'5 steps + callback + timeout, default faults':44}{'':>16}{'':>12}\n"
        f"{'  simulated steps / wall s':44}{steps_rate:>16,.0f}{f'>= {STEPS_TARGET:,}':>12}  "
        f"{'ok' if steps_rate >= STEPS_TARGET else 'MISSED'}\n"
        f"{'  runs / wall s':44}{runs1 / wall1:>16,.0f}{'':>12}\n"
        f"  ({args.seeds} seeds x {args.runs} runs: {steps1:,} steps, {faults1:,} faults, {wall1:.2f} s)"
    )
    for name, (wall2, timer_report) in timers:
        simulated2 = float(timer_report.stats["simulated_seconds"])
        calls2 = timer_report.stats["step_calls"]
        timer_rate = simulated2 / wall2
        how = f"one trigger every {staggered:g} s" if name == "staggered" else "all triggered at t=0"
        print(
            f"{f'timer: {args.timer_runs:,} runs, hourly timeouts, {args.days:g} days':44}{'':>16}{'':>12}\n"
            f"{f'  ({name}: {how})':44}{'':>16}{'':>12}\n"
            f"{'  simulated s / wall s':44}{timer_rate:>16,.0f}{f'>= {TIMER_TARGET:,}':>12}  "
            f"{'ok' if timer_rate >= TIMER_TARGET else 'MISSED'}\n"
            f"{'  timeouts fired / wall s':44}{calls2 / wall2:>16,.0f}{'':>12}\n"
            f"  ({simulated2:,.0f} simulated s, {calls2:,} step calls, {wall2:.2f} s, "
            f"{wall2 / max(calls2, 1) * 1e6:.1f} µs of wall time per step call)"
        )

    if args.profile:
        one = Workload(runs=args.runs, spacing=0.5, callbacks={int(Pay.AWAITING): b"{}"})
        print("\nprofile, faulty workload (one seed):")
        print(profile(lambda: simulate(payments, seed=1, nodes=3, workload=one, faults=plan), 20))
        print("\nprofile, timer workload:")
        print(profile(timer_run(staggered), 20))


if __name__ == "__main__":
    main()
