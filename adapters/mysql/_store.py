"""The MySQL `RecordStore`: every version a history row, the latest in `wfkit_runs`, outbox alongside.

`store()` is one transaction: it reads the run's current version with `SELECT … FOR UPDATE` (the
compare-and-set: concurrent writers of one run queue on the row lock and the later one sees the new
version), inserts the history row, inserts or updates the latest row and inserts the outbox row from
`outbox_event_for(record)`. One active run per foreign id is the UNIQUE index `wfkit_runs_active`
over a generated column (the foreign id while the run is active, NULL otherwise); its duplicate-key
error becomes `WorkflowInProgress`, so two processes creating a run for one foreign id at once get
one run and one error. A deadlock or lock wait timeout reruns the transaction.

Given the streamer on the same `Database` (as `mysql.connect()` makes them), the event goes straight
to the streamer's table in the write's own transaction instead of the outbox (nothing to relay), and
receivers of this process wake at the commit. It is a `ChangeFeed` for writers through this object
only (MySQL has no NOTIFY): other processes see new rows at their next poll.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable
from typing import Any

import aiomysql

from wfkit._errors import ConfigurationError, VersionConflict, WorkflowInProgress
from wfkit._graph import WorkflowInfo
from wfkit._record import OutboxEvent, Record, outbox_event_for, topic_for
from wfkit._runstate import RunState
from wfkit.adapters._feed import Subscribers
from wfkit.adapters._sqlbase import QuietOutbox
from wfkit.adapters._sqlreads import RecordReads
from wfkit.adapters._sqlrows import (
    COLUMNS,
    outbox_from_row,
    record_row,
)

from ._db import Database, OnDatabase, database, duplicate_key, is_retryable
from ._streamer import EventStreamer, append_event

# Objects travel as hex and are stored with UNHEX: aiomysql's bytes escaping broke with PyMySQL 1.2.
_PLACEHOLDERS = ", ".join(["%s"] * 6 + ["UNHEX(%s)"] + ["%s"] * 7)
_ATTEMPTS = 5


class RecordStore(OnDatabase, RecordReads):
    """A `RecordStore` in one MySQL/MariaDB database; open it with `async with` (or `open()`/`close()`).

    `url_or_db` is a `mysql://` URL or a `Database` shared with other adapters; `options` go to
    `Database` when a URL is given.
    """

    def __init__(
        self, url_or_db: str | Database, *, streamer: EventStreamer | None = None, **options: Any
    ) -> None:
        self._db = database(url_or_db, **options)
        if streamer is not None and streamer._db is not self._db:
            raise ConfigurationError(
                "RecordStore(streamer=...) needs the streamer on the same Database: pass one Database "
                "to both (or use wfkit.adapters.mysql.connect)"
            )
        self._streamer = streamer
        self._subscribers = Subscribers()
        self._quiet = QuietOutbox(self._subscribers.notify) if streamer is not None else None

    async def close(self) -> None:
        if self._quiet is not None:
            self._quiet.close()
        await self._db.close()

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
        if self._streamer is not None:
            self._streamer._wake(topic_for(record))
        self._subscribers.notify(record.workflow_name)

    async def _store(self, record: Record) -> None:
        run_id, version = record.run_id, record.meta.version
        row = record_row(record, record.object.hex())
        event = outbox_event_for(record)
        async with self._db.transaction() as conn:
            stored: int | None = await conn.fetchval(
                "SELECT version FROM wfkit_runs WHERE run_id = %s FOR UPDATE", (run_id,)
            )
            if (stored or 0) != version - 1:
                raise VersionConflict(run_id, expected=version - 1, actual=stored)
            if stored is None:
                await conn.execute(f"INSERT INTO wfkit_runs ({COLUMNS}) VALUES ({_PLACEHOLDERS})", row)
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
            await conn.execute(f"INSERT INTO wfkit_records ({COLUMNS}) VALUES ({_PLACEHOLDERS})", row)
            headers = json.dumps(dict(event.headers))
            if self._streamer is not None:
                created_at = event.created_at.isoformat()
                await append_event(conn, event.topic, event.key, event.type, headers, created_at)
                return
            await conn.execute(
                "INSERT INTO wfkit_outbox (id, workflow_name, topic, `key`, type, headers, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    event.id,
                    event.workflow_name,
                    event.topic,
                    event.key,
                    event.type,
                    headers,
                    event.created_at.isoformat(),
                ),
            )

    async def list_outbox(self, workflow_name: str, limit: int = 1000) -> builtins.list[OutboxEvent]:
        """Unpublished outbox events of the workflow, oldest first (see `QuietOutbox` for a store
        that appends events itself)."""
        if self._quiet is not None and self._quiet.skip(workflow_name):
            return []
        rows = await self._db.fetchall(
            "SELECT id, workflow_name, topic, `key`, type, headers, created_at FROM wfkit_outbox "
            "WHERE workflow_name = %s ORDER BY seq LIMIT %s",
            (workflow_name, max(limit, 0)),
        )
        if self._quiet is not None:
            self._quiet.read(workflow_name, len(rows))
        return [outbox_from_row(r) for r in rows]

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
