"""What a replay walks: a run as a list of steps, from a store's history or a simulation trace.

`ReplayScreen` only knows `Replay`, so a store run and a run recorded in a trace are replayed by
the same screen, keys and drawing; each source only says how it turns into steps.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from wfkit import Record, RunState, WorkflowInfo
from wfkit._errors import WfkitError
from wfkit.tui._format import span, stamp
from wfkit.tui._service import parse_duration


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
    at: float | None = None
    """The time as a number, for seeking: POSIX seconds (a store run) or a trace's virtual seconds."""


@dataclass(frozen=True, slots=True)
class Replay:
    """A run's steps, oldest first, its name in the title and its graph (None when unknown)."""

    name: str
    steps: tuple[Step, ...]
    info: WorkflowInfo | None = None
    missing_graph: str = "(graph unknown)"
    """What the graph pane says when `info` is None."""
    wall: bool = False
    """Whether the steps' `at` are wall-clock POSIX seconds (a store run) or a trace's virtual seconds."""

    def status_name(self, status: int) -> str:
        return self.info.name_of(status) if self.info is not None else str(status)

    @property
    def seek_hint(self) -> str:
        """What `S` accepts here, for the input's placeholder and the errors."""
        if self.wall:
            return "7 (step), +5m (after step 1), 12:30:15 or 2024-05-01 12:30 (UTC)"
        return "7 (step), +0.5s (after step 1) or t=1.25 (trace time)"

    @property
    def seek_help(self) -> str:
        """What `S` accepts here, in a sentence (the seek input's help line)."""
        when = (
            "a time in UTC as the steps show it: 12:30:15 (on step 1's day) or 2024-05-01 12:30:15"
            if self.wall
            else "a trace time: t=1.25 (seconds, as the steps show it)"
        )
        return (
            f"A step number (1-{len(self.steps)}), or the last step at or before an offset after"
            f" step 1 (+90s, +5m, +1h30m; units ms s m h d w) or {when}."
        )

    def seek(self, text: str) -> int:
        """The step index `text` names: a step number (`7`, as in the title), else the last step at
        or before a time: `+DURATION` after the first step (`+90s`, `+1h30m`), or an absolute time,
        `t=1.25` in a trace, `12:30:15` (on the first step's day) or `2024-05-01 12:30:15` (UTC) for a
        store run. `WfkitError` saying what is accepted otherwise."""
        value = text.strip()
        n = len(self.steps)
        if not n:
            raise WfkitError("nothing to seek: this replay has no steps")
        if not value:
            raise WfkitError(f"type where to go: {self.seek_hint}")
        if value.isdigit():
            number = int(value)
            if not 1 <= number <= n:
                raise WfkitError(f"step {number} is out of range: this run has steps 1-{n}")
            return number - 1
        times = [s.at for s in self.steps]
        if any(t is None for t in times):
            raise WfkitError(f"this replay's steps carry no times: seek by step number (1-{n})")
        known = [t for t in times if t is not None]
        target = self._target(value, known[0])
        found = [i for i, t in enumerate(known) if t <= target + 1e-6]
        if not found:
            raise WfkitError(
                f"no step at or before {self._when(target)}: the first step is at {self._when(known[0])}"
            )
        return found[-1]

    def _target(self, value: str, first: float) -> float:
        if value.startswith("+"):
            try:
                return first + parse_duration(value[1:]).total_seconds()
            except WfkitError as exc:
                raise WfkitError(f"bad offset {value!r}: {exc}") from None
        if not self.wall:
            number = value[2:].strip() if value.lower().startswith("t=") else ""
            if _SECONDS.fullmatch(number):
                return float(number.rstrip("sS"))
            raise WfkitError(f"cannot seek to {value!r}: use {self.seek_hint}")
        clock = _CLOCK.fullmatch(value)
        if clock is not None:
            hours, minutes, secs = int(clock[1]), int(clock[2]), float(clock[3] or 0)
            if hours > 23 or minutes > 59 or secs >= 60:
                raise WfkitError(f"{value!r} is not a time of day: use HH:MM or HH:MM:SS, like 12:30:15")
            day = datetime.fromtimestamp(first, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            return day.timestamp() + hours * 3600 + minutes * 60 + secs
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise WfkitError(f"cannot seek to {value!r}: use {self.seek_hint}") from None
        return _posix(when)

    def _when(self, at: float) -> str:
        return stamp(datetime.fromtimestamp(at, UTC)) if self.wall else f"t={seconds(at)}"

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
                at=_posix(record.updated_at),
            )
        )
        previous = record
    return Replay(name, tuple(steps), info, wall=True)


_SECONDS = re.compile(r"(\d+(?:\.\d*)?|\.\d+)[sS]?")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?")


def _posix(when: datetime) -> float:
    """POSIX seconds of a stored time (naive times are UTC, as wfkit's clocks stamp them)."""
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp()


def seconds(t: float) -> str:
    """Virtual seconds of a trace, to the millisecond: `12.500s`."""
    return f"{t:.3f}s"
