"""The deterministic simulator: replay, the event-loop hooks it relies on, the engine under faults,
deadlocks, user invariants, and Hypothesis strategies that shrink to a minimal failing plan.

Seed sweeps are sized to keep this file at a few seconds; `python bench/sweep_seeds.py` runs the
same workflow over thousands of seeds.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import enum
import functools
import inspect
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from _broken import AckOnDeliveryStreamer
from hypothesis import HealthCheck, Phase, find, given, settings

import wfkit
from wfkit.adapters import Backend, memory
from wfkit.testing import Deadlock, FaultPlan, Report, SimClock, SimLoop, Workload, simulate
from wfkit.testing._faultplan import FAULT_NAMES
from wfkit.testing.strategies import fault_plans, seeds, workloads


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


def make_builder(concurrency: int | None = None) -> wfkit.Builder[Order, Status]:
    """Five steps, a payment callback and a 30 s payment timeout that races it."""
    b = wfkit.Builder("orders", Order, Status)

    def step(to: Status) -> Any:
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
        b.add_step(source, step(target), target, concurrency=concurrency)
    b.add_callback(Status.AWAITING_PAYMENT, lambda run, payload: Status.PAID, Status.PAID)
    b.add_timeout(
        Status.AWAITING_PAYMENT,
        wfkit.after(timedelta(seconds=30)),
        lambda run, now: Status.EXPIRED,
        Status.EXPIRED,
    )
    return b


PAYMENTS = {int(Status.AWAITING_PAYMENT): b'{"paid": true}'}
# Payments are answered every 40 s: runs waiting since before t=10 expire, later ones are paid, and
# the run waiting from t=10 has its payment and its timeout due at the same instant.
WORKLOAD = Workload(runs=6, spacing=2.5, callbacks=PAYMENTS, callback_every=40.0)
SMALL = Workload(runs=3, spacing=1.0, callbacks=PAYMENTS, callback_every=40.0)
# For shrinking: a stuck run is reported once 10 simulated minutes have passed (faults end by 2),
# instead of after the default two hours, so each failing example costs a few milliseconds.
SHRINKABLE = dataclasses.replace(SMALL, max_time=600.0)
# Hypothesis's "explain" phase re-runs the failing example many times to annotate it: too slow
# when every example is a simulation. Generating and shrinking is what these tests need.
SEARCH = settings(database=None, derandomize=True, deadline=None, phases=(Phase.generate, Phase.shrink))
DETERMINISM_SEEDS = range(100)


def trace_hashes(seeds: Sequence[int]) -> list[str]:
    """The trace hash of each seed: the small workload, 3 nodes, the default fault plan."""
    return [
        simulate(
            make_builder, seed=s, workload=SMALL, faults=FaultPlan.default(), keep_trace=False
        ).trace_hash
        for s in seeds
    ]


@functools.cache
def reference_hashes() -> tuple[str, ...]:
    return tuple(trace_hashes(DETERMINISM_SEEDS))


def _rates_on(plan: FaultPlan) -> dict[str, float]:
    """The faults a plan switches on, with their rates."""
    return {name: plan.rate(name) for name in FAULT_NAMES if plan.rate(name) > 0}


def lines_of(report: Report, kind: str) -> list[dict[str, Any]]:
    return [d for d in map(json.loads, report.trace) if d["k"] == kind]


# -- determinism ---------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_trace_hash_for_100_seeds() -> None:
    again = trace_hashes(DETERMINISM_SEEDS)
    first = reference_hashes()
    assert list(first) == again
    assert len(set(first)) == len(first), "different seeds should give different traces"


def test_the_same_seed_gives_the_same_trace_hash_in_other_processes(tmp_path: Path) -> None:
    # Two fresh interpreters with different string hashing, outside the repository.
    code = (
        "import json, test_simulation as t; "
        "print(json.dumps({'str_hash': hash('wfkit-determinism'), "
        f"'hashes': t.trace_hashes(range({len(DETERMINISM_SEEDS)}))}}))"
    )
    children = []
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": path}
        children.append(
            subprocess.Popen(
                [sys.executable, "-c", code],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    here = list(reference_hashes())  # computed while the children run
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        results.append(json.loads(out))
    assert results[0]["str_hash"] != results[1]["str_hash"], "the children must hash strings differently"
    assert results[0]["hashes"] == here
    assert results[1]["hashes"] == here


def test_seeds_explore_different_interleavings_not_just_different_ids() -> None:
    # One node and no faults: the only seeded choices left are the ids and the scheduler's order.
    # With run ids renamed by first appearance, the traces still differ: the order differs.
    workload = Workload(runs=3, spacing=0.0, callbacks=PAYMENTS, callback_every=40.0)

    def shape(report: Report) -> tuple[str, ...]:
        names: dict[str, int] = {}
        out = []
        for line in lines_of(report, "write") + lines_of(report, "send"):
            line["run"] = names.setdefault(line["run"], len(names))
            out.append(json.dumps(line, sort_keys=True))
        return tuple(out)

    shapes = {shape(simulate(make_builder, seed=s, nodes=1, workload=workload)) for s in range(8)}
    assert len(shapes) >= 4


# -- the private CPython hooks the SimLoop relies on ---------------------------------------------


def test_the_event_loop_hooks_the_simloop_relies_on_still_exist() -> None:
    """Fails loudly on a Python whose asyncio no longer routes wake-ups through `_call_soon`."""
    base = asyncio.base_events.BaseEventLoop
    hook = getattr(base, "_call_soon", None)
    assert callable(hook), "BaseEventLoop._call_soon is gone"
    assert list(inspect.signature(hook).parameters) == ["self", "callback", "args", "context"]
    assert "self._call_soon(" in inspect.getsource(base.call_soon)
    assert callable(getattr(base, "_run_once", None))
    # The SimLoop's own _run_once, call_soon and call_at work BaseEventLoop's state directly.
    run_once = inspect.getsource(base._run_once)
    for name in ("_scheduled", "_timer_cancelled_count", "_clock_resolution", "_stopping", "_process_events"):
        assert f"self.{name}" in run_once, f"BaseEventLoop._run_once no longer uses {name}"
    for name in (
        "_MIN_SCHEDULED_TIMER_HANDLES",
        "_MIN_CANCELLED_TIMER_HANDLES_FRACTION",
        "MAXIMUM_SELECT_TIMEOUT",
    ):
        assert hasattr(asyncio.base_events, name), f"asyncio.base_events.{name} is gone"
    for slot in ("_context", "_callback", "_args", "_cancelled", "_loop", "_repr", "_source_traceback"):
        assert slot in asyncio.events.Handle.__slots__, f"Handle.{slot} is gone"
    assert {"_when", "_scheduled"} <= set(asyncio.events.TimerHandle.__slots__)
    assert "self._context.run(self._callback, *self._args)" in inspect.getsource(asyncio.events.Handle._run)
    loop = SimLoop(0)
    try:
        ready = getattr(loop, "_ready", None)
        assert isinstance(ready, collections.deque), "BaseEventLoop._ready is gone"
        handle = loop.call_soon(print)
        assert handle in ready  # call_soon put it where the SimLoop's override reorders
        handle.cancel()
        timer = loop.call_later(5.0, print)
        assert timer in getattr(loop, "_scheduled", ()), "BaseEventLoop._scheduled is gone"
        timer.cancel()
    finally:
        loop.close()


def _call_soon_order(seed: int) -> list[int]:
    loop = SimLoop(seed)
    order: list[int] = []
    try:
        for i in range(10):
            loop.call_soon(order.append, i)
        loop.run_until_complete(asyncio.sleep(1))  # every ready callback runs before time moves
    finally:
        loop.close()
    return order


def _task_order(seed: int) -> list[int]:
    loop = SimLoop(seed)
    order: list[int] = []

    async def worker(i: int) -> None:
        await asyncio.sleep(0)  # a wake-up from the ready queue, as every task step is
        order.append(i)

    async def main() -> None:
        await asyncio.gather(*(worker(i) for i in range(10)))

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return order


def test_the_simloop_shuffles_ready_callbacks_by_seed() -> None:
    orders = {seed: _call_soon_order(seed) for seed in (1, 2, 3)}
    assert all(sorted(order) == list(range(10)) for order in orders.values())
    assert orders[1] == _call_soon_order(1)  # the same seed, the same order
    assert len({tuple(order) for order in orders.values()}) > 1  # other seeds, other orders
    # Task wake-ups (the C Task calls loop.call_soon) go through the hook too.
    assert _task_order(1) == _task_order(1)
    assert len({tuple(_task_order(seed)) for seed in (1, 2, 3)}) > 1


def test_the_simloop_skips_idle_time_instead_of_waiting() -> None:
    loop = SimLoop(0)
    try:
        loop.run_until_complete(asyncio.sleep(30 * 24 * 3600))
        assert loop.time() == 30 * 24 * 3600
    finally:
        loop.close()


# -- the correct engine under faults ---------------------------------------------------------------


def test_the_engine_keeps_every_guarantee_over_200_seeds_of_the_default_fault_plan() -> None:
    failures = []
    faults = 0
    outcomes: set[int] = set()
    for seed in range(200):
        report = simulate(make_builder, seed=seed, nodes=3, workload=WORKLOAD, faults=FaultPlan.default())
        if not report.ok:
            failures.append(report)
            continue
        assert report.stats["runs_finished"] >= WORKLOAD.runs
        faults += report.stats["faults_injected"]
        completed = int(wfkit.RunState.COMPLETED)
        outcomes.update(line["s"] for line in lines_of(report, "write") if line["rs"] == completed)
    assert not failures, failures[0].explain()
    assert faults > 1000  # the plan really injected faults
    assert outcomes == {Status.SHIPPED, Status.EXPIRED}  # both the payment and the expiry paths ran


# -- deadlocks --------------------------------------------------------------------------------------


def test_a_main_awaiting_a_future_nobody_sets_is_a_deadlock_naming_the_task() -> None:
    async def waits_for_a_reply_that_never_comes() -> None:
        await asyncio.get_running_loop().create_future()

    loop = SimLoop(7)
    try:
        with pytest.raises(Deadlock, match="waits_for_a_reply_that_never_comes") as caught:
            loop.run_until_complete(waits_for_a_reply_that_never_comes())
        assert len(caught.value.pending) == 1
        assert caught.value.pending[0].startswith("test_a_main_awaiting")
        assert " at waits_for_a_reply_that_never_comes:" in caught.value.pending[0]
        assert loop.time() == 0.0  # detected at once, not after some timeout
    finally:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.close()


# -- user invariants --------------------------------------------------------------------------------


class Payment(enum.IntEnum):
    OPENED = 1
    CHARGED = 2
    SETTLED = 3


@dataclasses.dataclass
class Account:
    balance: int = 0


def charging(amount: int) -> wfkit.Builder[Account, Payment]:
    b = wfkit.Builder("charges", Account, Payment)

    def charge(run: wfkit.Run[Account, Payment]) -> Payment:
        run.object.balance -= amount  # no overdraft check: the bug the invariant catches
        return Payment.CHARGED

    b.add_step(Payment.OPENED, charge, Payment.CHARGED)
    b.add_step(Payment.CHARGED, lambda run: Payment.SETTLED, Payment.SETTLED)
    return b


def no_negative_balance(run: wfkit.Run[Account, Payment]) -> bool:
    return run.object.balance >= 0


def test_a_user_invariant_the_workflow_violates_is_reported_by_name() -> None:
    workload = Workload(runs=4, initial=lambda i: Account(balance=40 + 20 * i))  # 40, 60, 80, 100
    report = simulate(
        lambda: charging(70),
        seed=3,
        workload=workload,
        faults=FaultPlan.default(),
        invariants=[no_negative_balance],
    )
    assert not report.ok
    names = {v.invariant for v in report.violations}
    assert names == {"user invariant no_negative_balance"}
    # The 40 and 60 accounts: caught at the charge itself (version 2), and again when settled.
    details = sorted(v.detail.split()[-1] for v in report.violations)
    assert details == ["2", "2", "3", "3"]
    assert len({v.detail.split()[1] for v in report.violations}) == 2
    assert "user invariant no_negative_balance" in report.explain()

    enough = Workload(runs=4, initial=lambda i: Account(balance=70 + i))
    passing = simulate(
        lambda: charging(70),
        seed=3,
        workload=enough,
        faults=FaultPlan.default(),
        invariants=[no_negative_balance],
    )
    assert passing.ok, passing.explain()


def test_an_invariant_that_raises_is_a_violation_too() -> None:
    def balance_is_readable(run: wfkit.Run[Account, Payment]) -> bool:
        raise KeyError("balance")

    report = simulate(
        lambda: charging(1), seed=1, workload=Workload(runs=1), invariants=[balance_is_readable]
    )
    assert report.violations
    assert report.violations[0].invariant.startswith("user invariant balance_is_readable (raised KeyError")


# -- Hypothesis -----------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=fault_plans(), seed=seeds())
def test_the_engine_survives_any_fault_plan(plan: FaultPlan, seed: int) -> None:
    report = simulate(make_builder, seed=seed, workload=SMALL, faults=plan)
    assert report.ok, report.explain()


def test_the_strategies_shrink_to_the_simplest_values() -> None:
    quick = settings(SEARCH, max_examples=200)
    plan = find(fault_plans(), lambda p: p.crash > 0, settings=quick)
    assert plan == FaultPlan(crash=plan.crash, window=(0.0, 1.0))  # every other rate off
    workload = find(workloads(callbacks=PAYMENTS), lambda w: True, settings=quick)
    assert (workload.runs, workload.spacing, workload.foreign_ids) == (1, 0.0, None)
    assert workload.callbacks == PAYMENTS
    shared = find(workloads(), lambda w: w.foreign_ids is not None, settings=quick)
    assert (shared.runs, shared.foreign_ids) == (2, 1)
    assert find(seeds(), lambda s: True, settings=quick) == 0


@settings(max_examples=60, database=None)
@given(
    plan=fault_plans(0.1, faults=["crash", "drop", "delay"], max_rates={"crash": 0.01}, max_window=30),
    workload=workloads(max_runs=5, min_runs=2, max_spacing=2.0, callbacks=PAYMENTS),
)
def test_the_strategies_stay_within_their_bounds(plan: FaultPlan, workload: Workload) -> None:
    assert set(_rates_on(plan)) <= {"crash", "drop", "delay"}
    assert plan.crash <= 0.01
    assert plan.drop <= 0.1
    assert plan.delay <= 0.1
    assert plan.window is not None
    assert 0 <= plan.window[0] < plan.window[1] <= 30
    assert FaultPlan.parse(plan.describe()) == plan  # every plan round-trips through --faults
    assert 2 <= workload.runs <= 5
    assert 0 <= workload.spacing <= 2.0
    assert workload.foreign_ids is None or 1 <= workload.foreign_ids < workload.runs
    assert workload.callbacks == PAYMENTS


def test_the_strategies_refuse_unknown_faults_and_bad_bounds() -> None:
    with pytest.raises(wfkit.ConfigurationError, match="crashh"):
        fault_plans(faults=["crashh"])
    with pytest.raises(wfkit.ConfigurationError, match="max_rate"):
        fault_plans(1.5)
    with pytest.raises(wfkit.ConfigurationError, match="min_runs"):
        workloads(max_runs=2, min_runs=3)


def _acking_backend(clock: SimClock) -> Backend:
    return Backend(
        AckOnDeliveryStreamer(clock=clock),  # broken: acks before the handler commits
        memory.RecordStore(clock=clock),
        memory.RoleScheduler(clock=clock),
        memory.TimeoutStore(clock=clock),
    )


def test_a_failing_property_shrinks_to_a_minimal_plan_and_a_replayable_message() -> None:
    """The user-facing flow: a property over fault plans fails, Hypothesis shrinks it, and the
    message names the violated guarantee, the seed, the shrunk plan and the replay command."""

    @settings(SEARCH, max_examples=100)
    @given(plan=fault_plans(max_rate=0.3), seed=seeds())
    def survives(plan: FaultPlan, seed: int) -> None:
        report = simulate(make_builder, seed=seed, workload=SHRINKABLE, faults=plan, backend=_acking_backend)
        assert report.ok, report.explain()

    with pytest.raises(AssertionError) as caught:
        survives()
    message = str(caught.value)
    assert "every triggered run reaches a terminal or stopped state" in message
    assert "replay: wfkit simulate" in message
    assert "trace lines " in message
    plan = FaultPlan.parse(message.split("faults: ", 1)[1].split("\n", 1)[0])
    assert 1 <= len(_rates_on(plan)) <= 2, plan.describe()
    seed = int(message.split("seed ", 1)[1].split(",", 1)[0])
    assert seed < 10  # seeds shrink toward 0 too

    # The shrunk plan is a real counter-example: it replays, and the correct streamer passes it.
    replay = simulate(make_builder, seed=seed, workload=SHRINKABLE, faults=plan, backend=_acking_backend)
    assert not replay.ok
    assert simulate(make_builder, seed=seed, workload=SHRINKABLE, faults=plan).ok


def test_find_shrinks_a_failing_plan_to_a_minimal_one() -> None:
    def fails(plan: FaultPlan) -> bool:
        return not simulate(
            make_builder, seed=0, workload=SHRINKABLE, faults=plan, backend=_acking_backend
        ).ok

    plan = find(fault_plans(max_rate=0.3), fails, settings=settings(SEARCH, max_examples=100))
    assert fails(plan)
    # Minimal: one or two faults, and without any one of them the run passes.
    rates = _rates_on(plan)
    assert 1 <= len(rates) <= 2, plan.describe()
    for name in rates:
        assert not fails(dataclasses.replace(plan, **{name: 0.0})), f"{plan.describe()} without {name}"


def test_step_consumers_handling_several_events_at_once_keep_every_guarantee() -> None:
    """`concurrency=4` overlaps the steps of different runs; under the default faults (crashes,
    lost roles, failed and ambiguous writes, dropped and duplicated events) every invariant holds."""
    workload = Workload(runs=30, spacing=0.2, callbacks=PAYMENTS, callback_every=5.0)
    for seed in range(40):
        report = simulate(
            functools.partial(make_builder, 4), seed=seed, workload=workload, faults=FaultPlan.default()
        )
        assert report.ok, report.explain()
        assert report.stats["runs_finished"] == 30


def test_the_replay_command_carries_the_workload_spacing() -> None:
    report = simulate(
        make_builder, seed=2, workload=dataclasses.replace(SMALL, spacing=0.5), keep_trace=False
    )
    assert " --runs 3 --spacing 0.5 --faults " in report.replay_command
    assert "--spacing" not in simulate(make_builder, seed=2, workload=SMALL, keep_trace=False).replay_command


def test_a_deadlock_report_shows_the_chain_of_awaits_down_to_the_stuck_one() -> None:
    async def inner() -> None:
        await asyncio.get_running_loop().create_future()

    async def middle() -> None:
        await inner()

    loop = SimLoop(3)
    try:
        with pytest.raises(Deadlock) as caught:
            loop.run_until_complete(middle())
        chain = caught.value.pending[0]
        assert " at middle:" in chain, chain
        assert " > inner:" in chain, chain
    finally:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.close()
