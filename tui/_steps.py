"""What a replay walks: a run as a list of steps, from a store's history or a simulation trace.

`ReplayScreen` only knows `Replay`, so a store run and a run recorded in a trace are replayed by
the same screen, keys and drawing; each source only says how it turns into steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wfkit import Record, RunState, WorkflowInfo
from wfkit.tui._format import span, stamp


@dataclass(frozen=True, slots=True)
class Step:
    """One version of a run: where it was, what it held (None: not recorded), and when."""

    version: int
    status: int
    run_state: RunState
    object: bytes | None
    when: str
    """The time as shown (`2024-05-01 11:20:00`, `t=12.500s`)."""
    delta: str = ""
    """Time since the previous step as shown (`+5m`), empty for the first."""
    reason: str = ""
    note: str = ""
    """Where the step comes from, when it says something (`line 42 · node 1`)."""


@dataclass(frozen=True, slots=True)
class Replay:
    """A run's steps, oldest first, its name in the title and its graph (None when unknown)."""

    name: str
    steps: tuple[Step, ...]
    info: WorkflowInfo | None = None
    missing_graph: str = "(graph unknown)"
    """What the graph pane says when `info` is None."""

    def status_name(self, status: int) -> str:
        return self.info.name_of(status) if self.info is not None else str(status)

    def path(self, upto: int) -> list[int]:
        """The statuses visited by steps 0..upto, without repeating one it stayed at."""
        out: list[int] = []
        for step in self.steps[: upto + 1]:
            if not out or out[-1] != step.status:
                out.append(step.status)
        return out


def replay_of_records(name: str, history: Sequence[Record], info: WorkflowInfo | None) -> Replay:
    """A store run's versions as steps (`history` oldest first)."""
    steps = []
    previous: Record | None = None
    for record in history:
        delta = ""
        if previous is not None:
            delta = f"+{span((record.updated_at - previous.updated_at).total_seconds())}"
        steps.append(
            Step(
                record.version,
                record.status,
                record.run_state,
                record.object,
                stamp(record.updated_at),
                delta,
                record.meta.run_state_reason,
            )
        )
        previous = record
    return Replay(name, tuple(steps), info)


def seconds(t: float) -> str:
    """Virtual seconds of a trace, to the millisecond: `12.500s`."""
    return f"{t:.3f}s"
