"""Fault injection at every port: wrappers that decide each fault from the seeded RNG.

Every decision is drawn from one `random.Random(seed)` at a port call, so a seed replays the same
faults at the same moments; every injected fault is a trace line.
"""

from __future__ import annotations

import asyncio
import builtins
import random
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from wfkit import (
    Event,
    EventReceiver,
    EventSender,
    EventStreamer,
    Header,
    Order,
    OutboxEvent,
    Record,
    RecordFilter,
    RecordStore,
    RoleScheduler,
    SortKey,
    TimeoutRecord,
    TimeoutStore,
    WfkitError,
    WorkflowInfo,
)
from wfkit.testing._faultplan import FAULT_NAMES, FaultPlan
from wfkit.testing._trace import Trace

if TYPE_CHECKING:
    from wfkit.testing._oracle import Oracle


class SimulatedFault(WfkitError, ConnectionError):
    """An error the simulator injected (a lost connection, a failed write)."""


@types.coroutine
def _hop() -> Generator[None, None, None]:
    """The network round trip of a port call: a suspension point after the adapter has acted.

    The memory adapters never suspend, so without hops every port call would be atomic to the
    rest of the simulation: a crash or a lost role could never land between, say, an outbox
    listing and the send that follows it, and the seeded scheduler could not interleave a read with
    the write it decides. Hops follow the calls where work changes hands (a committed write, a read
    a decision follows, an outbox listing, a send, a delivery); calls whose aftermath the next
    hop covers (acks, outbox deletes, timeout-store calls) skip them, as each hop costs a turn of
    the loop. Facts are reported to the oracle before the hop, so a task cancelled here still
    counts what the adapter did. (A bare `yield` is `asyncio.sleep(0)` without its frame.)

    Hops are taken only while faults can be injected (a plan with some fault, inside its window):
    they exist so that faults can land between calls, and each costs a turn of the loop. Outside,
    port calls are atomic, as the memory adapters are; the seeded scheduler still interleaves
    tasks at every other await.
    """
    yield


class _NoHop:
    """An awaitable that completes at once: a hop not taken."""

    def __await__(self) -> Generator[None, None, None]:
        return iter(())  # type: ignore[return-value]


_NO_HOP = _NoHop()


class Injector:
    """Decides faults: `hit(name)` is true with the plan's rate, inside its window."""

    def __init__(self, plan: FaultPlan, rng: random.Random, trace: Trace, now: Callable[[], float]) -> None:
        self.plan = plan
        self.rng = rng
        self.trace = trace
        self._now = now
        self.counts: dict[str, int] = {}
        self._rates = {name: plan.rate(name) for name in FAULT_NAMES if plan.rate(name) > 0}
        self.on = bool(self._rates)  # false: no fault can ever strike, so wrappers skip their checks
        self._start, self._end = plan.window if plan.window is not None else (0.0, float("inf"))

    def active(self) -> bool:
        return self._start <= self._now() < self._end

    def hop(self) -> Awaitable[None]:
        """The round trip after a port call: a suspension point while faults can strike, else none."""
        return _hop() if self.on and self._start <= self._now() < self._end else _NO_HOP

    def hit(self, name: str, node: int, **detail: Any) -> bool:
        rate = self._rates.get(name)
        if rate is None or not self._start <= self._now() < self._end or self.rng.random() >= rate:
            return False
        self.record(name, node, **detail)
        return True

    def record(self, name: str, node: int, **detail: Any) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        self.trace.add("fault", fault=name, n=node, **detail)


class FaultyStore:
    """A `RecordStore` wrapper: failed and ambiguous writes, stale reads; reports commits."""

    def __init__(self, inner: RecordStore, faults: Injector, oracle: Oracle, node: int) -> None:
        self._inner = inner
        self._faults = faults
        self._oracle = oracle
        self._node = node
        subscribe = getattr(inner, "subscribe", None)
        if subscribe is not None:
            self.subscribe = subscribe
        if not faults.on:  # no fault can ever strike: reads go straight to the adapter
            self.lookup = inner.lookup  # type: ignore[method-assign]
            self.latest = inner.latest  # type: ignore[method-assign]
            self.list_outbox = inner.list_outbox  # type: ignore[method-assign]
            self.delete_outbox = inner.delete_outbox  # type: ignore[method-assign]

    async def store(self, record: Record) -> None:
        if not self._faults.on:
            await self._inner.store(record)
            self._oracle.committed(record, self._node)
            return
        if self._faults.hit("store_fail", self._node, run=record.run_id, v=record.meta.version):
            raise SimulatedFault("simulated: the store write failed before it committed")
        await self._inner.store(record)
        self._oracle.committed(record, self._node)
        await self._faults.hop()
        if self._faults.on and self._faults.hit(
            "store_ambiguous", self._node, run=record.run_id, v=record.meta.version
        ):
            raise SimulatedFault("simulated: the store write committed, then the connection dropped")

    async def lookup(self, run_id: str) -> Record:
        record = await self._inner.lookup(run_id)
        if (
            record.meta.version > 1
            and self._faults.on
            and self._faults.hit("stale_read", self._node, run=run_id)
        ):
            history = await self._inner.history(run_id)
            record = history[-2]
        await self._faults.hop()
        return record

    async def latest(self, workflow_name: str, foreign_id: str) -> Record:
        record = await self._inner.latest(workflow_name, foreign_id)
        await self._faults.hop()
        return record

    async def list(
        self,
        workflow_name: str | None = None,
        *,
        offset: int = 0,
        limit: int = 25,
        order: Order = Order.ASC,
        filters: RecordFilter | None = None,
        sort: SortKey = SortKey.CREATED,
    ) -> builtins.list[Record]:
        return await self._inner.list(
            workflow_name, offset=offset, limit=limit, order=order, filters=filters, sort=sort
        )

    async def count(self, workflow_name: str | None = None, *, filters: RecordFilter | None = None) -> int:
        return await self._inner.count(workflow_name, filters=filters)

    async def history(self, run_id: str) -> builtins.list[Record]:
        return await self._inner.history(run_id)

    async def list_outbox(self, workflow_name: str, limit: int = 1000) -> builtins.list[OutboxEvent]:
        events = await self._inner.list_outbox(workflow_name, limit)
        if events:
            await self._faults.hop()
        return events

    async def delete_outbox(self, event_id: str) -> None:
        await self._inner.delete_outbox(event_id)

    async def register(self, info: WorkflowInfo) -> None:
        await self._inner.register(info)

    async def workflows(self) -> builtins.list[WorkflowInfo]:
        return await self._inner.workflows()


class FaultyStreamer:
    """An `EventStreamer` wrapper: duplicated, delayed, dropped events and lost connections."""

    def __init__(self, inner: EventStreamer, faults: Injector, oracle: Oracle, node: int) -> None:
        self._inner = inner
        self._faults = faults
        self._oracle = oracle
        self._node = node

    async def sender(self, topic: str) -> EventSender:
        return _FaultySender(await self._inner.sender(topic), self, topic)

    @property
    def ephemeral_receivers(self) -> bool:
        return bool(getattr(self._inner, "ephemeral_receivers", False))

    async def receiver(
        self,
        topic: str,
        name: str,
        *,
        poll_frequency: float | None = None,
        from_latest: bool = False,
        ephemeral: bool = False,
    ) -> EventReceiver:
        more = {"ephemeral": True} if ephemeral else {}  # only to a streamer that said it takes it
        inner = await self._inner.receiver(
            topic, name, poll_frequency=poll_frequency, from_latest=from_latest, **more
        )
        return _FaultyReceiver(inner, self, name) if self._faults.on else inner


class _FaultySender:
    def __init__(self, inner: EventSender, streamer: FaultyStreamer, topic: str) -> None:
        self._inner = inner
        self._s = streamer
        self._topic = topic

    async def send(self, key: str, type: int, headers: Mapping[str, str]) -> None:
        s = self._s
        if not s._faults.on:
            await self._inner.send(key, type, headers)
            s._oracle.delivered(key, headers, s._node)
            return
        version = headers.get(Header.RECORD_VERSION, "")
        if s._faults.on and s._faults.hit("delay", s._node, run=key, v=version):
            delay = s._faults.rng.uniform(0.001, s._faults.plan.max_delay)
            asyncio.get_running_loop().call_later(delay, self._send_later, key, type, dict(headers))
        else:
            await self._deliver(key, type, headers)
            if s._faults.on and s._faults.hit("duplicate", s._node, run=key, v=version):
                await self._deliver(key, type, headers)
        await s._faults.hop()

    async def _deliver(self, key: str, type: int, headers: Mapping[str, str]) -> None:
        await self._inner.send(key, type, headers)
        self._s._oracle.delivered(key, headers, self._s._node)

    def _send_later(self, key: str, type: int, headers: dict[str, str]) -> None:
        self._s._oracle.spawn(self._deliver_late(key, type, headers))

    async def _deliver_late(self, key: str, type: int, headers: dict[str, str]) -> None:
        # The event is already "in the broker": deliver it even if this sender has been closed.
        sender = await self._s._inner.sender(self._topic)
        try:
            await sender.send(key, type, headers)
        finally:
            await sender.close()
        self._s._oracle.delivered(key, headers, self._s._node)

    async def close(self) -> None:
        await self._inner.close()


class _FaultyReceiver:
    def __init__(self, inner: EventReceiver, streamer: FaultyStreamer, name: str) -> None:
        self._inner = inner
        self._s = streamer
        self._name = name

    async def recv(self) -> Event:
        s = self._s
        if s._faults.on and s._faults.hit("disconnect", s._node, receiver=self._name):
            raise SimulatedFault("simulated: the receiver lost its connection")
        event = await self._inner.recv()
        await s._faults.hop()
        if s._faults.on and s._faults.hit("drop", s._node, receiver=self._name, run=event.key):
            raise SimulatedFault("simulated: the event was lost before its ack")
        return event

    async def ack(self, event: Event) -> None:
        await self._inner.ack(event)

    async def close(self) -> None:
        await self._inner.close()


class FaultyTimeouts:
    """A `TimeoutStore` wrapper: failing calls; reports completions to check they are not early."""

    def __init__(self, inner: TimeoutStore, faults: Injector, oracle: Oracle, node: int) -> None:
        self._inner = inner
        self._faults = faults
        self._oracle = oracle
        self._node = node
        self._rows: dict[int, TimeoutRecord] = {}
        subscribe = getattr(inner, "subscribe", None)
        if subscribe is not None:
            self.subscribe = subscribe
        subscribe_expiries = getattr(inner, "subscribe_expiries", None)
        if subscribe_expiries is not None:
            self.subscribe_expiries = subscribe_expiries
        inner_due = getattr(inner, "due", None)
        if inner_due is not None:
            self._inner_due = inner_due
            self.due = self._due
        if not faults.on:  # no call can fail: those the oracle does not hear of go straight through
            self.create = inner.create  # type: ignore[method-assign]
            self.list = inner.list  # type: ignore[method-assign]
            self.next_expiry = inner.next_expiry  # type: ignore[method-assign]
            self.complete = self._complete_at_once  # type: ignore[method-assign,assignment]

    def _maybe_fail(self, op: str) -> None:
        if self._faults.on and self._faults.hit("timeout_fail", self._node, op=op):
            raise SimulatedFault(f"simulated: the timeout store failed ({op})")

    async def create(
        self,
        workflow_name: str,
        foreign_id: str,
        run_id: str,
        status: int,
        expire_at: datetime,
        *,
        version: int = 0,
    ) -> int:
        self._maybe_fail("create")
        return await self._inner.create(workflow_name, foreign_id, run_id, status, expire_at, version=version)

    async def complete(self, timeout_id: int) -> None:
        if self._faults.on:
            self._maybe_fail("complete")
        row = self._rows.pop(timeout_id, None)
        await self._inner.complete(timeout_id)
        if row is not None:
            self._oracle.timeout_fired(row, self._node)

    def _complete_at_once(self, timeout_id: int) -> Awaitable[None]:
        """`complete` when no fault can strike: the timeout has fired once the engine completes it
        (its transition is committed), so that is reported at once, and the adapter's own call is
        the awaitable, without a coroutine of this wrapper around it."""
        row = self._rows.pop(timeout_id, None)
        if row is not None:
            self._oracle.timeout_fired(row, self._node)
        return self._inner.complete(timeout_id)

    async def cancel(self, timeout_id: int) -> None:
        self._maybe_fail("cancel")
        self._rows.pop(timeout_id, None)
        await self._inner.cancel(timeout_id)

    async def list(self, workflow_name: str, *, run_id: str | None = None) -> builtins.list[TimeoutRecord]:
        self._maybe_fail("list")
        return await self._inner.list(workflow_name, run_id=run_id)

    async def next_expiry(self, workflow_name: str, status: int, after: datetime) -> datetime | None:
        self._maybe_fail("next_expiry")
        return await self._inner.next_expiry(workflow_name, status, after)

    async def list_valid(
        self, workflow_name: str, status: int, now: datetime
    ) -> builtins.list[TimeoutRecord]:
        if self._faults.on:
            self._maybe_fail("list_valid")
        rows = await self._inner.list_valid(workflow_name, status, now)
        for row in rows:
            self._rows[row.id] = row
        return rows

    async def _due(
        self, workflow_name: str, status: int, now: datetime
    ) -> tuple[builtins.list[TimeoutRecord], datetime | None]:
        """`due`, offered only when the inner store offers it (the engine then calls it instead of
        `list_valid` and `next_expiry`)."""
        if self._faults.on:
            self._maybe_fail("due")
        rows, expiry = await self._inner_due(workflow_name, status, now)
        for row in rows:
            self._rows[row.id] = row
        return rows, expiry


class WatchedRoles:
    """A `RoleScheduler` wrapper that reports every grant and release to the oracle."""

    def __init__(self, inner: RoleScheduler, oracle: Oracle, node: int) -> None:
        self._inner = inner
        self._oracle = oracle
        self._node = node

    def hold(self, role: str) -> AbstractAsyncContextManager[None]:
        return self._hold(role)

    @asynccontextmanager
    async def _hold(self, role: str) -> AsyncIterator[None]:
        async with self._inner.hold(role):
            grant = self._oracle.granted(role, self._node)
            try:
                yield
            finally:
                self._oracle.released(role, self._node, grant)
