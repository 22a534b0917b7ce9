"""The MySQL `RecordStore`: every version a history row, the latest in `wfkit_runs`, outbox alongside.

`store()` is one transaction: it reads the run's current version with `SELECT … FOR UPDATE` (the
compare-and-set: concurrent writers of one run queue on the row lock and the later one sees the new
version), inserts the history row, inserts or updates the latest row and inserts the outbox row from
`outbox_event_for(record)`. One active run per foreign id is the UNIQUE index `wfkit_runs_active`
over a generated column (the foreign id while the run is active, NULL otherwise); its duplicate-key
error becomes `WorkflowInProgress`, so two processes creating a run for one foreign id at once get
one run and one error. A deadlock or lock wait timeout reruns the transaction.

It is a `ChangeFeed` for writers through this object only (MySQL has no NOTIFY): other processes'
relays find new outbox rows at their next poll.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiomysql

from wfkit._errors import RecordNotFound, VersionConflict, WorkflowInProgress
from wfkit._graph import WorkflowInfo
from wfkit._query import Order, RecordFilter
from wfkit._record import Meta, OutboxEvent, Record, outbox_event_for
from wfkit._runstate import RunState
from wfkit.adapters._feed import Subscribers

from ._db import Database, OnDatabase, database, duplicate_key, is_retryable, to_us

_COLUMNS = (
    "run_id, version, workflow_name, foreign_id, run_state, status, object, created_at, updated_at, "
    "created_us, run_state_reason, status_description, trace_origin, traceparent"
)
# Objects travel as hex and are stored with UNHEX: aiomysql's bytes escaping broke with PyMySQL 1.2.
_PLACEHOLDERS = ", ".join(["%s"] * 6 + ["UNHEX(%s)"] + ["%s"] * 7)
_ATTEMPTS = 5


def _row(record: Record) -> tuple[Any, ...]:
    meta = record.meta
    return (
        record.run_id,
        meta.version,
        record.workflow_name,
        record.foreign_id,
        int(record.run_state),
        record.status,
        record.object.hex(),
        record.created_at.isoformat(),
        record.updated_at.isoformat(),
        to_us(record.created_at),
        meta.run_state_reason,
        meta.status_description,
        meta.trace_origin,
        meta.traceparent,
    )


def _record(row: Any) -> Record:
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


def _outbox(row: Any) -> OutboxEvent:
    return OutboxEvent(
        row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), datetime.fromisoformat(row[6])
    )


def _where(workflow_name: str | None, filters: RecordFilter | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if workflow_name is not None:
        clauses.append("workflow_name = %s")
        params.append(workflow_name)
    if filters is not None:
        for column, values in (
            ("foreign_id", builtins.list(filters.foreign_ids)),
            ("status", [int(s) for s in filters.statuses]),
            ("run_state", [int(s) for s in filters.run_states]),
        ):
            if values:
                clauses.append(f"{column} IN ({', '.join(['%s'] * len(values))})")
                params.extend(values)
        if filters.created_after is not None:
            clauses.append("created_us > %s")
            params.append(to_us(filters.created_after))
        if filters.created_before is not None:
            clauses.append("created_us < %s")
            params.append(to_us(filters.created_before))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class RecordStore(OnDatabase):
    """A `RecordStore` in one MySQL/MariaDB database; open it with `async with` (or `open()`/`close()`).

    `url_or_db` is a `mysql://` URL or a `Database` shared with other adapters; `options` go to
    `Database` when a URL is given.
    """

    def __init__(self, url_or_db: str | Database, **options: Any) -> None:
        self._db = database(url_or_db, **options)
        self._subscribers = Subscribers()

    def subscribe(self, workflow_name: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after every committed write of `workflow_name` through this object."""
        return self._subscribers.subscribe(workflow_name, callback)

    async def store(self, record: Record) -> None:
        """Write the next version of a run and its outbox event in one transaction, or raise."""
        run_id, version = record.run_id, record.meta.version
        if version < 1:
            raise ValueError(f"record versions start at 1, got {version} for run {run_id}")
        for attempt in range(_ATTEMPTS):
            try:
                await self._store(record)
                break
            except aiomysql.MySQLError as exc:
                key = duplicate_key(exc)
                if key == "wfkit_runs_active":
                    holder = await self._db.fetchval(
                        "SELECT run_id FROM wfkit_runs WHERE workflow_name = %s AND active_foreign_id = %s",
                        (record.workflow_name, record.foreign_id),
                    )
                    raise WorkflowInProgress(record.workflow_name, record.foreign_id, holder) from None
                if key is not None:  # another writer created the run between our read and our write
                    current = await self._db.fetchval(
                        "SELECT version FROM wfkit_runs WHERE run_id = %s", (run_id,)
                    )
                    raise VersionConflict(run_id, expected=version - 1, actual=current) from None
                if not is_retryable(exc) or attempt == _ATTEMPTS - 1:
                    raise
        self._subscribers.notify(record.workflow_name)

    async def _store(self, record: Record) -> None:
        run_id, version = record.run_id, record.meta.version
        row = _row(record)
        event = outbox_event_for(record)
        async with self._db.transaction() as conn:
            stored: int | None = await conn.fetchval(
                "SELECT version FROM wfkit_runs WHERE run_id = %s FOR UPDATE", (run_id,)
            )
            if (stored or 0) != version - 1:
                raise VersionConflict(run_id, expected=version - 1, actual=stored)
            if stored is None:
                await conn.execute(f"INSERT INTO wfkit_runs ({_COLUMNS}) VALUES ({_PLACEHOLDERS})", row)
            else:
                await conn.execute(
                    "UPDATE wfkit_runs SET version = %s, run_state = %s, status = %s, object = UNHEX(%s), "
                    "updated_at = %s, run_state_reason = %s, status_description = %s, "
                    "trace_origin = %s, traceparent = %s WHERE run_id = %s",
                    (*row[1:2], *row[4:7], row[8], *row[10:14], run_id),
                )
            if record.run_state is RunState.DATA_DELETED:
                await conn.execute(
                    "UPDATE wfkit_records SET object = UNHEX(%s) WHERE run_id = %s",
                    (record.object.hex(), run_id),
                )
            await conn.execute(f"INSERT INTO wfkit_records ({_COLUMNS}) VALUES ({_PLACEHOLDERS})", row)
            await conn.execute(
                "INSERT INTO wfkit_outbox (id, workflow_name, topic, `key`, type, headers, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    event.id,
                    event.workflow_name,
                    event.topic,
                    event.key,
                    event.type,
                    json.dumps(dict(event.headers)),
                    event.created_at.isoformat(),
                ),
            )

    async def lookup(self, run_id: str) -> Record:
        """The latest version of the run; `RecordNotFound` if there is none."""
        row = await self._db.fetchone(f"SELECT {_COLUMNS} FROM wfkit_runs WHERE run_id = %s", (run_id,))
        if row is None:
            raise RecordNotFound(run_id=run_id)
        return _record(row)

    async def latest(self, workflow_name: str, foreign_id: str) -> Record:
        """The most recently created run of the foreign id; `RecordNotFound` if there is none."""
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM wfkit_runs WHERE workflow_name = %s AND foreign_id = %s "
            "ORDER BY seq DESC LIMIT 1",
            (workflow_name, foreign_id),
        )
        if row is None:
            raise RecordNotFound(workflow_name=workflow_name, foreign_id=foreign_id)
        return _record(row)

    async def list(
        self,
        workflow_name: str | None = None,
        *,
        offset: int = 0,
        limit: int = 25,
        order: Order = Order.ASC,
        filters: RecordFilter | None = None,
    ) -> builtins.list[Record]:
        """A page of runs (latest versions) by creation order; `DESC` pages from the newest."""
        if offset < 0 or limit < 0:
            raise ValueError(f"offset and limit must not be negative (got {offset}, {limit})")
        where, params = _where(workflow_name, filters)
        direction = "ASC" if Order(order) is Order.ASC else "DESC"
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM wfkit_runs{where} ORDER BY seq {direction} LIMIT %s OFFSET %s",
            (*params, limit, offset),
        )
        return [_record(r) for r in rows]

    async def count(self, workflow_name: str | None = None, *, filters: RecordFilter | None = None) -> int:
        """How many runs `list` would page through."""
        where, params = _where(workflow_name, filters)
        return int(await self._db.fetchval(f"SELECT COUNT(*) FROM wfkit_runs{where}", params))

    async def history(self, run_id: str) -> builtins.list[Record]:
        """Every version of the run, ascending from version 1; `RecordNotFound` if none."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM wfkit_records WHERE run_id = %s ORDER BY version", (run_id,)
        )
        if not rows:
            raise RecordNotFound(run_id=run_id)
        return [_record(r) for r in rows]

    async def list_outbox(self, workflow_name: str, limit: int = 1000) -> builtins.list[OutboxEvent]:
        """Unpublished outbox events of the workflow, oldest first."""
        rows = await self._db.fetchall(
            "SELECT id, workflow_name, topic, `key`, type, headers, created_at FROM wfkit_outbox "
            "WHERE workflow_name = %s ORDER BY seq LIMIT %s",
            (workflow_name, max(limit, 0)),
        )
        return [_outbox(r) for r in rows]

    async def delete_outbox(self, event_id: str) -> None:
        """Forget a published outbox event; deleting an unknown id is a no-op."""
        await self._db.execute("DELETE FROM wfkit_outbox WHERE id = %s", (event_id,))

    async def register(self, info: WorkflowInfo) -> None:
        """Record (or replace) a workflow's catalogue entry."""
        await self._db.execute(
            "INSERT INTO wfkit_workflows (name, info) VALUES (%s, %s) "
            "ON DUPLICATE KEY UPDATE info = VALUES(info)",
            (info.name, json.dumps(info.to_dict())),
        )

    async def workflows(self) -> builtins.list[WorkflowInfo]:
        """Catalogue entries, by name."""
        rows = await self._db.fetchall("SELECT info FROM wfkit_workflows ORDER BY name")
        return [WorkflowInfo.from_dict(json.loads(r[0])) for r in rows]
