"""Proof that the simulator finds real bugs: adapters with one guarantee deliberately broken.

Each variant plugs in through `simulate(..., backend=factory)` and must be caught within
`MAX_SEEDS` seeds, with the violated guarantee named in the report. The fault plan of each is the
one that makes its bug observable; as a control, the correct memory adapters pass the very seed and
plan that caught the bug, so the violation is the planted bug's and not a false alarm.
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta

import pytest
from _broken import AckOnDeliveryStreamer

import wfkit
from wfkit.adapters import Backend, memory
from wfkit.testing import FaultPlan, Report, SimClock, Workload, simulate

MAX_SEEDS = 30


class Status(enum.IntEnum):
    PLACED = 1
    VALIDATED = 2
    AWAITING_PAYMENT = 3
    PAID = 4
    SHIPPED = 5
    EXPIRED = 6


@dataclasses.dataclass
class Order:
    touched: int = 0


def make_builder() -> wfkit.Builder[Order, Status]:
    b = wfkit.Builder("planted", Order, Status)

    def touch(to: Status) -> Callable[[wfkit.Run[Order, Status]], Status]:
        def fn(run: wfkit.Run[Order, Status]) -> Status:
            run.object.touched += 1
            return to

        return fn

    b.add_step(Status.PLACED, touch(Status.VALIDATED), Status.VALIDATED)
    b.add_step(Status.VALIDATED, touch(Status.AWAITING_PAYMENT), Status.AWAITING_PAYMENT)
    b.add_callback(Status.AWAITING_PAYMENT, lambda run, payload: Status.PAID, Status.PAID)
    b.add_timeout(
        Status.AWAITING_PAYMENT,
        wfkit.after(timedelta(minutes=10)),
        lambda run, now: Status.EXPIRED,
        Status.EXPIRED,
    )
    b.add_step(Status.PAID, touch(Status.SHIPPED), Status.SHIPPED)
    return b


WORKLOAD = Workload(runs=12, spacing=1.0, callbacks={int(Status.AWAITING_PAYMENT): b"{}"})


# -- (a) a record store without the version compare-and-set ----------------------------------------


class LastWriterWinsStore(memory.RecordStore):
    """Writes whatever version it is given: the compare-and-set in `_commit` is defeated by
    pretending the stored version is the one the writer read."""

    def _commit(self, record: wfkit.Record) -> wfkit.OutboxEvent:
        current = self._latest.get(record.run_id)
        wanted = record.meta.version - 1
        if current is not None and current.meta.version != wanted:
            meta = dataclasses.replace(current.meta, version=wanted)
            self._latest[record.run_id] = current.replace(meta=meta)
        return super()._commit(record)


# -- (b) an outbox relay that deletes before it sends -----------------------------------------------


class DeleteOnListStore(memory.RecordStore):
    """Hands out outbox events and deletes them in the same call: a relay that crashes or loses
    its role between listing and sending loses them."""

    async def list_outbox(self, workflow_name: str, limit: int = 1000) -> builtins.list[wfkit.OutboxEvent]:
        events = await super().list_outbox(workflow_name, limit)
        for event in events:
            self._forget(event.id)
        return events


# -- (c) a consumer that acks before it commits -----------------------------------------------------


# -- (d) a role scheduler that lets two holders in --------------------------------------------------


class LeakyRoles:
    """A memory `RoleScheduler` that now and then grants a held role without waiting for it."""

    def __init__(self, inner: memory.RoleScheduler, rng: random.Random, rate: float = 0.2) -> None:
        self._inner = inner
        self._rng = rng
        self._rate = rate

    def hold(self, role: str) -> AbstractAsyncContextManager[None]:
        return self._hold(role)

    @asynccontextmanager
    async def _hold(self, role: str) -> AsyncIterator[None]:
        if role in self._inner.held() and self._rng.random() < self._rate:
            yield  # "granted": the lease check raced and both callers think they won
            return
        async with self._inner.hold(role):
            yield

    def held(self) -> list[str]:
        return self._inner.held()

    def revoke(self, role: str) -> bool:
        return self._inner.revoke(role)


# -- the backends -----------------------------------------------------------------------------------


def correct(clock: SimClock) -> Backend:
    return Backend(
        memory.EventStreamer(clock=clock),
        memory.RecordStore(clock=clock),
        memory.RoleScheduler(clock=clock),
        memory.TimeoutStore(clock=clock),
    )


def without_compare_and_set(clock: SimClock) -> Backend:
    b = correct(clock)
    return Backend(b.streamer, LastWriterWinsStore(clock=clock), b.roles, b.timeouts)


def deleting_before_sending(clock: SimClock) -> Backend:
    b = correct(clock)
    return Backend(b.streamer, DeleteOnListStore(clock=clock), b.roles, b.timeouts)


def acking_before_committing(clock: SimClock) -> Backend:
    b = correct(clock)
    return Backend(AckOnDeliveryStreamer(clock=clock), b.store, b.roles, b.timeouts)


def two_holders(clock: SimClock) -> Backend:
    b = correct(clock)
    roles = LeakyRoles(memory.RoleScheduler(clock=clock), random.Random(1))
    return Backend(b.streamer, b.store, roles, b.timeouts)


@dataclasses.dataclass(frozen=True)
class Planted:
    backend: Callable[[SimClock], Backend]
    faults: FaultPlan
    invariant: str


PLANTED = {
    # Stale reads and redelivery make a consumer re-run a step on a version already moved on;
    # only the compare-and-set stops its write.
    "store without compare-and-set": Planted(
        without_compare_and_set,
        FaultPlan.parse("stale_read=0.2,store_ambiguous=0.1,drop=0.1,duplicate=0.1,window=0..60"),
        "no transition is applied twice",
    ),
    # Crashes and lost roles land between the listing and the send.
    "outbox relay that deletes before it sends": Planted(
        deleting_before_sending,
        FaultPlan.parse("crash=0.5,role_loss=0.5,window=0..40"),
        "no outbox event is lost",
    ),
    # Any failure after delivery (a drop, a failed write, a stale read) loses the event for good.
    "consumer that acks before it commits": Planted(
        acking_before_committing,
        FaultPlan.parse("drop=0.1,store_fail=0.05,window=0..60"),
        "every triggered run reaches a terminal or stopped state",
    ),
    # No fault needed: every role has waiters on the other nodes.
    "role scheduler that lets two holders in": Planted(
        two_holders, FaultPlan.none(), "a role has at most one holder"
    ),
}


def first_failure(planted: Planted) -> Report | None:
    for seed in range(MAX_SEEDS):
        report = simulate(
            make_builder,
            seed=seed,
            nodes=3,
            workload=WORKLOAD,
            faults=planted.faults,
            backend=planted.backend,
        )
        if not report.ok:
            return report
    return None


@pytest.mark.parametrize("bug", list(PLANTED))
def test_a_planted_bug_is_caught_and_named(bug: str) -> None:
    planted = PLANTED[bug]
    report = first_failure(planted)
    assert report is not None, f"{bug}: not caught in {MAX_SEEDS} seeds under {planted.faults.describe()}"
    named = {v.invariant for v in report.violations}
    assert planted.invariant in named, report.explain()
    assert planted.invariant in report.explain()

    # The same seed and plan replay the same failure...
    again = simulate(
        make_builder,
        seed=report.seed,
        nodes=3,
        workload=WORKLOAD,
        faults=planted.faults,
        backend=planted.backend,
    )
    assert again.trace_hash == report.trace_hash
    # ...and the correct adapters pass them: the violation is the planted bug's.
    control = simulate(make_builder, seed=report.seed, nodes=3, workload=WORKLOAD, faults=planted.faults)
    assert control.ok, control.explain()
