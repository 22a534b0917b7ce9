"""What the SQL adapters share: how a record, an outbox event and a run filter look in SQL.

SQLite, PostgreSQL and MySQL keep the same columns; they differ only in parameter markers and in
how bytes travel, so those are the two things callers pass in.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from wfkit._query import RecordFilter
from wfkit._record import Meta, OutboxEvent, Record
from wfkit._runstate import RunState

COLUMNS = (
    "run_id, version, workflow_name, foreign_id, run_state, status, object, created_at, updated_at, "
    "created_us, run_state_reason, status_description, trace_origin, traceparent"
)
"""The record columns, in the order of `record_row` (both the latest-run and history tables)."""
ACTIVE = (int(RunState.INITIATED), int(RunState.RUNNING), int(RunState.PAUSED))
"""Run states that hold a foreign id, for `run_state IN ACTIVE` clauses."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(when: datetime) -> int:
    """Microseconds since the epoch (naive datetimes are taken as UTC), for ordering in SQL."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def record_row(record: Record, obj: Any = None) -> tuple[Any, ...]:
    """The record as a row of `COLUMNS`; `obj` replaces the object bytes if the driver needs it."""
    meta = record.meta
    return (
        record.run_id,
        meta.version,
        record.workflow_name,
        record.foreign_id,
        int(record.run_state),
        record.status,
        record.object if obj is None else obj,
        record.created_at.isoformat(),
        record.updated_at.isoformat(),
        to_us(record.created_at),
        meta.run_state_reason,
        meta.status_description,
        meta.trace_origin,
        meta.traceparent,
    )


def record_from_row(row: Any) -> Record:
    """A record from a row selected as `COLUMNS`."""
    return Record(
        workflow_name=row[2],
        foreign_id=row[3],
        run_id=row[0],
        run_state=RunState(row[4]),
        status=row[5],
        object=bytes(row[6]),
        created_at=datetime.fromisoformat(row[7]),
        updated_at=datetime.fromisoformat(row[8]),
        meta=Meta(
            version=row[1],
            run_state_reason=row[10],
            status_description=row[11],
            trace_origin=row[12],
            traceparent=row[13],
        ),
    )


def outbox_from_row(row: Any) -> OutboxEvent:
    """An outbox event from `id, workflow_name, topic, key, type, headers (JSON), created_at`."""
    return OutboxEvent(
        row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), datetime.fromisoformat(row[6])
    )


def where_clause(
    workflow_name: str | None, filters: RecordFilter | None, marker: Callable[[int], str]
) -> tuple[str, builtins.list[Any]]:
    """A `WHERE` clause and its parameters; `marker(n)` writes the n-th parameter (from 1)."""
    clauses: builtins.list[str] = []
    params: builtins.list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return marker(len(params))

    if workflow_name is not None:
        clauses.append(f"workflow_name = {param(workflow_name)}")
    if filters is not None:
        for column, values in (
            ("foreign_id", builtins.list(filters.foreign_ids)),
            ("status", [int(s) for s in filters.statuses]),
            ("run_state", [int(s) for s in filters.run_states]),
        ):
            if values:
                clauses.append(f"{column} IN ({', '.join(param(v) for v in values)})")
        if filters.created_after is not None:
            clauses.append(f"created_us > {param(to_us(filters.created_after))}")
        if filters.created_before is not None:
            clauses.append(f"created_us < {param(to_us(filters.created_before))}")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params
