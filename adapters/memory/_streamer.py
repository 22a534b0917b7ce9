"""The in-memory `EventStreamer`: per-topic logs with named, committed cursors and no polling."""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Mapping

from wfkit._clock import Clock, SystemClock
from wfkit._errors import WfkitError
from wfkit._record import Event


class ClosedError(WfkitError):
    """A closed sender, receiver or consumer was used; open a new one (same name to resume)."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"{what} is closed: open a new one (one with the same name resumes from its cursor)")


class _Topic:
    """One topic: its append-only log, committed cursors by receiver name, and waiting receivers."""

    __slots__ = ("cursors", "events", "name", "waiters")

    def __init__(self, name: str) -> None:
        self.name = name
        self.events: list[Event] = []
        self.cursors: dict[str, int] = {}  # receiver name -> index of the first un-acked event
        self.waiters: dict[EventReceiver, asyncio.Future[None]] = {}

    def wake(self) -> None:
        waiters, self.waiters = self.waiters, {}
        for fut in waiters.values():
            if not fut.done():
                fut.set_result(None)


class EventStreamer:
    """An `EventStreamer` held in process memory, shared by every worker of a test or simulation.

    Event ids are global and increase from 1; `created_at` comes from `clock`. Cursors live here,
    not in receivers, so a receiver reopened under the same name resumes after its last ack and
    gets every un-acked event again. A caught-up `recv` waits on a future that `send` resolves.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._topics: dict[str, _Topic] = {}
        self._last_id = 0

    def _topic(self, name: str) -> _Topic:
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = _Topic(name)
        return topic

    async def sender(self, topic: str) -> EventSender:
        """A sender that appends to `topic`."""
        return EventSender(self, self._topic(topic))

    ephemeral_receivers = True
    """`receiver(..., ephemeral=True)` is supported (the engine asks before passing it)."""

    async def receiver(
        self,
        topic: str,
        name: str,
        *,
        poll_frequency: float | None = None,
        from_latest: bool = False,
        ephemeral: bool = False,
    ) -> EventReceiver:
        """A receiver of `topic` that resumes from the cursor of `name` (created on first open).

        `from_latest` starts a name without a cursor at the current head; `poll_frequency` is
        accepted for the port and ignored, since sends wake receivers directly. An `ephemeral`
        receiver (a one-off wait such as `await_status`) forgets its name's cursor when closed, so
        one-off names do not pile up; durable names (consumers) keep theirs across reopens.
        """
        t = self._topic(topic)
        if name not in t.cursors:
            t.cursors[name] = len(t.events) if from_latest else 0
        return EventReceiver(t, name, ephemeral=ephemeral, loop=asyncio.get_running_loop())

    def cursor(self, topic: str, name: str) -> int | None:
        """How many events of `topic` the receiver name has acked, or None if it has no cursor."""
        t = self._topics.get(topic)
        return None if t is None else t.cursors.get(name)

    def events(self, topic: str) -> list[Event]:
        """Every event sent to `topic`, oldest first (a copy, for tests and the simulator)."""
        t = self._topics.get(topic)
        return [] if t is None else list(t.events)


class EventSender:
    """Sends to one topic of an in-memory `EventStreamer`; cheap to open and to keep."""

    __slots__ = ("_closed", "_streamer", "_topic")

    def __init__(self, streamer: EventStreamer, topic: _Topic) -> None:
        self._streamer = streamer
        self._topic = topic
        self._closed = False

    async def send(self, key: str, type: int, headers: Mapping[str, str]) -> None:
        """Append an event; receivers waiting on the topic wake at their next turn of the loop."""
        if self._closed:
            raise ClosedError(f"sender of topic {self._topic.name!r}")
        streamer, topic = self._streamer, self._topic
        streamer._last_id = event_id = streamer._last_id + 1
        topic.events.append(Event(event_id, key, type, dict(headers), streamer._clock.now()))
        if topic.waiters:
            topic.wake()

    async def close(self) -> None:
        self._closed = True


class EventReceiver:
    """Reads one topic under a name: delivers from its own position, commits on `ack`."""

    __slots__ = ("_closed", "_ephemeral", "_last", "_loop", "_name", "_pos", "_topic")

    def __init__(
        self,
        topic: _Topic,
        name: str,
        *,
        ephemeral: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._topic = topic
        # The loop it was opened on, where it waits (asking for the running loop costs a system
        # call, on every wait); None: the running loop at each wait.
        self._loop = loop
        self._name = name
        self._pos = topic.cursors[name]  # index of the next event to deliver
        self._last: Event | None = None  # the most recently delivered event
        self._closed = False
        self._ephemeral = ephemeral

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"receiver {self._name!r} of topic {self._topic.name!r}")

    async def recv(self) -> Event:
        """The next event after the last one delivered; waits (without polling) when caught up."""
        topic = self._topic
        while True:
            if self._closed:
                self._check_open()  # raises
            events = topic.events
            if self._pos < len(events):
                event = self._last = events[self._pos]
                self._pos += 1
                return event
            fut = (self._loop or asyncio.get_running_loop()).create_future()
            topic.waiters[self] = fut
            try:
                await fut
            finally:
                if topic.waiters.get(self) is fut:
                    del topic.waiters[self]

    def recv_nowait(self) -> Event | None:
        """The next event if one has been sent, without waiting (`recv` repeats these lines
        inline: it is the simulator's hottest wait)."""
        events = self._topic.events
        if self._pos < len(events) and not self._closed:
            event = self._last = events[self._pos]
            self._pos += 1
            return event
        return None

    async def ack(self, event: Event) -> None:
        """Commit this name's cursor past `event`; acking an older event never moves it back."""
        if self._closed:
            self._check_open()  # raises
        topic = self._topic
        if event is self._last:
            index = self._pos - 1
        else:
            index = bisect.bisect_left(topic.events, event.id, key=_event_id)
            if index >= len(topic.events) or topic.events[index].id != event.id:
                raise ValueError(f"event {event.id} was not sent on topic {topic.name!r}")
        if topic.cursors[self._name] <= index:
            topic.cursors[self._name] = index + 1

    async def close(self) -> None:
        """Stop this receiver; un-acked events go to the next receiver opened with the same name.

        An ephemeral receiver forgets its name's cursor instead.
        """
        if self._ephemeral and not self._closed:
            self._topic.cursors.pop(self._name, None)
        self._closed = True


def _event_id(event: Event) -> int:
    return event.id
