"""Run states: the lifecycle of a run, separate from its business status, with luno's numbers and table."""

from __future__ import annotations

import enum


class RunState(enum.IntEnum):
    """Where a run is in its lifecycle (luno's numbering, so records are wire-compatible)."""

    UNKNOWN = 0
    INITIATED = 1
    RUNNING = 2
    PAUSED = 3
    CANCELLED = 4
    COMPLETED = 5
    DATA_DELETED = 6
    REQUESTED_DATA_DELETED = 7

    @property
    def valid(self) -> bool:
        """A real run state (not UNKNOWN)."""
        return self is not RunState.UNKNOWN

    @property
    def finished(self) -> bool:
        """The run will never move again: completed, cancelled or its data deleted."""
        return self in _FINISHED

    @property
    def stopped(self) -> bool:
        """Consumers leave the run alone: paused, cancelled or its data deleted."""
        return self in STOPPED

    @property
    def active(self) -> bool:
        """The run holds its foreign id: initiated, running or paused."""
        return self in (RunState.INITIATED, RunState.RUNNING, RunState.PAUSED)

    @property
    def label(self) -> str:
        """luno's display string, e.g. "Data Deleted"."""
        return self.name.replace("_", " ").title()

    def can_become(self, target: RunState) -> bool:
        """Whether run control may move a run from this state to `target` (luno's table)."""
        return target in _ALLOWED.get(self, ())


_FINISHED = frozenset(
    {RunState.COMPLETED, RunState.CANCELLED, RunState.REQUESTED_DATA_DELETED, RunState.DATA_DELETED}
)
STOPPED = frozenset(
    {RunState.PAUSED, RunState.CANCELLED, RunState.REQUESTED_DATA_DELETED, RunState.DATA_DELETED}
)
"""The run states consumers leave alone (`RunState.stopped`), as a set for hot-path membership tests."""
_ALLOWED: dict[RunState, tuple[RunState, ...]] = {
    RunState.INITIATED: (RunState.RUNNING, RunState.PAUSED),
    RunState.RUNNING: (RunState.COMPLETED, RunState.PAUSED, RunState.CANCELLED),
    RunState.PAUSED: (RunState.RUNNING, RunState.CANCELLED),
    RunState.COMPLETED: (RunState.REQUESTED_DATA_DELETED,),
    RunState.CANCELLED: (RunState.REQUESTED_DATA_DELETED,),
    RunState.REQUESTED_DATA_DELETED: (RunState.DATA_DELETED,),
    RunState.DATA_DELETED: (RunState.REQUESTED_DATA_DELETED,),
}
