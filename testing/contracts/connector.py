"""The `Connector` contract: in-order replay, named cursors, redelivery of un-acked events.

Subclass `ConnectorContract` and override the `connector_factory` fixture with a callable
`(events) -> async context manager of a Connector` whose source holds exactly those events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

import pytest

from wfkit._ports import Connector, ConnectorConsumer
from wfkit._record import ConnectorEvent

from ._helpers import ConnectorFactory, run, settle, within
from ._workflow_cases import connector_triggers_runs

__all__ = ["ConnectorContract", "ConnectorFactory"]

EVENTS = [
    ConnectorEvent(id="1", foreign_id="user-1", type="signed_up", headers={"source": "web"}),
    ConnectorEvent(id="2", foreign_id="user-2", type="signed_up", headers={"source": "app"}),
    ConnectorEvent(id="3", foreign_id="user-1", type="verified", headers={}),
]


def _fields(event: ConnectorEvent) -> tuple[str, str, str, dict[str, str]]:
    return (event.id, event.foreign_id, event.type, dict(event.headers))


class ConnectorContract:
    """Every behaviour the engine relies on from a `Connector` (luno's adaptertest and more)."""

    wait_seconds: ClassVar[float] = 5.0
    """Bound on anything that must happen (a delivery); raise it for slow sources."""

    @pytest.fixture
    def connector_factory(self) -> ConnectorFactory:
        raise NotImplementedError("override the connector_factory fixture in your subclass")

    def _run(self, factory: ConnectorFactory, body: Callable[[Connector], Awaitable[None]]) -> None:
        async def main() -> None:
            async with factory(list(EVENTS)) as connector:
                await body(connector)

        run(main())

    async def _ids(self, consumer: ConnectorConsumer, n: int, *, ack: bool = False) -> list[str]:
        ids = []
        for _ in range(n):
            event = await within(consumer.recv(), self.wait_seconds)
            ids.append(event.id)
            if ack:
                await consumer.ack(event)
        return ids

    def test_replays_the_events_in_order(self, connector_factory: ConnectorFactory) -> None:
        async def body(connector: Connector) -> None:
            consumer = await connector.consumer("tester")
            got = [await within(consumer.recv(), self.wait_seconds) for _ in EVENTS]
            assert [_fields(e) for e in got] == [_fields(e) for e in EVENTS]
            for e in got:
                await consumer.ack(e)
            await consumer.close()

        self._run(connector_factory, body)

    def test_waits_once_every_event_is_delivered(self, connector_factory: ConnectorFactory) -> None:
        async def body(connector: Connector) -> None:
            consumer = await connector.consumer("tester")
            assert await self._ids(consumer, 3, ack=True) == ["1", "2", "3"]
            pending = asyncio.ensure_future(consumer.recv())
            await settle()
            assert not pending.done()
            pending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await pending
            await consumer.close()

        self._run(connector_factory, body)

    def test_a_reopened_consumer_resumes_after_its_last_ack(
        self, connector_factory: ConnectorFactory
    ) -> None:
        async def body(connector: Connector) -> None:
            first = await connector.consumer("tester")
            assert await self._ids(first, 1, ack=True) == ["1"]
            assert await self._ids(first, 1) == ["2"]  # delivered, never acked
            await first.close()
            second = await connector.consumer("tester")
            assert await self._ids(second, 2, ack=True) == ["2", "3"]
            await second.close()

        self._run(connector_factory, body)

    def test_unacked_events_are_redelivered(self, connector_factory: ConnectorFactory) -> None:
        async def body(connector: Connector) -> None:
            first = await connector.consumer("tester")
            assert await self._ids(first, 2) == ["1", "2"]
            await first.close()
            second = await connector.consumer("tester")
            assert await self._ids(second, 3) == ["1", "2", "3"]
            await second.close()

        self._run(connector_factory, body)

    def test_consumer_names_have_independent_cursors(self, connector_factory: ConnectorFactory) -> None:
        async def body(connector: Connector) -> None:
            one = await connector.consumer("one")
            assert await self._ids(one, 3, ack=True) == ["1", "2", "3"]
            await one.close()
            two = await connector.consumer("two")
            assert await self._ids(two, 1, ack=True) == ["1"]
            await two.close()
            two = await connector.consumer("two")
            assert await self._ids(two, 1) == ["2"]
            await two.close()

        self._run(connector_factory, body)

    def test_a_connector_feeds_a_workflow(self, connector_factory: ConnectorFactory) -> None:
        events = [
            ConnectorEvent(id="1", foreign_id="user-1", type="signed_up"),
            ConnectorEvent(id="2", foreign_id="user-2", type="signed_up"),
        ]

        async def main() -> None:
            async with connector_factory(events) as connector:
                await connector_triggers_runs(connector, events, self.wait_seconds)

        run(main())
