"""The simulation trace: canonical JSON lines of simulated facts, and their hash."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import msgspec

_encode = msgspec.json.Encoder(order="sorted").encode

HEADER_GRAPH = "graph"
"""Header key: the workflow's graph as `WorkflowInfo.to_dict()` (names statuses, draws the graph)."""
HEADER_OBJECTS = "objects"
"""Header key: `{run id: {version: object as text}}`, what each committed version held."""


class Trace:
    """Every delivery, write, fault, role change and clock move of a simulation, in order.

    Lines hold only simulated facts (virtual time, node numbers, seeded ids), never wall time,
    paths or process ids, so one seed always gives the same lines and the same `hash`.

    `header` holds side facts for a trace file's header line (the graph, the objects written): they
    help a reader replay a run but are never hashed, so adding one never changes a seed's hash.
    """

    def __init__(self, now: Callable[[], float], *, keep: bool = True) -> None:
        self._now = now
        self._sha = hashlib.sha256()
        self.keep = keep
        self.lines: list[str] = []
        self.count = 0
        self.header: dict[str, Any] = {}

    def add(self, kind: str, **fields: Any) -> None:
        fields["k"] = kind
        fields["t"] = round(self._now(), 6)
        line = _encode(fields)
        self._sha.update(line)
        self._sha.update(b"\n")
        self.count += 1
        if self.keep:
            self.lines.append(line.decode())

    def note(self, key: str, value: Any) -> None:
        """Keep a side fact for the header line (not hashed, not a line)."""
        self.header[key] = value

    def keep_object(self, run_id: str, version: int, data: bytes) -> None:
        """Keep what version `version` of a run held, for a replay (not hashed; only when keeping lines)."""
        if self.keep:
            runs = self.header.setdefault(HEADER_OBJECTS, {})
            runs.setdefault(run_id, {})[str(version)] = data.decode("utf-8", "replace")

    @property
    def hash(self) -> str:
        return self._sha.hexdigest()

    def tail(self, n: int = 20) -> list[str]:
        return self.lines[-n:]
