"""`Run`: what a step, callback or timeout sees, and the directives it may return."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from wfkit._record import Meta, Record
from wfkit._runstate import RunState

T = TypeVar("T")
S = TypeVar("S", bound=enum.IntEnum)


@dataclass(frozen=True, slots=True)
class Skip:
    """Leave the run where it is and consume the event."""


@dataclass(frozen=True, slots=True)
class SaveAndRepeat:
    """Save the object at the same status and run the step again (to the back of the queue)."""


@dataclass(frozen=True, slots=True)
class Pause:
    """Pause the run with a reason, keeping the step's changes to the object."""

    reason: str


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel the run for good with a reason, keeping the step's changes to the object."""

    reason: str


Directive = Skip | SaveAndRepeat | Pause | Cancel
"""What a step may return instead of a status."""

ControlFn = Callable[[], Awaitable[None]]


class Run(Generic[T, S]):
    """A run as user code sees it: the typed object and status, plus run-control directives.

    Inside a step, `return await run.pause(reason)`, `return await run.cancel(reason)`,
    `return run.skip()` or `return run.save_and_repeat()`; the engine applies the directive
    atomically with the object's changes. A run is valid only during the call it was passed to.
    """

    __slots__ = (
        "_controls",
        "created_at",
        "foreign_id",
        "meta",
        "object",
        "run_id",
        "run_state",
        "status",
        "updated_at",
        "workflow_name",
    )

    def __init__(
        self,
        record: Record,
        status: S,
        obj: T,
        controls: dict[str, ControlFn] | None = None,
    ) -> None:
        self.workflow_name: str = record.workflow_name
        self.foreign_id: str = record.foreign_id
        self.run_id: str = record.run_id
        # Code never sees INITIATED: the first write moves the run to RUNNING (as luno does).
        self.run_state: RunState = (
            RunState.RUNNING if record.run_state is RunState.INITIATED else record.run_state
        )
        self.status: S = status
        self.object: T = obj
        self.created_at: datetime = record.created_at
        self.updated_at: datetime = record.updated_at
        self.meta: Meta = record.meta
        self._controls = controls

    @property
    def idempotency_key(self) -> str:
        """A key stable across retries of this transition: use it for external side effects."""
        return f"{self.run_id}-{self.meta.version}"

    async def pause(self, reason: str = "") -> Pause:
        """Pause the run once this step returns; its changes to the object are kept."""
        await self._control("pause")
        return Pause(reason)

    async def cancel(self, reason: str = "") -> Cancel:
        """Cancel the run once this step returns; its changes to the object are kept."""
        await self._control("cancel")
        return Cancel(reason)

    def skip(self) -> Skip:
        """Leave the run at its status and consume the event."""
        return Skip()

    def save_and_repeat(self) -> SaveAndRepeat:
        """Save the object and run this step again later."""
        return SaveAndRepeat()

    async def _control(self, name: str) -> None:
        if self._controls is not None and (fn := self._controls.get(name)) is not None:
            await fn()

    def __repr__(self) -> str:
        return (
            f"Run(workflow={self.workflow_name!r}, foreign_id={self.foreign_id!r}, "
            f"run_id={self.run_id!r}, status={self.status!r}, run_state={self.run_state.name})"
        )
