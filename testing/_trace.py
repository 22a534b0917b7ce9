"""The simulation trace: canonical JSON lines of simulated facts, and their hash."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import msgspec

_encode = msgspec.json.Encoder(order="sorted").encode


class Trace:
    """Every delivery, write, fault, role change and clock move of a simulation, in order.

    Lines hold only simulated facts (virtual time, node numbers, seeded ids), never wall time,
    paths or process ids, so one seed always gives the same lines and the same `hash`.
    """

    def __init__(self, now: Callable[[], float], *, keep: bool = True) -> None:
        self._now = now
        self._sha = hashlib.sha256()
        self.keep = keep
        self.lines: list[str] = []
        self.count = 0

    def add(self, kind: str, **fields: Any) -> None:
        fields["k"] = kind
        fields["t"] = round(self._now(), 6)
        line = _encode(fields)
        self._sha.update(line)
        self._sha.update(b"\n")
        self.count += 1
        if self.keep:
            self.lines.append(line.decode())

    @property
    def hash(self) -> str:
        return self._sha.hexdigest()

    def tail(self, n: int = 20) -> list[str]:
        return self.lines[-n:]
