"""`WorkflowEnv`: memory adapters on a `FakeClock`, ready to build and run workflows in a test."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

from wfkit import Builder, RandomIds, Workflow
from wfkit.adapters import memory
from wfkit.testing._clock import FakeClock

T = TypeVar("T")
S = TypeVar("S", bound=enum.IntEnum)


class WorkflowEnv:
    """One deployment's worth of memory adapters sharing a `FakeClock` and a private metrics registry."""

    def __init__(self, now: datetime | None = None, *, seed: int | None = 0) -> None:
        self.clock = FakeClock(now or datetime(2024, 1, 1, tzinfo=UTC))
        self.store = memory.RecordStore(clock=self.clock)
        self.streamer = memory.EventStreamer(clock=self.clock)
        self.roles = memory.RoleScheduler()
        self.timeouts = memory.TimeoutStore(clock=self.clock)
        self.registry = CollectorRegistry()
        self.ids = RandomIds(seed)

    def build(self, builder: Builder[T, S], **options: Any) -> Workflow[T, S]:
        """Build on this environment's adapters, clock, ids and registry (options may override)."""
        options.setdefault("timeout_store", self.timeouts)
        options.setdefault("clock", self.clock)
        options.setdefault("metrics", self.registry)
        options.setdefault("ids", self.ids)
        return builder.build(self.streamer, self.store, self.roles, **options)

    @asynccontextmanager
    async def run(self, builder: Builder[T, S], **options: Any) -> AsyncIterator[Workflow[T, S]]:
        """Build, start, yield the workflow, and stop it afterwards."""
        wf = self.build(builder, **options)
        async with wf:
            yield wf
