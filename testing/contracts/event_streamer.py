"""The `EventStreamer` contract: ordered delivery, named cursors, acks, redelivery, `from_latest`.

Subclass `EventStreamerContract` and override the `event_streamer_factory` fixture with a
callable returning an async context manager of a fresh, empty streamer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import pytest

from wfkit._ports import EventReceiver, EventStreamer
from wfkit._record import Event, Header

from ._helpers import EventStreamerFactory, settle, using, within
from ._workflow_cases import sync_user_through

__all__ = ["EventStreamerContract", "EventStreamerFactory"]

TOPIC = "test-1"


def _headers(key: str, topic: str = TOPIC) -> dict[str, str]:
    return {Header.TOPIC.value: topic, Header.FOREIGN_ID.value: f"fid-{key}"}


async def _send(streamer: EventStreamer, topic: str, *keys: str, type: int = 1) -> None:
    sender = await streamer.sender(topic)
    for key in keys:
        await sender.send(key, type, _headers(key, topic))
    await sender.close()


class EventStreamerContract:
    """Every behaviour the engine relies on from an `EventStreamer` (luno's adaptertest and more)."""

    wait_seconds: ClassVar[float] = 5.0
    """Bound on anything that must happen (a delivery); raise it for slow brokers."""

    @pytest.fixture
    def event_streamer_factory(self) -> EventStreamerFactory:
        raise NotImplementedError("override the event_streamer_factory fixture in your subclass")

    def _run(self, factory: EventStreamerFactory, body: Callable[[EventStreamer], Awaitable[None]]) -> None:
        using(factory, body)

    async def _recv(self, receiver: EventReceiver) -> Event:
        return await within(receiver.recv(), self.wait_seconds)

    async def _keys(self, receiver: EventReceiver, n: int, *, ack: bool = False) -> list[str]:
        keys = []
        for _ in range(n):
            event = await self._recv(receiver)
            keys.append(event.key)
            if ack:
                await receiver.ack(event)
        return keys

    def test_delivers_sent_events_in_order(self, event_streamer_factory: EventStreamerFactory) -> None:
        async def body(streamer: EventStreamer) -> None:
            sender = await streamer.sender(TOPIC)
            await sender.send("run-1", 4, _headers("run-1"))
            await sender.send("run-2", 5, _headers("run-2"))
            await sender.send("run-3", 4, _headers("run-3"))
            receiver = await streamer.receiver(TOPIC, "reader")
            events = [await self._recv(receiver) for _ in range(3)]
            assert [(e.key, e.type) for e in events] == [("run-1", 4), ("run-2", 5), ("run-3", 4)]
            assert [dict(e.headers) for e in events] == [_headers(k) for k in ("run-1", "run-2", "run-3")]
            assert events[0].id < events[1].id < events[2].id
            assert all(e.created_at.tzinfo is not None for e in events)
            for e in events:
                await receiver.ack(e)
            await receiver.close()
            await sender.close()

        self._run(event_streamer_factory, body)

    def test_recv_waits_for_the_next_send(self, event_streamer_factory: EventStreamerFactory) -> None:
        async def body(streamer: EventStreamer) -> None:
            receiver = await streamer.receiver(TOPIC, "reader")
            pending = asyncio.ensure_future(receiver.recv())
            await settle()
            assert not pending.done()  # nothing to deliver yet
            await _send(streamer, TOPIC, "late")
            event = await within(pending, self.wait_seconds)
            assert event.key == "late"
            await receiver.ack(event)
            await receiver.close()

        self._run(event_streamer_factory, body)

    def test_from_latest_starts_at_the_head(self, event_streamer_factory: EventStreamerFactory) -> None:
        async def body(streamer: EventStreamer) -> None:
            sender = await streamer.sender(TOPIC)
            await sender.send("123", 4, _headers("123"))
            await sender.send("456", 5, _headers("456"))
            receiver = await streamer.receiver(TOPIC, "my-receiver", from_latest=True)
            await sender.send("789", 6, _headers("789"))  # after the receiver, before any recv
            event = await self._recv(receiver)
            assert (event.key, event.type) == ("789", 6)
            await receiver.ack(event)
            await receiver.close()

            # Once the name has a cursor, from_latest is ignored.
            await sender.send("101", 7, _headers("101"))
            reopened = await streamer.receiver(TOPIC, "my-receiver", from_latest=True)
            event = await self._recv(reopened)
            assert (event.key, event.type) == ("101", 7)
            await reopened.ack(event)
            await reopened.close()
            await sender.close()

        self._run(event_streamer_factory, body)

    def test_unacked_events_are_redelivered_to_a_reopened_receiver(
        self, event_streamer_factory: EventStreamerFactory
    ) -> None:
        async def body(streamer: EventStreamer) -> None:
            await _send(streamer, TOPIC, "a", "b", "c")
            first = await streamer.receiver(TOPIC, "reader")
            assert await self._keys(first, 2) == ["a", "b"]
            await first.close()  # nothing acked
            second = await streamer.receiver(TOPIC, "reader")
            assert await self._keys(second, 3) == ["a", "b", "c"]
            await second.close()

        self._run(event_streamer_factory, body)

    def test_a_reopened_receiver_resumes_after_its_last_ack(
        self, event_streamer_factory: EventStreamerFactory
    ) -> None:
        async def body(streamer: EventStreamer) -> None:
            await _send(streamer, TOPIC, "a", "b", "c", "d")
            first = await streamer.receiver(TOPIC, "reader")
            a = await self._recv(first)
            b = await self._recv(first)
            await first.ack(a)
            await first.ack(b)
            assert (await self._recv(first)).key == "c"  # delivered, never acked
            await first.close()
            second = await streamer.receiver(TOPIC, "reader")
            assert await self._keys(second, 2, ack=True) == ["c", "d"]
            await second.close()
            await _send(streamer, TOPIC, "e")
            third = await streamer.receiver(TOPIC, "reader")
            assert await self._keys(third, 1) == ["e"]
            await third.close()

        self._run(event_streamer_factory, body)

    def test_acking_an_older_event_never_moves_the_cursor_back(
        self, event_streamer_factory: EventStreamerFactory
    ) -> None:
        async def body(streamer: EventStreamer) -> None:
            await _send(streamer, TOPIC, "a", "b", "c")
            first = await streamer.receiver(TOPIC, "reader")
            a = await self._recv(first)
            await self._recv(first)
            c = await self._recv(first)
            await first.ack(c)
            await first.ack(a)
            await first.close()
            await _send(streamer, TOPIC, "d")
            second = await streamer.receiver(TOPIC, "reader")
            assert await self._keys(second, 1) == ["d"]
            await second.close()

        self._run(event_streamer_factory, body)

    def test_receiver_names_have_independent_cursors(
        self, event_streamer_factory: EventStreamerFactory
    ) -> None:
        async def body(streamer: EventStreamer) -> None:
            await _send(streamer, TOPIC, "a", "b")
            one = await streamer.receiver(TOPIC, "one")
            assert await self._keys(one, 2, ack=True) == ["a", "b"]
            await one.close()
            two = await streamer.receiver(TOPIC, "two")
            assert await self._keys(two, 1, ack=True) == ["a"]
            await two.close()
            await _send(streamer, TOPIC, "c")
            one = await streamer.receiver(TOPIC, "one")
            two = await streamer.receiver(TOPIC, "two")
            assert await self._keys(one, 1) == ["c"]
            assert await self._keys(two, 2) == ["b", "c"]
            await one.close()
            await two.close()

        self._run(event_streamer_factory, body)

    def test_topics_are_isolated(self, event_streamer_factory: EventStreamerFactory) -> None:
        async def body(streamer: EventStreamer) -> None:
            await _send(streamer, "topic-a", "a1")
            await _send(streamer, "topic-b", "b1", "b2")
            await _send(streamer, "topic-a", "a2")
            a = await streamer.receiver("topic-a", "reader")
            b = await streamer.receiver("topic-b", "reader")  # same name, other topic
            assert await self._keys(a, 2, ack=True) == ["a1", "a2"]
            assert await self._keys(b, 2) == ["b1", "b2"]
            pending = asyncio.ensure_future(a.recv())
            await settle()
            assert not pending.done()  # topic-b's events never reach topic-a
            pending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await pending
            await a.close()
            await b.close()

        self._run(event_streamer_factory, body)

    def test_a_workflow_runs_end_to_end_through_the_streamer(
        self, event_streamer_factory: EventStreamerFactory
    ) -> None:
        async def body(streamer: EventStreamer) -> None:
            await sync_user_through(streamer, self.wait_seconds)

        self._run(event_streamer_factory, body)

    def test_one_off_receivers_keep_no_cursor(self, event_streamer_factory: EventStreamerFactory) -> None:
        """`receiver(..., ephemeral=True)` (where `ephemeral_receivers` says it is supported): the name
        starts from the latest event every time it is opened, while a durable name resumes."""

        async def body(streamer: EventStreamer) -> None:
            if not getattr(streamer, "ephemeral_receivers", False):
                pytest.skip("this streamer has no one-off receivers (ephemeral_receivers)")
            one_off: Any = streamer  # the keyword is an optional extension of the port
            await _send(streamer, TOPIC, "before")
            for durable, name in ((False, "once"), (True, "kept")):
                first = await one_off.receiver(TOPIC, name, from_latest=True, ephemeral=not durable)
                await _send(streamer, TOPIC, f"{name}-1")
                assert await self._keys(first, 1, ack=True) == [f"{name}-1"]
                await first.close()
                await _send(streamer, TOPIC, f"{name}-2")
                again = await one_off.receiver(TOPIC, name, from_latest=True, ephemeral=not durable)
                await _send(streamer, TOPIC, f"{name}-3")
                expected = [f"{name}-2", f"{name}-3"] if durable else [f"{name}-3"]
                assert await self._keys(again, len(expected), ack=True) == expected
                await again.close()

        self._run(event_streamer_factory, body)
