"""Deliberately broken adapters shared by the planted-bug and shrinking tests."""

from __future__ import annotations

import wfkit
from wfkit.adapters import memory


class AckOnDeliveryReceiver:
    """Commits the cursor as soon as it delivers, before the handler has done (or failed) its work."""

    def __init__(self, inner: wfkit.EventReceiver) -> None:
        self._inner = inner

    async def recv(self) -> wfkit.Event:
        event = await self._inner.recv()
        await self._inner.ack(event)
        return event

    async def ack(self, event: wfkit.Event) -> None:
        await self._inner.ack(event)

    async def close(self) -> None:
        await self._inner.close()


class AckOnDeliveryStreamer(memory.EventStreamer):
    async def receiver(  # type: ignore[override]
        self, topic: str, name: str, *, poll_frequency: float | None = None, from_latest: bool = False
    ) -> AckOnDeliveryReceiver:
        inner = await super().receiver(topic, name, poll_frequency=poll_frequency, from_latest=from_latest)
        return AckOnDeliveryReceiver(inner)
