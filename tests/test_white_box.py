"""luno's white-box checks (inventory §5, 51 to 56) re-expressed on wfkit's equivalents."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
from _workflows import Doc, Status

import wfkit
from wfkit.adapters import memory
from wfkit.testing import WorkflowEnv


def test_shards_split_run_ids_evenly_and_stably() -> None:
    # luno 53: its modulo-on-event-id filter split even/odd ids; wfkit hashes the run id, so the
    # split must be even over many ids, the same in every process, and cover every shard.
    ids = [str(uuid.UUID(int=i * 7919 + 1, version=4)) for i in range(2000)]
    counts = Counter(wfkit.stable_shard(run_id, 4) for run_id in ids)
    assert sorted(counts) == [0, 1, 2, 3]
    assert all(400 <= n <= 600 for n in counts.values()), counts
    assert wfkit.stable_shard("run-1", 4) == wfkit.stable_shard("run-1", 4)
    assert wfkit.stable_shard("anything", 1) == 0


def test_order_values_are_the_wire_strings() -> None:
    # luno 56: OrderType strings.
    assert [o.value for o in wfkit.Order] == ["asc", "desc"]
    assert wfkit.Order("desc") is wfkit.Order.DESC


async def test_a_connector_consumer_is_closed_when_the_workflow_stops(wfkit_env: WorkflowEnv) -> None:
    # luno 51: the connector streamer's Close reaches the external consumer.
    closed: list[str] = []

    class Closing:
        def __init__(self, inner: wfkit.ConnectorConsumer, name: str) -> None:
            self.inner, self.name = inner, name

        async def recv(self) -> wfkit.ConnectorEvent:
            return await self.inner.recv()

        async def ack(self, event: wfkit.ConnectorEvent) -> None:
            await self.inner.ack(event)

        async def close(self) -> None:
            closed.append(self.name)
            await self.inner.close()

    class Source(memory.Connector):
        async def consumer(self, name: str) -> wfkit.ConnectorConsumer:
            return Closing(await super().consumer(name), name)

    async def on_event(wf: wfkit.Workflow[Doc, Status], event: wfkit.ConnectorEvent) -> None:
        await wf.trigger(event.foreign_id)

    b = wfkit.Builder("connected", Doc, Status)
    b.add_step(Status.START, lambda run: Status.END, Status.END)
    b.add_connector("feed", Source([wfkit.ConnectorEvent("1", "doc-1", "created")]), on_event)
    async with wfkit_env.run(b) as wf:
        latest = None
        for _ in range(100):
            try:
                latest = await wf.store.latest("connected", "doc-1")
                break
            except wfkit.RecordNotFound:
                await wf.wait_for_change(0.05)
        assert latest is not None
    assert closed == ["feed-connector-to-connected-consumer-1-of-1"]


@pytest.mark.parametrize("shards", [2, 3])
async def test_sharded_connectors_drop_no_event(wfkit_env: WorkflowEnv, shards: int) -> None:
    # luno's negative FNV hashes dropped about a quarter of connector events with 2 shards.
    events = [wfkit.ConnectorEvent(str(i), f"doc-{i}", "created") for i in range(40)]

    async def on_event(wf: wfkit.Workflow[Doc, Status], event: wfkit.ConnectorEvent) -> None:
        await wf.trigger(event.foreign_id)

    b = wfkit.Builder("sharded", Doc, Status)
    b.add_step(Status.START, lambda run: Status.END, Status.END)
    b.add_connector("feed", memory.Connector(events), on_event, parallel=shards)
    async with wfkit_env.run(b) as wf:
        async with asyncio.timeout(5):
            while await wf.store.count("sharded") < len(events):
                await wf.wait_for_change(0.05)
    assert await wfkit_env.store.count("sharded") == len(events)
