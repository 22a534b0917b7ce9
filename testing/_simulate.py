"""`simulate()`: run a user's workflow on several simulated nodes, under faults, from one seed."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import random
import time
import types
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from wfkit import (
    Builder,
    ConfigurationError,
    JsonCodec,
    RandomIds,
    Record,
    Run,
    WfkitError,
    Workflow,
    WorkflowInProgress,
)
from wfkit.adapters import Backend
from wfkit.testing._faultplan import FaultPlan
from wfkit.testing._faults import FaultyStore, FaultyStreamer, FaultyTimeouts, Injector, WatchedRoles
from wfkit.testing._oracle import Invariant, Oracle
from wfkit.testing._report import Report
from wfkit.testing._simclock import SimClock
from wfkit.testing._simloop import run as run_on_simloop
from wfkit.testing._trace import HEADER_GRAPH, Trace
from wfkit.testing._workload import Workload

BackendFactory = Callable[[SimClock], Backend]

_QUIET = logging.getLogger("wfkit.simulation")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def simulate(
    builder: Builder[Any, Any] | Callable[[], Builder[Any, Any]],
    *,
    seed: int = 0,
    nodes: int = 3,
    workload: Workload | None = None,
    faults: FaultPlan | None = None,
    invariants: list[Invariant] | tuple[Invariant, ...] = (),
    backend: BackendFactory | None = None,
    keep_trace: bool = True,
    target: str | None = None,
) -> Report:
    """Run the workflow of `builder` on `nodes` simulated workers sharing durable adapters.

    Synchronous: it owns its event loop (virtual time, seeded interleavings). The same seed, code
    and arguments give the same trace, byte for byte. `backend(clock)` makes the shared adapters
    (default: the memory adapters); the simulator wraps them with its fault injectors.
    """
    b = builder() if callable(builder) and not isinstance(builder, Builder) else builder
    if not isinstance(b, Builder):
        raise ConfigurationError(f"simulate() needs a wfkit.Builder or a function returning one, got {b!r}")
    if nodes < 1:
        raise ConfigurationError("simulate() needs at least one node")
    sim = _Simulation(
        b,
        seed,
        nodes,
        workload or Workload(),
        faults or FaultPlan.none(),
        list(invariants),
        backend,
        keep_trace,
        target or _target_of(builder),
    )
    started = time.perf_counter()
    run_on_simloop(sim.main(), seed=seed, set_aside=True)
    return sim.report(time.perf_counter() - started)


class _Node:
    def __init__(self, sim: _Simulation, index: int) -> None:
        self.sim = sim
        self.index = index
        self.incarnation = 0
        self.wf: Workflow[Any, Any] | None = None
        self.registries: list[CollectorRegistry] = []

    @property
    def up(self) -> bool:
        return self.wf is not None

    async def start(self) -> None:
        sim, i = self.sim, self.index
        self.incarnation += 1
        registry = CollectorRegistry()
        self.registries.append(registry)
        timeouts = sim.backend.timeouts
        wf = sim.builder.build(
            FaultyStreamer(sim.backend.streamer, sim.faults, sim.oracle, i),
            FaultyStore(sim.backend.store, sim.faults, sim.oracle, i),
            WatchedRoles(sim.backend.roles, sim.oracle, i),
            timeout_store=None if timeouts is None else FaultyTimeouts(timeouts, sim.faults, sim.oracle, i),
            clock=sim.clock,
            ids=RandomIds(sim.seed * 1_000_003 + i * 1_009 + self.incarnation),
            metrics=registry,
            logger=_QUIET,
        )
        await wf.run()
        self.wf = wf
        sim.trace.add("start", n=i, inc=self.incarnation)

    async def crash(self) -> None:
        wf, self.wf = self.wf, None
        self.sim.trace.add("crash", n=self.index)
        if wf is not None:
            await wf.stop()  # every task dies at whatever await it sits on


class _Simulation:
    def __init__(
        self,
        builder: Builder[Any, Any],
        seed: int,
        nodes: int,
        workload: Workload,
        plan: FaultPlan,
        invariants: list[Invariant],
        backend: BackendFactory | None,
        keep_trace: bool,
        target: str,
    ) -> None:
        self.seed = seed
        self.workload = workload
        self.plan = plan
        self.invariants = invariants
        self.backend_factory = backend
        self.keep_trace = keep_trace
        self.target = target
        self.node_count = nodes
        self.step_calls = 0
        self.rng = random.Random(f"wfkit-simulation-{seed}")
        self.builder = self._instrument(builder)
        self.spec = builder._spec
        self.triggered: dict[int, str] = {}

    # -- setup ---------------------------------------------------------------------------------

    def _instrument(self, builder: Builder[Any, Any]) -> Builder[Any, Any]:
        """A copy of the builder whose functions are counted and may be slowed down."""
        spec = builder._spec

        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            async def instrumented(*args: Any) -> Any:
                self.step_calls += 1
                faults = self.faults
                if faults.on and faults.hit("slow_step", -1):
                    await asyncio.sleep(faults.rng.uniform(0, self.plan.max_slowness))
                result = fn(*args)
                if (
                    type(result) is types.CoroutineType
                    or asyncio.iscoroutine(result)
                    or isinstance(result, asyncio.Future)
                ):
                    result = await result
                return result

            return instrumented

        new = dataclasses.replace(
            spec,
            steps={k: dataclasses.replace(v, fn=wrap(v.fn)) for k, v in spec.steps.items()},
            callbacks={
                k: [dataclasses.replace(c, fn=wrap(c.fn)) for c in v] for k, v in spec.callbacks.items()
            },
            timeouts={
                k: [dataclasses.replace(t, fn=wrap(t.fn)) for t in v] for k, v in spec.timeouts.items()
            },
        )
        out = copy.copy(builder)
        out._spec = new
        return out

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        self.clock = SimClock(loop=loop, jumps=self.plan.rate("clock_jump") > 0)
        if self.backend_factory is None:
            from wfkit.adapters.memory import backend as memory_backend

            self.backend = memory_backend(self.clock)
        else:
            self.backend = self.backend_factory(self.clock)
        self.trace = Trace(loop.time, keep=self.keep_trace)
        self.faults = Injector(self.plan, self.rng, self.trace, loop.time)
        info = self.spec.info()
        self.trace.note(HEADER_GRAPH, info.to_dict())
        codec = JsonCodec()
        status_type, object_type = self.spec.status_type, self.spec.object_type

        def to_run(record: Record) -> Any:
            return Run(record, status_type(record.status), codec.decode(record.object, object_type))

        self.oracle = Oracle(
            {info.name: info}, self.trace, loop.time, self.clock.now, to_run, self.invariants
        )
        self.nodes = [_Node(self, i) for i in range(self.node_count)]
        for node in self.nodes:
            await node.start()
        background = [
            loop.create_task(self._answer_callbacks()),
            loop.create_task(self._chaos()),
        ]
        driver = loop.create_task(self._drive())
        try:
            await self._until_done(driver)
        finally:
            for task in (*background, driver):
                task.cancel()
            await asyncio.gather(*background, driver, return_exceptions=True)
            await self._stop_nodes()
            await self.oracle.drain()
            await self._stop_nodes()  # a restart that was under way when the run ended
        self.oracle.final_checks()

    async def _stop_nodes(self) -> None:
        for node in self.nodes:
            if node.up:
                await node.crash()

    # -- the clients ---------------------------------------------------------------------------

    def _live(self) -> list[_Node]:
        return [n for n in self.nodes if n.up]

    async def _drive(self) -> None:
        wl = self.workload
        await asyncio.sleep(wl.start)
        pending = []
        for i in range(wl.runs):
            if i:
                await asyncio.sleep(wl.spacing)
            pending.append(asyncio.get_running_loop().create_task(self._trigger(i)))
        await asyncio.gather(*pending)

    async def _trigger(self, i: int) -> None:
        wl = self.workload
        foreign_id = wl.foreign_id(i)
        initial = None if wl.initial is None else wl.initial(i)
        while True:
            live = self._live()
            if live:
                node = live[self.rng.randrange(len(live))]
                assert node.wf is not None
                try:
                    run_id = await node.wf.trigger(foreign_id, initial=initial)
                except WorkflowInProgress:
                    self.trace.add("trigger", n=node.index, i=i, fid=foreign_id, result="in progress")
                    return
                except (WfkitError, ConnectionError):
                    pass  # a fault or a node going down: a client retries
                else:
                    self.triggered[i] = run_id
                    self.trace.add("trigger", n=node.index, i=i, fid=foreign_id, run=run_id)
                    return
            await asyncio.sleep(1.0)

    async def _answer_callbacks(self) -> None:
        wl = self.workload
        if not wl.callbacks:
            return
        index = {run_id: i for i, run_id in self.triggered.items()}
        while True:
            await asyncio.sleep(wl.callback_every)
            index.update({run_id: i for i, run_id in self.triggered.items()})
            waiting = [
                r
                for r in list(self.oracle.runs.values())
                if r.status in wl.callbacks and r.run_state.active and not r.run_state.stopped
            ]
            for record in waiting:
                live = self._live()
                if not live:
                    break
                node = live[self.rng.randrange(len(live))]
                assert node.wf is not None
                payload = wl.payload(record.status, index.get(record.run_id, 0))
                try:
                    await node.wf.callback(record.foreign_id, self.spec.status_type(record.status), payload)
                    self.trace.add("callback", n=node.index, run=record.run_id, s=record.status)
                except (WfkitError, ConnectionError):
                    pass

    async def _chaos(self) -> None:
        plan = self.plan
        while True:
            await asyncio.sleep(1.0)
            now = asyncio.get_running_loop().time()
            if plan.end is not None and now >= plan.end:
                return
            if not self.faults.active():
                continue
            live = self._live()
            if live and self.faults.hit("crash", -1):
                node = live[self.rng.randrange(len(live))]
                self.oracle.spawn(self._crash_and_restart(node))
            held = sorted(getattr(self.backend.roles, "held", list)())
            if held and hasattr(self.backend.roles, "revoke") and self.faults.hit("role_loss", -1):
                role = held[self.rng.randrange(len(held))]
                self.oracle.revoked(role)
                self.backend.roles.revoke(role)
            if self.faults.hit("clock_jump", -1):
                jump = self.rng.uniform(1.0, plan.max_jump)
                self.clock.jump(jump)
                self.trace.add("clock", jump=round(jump, 6))

    async def _crash_and_restart(self, node: _Node) -> None:
        if not node.up:
            return
        await node.crash()
        await asyncio.sleep(self.plan.downtime)
        await node.start()

    async def _until_done(self, driver: asyncio.Task[None]) -> None:
        loop = asyncio.get_running_loop()
        fault_end = self.plan.end
        wl = self.workload
        last_trigger = wl.start + max(wl.runs - 1, 0) * wl.spacing
        deadline = wl.max_time if wl.max_time is not None else max(last_trigger, fault_end or 0.0) + 7200.0
        changed = self.oracle.changed
        while True:
            # Re-check after every change, and at least once a simulated minute (a fault window
            # ending or the deadline passing changes nothing the oracle sees).
            await changed.poll(60.0)
            now = loop.time()
            if driver.done():
                driver.result()
                calm = fault_end is None or now >= fault_end
                if calm and not self.oracle.unfinished() and not self.oracle.undelivered:
                    return
            if now >= deadline:
                return

    # -- the result ----------------------------------------------------------------------------

    def report(self, wall: float) -> Report:
        oracle = self.oracle
        finished = sum(1 for r in oracle.runs.values() if r.run_state.finished)
        stats = {
            "runs_triggered": len(oracle.runs),
            "runs_finished": finished,
            "runs_stopped": sum(
                1 for r in oracle.runs.values() if r.run_state.stopped and not r.run_state.finished
            ),
            "transitions": oracle.commits,
            "deliveries": oracle.deliveries,
            "step_calls": self.step_calls,
            "duplicates_suppressed": _suppressed(self.nodes),
            "faults_injected": sum(self.faults.counts.values()),
            "faults": dict(sorted(self.faults.counts.items())),
            "simulated_seconds": round(self.trace._now(), 3),
            "wall_seconds": round(wall, 3),
        }
        return Report(
            seed=self.seed,
            nodes=self.node_count,
            workload=self.workload,
            plan=self.plan,
            violations=list(oracle.violations),
            stats=stats,
            trace=self.trace.lines,
            trace_hash=self.trace.hash,
            target=self.target,
            header=self.trace.header,
        )


def _suppressed(nodes: list[_Node]) -> int:
    from wfkit._metrics import metrics_for

    reasons = ("event record version lower than latest record version", "version conflict")
    total = 0
    for node in nodes:
        for registry in node.registries:
            for stats in metrics_for(registry)._processes.values():
                total += sum(stats.skipped.get(reason, 0) for reason in reasons)
    return total


def _target_of(builder: object) -> str:
    module = getattr(builder, "__module__", None)
    name = getattr(builder, "__qualname__", None)
    if callable(builder) and module and name and "<" not in name:
        return f"{module}:{name}"
    return "MODULE:ATTR"
