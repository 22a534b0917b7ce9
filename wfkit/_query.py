"""How callers ask a record store for a page of runs: sort column, order and filters."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from wfkit._record import Record
from wfkit._runstate import RunState


class Order(enum.StrEnum):
    """Page direction along the sort column: ASC is smallest (oldest) first, DESC largest (newest) first."""

    ASC = "asc"
    DESC = "desc"


class SortKey(enum.StrEnum):
    """The column a page of runs is sorted by (each run's latest version).

    Ties are always broken by creation order in the same direction, so paging through any sort
    never repeats or skips a run while nothing is written. Text sorts by code point and
    `UPDATED` by time (wfkit's clocks stamp UTC, so the stored ISO text sorts as time does).
    """

    CREATED = "created"
    """Creation order (the store's sequence): the default."""
    UPDATED = "updated"
    """When the latest version was written (`updated_at`)."""
    STATUS = "status"
    """The status number."""
    FOREIGN_ID = "foreign_id"
    """The foreign id."""
    VERSION = "version"
    """How many versions the run has."""


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
