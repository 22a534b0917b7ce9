"""`Workload`: how many runs a simulation triggers, when, with what, and which callbacks it sends."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wfkit import ConfigurationError

Payload = bytes | Callable[[int], bytes]


@dataclass(frozen=True)
class Workload:
    """Runs to trigger and callbacks to answer, as simulated clients would.

    Run `i` is triggered at `start + i * spacing` simulated seconds for foreign id
    `f"{prefix}-{i % foreign_ids}"` (fewer foreign ids than runs makes runs compete for them), with
    `initial(i)` as its object (None: the object type's default). Every `callback_every` seconds,
    each run waiting at a status in `callbacks` gets that callback with the payload (bytes, or a
    function of the run's index). Every run must be finished or stopped by `max_time` simulated
    seconds (default: two hours after the last trigger and the end of the faults): liveness.
    """

    runs: int = 20
    spacing: float = 1.0
    start: float = 0.0
    foreign_ids: int | None = None
    prefix: str = "sim"
    initial: Callable[[int], Any] | None = None
    callbacks: Mapping[int, Payload] = field(default_factory=dict)
    callback_every: float = 1.0
    max_time: float | None = None

    def __post_init__(self) -> None:
        if self.runs < 0 or self.spacing < 0 or self.start < 0 or self.callback_every <= 0:
            raise ConfigurationError(f"invalid {self!r}: counts and times must not be negative")
        if self.foreign_ids is not None and self.foreign_ids < 1:
            raise ConfigurationError("Workload.foreign_ids must be at least 1")

    def foreign_id(self, i: int) -> str:
        return f"{self.prefix}-{i % self.foreign_ids if self.foreign_ids else i}"

    def payload(self, status: int, i: int) -> bytes:
        value = self.callbacks[status]
        return value if isinstance(value, bytes) else value(i)

    def describe(self) -> str:
        parts = [f"runs={self.runs}", f"spacing={self.spacing:g}"]
        if self.foreign_ids:
            parts.append(f"foreign_ids={self.foreign_ids}")
        return ",".join(parts)
