"""The SQLite `RecordStore`: every version a history row, the latest in `wfkit_runs`, outbox alongside.

`store()` is one `BEGIN IMMEDIATE` transaction: it reads the run's current version under the write
lock (the compare-and-set), inserts the history row, inserts or updates the latest row, and inserts
the outbox row from `outbox_event_for(record)`. One active run per foreign id is the partial UNIQUE
index `wfkit_runs_active`; its `IntegrityError` becomes `WorkflowInProgress`, so two processes
creating a run for the same foreign id at once get one run and one error.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from wfkit._errors import ConfigurationError, VersionConflict, WorkflowInProgress
from wfkit._graph import WorkflowInfo
from wfkit._record import OutboxEvent, Record, outbox_event_for
from wfkit._runstate import RunState
from wfkit.adapters._feed import Subscribers
from wfkit.adapters._sqlbase import QuietOutbox
from wfkit.adapters._sqlreads import RecordReads
from wfkit.adapters._sqlrows import (
    ACTIVE,
    COLUMNS,
    outbox_from_row,
    record_row,
)

from ._db import Database, OnDatabase, database
from ._streamer import EventStreamer, insert_event
from ._watch import ForeignCommits

_PLACEHOLDERS = ", ".join("?" * 14)


class RecordStore(OnDatabase, RecordReads):
    """A `RecordStore` in one SQLite file; open it with `async with` (or `open()`/`close()`).

    Also a `ChangeFeed`: `subscribe` wakes this process's outbox relay at once on its own writes,
    and within 0.1 s on other processes' (`ForeignCommits` polls `PRAGMA data_version`).

    Given `streamer` (a SQLite `EventStreamer` on the same `Database`, as `connect()` makes them),
    each write appends its event straight to the streamer's table in the write's own transaction:
    the transactional outbox with nothing left to relay, and two commits fewer per transition.
    """

    def __init__(
        self,
        path: str | Path | Database,
        *,
        streamer: EventStreamer | None = None,
        busy_timeout: float = 5.0,
        synchronous: str = "FULL",
    ) -> None:
        self._db = database(path, busy_timeout=busy_timeout, synchronous=synchronous)
        if streamer is not None and streamer._db is not self._db:
            raise ConfigurationError(
                "RecordStore(streamer=...) needs the streamer on the same Database: pass one Database "
                "to both (or use wfkit.adapters.sqlite.connect)"
            )
        self._streamer = streamer
        self._subscribers = Subscribers()
        self._quiet = QuietOutbox(self._subscribers.notify) if streamer is not None else None
        self._feed = ForeignCommits(self._db, self._subscribers)

    def subscribe(self, workflow_name: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after every write of `workflow_name` through this object, and soon after
        any commit by another connection (another process) to the file."""
        return self._feed.subscribe(workflow_name, callback)

    async def close(self) -> None:
        self._feed.stop()
        if self._quiet is not None:
            self._quiet.close()
        await super().close()

    async def store(self, record: Record) -> None:
        """Write the next version of a run and its outbox event in one transaction, or raise."""
        run_id, version = record.run_id, record.meta.version
        if version < 1:
            raise ValueError(f"record versions start at 1, got {version} for run {run_id}")
        row = record_row(record)
        event = outbox_event_for(record)
        headers, created_at = json.dumps(dict(event.headers)), event.created_at.isoformat()
        direct = self._streamer is not None
        outbox_row = (event.id, event.workflow_name, event.topic, event.key, event.type, headers, created_at)
        event_row = (event.topic, event.key, event.type, headers, created_at)

        def write(conn: sqlite3.Connection) -> None:
            found = conn.execute("SELECT version FROM wfkit_runs WHERE run_id = ?", (run_id,)).fetchone()
            stored: int | None = found[0] if found else None
            if (stored or 0) != version - 1:
                raise VersionConflict(run_id, expected=version - 1, actual=stored)
            try:
                if stored is None:
                    conn.execute(f"INSERT INTO wfkit_runs ({COLUMNS}) VALUES ({_PLACEHOLDERS})", row)
                else:
                    conn.execute(
                        "UPDATE wfkit_runs SET version = ?, run_state = ?, status = ?, object = ?, "
                        "updated_at = ?, run_state_reason = ?, status_description = ?, trace_origin = ?, "
                        "traceparent = ? WHERE run_id = ?",
                        (*row[1:2], *row[4:7], row[8], *row[10:14], run_id),
                    )
            except sqlite3.IntegrityError:
                holder = conn.execute(
                    "SELECT run_id FROM wfkit_runs WHERE workflow_name = ? AND foreign_id = ? "
                    f"AND run_state IN {ACTIVE}",
                    (record.workflow_name, record.foreign_id),
                ).fetchone()
                holder_id = holder[0] if holder else None
                raise WorkflowInProgress(record.workflow_name, record.foreign_id, holder_id) from None
            if record.run_state is RunState.DATA_DELETED:
                conn.execute("UPDATE wfkit_records SET object = ? WHERE run_id = ?", (record.object, run_id))
            conn.execute(f"INSERT INTO wfkit_records ({COLUMNS}) VALUES ({_PLACEHOLDERS})", row)
            if direct:
                insert_event(conn, event_row)
            else:
                conn.execute(
                    "INSERT INTO wfkit_outbox (id, workflow_name, topic, key, type, headers, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    outbox_row,
                )

        await self._db.write(write)
        if self._streamer is not None:
            self._streamer._wake(event.topic)
        self._subscribers.notify(record.workflow_name)

    async def list_outbox(self, workflow_name: str, limit: int = 1000) -> builtins.list[OutboxEvent]:
        """Unpublished outbox events of the workflow, oldest first (see `QuietOutbox` for a store
        that appends events itself)."""
        if self._quiet is not None and self._quiet.skip(workflow_name):
            return []
        rows = await self._db.fetchall(
            "SELECT id, workflow_name, topic, key, type, headers, created_at FROM wfkit_outbox "
            "WHERE workflow_name = ? ORDER BY seq LIMIT ?",
            (workflow_name, max(limit, 0)),
        )
        if self._quiet is not None:
            self._quiet.read(workflow_name, len(rows))
        return [outbox_from_row(r) for r in rows]

    async def delete_outbox(self, event_id: str) -> None:
        """Forget a published outbox event; deleting an unknown id is a no-op."""
        await self._db.execute("DELETE FROM wfkit_outbox WHERE id = ?", (event_id,))

    async def register(self, info: WorkflowInfo) -> None:
        """Record (or replace) a workflow's catalogue entry."""
        await self._db.execute(
            "INSERT INTO wfkit_workflows (name, info) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET info = excluded.info",
            (info.name, json.dumps(info.to_dict())),
        )
