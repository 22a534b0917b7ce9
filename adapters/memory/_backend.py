"""`memory.backend()`: one deployment's worth of memory adapters as a `Backend`."""

from __future__ import annotations

from typing import Any

from wfkit import Clock
from wfkit.adapters import Backend

from ._roles import RoleScheduler
from ._store import RecordStore
from ._streamer import EventStreamer
from ._timeouts import TimeoutStore


def backend(clock: Clock | None = None, *, url: str = "memory://", **build_options: Any) -> Backend:
    """Fresh memory adapters sharing `clock`; workflows built from it also use that clock."""
    if clock is not None:
        build_options.setdefault("clock", clock)
    return Backend(
        EventStreamer(clock=clock),
        RecordStore(clock=clock),
        RoleScheduler(clock=clock),
        TimeoutStore(clock=clock),
        url=url,
        build_options=build_options,
    )
