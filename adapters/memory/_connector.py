"""The in-memory `Connector`: replays a fixed list of external events with named cursors."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

from wfkit._clock import Clock, SystemClock
from wfkit._record import ConnectorEvent

from ._streamer import ClosedError


class Connector:
    """A `Connector` over a fixed list of events, for tests and the simulator.

    Each consumer name has a cursor kept here: a consumer reopened under a name resumes after its
    last ack and gets every un-acked event again. Once a consumer has delivered every event, `recv`
    waits until cancelled. Events without `created_at` are stamped from `clock` on construction.
    """

    def __init__(self, events: Sequence[ConnectorEvent], clock: Clock | None = None) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        now = self._clock.now()
        self._events = tuple(
            dataclasses.replace(e, created_at=now) if e.created_at is None else e for e in events
        )
        self._cursors: dict[str, int] = {}  # consumer name -> index of the first un-acked event

    @property
    def events(self) -> tuple[ConnectorEvent, ...]:
        """The events this connector replays, as consumers receive them."""
        return self._events

    async def consumer(self, name: str) -> ConnectorConsumer:
        """A consumer that resumes from the cursor of `name`."""
        return ConnectorConsumer(self, name, self._cursors.setdefault(name, 0))

    def cursor(self, name: str) -> int | None:
        """How many events the consumer name has acked, or None if it was never opened."""
        return self._cursors.get(name)


class ConnectorConsumer:
    """Reads a `Connector`'s events under a name: delivers from its position, commits on `ack`."""

    __slots__ = ("_closed", "_connector", "_name", "_pos")

    def __init__(self, connector: Connector, name: str, pos: int) -> None:
        self._connector = connector
        self._name = name
        self._pos = pos
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"connector consumer {self._name!r}")

    async def recv(self) -> ConnectorEvent:
        """The next event after the last one delivered; once all are delivered, waits forever."""
        self._check_open()
        events = self._connector._events
        if self._pos < len(events):
            event = events[self._pos]
            self._pos += 1
            return event
        # Never resolved: only cancellation ends the wait.
        await asyncio.get_running_loop().create_future()
        raise AssertionError("unreachable")  # pragma: no cover

    async def ack(self, event: ConnectorEvent) -> None:
        """Commit this name's cursor past `event`; acking an older event never moves it back."""
        self._check_open()
        events = self._connector._events
        last = self._pos - 1
        if 0 <= last < len(events) and events[last] is event:
            index = last
        else:
            index = next((i for i, e in enumerate(events) if e is event or e == event), -1)
            if index < 0:
                raise ValueError(f"connector event {event.id!r} is not one of this connector's")
        cursors = self._connector._cursors
        if cursors[self._name] <= index:
            cursors[self._name] = index + 1

    async def close(self) -> None:
        """Stop this consumer; un-acked events go to the next consumer opened with the same name."""
        self._closed = True
