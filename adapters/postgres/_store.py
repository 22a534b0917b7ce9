"""The PostgreSQL `RecordStore`: every version a history row, the latest in `wfkit_runs`, outbox alongside.

`store()` is one transaction: it locks the run's row (the compare-and-set: concurrent writers of
one run queue on the row lock and the later one sees the new version), inserts the history row,
inserts or updates the latest row, inserts the outbox row from `outbox_event_for(record)` and
queues `pg_notify('wfkit_changes', workflow)`, which PostgreSQL delivers only on commit.
Concurrent calls share that transaction (`GroupCommit` with `_batch.Batches`: one statement and one
WAL flush for a whole batch), each with its own outcome.

One active run per foreign id is the partial UNIQUE index `wfkit_runs_active`; its unique violation
becomes `WorkflowInProgress`, so two processes creating a run for the same foreign id at once get one
run and one error.

It is also a `ChangeFeed` across processes: every `RecordStore` LISTENs on `wfkit_changes` on a
dedicated connection, so an outbox relay in any process wakes as soon as any process commits.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from wfkit._errors import ConfigurationError, VersionConflict, WorkflowInProgress
from wfkit._graph import WorkflowInfo
from wfkit._record import OutboxEvent, Record, outbox_event_for
from wfkit._runstate import RunState
from wfkit.adapters._feed import Subscribers
from wfkit.adapters._groupcommit import GroupCommit, Write
from wfkit.adapters._sqlbase import QuietOutbox
from wfkit.adapters._sqlreads import RecordReads
from wfkit.adapters._sqlrows import (
    ACTIVE,
    COLUMNS,
    outbox_from_row,
    record_row,
)

from ._batch import Batches
from ._db import Database, OnDatabase, database
from ._streamer import EventStreamer, append_event

CHANNEL = "wfkit_changes"
_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, 15))


class RecordStore(OnDatabase, RecordReads):
    """A `RecordStore` in one PostgreSQL database; open it with `async with` (or `open()`/`close()`).

    `url_or_db` is a `postgresql://` URL or a `Database` shared with other adapters; `options` go to
    `Database` when a URL is given.

    Given `streamer` (a PostgreSQL `EventStreamer` on the same `Database`, as `connect()` makes
    them), each write appends its event straight to the streamer's table in its own transaction:
    the transactional outbox with nothing left to relay.
    """

    def __init__(
        self, url_or_db: str | Database, *, streamer: EventStreamer | None = None, **options: Any
    ) -> None:
        self._db = database(url_or_db, **options)
        if streamer is not None and streamer._db is not self._db:
            raise ConfigurationError(
                "RecordStore(streamer=...) needs the streamer on the same Database: pass one Database "
                "to both (or use wfkit.adapters.postgres.connect)"
            )
        self._streamer = streamer
        self._subscribers = Subscribers()
        self._quiet = QuietOutbox(self._subscribers.notify) if streamer is not None else None
        batches = Batches(self._db, channel=CHANNEL, events=streamer is not None)
        self._group = GroupCommit(
            apply=batches.apply,
            why_not=batches.why_not,
            one=self._store_one,
            committed=self._committed,
            spoiled=(asyncpg.PostgresError,),
        )

    async def open(self) -> None:
        await self._db.open()
        try:
            await self._db.listen(CHANNEL, self._subscribers.notify, self._subscribers.notify_all)
        except BaseException:
            await self._db.close()
            raise

    async def close(self) -> None:
        if self._quiet is not None:
            self._quiet.close()
        self._db.unlisten(CHANNEL, self._subscribers.notify, self._subscribers.notify_all)
        await self._db.close()

    def subscribe(self, workflow_name: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after every committed write of `workflow_name`, from any process."""
        return self._subscribers.subscribe(workflow_name, callback)

    async def store(self, record: Record) -> None:
        """Write the next version of a run and its outbox event in one transaction, or raise.

        Concurrent calls share transactions (`GroupCommit`); each still gets its own outcome.
        """
        if record.meta.version < 1:
            raise ValueError(f"record versions start at 1, got {record.meta.version} for run {record.run_id}")
        await self._group.store(Write(record, record_row(record), outbox_event_for(record)))

    def _committed(self, writes: Sequence[Write]) -> None:
        topics = {w.event.topic: None for w in writes}
        workflows = {w.record.workflow_name: None for w in writes}
        if self._streamer is not None:
            for topic in topics:
                self._streamer._wake(topic)
        for workflow in workflows:
            self._subscribers.notify(workflow)

    async def _store_one(self, write: Write) -> None:
        """One write in its own transaction: what a batch falls back on when it fails as a whole."""
        record, row, event = write.record, write.row, write.event
        run_id, version = record.run_id, record.meta.version
        try:
            async with self._db.transaction() as conn:
                stored: int | None = await conn.fetchval(
                    "SELECT version FROM wfkit_runs WHERE run_id = $1 FOR UPDATE", run_id
                )
                if (stored or 0) != version - 1:
                    raise VersionConflict(run_id, expected=version - 1, actual=stored)
                if stored is None:
                    await conn.execute(f"INSERT INTO wfkit_runs ({COLUMNS}) VALUES ({_PLACEHOLDERS})", *row)
                else:
                    await conn.execute(
                        "UPDATE wfkit_runs SET version = $1, run_state = $2, status = $3, object = $4, "
                        "updated_at = $5, run_state_reason = $6, status_description = $7, "
                        "trace_origin = $8, traceparent = $9 WHERE run_id = $10",
                        *row[1:2],
                        *row[4:7],
                        row[8],
                        *row[10:14],
                        run_id,
                    )
                if record.run_state is RunState.DATA_DELETED:
                    await conn.execute(
                        "UPDATE wfkit_records SET object = $1 WHERE run_id = $2", record.object, run_id
                    )
                await conn.execute(f"INSERT INTO wfkit_records ({COLUMNS}) VALUES ({_PLACEHOLDERS})", *row)
                headers, created_at = json.dumps(dict(event.headers)), event.created_at.isoformat()
                if self._streamer is not None:
                    await append_event(
                        conn,
                        event.topic,
                        event.key,
                        event.type,
                        headers,
                        created_at,
                        also_notify=(CHANNEL, record.workflow_name),
                    )
                else:
                    await conn.execute(
                        "INSERT INTO wfkit_outbox (id, workflow_name, topic, key, type, headers, "
                        "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        event.id,
                        event.workflow_name,
                        event.topic,
                        event.key,
                        event.type,
                        headers,
                        created_at,
                    )
                    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, record.workflow_name)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "wfkit_runs_active":
                holder = await self._db.pool.fetchval(
                    "SELECT run_id FROM wfkit_runs WHERE workflow_name = $1 AND foreign_id = $2 "
                    f"AND run_state IN {ACTIVE}",
                    record.workflow_name,
                    record.foreign_id,
                )
                raise WorkflowInProgress(record.workflow_name, record.foreign_id, holder) from None
            # Another writer created or advanced the run between our read and our write.
            current = await self._db.pool.fetchval("SELECT version FROM wfkit_runs WHERE run_id = $1", run_id)
            raise VersionConflict(run_id, expected=version - 1, actual=current) from None

    async def list_outbox(self, workflow_name: str, limit: int = 1000) -> builtins.list[OutboxEvent]:
        """Unpublished outbox events of the workflow, oldest first (see `QuietOutbox` for a store
        that appends events itself)."""
        if self._quiet is not None and self._quiet.skip(workflow_name):
            return []
        rows = await self._db.pool.fetch(
            "SELECT id, workflow_name, topic, key, type, headers, created_at FROM wfkit_outbox "
            "WHERE workflow_name = $1 ORDER BY seq LIMIT $2",
            workflow_name,
            max(limit, 0),
        )
        if self._quiet is not None:
            self._quiet.read(workflow_name, len(rows))
        return [outbox_from_row(r) for r in rows]

    async def delete_outbox(self, event_id: str) -> None:
        """Forget a published outbox event; deleting an unknown id is a no-op."""
        await self._db.pool.execute("DELETE FROM wfkit_outbox WHERE id = $1", event_id)

    async def register(self, info: WorkflowInfo) -> None:
        """Record (or replace) a workflow's catalogue entry."""
        await self._db.pool.execute(
            "INSERT INTO wfkit_workflows (name, info) VALUES ($1, $2) "
            "ON CONFLICT (name) DO UPDATE SET info = excluded.info",
            info.name,
            json.dumps(info.to_dict()),
        )
