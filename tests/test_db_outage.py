"""PostgreSQL goes away mid-run and comes back: runs are retried with backoff and nothing is lost.

Each test gets a private PostgreSQL server (`_pgcluster.py`), never the shared one on 5432, since
these tests stop it. `pg_ctl stop -m fast` disconnects every client at once, as a crash or a
failover would; the server stays down longer than the role lease, so roles are lost and must be
taken again once it is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from _pgcluster import PrivateCluster, private_cluster
from crash.driver import history_problems
from crash.workflow import NAME, builder
from prometheus_client import CollectorRegistry

import wfkit
from wfkit.adapters import connect
from wfkit.adapters._sqlerrors import StoreUnavailable
from wfkit.testing.contracts._helpers import make_record

RUNS, LATE_RUNS = 300, 50
LEASE = 1.0
OUTAGE = 2.5
"""How long the server stays down: longer than the lease, so every role is lost meanwhile."""


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    with private_cluster() as c:
        yield c


async def _until(what: str, timeout: float, check: object, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not await check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting {timeout} s for {what}")
        await asyncio.sleep(interval)


async def test_runs_in_flight_complete_once_a_stopped_server_is_back(cluster: PrivateCluster) -> None:
    url = cluster.url()
    completed = wfkit.RecordFilter(run_states=(wfkit.RunState.COMPLETED,))
    async with connect(url, lease=LEASE) as a, connect(url, lease=LEASE) as b:
        # Two "processes" share the work; steps take a few milliseconds, so runs are mid-way when
        # the server stops.
        first = a.build(builder(delay=0.003), metrics=CollectorRegistry())
        second = b.build(builder(delay=0.003), metrics=CollectorRegistry())
        async with first, second:
            run_ids = [await first.trigger(f"job-{i}") for i in range(RUNS)]

            async def some_completed() -> bool:
                return await a.store.count(NAME, filters=completed) >= RUNS // 10

            await _until("a tenth of the runs to complete", 30, some_completed)
            await asyncio.to_thread(cluster.stop, "fast")  # the workflows keep running meanwhile
            with pytest.raises(StoreUnavailable, match=r"unreachable.*retry") as err:
                await first.trigger("during-the-outage")
            assert isinstance(err.value, wfkit.WfkitError)
            assert f"127.0.0.1:{cluster.port}" in str(err.value)
            await asyncio.sleep(OUTAGE)  # the outage itself: consumers fail, retry, lose their roles
            await asyncio.to_thread(cluster.start)
            started = time.monotonic()
            run_ids += [await second.trigger(f"late-{i}") for i in range(LATE_RUNS)]

            async def all_completed() -> bool:
                return await b.store.count(NAME, filters=completed) == RUNS + LATE_RUNS

            await _until("every run to complete after the restart", 60, all_completed)
            recovered = time.monotonic() - started

            async def outbox_empty() -> bool:
                return not await b.store.list_outbox(NAME)

            await _until("the outbox to drain", 30, outbox_empty)
        assert await a.store.count(NAME) == RUNS + LATE_RUNS  # the one refused trigger wrote nothing
        assert await history_problems(a.store, run_ids) == []
    assert recovered < 30, f"runs took {recovered:.1f} s to complete after the restart"


async def test_listen_is_reopened_so_receivers_and_relays_wake_on_notify_again(
    cluster: PrivateCluster,
) -> None:
    url = cluster.url()
    async with connect(url) as writer, connect(url, poll_frequency=30) as reader:
        receiver = await reader.streamer.receiver("topic", "r", poll_frequency=30)  # only NOTIFY is quick
        changed = asyncio.Event()
        reader.store.subscribe("my_workflow", changed.set)  # type: ignore[attr-defined]
        sender = await writer.streamer.sender("topic")
        await sender.send("before", 1, {})
        assert (await asyncio.wait_for(receiver.recv(), 5)).key == "before"

        pending = asyncio.ensure_future(receiver.recv())  # caught up: waiting for a wake-up
        await asyncio.to_thread(cluster.stop, "fast")
        await asyncio.to_thread(cluster.start)
        # The first send after the restart wakes the receiver, either by NOTIFY or by the resync
        # that follows re-opening LISTEN; either way LISTEN is open again once it has arrived.
        await sender.send("after-1", 1, {})
        assert (await asyncio.wait_for(pending, 10)).key == "after-1"

        # Now only NOTIFY can wake it within its 30 s poll.
        pending = asyncio.ensure_future(receiver.recv())
        started = time.monotonic()
        await sender.send("after-2", 1, {})
        assert (await asyncio.wait_for(pending, 5)).key == "after-2"
        assert time.monotonic() - started < 2

        # The store's change feed (what wakes outbox relays in other processes) is back too.
        changed.clear()
        started = time.monotonic()
        await writer.store.store(make_record())
        await asyncio.wait_for(changed.wait(), 5)
        assert time.monotonic() - started < 2
