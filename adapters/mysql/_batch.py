"""Group commit for the MySQL `RecordStore`: a batch of writes is one transaction of a few statements.

`adapters/_groupcommit.py` queues and schedules the batches; here a batch locks its runs' rows in
run id order (`SELECT … FOR UPDATE`), keeps the writes whose version is the next one (the
compare-and-set, decided under the locks), and then writes all of them with one statement per
table: the new runs, the advanced runs (one `UPDATE` with a `CASE` per column), the history rows,
and the events (`append_events`) or outbox rows. About seven round trips per batch instead of seven
per write, which is what the pure-Python driver costs. A new run whose foreign id is busy fails the
whole statement (a duplicate key): the batch then falls back to one transaction per write, each
with its own answer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from wfkit._errors import VersionConflict
from wfkit._record import OutboxEvent
from wfkit._runstate import RunState
from wfkit.adapters._groupcommit import Write
from wfkit.adapters._sqlrows import COLUMNS

from ._db import Conn, Database
from ._streamer import append_events

PLACEHOLDERS = ", ".join(["%s"] * 6 + ["UNHEX(%s)"] + ["%s"] * 7)
"""One row of `COLUMNS` (objects travel as hex: aiomysql's bytes escaping broke with PyMySQL 1.2)."""
_ADVANCED = (
    (1, "version", "%s"),
    (4, "run_state", "%s"),
    (5, "status", "%s"),
    (6, "object", "UNHEX(%s)"),
    (8, "updated_at", "%s"),
    (10, "run_state_reason", "%s"),
    (11, "status_description", "%s"),
    (12, "trace_origin", "%s"),
    (13, "traceparent", "%s"),
)
"""The columns a new version changes: index in the row, name, value marker."""


def _values(count: int, marker: str) -> str:
    return ", ".join([f"({marker})"] * count)


def _markers(count: int) -> str:
    return ", ".join(["%s"] * count)


def _event_row(event: OutboxEvent) -> tuple[Any, ...]:
    """(topic, key, type, headers, created_at) of an event, as the event and outbox tables keep it."""
    headers = json.dumps(dict(event.headers))
    return (event.topic, event.key, event.type, headers, event.created_at.isoformat())


class Batches:
    """What MySQL does with a batch (`apply`) and with a write that did not get through."""

    def __init__(self, db: Database, *, events: bool) -> None:
        self._db = db
        self._events = events

    async def apply(self, batch: list[Write]) -> list[Write]:
        """Apply the batch in one transaction; the writes that got through, in call order."""
        async with self._db.transaction() as conn:
            run_ids = sorted(w.record.run_id for w in batch)
            rows = await conn.fetchall(
                f"SELECT run_id, version FROM wfkit_runs WHERE run_id IN ({_markers(len(run_ids))}) "
                "ORDER BY run_id FOR UPDATE",
                run_ids,
            )
            stored: dict[str, int] = dict(rows)
            ok = [w for w in batch if stored.get(w.record.run_id, 0) == w.record.meta.version - 1]
            if ok:
                await self._write(conn, ok, stored)
        return ok

    async def _write(self, conn: Conn, ok: list[Write], stored: dict[str, int]) -> None:
        created = [w.row for w in ok if w.record.run_id not in stored]
        advanced = [w.row for w in ok if w.record.run_id in stored]
        if created:
            await conn.execute(
                f"INSERT INTO wfkit_runs ({COLUMNS}) VALUES {_values(len(created), PLACEHOLDERS)}",
                [value for row in created for value in row],
            )
        if advanced:
            await conn.execute(*_advance(advanced))
        for w in ok:
            if w.record.run_state is RunState.DATA_DELETED:
                await conn.execute(
                    "UPDATE wfkit_records SET object = UNHEX(%s) WHERE run_id = %s",
                    (w.row[6], w.record.run_id),
                )
        await conn.execute(
            f"INSERT INTO wfkit_records ({COLUMNS}) VALUES {_values(len(ok), PLACEHOLDERS)}",
            [value for w in ok for value in w.row],
        )
        events = [_event_row(w.event) for w in ok]
        if self._events:
            await append_events(conn, events)
        else:
            await conn.execute(
                "INSERT INTO wfkit_outbox (id, workflow_name, topic, `key`, type, headers, created_at) "
                f"VALUES {_values(len(events), _markers(7))}",
                [
                    value
                    for w, row in zip(ok, events, strict=True)
                    for value in (w.event.id, w.record.workflow_name, *row)
                ],
            )

    async def why_not(self, write: Write) -> Exception:
        """A write that did not get through had a version that was not the next one."""
        record = write.record
        current = await self._db.fetchval(
            "SELECT version FROM wfkit_runs WHERE run_id = %s", (record.run_id,)
        )
        return VersionConflict(record.run_id, expected=record.meta.version - 1, actual=current)


def _advance(rows: Sequence[tuple[Any, ...]]) -> tuple[str, list[Any]]:
    """One `UPDATE` of the latest row of several runs: a `CASE run_id` per changed column."""
    sets: list[str] = []
    args: list[Any] = []
    for index, name, marker in _ADVANCED:
        sets.append(f"{name} = CASE run_id " + " ".join([f"WHEN %s THEN {marker}"] * len(rows)) + " END")
        for row in rows:
            args += (row[0], row[index])
    args += [row[0] for row in rows]
    sql = f"UPDATE wfkit_runs SET {', '.join(sets)} WHERE run_id IN ({_markers(len(rows))})"
    return sql, args
