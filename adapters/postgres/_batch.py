"""Group commit for the PostgreSQL `RecordStore`: a batch of writes is one statement.

A batch (`adapters/_groupcommit.py` queues and schedules them) is a single statement of
data-modifying `WITH` parts, so one round trip and one implicit transaction whatever its size
(`_batch_sql` lists its steps): the runs' versions are compared and set in SQL, and each write
keeps its own outcome, a version conflict or a busy foreign id failing that write alone
(`why_not` names the reason).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from wfkit._errors import VersionConflict, WorkflowInProgress
from wfkit._runstate import RunState
from wfkit.adapters._groupcommit import Write
from wfkit.adapters._sqlrows import ACTIVE, COLUMNS

from ._db import Database

_TYPES = (
    "text", "bigint", "text", "text", "int", "bigint", "bytea",
    "text", "text", "bigint", "text", "text", "text", "text",
)  # fmt: skip
"""The array type of each of `COLUMNS`, for `unnest`."""


def _unnest(types: Sequence[str], first: int = 1) -> str:
    return "unnest(" + ", ".join(f"${first + i}::{t}[]" for i, t in enumerate(types)) + ")"


_RECORD = f"{_unnest(_TYPES)} WITH ORDINALITY AS w({COLUMNS}, ord)"
_EVENT = (
    f"{_unnest(('text', 'text', 'bigint', 'text', 'text'), 16)} "
    "WITH ORDINALITY AS e(topic, key, type, headers, created_at, ord)"
)
_OUTBOX = (
    f"{_unnest(('text', 'text', 'text', 'text', 'bigint', 'text', 'text'), 16)} "
    "WITH ORDINALITY AS e(id, workflow_name, topic, key, type, headers, created_at, ord)"
)
_AFTER = "(SELECT count(*) FROM {}) >= 0"
"""A condition that makes a sub-statement wait for another (PostgreSQL runs `WITH` parts on demand)."""


def _batch_sql(events: bool) -> str:
    """The whole batch as one statement (one round trip, one implicit transaction).

    In order: lock the batch's runs in run id order (concurrent batches never deadlock); advance
    each latest row whose stored version is the write's minus one (the compare-and-set); create the
    new runs (`ON CONFLICT DO NOTHING`: a busy foreign id rejects its own write only); then, for
    exactly the writes that got through (`ok`), the history rows, erased objects, and the events
    (topic locks in sorted order, ids drawn in write order) or outbox rows, and the NOTIFYs. It
    returns the ordinals of the writes that got through.
    """
    updates = (
        "version = w.version, run_state = w.run_state, status = w.status, object = w.object, "
        "updated_at = w.updated_at, run_state_reason = w.run_state_reason, "
        "status_description = w.status_description, trace_origin = w.trace_origin, "
        "traceparent = w.traceparent"
    )
    if events:
        publish = (
            "turn AS MATERIALIZED (SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) AS n "
            f"FROM unnest($21::text[]) AS k WHERE {_AFTER.format('ok')}), "
            "published AS (INSERT INTO wfkit_events (topic, key, type, headers, created_at) "
            f"SELECT e.topic, e.key, e.type, e.headers, e.created_at FROM turn, ok JOIN {_EVENT} "
            "ON e.ord = ok.ord ORDER BY e.ord RETURNING 1)"
        )
        channels = "$22::text[], $23::text[]"
    else:
        publish = (
            "published AS (INSERT INTO wfkit_outbox "
            "(id, workflow_name, topic, key, type, headers, created_at) "
            "SELECT e.id, e.workflow_name, e.topic, e.key, e.type, e.headers, e.created_at "
            f"FROM ok JOIN {_OUTBOX} "
            "ON e.ord = ok.ord ORDER BY e.ord RETURNING 1)"
        )
        channels = "$23::text[], $24::text[]"
    return (
        f"WITH w AS MATERIALIZED (SELECT * FROM {_RECORD}), "
        "locked AS MATERIALIZED (SELECT run_id FROM wfkit_runs WHERE run_id = ANY($15::text[]) "
        "ORDER BY run_id FOR UPDATE), "
        f"advanced AS (UPDATE wfkit_runs AS r SET {updates} FROM w WHERE r.run_id = w.run_id "
        f"AND w.version > 1 AND r.version = w.version - 1 AND {_AFTER.format('locked')} RETURNING w.ord), "
        f"created AS (INSERT INTO wfkit_runs ({COLUMNS}) SELECT {COLUMNS} FROM w "
        f"WHERE w.version = 1 AND {_AFTER.format('locked')} ORDER BY w.ord "
        "ON CONFLICT DO NOTHING RETURNING run_id), "
        "ok AS MATERIALIZED (SELECT * FROM w WHERE ord IN (SELECT ord FROM advanced) "
        "OR (version = 1 AND run_id IN (SELECT run_id FROM created))), "
        f"history AS (INSERT INTO wfkit_records ({COLUMNS}) SELECT {COLUMNS} FROM ok), "
        "erased AS (UPDATE wfkit_records AS h SET object = ok.object FROM ok "
        f"WHERE h.run_id = ok.run_id AND ok.run_state = {int(RunState.DATA_DELETED)}), "
        f"{publish} "
        f"SELECT array(SELECT ord FROM ok), (SELECT count(pg_notify(n.c, n.p)) FROM unnest({channels}) "
        "AS n(c, p), (SELECT count(*) FROM published) AS done)"
    )


_BATCH_EVENTS = _batch_sql(events=True)
_BATCH_OUTBOX = _batch_sql(events=False)


def _columns(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows (at least one) transposed into one list per column, as `unnest` takes them."""
    return [list(column) for column in zip(*rows, strict=True)]


class Batches:
    """What PostgreSQL does with a batch (`apply`) and with a write that did not get through."""

    def __init__(self, db: Database, *, channel: str, events: bool) -> None:
        self._db = db
        self._channel = channel
        self._events = events

    async def apply(self, batch: list[Write]) -> list[Write]:
        """Apply the batch in one statement; the writes that got through, in call order."""
        records = _columns([w.row for w in batch])
        run_ids = sorted(w.record.run_id for w in batch)
        events = [w.event for w in batch]
        workflows = sorted({e.workflow_name for e in events})
        if self._events:
            topics = sorted({e.topic for e in events})
            rows: list[tuple[Any, ...]] = [
                (e.topic, e.key, e.type, json.dumps(dict(e.headers)), e.created_at.isoformat())
                for e in events
            ]
            channels = ["wfkit_events"] * len(topics) + [self._channel] * len(workflows)
            args = [*_columns(rows), topics, channels, topics + workflows]
            sql = _BATCH_EVENTS
        else:
            rows = [
                (
                    e.id,
                    e.workflow_name,
                    e.topic,
                    e.key,
                    e.type,
                    json.dumps(dict(e.headers)),
                    e.created_at.isoformat(),
                )
                for e in events
            ]
            args = [*_columns(rows), [self._channel] * len(workflows), workflows]
            sql = _BATCH_OUTBOX
        row = await self._db.pool.fetchrow(sql, *records, run_ids, *args)
        through = set(row[0])
        return [write for ordinal, write in enumerate(batch, 1) if ordinal in through]

    async def why_not(self, write: Write) -> Exception:
        """Why a write did not get through: its foreign id is busy, or its version is not next."""
        record = write.record
        version = record.meta.version
        if version == 1:
            holder = await self._db.pool.fetchval(
                "SELECT run_id FROM wfkit_runs WHERE workflow_name = $1 AND foreign_id = $2 "
                f"AND run_state IN {ACTIVE}",
                record.workflow_name,
                record.foreign_id,
            )
            if holder is not None and holder != record.run_id:
                return WorkflowInProgress(record.workflow_name, record.foreign_id, holder)
        current = await self._db.pool.fetchval(
            "SELECT version FROM wfkit_runs WHERE run_id = $1", record.run_id
        )
        return VersionConflict(record.run_id, expected=version - 1, actual=current)
