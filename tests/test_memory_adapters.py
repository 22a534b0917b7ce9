"""The memory adapters: every port contract, plus what only the memory adapters promise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from wfkit._errors import RoleLost
from wfkit._ports import RoleScheduler
from wfkit._record import ConnectorEvent, Header, Meta, outbox_event_for
from wfkit._runstate import RunState
from wfkit.adapters import memory
from wfkit.testing._clock import FakeClock
from wfkit.testing.contracts import (
    ConnectorContract,
    ConnectorFactory,
    EventStreamerContract,
    EventStreamerFactory,
    RecordStoreContract,
    RecordStoreFactory,
    RoleSchedulerContract,
    RoleSchedulerFactory,
    TimeoutStoreContract,
    TimeoutStoreFactory,
)
from wfkit.testing.contracts._helpers import make_record, next_version, settle

# -- the contracts -----------------------------------------------------------------------


@asynccontextmanager
async def _record_store() -> AsyncIterator[memory.RecordStore]:
    yield memory.RecordStore()


@asynccontextmanager
async def _event_streamer() -> AsyncIterator[memory.EventStreamer]:
    yield memory.EventStreamer()


@asynccontextmanager
async def _timeout_store() -> AsyncIterator[memory.TimeoutStore]:
    yield memory.TimeoutStore()


@asynccontextmanager
async def _role_schedulers(instances: int) -> AsyncIterator[list[RoleScheduler]]:
    shared = memory.RoleScheduler()  # one deployment: every process shares the instance
    yield [shared] * instances


def _connector(events: list[ConnectorEvent]) -> AbstractAsyncContextManager[memory.Connector]:
    @asynccontextmanager
    async def cm() -> AsyncIterator[memory.Connector]:
        yield memory.Connector(events)

    return cm()


class TestRecordStore(RecordStoreContract):
    @pytest.fixture
    def record_store_factory(self) -> RecordStoreFactory:
        return _record_store


class TestEventStreamer(EventStreamerContract):
    @pytest.fixture
    def event_streamer_factory(self) -> EventStreamerFactory:
        return _event_streamer


class TestTimeoutStore(TimeoutStoreContract):
    @pytest.fixture
    def timeout_store_factory(self) -> TimeoutStoreFactory:
        return _timeout_store


class TestRoleScheduler(RoleSchedulerContract):
    @pytest.fixture
    def role_scheduler_factory(self) -> RoleSchedulerFactory:
        return _role_schedulers


class TestConnector(ConnectorContract):
    @pytest.fixture
    def connector_factory(self) -> ConnectorFactory:
        return _connector


# -- record store ------------------------------------------------------------------------


async def test_relay_to_publishes_each_commit_and_keeps_no_outbox() -> None:
    streamer = memory.EventStreamer()
    store = memory.RecordStore(relay_to=streamer)
    v1 = make_record()
    receiver = await streamer.receiver(outbox_event_for(v1).topic, "consumer")
    await store.store(v1)
    v2 = next_version(v1, status=2, run_state=RunState.RUNNING)
    await store.store(v2)
    assert await store.list_outbox(v1.workflow_name) == []
    event = await asyncio.wait_for(receiver.recv(), 5)
    want = outbox_event_for(v1)
    assert (event.key, event.type, dict(event.headers)) == (want.key, want.type, want.headers)
    assert event.headers[Header.RECORD_VERSION] == "1"
    second = await (await streamer.receiver(outbox_event_for(v2).topic, "consumer")).recv()
    assert (second.key, second.type) == (v1.run_id, 2)


async def test_relay_failure_keeps_the_event_in_the_outbox() -> None:
    class Broken(memory.EventStreamer):
        async def sender(self, topic: str) -> memory.EventSender:
            raise ConnectionError("broker down")

    store = memory.RecordStore(relay_to=Broken())
    record = make_record()
    with pytest.raises(ConnectionError):
        await store.store(record)
    assert await store.lookup(record.run_id) == record  # committed before the relay
    assert await store.list_outbox(record.workflow_name) == [outbox_event_for(record)]


async def test_store_rejects_versions_below_one() -> None:
    store = memory.RecordStore()
    bad = make_record()
    with pytest.raises(ValueError, match="versions start at 1"):
        await store.store(bad.replace(meta=Meta(version=0)))


# -- event streamer ----------------------------------------------------------------------


async def test_event_ids_are_global_and_timestamps_follow_the_clock() -> None:
    clock = FakeClock()
    streamer = memory.EventStreamer(clock=clock)
    a = await streamer.sender("a")
    b = await streamer.sender("b")
    await a.send("r1", 1, {})
    clock.step(timedelta(minutes=5))
    await b.send("r2", 1, {})
    await a.send("r3", 1, {})
    assert [e.id for e in streamer.events("a")] == [1, 3]
    assert [e.id for e in streamer.events("b")] == [2]
    assert [e.created_at for e in streamer.events("a")] == [
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 5, tzinfo=UTC),
    ]


async def test_a_closed_receiver_or_sender_raises() -> None:
    streamer = memory.EventStreamer()
    sender = await streamer.sender("t")
    await sender.send("r1", 1, {})
    receiver = await streamer.receiver("t", "reader")
    event = await receiver.recv()
    await receiver.close()
    with pytest.raises(memory.ClosedError, match="receiver 'reader' of topic 't' is closed"):
        await receiver.recv()
    with pytest.raises(memory.ClosedError):
        await receiver.ack(event)
    await sender.close()
    with pytest.raises(memory.ClosedError, match="sender"):
        await sender.send("r2", 1, {})


async def test_a_waiting_receiver_closed_meanwhile_raises_when_woken() -> None:
    streamer = memory.EventStreamer()
    receiver = await streamer.receiver("t", "reader")
    pending = asyncio.ensure_future(receiver.recv())
    await settle()
    await receiver.close()
    await (await streamer.sender("t")).send("r1", 1, {})
    with pytest.raises(memory.ClosedError):
        await asyncio.wait_for(pending, 5)
    # The event is still there for the next receiver of that name.
    reopened = await streamer.receiver("t", "reader")
    assert (await reopened.recv()).key == "r1"


async def test_ready_recv_and_send_do_not_yield_to_the_loop() -> None:
    streamer = memory.EventStreamer()
    sender = await streamer.sender("t")
    receiver = await streamer.receiver("t", "reader")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(ticker())
    await settle(2)
    before = ticks
    for i in range(100):
        await sender.send(f"r{i}", 1, {})
        await receiver.ack(await receiver.recv())
    assert ticks == before  # the hot path never suspended
    task.cancel()
    assert streamer.cursor("t", "reader") == 100


async def test_acking_an_event_of_another_topic_is_an_error() -> None:
    streamer = memory.EventStreamer()
    await (await streamer.sender("a")).send("r1", 1, {})
    foreign = await (await streamer.receiver("a", "x")).recv()
    receiver = await streamer.receiver("b", "x")
    with pytest.raises(ValueError, match="not sent on topic 'b'"):
        await receiver.ack(foreign)


# -- role scheduler ----------------------------------------------------------------------


async def test_revoke_cancels_the_holder_and_hands_the_role_on() -> None:
    roles = memory.RoleScheduler()
    entered, log = asyncio.Event(), []

    async def holder() -> None:
        async with roles.hold("r"):
            entered.set()
            await asyncio.Event().wait()  # would hold forever

    async def waiter() -> None:
        async with roles.hold("r"):
            log.append("waiter in")

    held = asyncio.ensure_future(holder())
    await asyncio.wait_for(entered.wait(), 5)
    waiting = asyncio.ensure_future(waiter())
    await settle()
    assert roles.waiting("r") == 1
    assert roles.revoke("r")
    with pytest.raises(RoleLost) as err:
        await asyncio.wait_for(held, 5)
    assert err.value.role == "r"
    await asyncio.wait_for(waiting, 5)
    assert log == ["waiter in"]
    assert roles.held() == []
    assert not roles.revoke("r")  # nobody holds it now


async def test_an_outside_cancellation_is_not_turned_into_role_lost() -> None:
    roles = memory.RoleScheduler()
    entered = asyncio.Event()

    async def holder() -> None:
        async with roles.hold("r"):
            entered.set()
            await asyncio.Event().wait()

    held = asyncio.ensure_future(holder())
    await asyncio.wait_for(entered.wait(), 5)
    held.cancel()
    with pytest.raises(asyncio.CancelledError):
        await held
    assert roles.held() == []


async def test_roles_go_to_waiters_in_arrival_order() -> None:
    roles = memory.RoleScheduler()
    order: list[int] = []
    release = asyncio.Event()

    async def first() -> None:
        async with roles.hold("r"):
            await release.wait()

    async def waiter(i: int) -> None:
        async with roles.hold("r"):
            order.append(i)

    tasks = [asyncio.ensure_future(first())]
    await settle()
    for i in range(5):
        tasks.append(asyncio.ensure_future(waiter(i)))
        await settle()
    assert roles.held() == ["r"]
    assert roles.waiting("r") == 5
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == [0, 1, 2, 3, 4]


async def test_a_waiter_cancelled_after_its_grant_passes_the_role_on() -> None:
    roles = memory.RoleScheduler()
    log: list[str] = []

    async def waiter(name: str) -> None:
        async with roles.hold("r"):
            log.append(name)

    hold = roles.hold("r")
    await hold.__aenter__()
    granted = asyncio.ensure_future(waiter("granted"))
    later = asyncio.ensure_future(waiter("later"))
    await settle()
    await hold.__aexit__(None, None, None)  # grants the role to `granted` without yielding...
    granted.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await granted
    await asyncio.wait_for(later, 5)
    assert log == ["later"]
    assert roles.held() == []


# -- timeouts and connector --------------------------------------------------------------


async def test_timeouts_are_stamped_by_the_clock() -> None:
    clock = FakeClock(datetime(2023, 4, 9, 8, 30, tzinfo=UTC))
    store = memory.TimeoutStore(clock=clock)
    due = clock.now() + timedelta(hours=1)
    timeout_id = await store.create("wf", "fid", "run", 2, due)
    (row,) = await store.list("wf")
    assert (row.id, row.created_at, row.expire_at, row.completed) == (1, clock.now(), due, False)
    assert await store.list_valid("wf", 2, clock.now()) == []
    clock.step(timedelta(hours=1))
    assert await store.list_valid("wf", 2, clock.now()) == [row]
    await store.complete(timeout_id)
    assert await store.list("wf") == []


async def test_connector_stamps_missing_created_at_from_the_clock() -> None:
    clock = FakeClock()
    when = datetime(2020, 5, 1, tzinfo=UTC)
    connector = memory.Connector(
        [ConnectorEvent("1", "a", "t"), ConnectorEvent("2", "b", "t", created_at=when)],
        clock=clock,
    )
    consumer = await connector.consumer("c")
    first, second = await consumer.recv(), await consumer.recv()
    assert (first.created_at, second.created_at) == (clock.now(), when)
    await consumer.ack(second)  # acking the later event commits both
    assert connector.cursor("c") == 2
    await consumer.close()
    with pytest.raises(memory.ClosedError):
        await consumer.recv()
