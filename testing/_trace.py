"""The simulation trace: canonical JSON lines of simulated facts, and their hash."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import msgspec

_encode_into = msgspec.json.Encoder(order="sorted").encode_into
_BATCH = 65536  # bytes of encoded lines hashed (and split into lines) together


# The three lines written for nearly every step of a simulation, as structs: building one costs
# less than a dict of keyword arguments. Fields are in key order, so a line's bytes are the same as
# those of the dict with sorted keys that `Trace.add` keeps.


class _Write(msgspec.Struct, gc=False):
    k: str
    n: int
    rs: int
    run: str
    s: int
    t: float
    v: int


class _Send(msgspec.Struct, gc=False):
    k: str
    n: int
    run: str
    t: float
    topic: str
    v: int


class _Timeout(msgspec.Struct, gc=False):
    k: str
    n: int
    run: str
    s: int
    t: float


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
        self._hashed = 0  # lines hashed so far
        # Lines are encoded as they come into one buffer, each with its newline, and hashed (and
        # split into lines, when kept) a batch at a time: cheaper than a hash update per line, and
        # than keeping each line's fields until a batch is encoded.
        self._buffer = bytearray()
        self.header: dict[str, Any] = {}
        self._last_now = -1.0  # the last time read, and as a line holds it
        self._last_t = -1.0

    def add(self, kind: str, **fields: Any) -> None:
        fields["k"] = kind
        fields["t"] = self._time()
        self._put(fields)

    # `write`, `send` and `timeout` are `add` for the lines of every step, as structs.

    def write(self, node: int, run: str, version: int, status: int, run_state: int) -> None:
        """`add("write", n=node, run=run, v=version, s=status, rs=run_state)`, faster."""
        self._put(_Write("write", node, run_state, run, status, self._time(), version))

    def send(self, node: int, run: str, version: int, topic: str) -> None:
        """`add("send", n=node, run=run, v=version, topic=topic)`, faster."""
        self._put(_Send("send", node, run, self._time(), topic, version))

    def timeout(self, node: int, run: str, status: int) -> None:
        """`add("timeout", n=node, run=run, s=status)`, faster."""
        self._put(_Timeout("timeout", node, run, status, self._time()))

    def _time(self) -> float:
        """The time a line holds: now, rounded to the microsecond (lines come in bursts at one
        instant, so it is rounded once per burst)."""
        now = self._now()
        if now != self._last_now:
            self._last_now = now
            self._last_t = round(now, 6)
        return self._last_t

    def _put(self, line: Any) -> None:
        buffer = self._buffer
        _encode_into(line, buffer, -1)
        buffer.append(10)
        if len(buffer) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        """Hash the lines encoded since the last flush (the same bytes as one line at a time)."""
        buffer = self._buffer
        if not buffer:
            return
        self._sha.update(buffer)
        self._hashed += buffer.count(10)
        if self.keep:
            self._lines.extend(buffer.decode().split("\n")[:-1])  # JSON text holds no raw newline
        buffer.clear()

    @property
    def lines(self) -> list[str]:
        """The lines so far (kept only with `keep`)."""
        self._flush()
        return self._lines

    @property
    def count(self) -> int:
        """How many lines were added."""
        return self._hashed + self._buffer.count(10)

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
