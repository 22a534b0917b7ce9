"""How callers ask a record store for a page of runs: order and filters."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from wfkit._record import Record
from wfkit._runstate import RunState


class Order(enum.StrEnum):
    """Page order by creation: ASC is oldest first, DESC newest first."""

    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Filters AND together; each sequence matches any of its values; empty means no filter."""

    foreign_ids: Sequence[str] = ()
    statuses: Sequence[int] = ()
    run_states: Sequence[RunState] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None

    def matches(self, record: Record) -> bool:
        """Whether `record` passes every filter (for stores that filter in memory)."""
        if self.foreign_ids and record.foreign_id not in self.foreign_ids:
            return False
        if self.statuses and record.status not in self.statuses:
            return False
        if self.run_states and record.run_state not in self.run_states:
            return False
        if self.created_after is not None and not record.created_at > self.created_after:
            return False
        return self.created_before is None or record.created_at < self.created_before
