"""The simulation trace: canonical JSON lines of simulated facts, and their hash."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import msgspec

_encode = msgspec.json.Encoder(order="sorted").encode
_BATCH = 1024  # lines kept as fields before they are encoded and hashed together

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
        self._lines: list[str] = []
        self._encoded = 0  # lines encoded and hashed so far
        self._pending: list[dict[str, Any]] = []  # lines added since, as their fields
        self.header: dict[str, Any] = {}
        self._last_now = -1.0  # the last time read, and as a line holds it
        self._last_t = -1.0

    def add(self, kind: str, **fields: Any) -> None:
        # The fields are kept and encoded in batches (`_flush`): one call encodes and hashes a
        # thousand lines for less than a thousand calls would cost. Field values are immutable
        # (numbers, strings), so a line encodes the same later as it would now.
        now = self._now()
        if now != self._last_now:  # lines come in bursts at one instant: round it once
            self._last_now = now
            self._last_t = round(now, 6)
        fields["k"] = kind
        fields["t"] = self._last_t
        pending = self._pending
        pending.append(fields)
        if len(pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        """Encode and hash the pending lines (the same bytes, in the same order, as one by one)."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        encoded = list(map(_encode, pending))
        encoded.append(b"")  # every line ends with a newline, the last one too
        blob = b"\n".join(encoded)
        self._sha.update(blob)
        self._encoded += len(pending)
        if self.keep:
            self._lines.extend(blob.decode().split("\n")[:-1])  # JSON text holds no raw newline

    @property
    def lines(self) -> list[str]:
        """The lines so far (kept only with `keep`)."""
        self._flush()
        return self._lines

    @property
    def count(self) -> int:
        """How many lines were added."""
        return self._encoded + len(self._pending)

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
        self._flush()
        return self._sha.hexdigest()

    def tail(self, n: int = 20) -> list[str]:
        return self.lines[-n:]
