"""The MySQL `RecordStore`: every version a history row, the latest in `wfkit_runs`, outbox alongside.

`store()` is one transaction: it reads the run's current version with `SELECT … FOR UPDATE` (the
compare-and-set: concurrent writers of one run queue on the row lock and the later one sees the new
version), inserts the history row, inserts or updates the latest row and inserts the outbox row from
`outbox_event_for(record)`. Concurrent calls share that transaction (`GroupCommit` with
`_batch.Batches`: a few multi-row statements for a whole batch), each with its own outcome. One
active run per foreign id is the UNIQUE index `wfkit_runs_active`
over a generated column (the foreign id while the run is active, NULL otherwise); its duplicate-key
error becomes `WorkflowInProgress`, so two processes creating a run for one foreign id at once get
one run and one error (a batch it spoils is retried one write per transaction). A deadlock or lock
wait timeout reruns a single write's transaction.

Given the streamer on the same `Database` (as `mysql.connect()` makes them), the event goes straight
to the streamer's table in the write's own transaction instead of the outbox (nothing to relay), and
receivers of this process wake at the commit. It is a `ChangeFeed` for writers through this object
only (MySQL has no NOTIFY): other processes see new rows at their next poll.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Sequence
from typing import Any

import aiomysql

from wfkit._errors import ConfigurationError, VersionConflict, WorkflowInProgress
from wfkit._graph import WorkflowInfo
from wfkit._record import OutboxEvent, Record, outbox_event_for
from wfkit.adapters._feed import Subscribers
from wfkit.adapters._groupcommit import GroupCommit, Write
from wfkit.adapters._sqlbase import QuietOutbox
from wfkit.adapters._sqlreads import RecordReads
from wfkit.adapters._sqlrows import (
    outbox_from_row,
    record_row,
)

from ._batch import Batches
from ._db import Database, OnDatabase, database, duplicate_key, is_retryable
from ._streamer import EventStreamer

_ATTEMPTS = 5
MAX_BATCH = 100
"""Writes per group commit: one statement per table carries them all, so keep it well under
`max_allowed_packet` for ordinary objects (a batch that fails as a whole falls back to one per write)."""


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
        self._batches = batches = Batches(self._db, events=streamer is not None)
        self._group = GroupCommit(
            apply=batches.apply,
            why_not=batches.why_not,
            one=self._store_one,
            committed=self._committed,
            spoiled=(aiomysql.MySQLError,),
            max_batch=MAX_BATCH,
        )

    async def close(self) -> None:
        if self._quiet is not None:
            self._quiet.close()
        await self._db.close()

    def subscribe(self, workflow_name: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after every committed write of `workflow_name` through this object."""
        return self._subscribers.subscribe(workflow_name, callback)

    async def store(self, record: Record) -> None:
        """Write the next version of a run and its outbox event in one transaction, or raise.

        Concurrent calls share transactions (`GroupCommit` with `_batch.Batches`); each still gets
        its own outcome.
        """
        if record.meta.version < 1:
            raise ValueError(f"record versions start at 1, got {record.meta.version} for run {record.run_id}")
        await self._group.store(
            Write(record, record_row(record, record.object.hex()), outbox_event_for(record))
        )

    def _committed(self, writes: Sequence[Write]) -> None:
        if self._streamer is not None:
            for topic in {w.event.topic: None for w in writes}:
                self._streamer._wake(topic)
        for workflow in {w.record.workflow_name: None for w in writes}:
            self._subscribers.notify(workflow)

    async def _store_one(self, write: Write) -> None:
        """One write in its own transaction (what a batch falls back on), rerun after a deadlock."""
        record = write.record
        run_id, version = record.run_id, record.meta.version
        for attempt in range(_ATTEMPTS):
            try:
                await self._store(write)
                return
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

    async def _store(self, write: Write) -> None:
        if not await self._batches.apply([write]):
            raise await self._batches.why_not(write)

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
