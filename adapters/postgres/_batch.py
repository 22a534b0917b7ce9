"""Group commit for the PostgreSQL `RecordStore`: many `store()` calls, one transaction, a few statements.

Writes queue while a batch is committing; the next batch takes everything queued (up to
`max_batch`). A batch is one transaction of six statements whatever its size: lock the runs it
touches (`FOR UPDATE`, in run id order, so concurrent batches never deadlock), check every version
in Python, insert the new runs (`ON CONFLICT DO NOTHING`, so a foreign id already active rejects
only its own write), update the latest rows, insert the history rows, then append the events
(topic locks in sorted order, ids drawn in write order) or the outbox rows, and NOTIFY. Each write
keeps its own outcome: a version conflict or a busy foreign id fails that write alone. A batch that
fails as a whole for any other database reason (say, a run re-activated onto a foreign id another
run holds) is retried one write per transaction, so each write gets its own answer; a batch of one
write takes that path straight away.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from wfkit._errors import VersionConflict, WfkitError, WorkflowInProgress
from wfkit._record import OutboxEvent, Record
from wfkit._runstate import RunState
from wfkit.adapters._sqlrows import ACTIVE, COLUMNS

from ._db import Database

_TYPES = (
    "text", "bigint", "text", "text", "int", "bigint", "bytea",
    "text", "text", "bigint", "text", "text", "text", "text",
)  # fmt: skip
"""The array type of each of `COLUMNS`, for `unnest`."""


def _unnest(types: Sequence[str], first: int = 1) -> str:
    return "unnest(" + ", ".join(f"${first + i}::{t}[]" for i, t in enumerate(types)) + ")"


_INSERT_RUNS = (
    f"INSERT INTO wfkit_runs ({COLUMNS}) SELECT * FROM {_unnest(_TYPES)} "
    "ON CONFLICT DO NOTHING RETURNING run_id"
)
_UPDATE_RUNS = (
    "UPDATE wfkit_runs AS r SET version = u.version, run_state = u.run_state, status = u.status, "
    "object = u.object, updated_at = u.updated_at, run_state_reason = u.run_state_reason, "
    "status_description = u.status_description, trace_origin = u.trace_origin, traceparent = u.traceparent "
    f"FROM {_unnest(('text', 'bigint', 'int', 'bigint', 'bytea', 'text', 'text', 'text', 'text', 'text'))} "
    "AS u(run_id, version, run_state, status, object, updated_at, run_state_reason, status_description, "
    "trace_origin, traceparent) WHERE r.run_id = u.run_id"
)
_INSERT_HISTORY = f"INSERT INTO wfkit_records ({COLUMNS}) SELECT * FROM {_unnest(_TYPES)}"
_EVENT_TYPES = ("text", "text", "bigint", "text", "text")
_APPEND_EVENTS = (
    "WITH turn AS (SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) AS n "
    "FROM unnest($6::text[]) AS k), "
    "appended AS (INSERT INTO wfkit_events (topic, key, type, headers, created_at) "
    f"SELECT e.topic, e.key, e.type, e.headers, e.created_at FROM turn, {_unnest(_EVENT_TYPES)} "
    "WITH ORDINALITY AS e(topic, key, type, headers, created_at, ord) ORDER BY e.ord RETURNING 1) "
    "SELECT count(pg_notify(n.c, n.p)) FROM unnest($7::text[], $8::text[]) AS n(c, p), "
    "(SELECT count(*) FROM appended) AS done"
)
_INSERT_OUTBOX = (
    "WITH added AS (INSERT INTO wfkit_outbox (id, workflow_name, topic, key, type, headers, created_at) "
    f"SELECT * FROM {_unnest(('text', 'text', 'text', 'text', 'bigint', 'text', 'text'))} RETURNING 1) "
    "SELECT count(pg_notify($8, w)) FROM unnest($9::text[]) AS w, (SELECT count(*) FROM added) AS done"
)


@dataclass(slots=True)
class Write:
    """One `store()` call waiting for its batch."""

    record: Record
    row: tuple[Any, ...]
    event: OutboxEvent
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def settle(self, error: Exception | None) -> None:
        if not self.done.done():
            if error is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(error)


def _columns(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows (at least one) transposed into one list per column, as `unnest` takes them."""
    return [list(column) for column in zip(*rows, strict=True)]


class GroupCommit:
    """Commits queued writes in batches; `one(write)` is the single-write transaction to fall back on.

    `channel` is the store's change feed; `events` says whether events go straight to the streamer's
    table (else to the outbox). `committed(writes)` runs after each commit, for the wake-ups.
    """

    def __init__(
        self,
        db: Database,
        *,
        channel: str,
        events: bool,
        one: Callable[[Write], Awaitable[None]],
        committed: Callable[[Sequence[Write]], None],
        max_batch: int = 500,
        max_batches: int = 2,
    ) -> None:
        self._db = db
        self._channel = channel
        self._events = events
        self._one = one
        self._committed = committed
        self._max_batch = max_batch
        self._max_batches = max_batches
        self._queue: list[Write] = []
        self._running: set[asyncio.Task[None]] = set()

    async def store(self, write: Write) -> None:
        """Queue the write and wait for its batch's outcome."""
        self._queue.append(write)
        self._start()
        await write.done

    def _start(self) -> None:
        while self._queue and len(self._running) < self._max_batches:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            task = asyncio.ensure_future(self._commit(batch))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._start()

    async def _commit(self, batch: list[Write]) -> None:
        try:
            if len(batch) == 1:  # alone, the plain statements are a quarter faster than the arrays
                await self._alone(batch[0])
                return
            try:
                accepted = await self._transaction(batch)
            except WfkitError as exc:  # the server is away or full: every write of the batch fails
                for write in batch:
                    write.settle(exc)
                return
            except asyncpg.PostgresError:  # one write spoiled the batch: give each its own transaction
                await asyncio.gather(*(self._alone(write) for write in batch))
                return
            self._committed(accepted)
            for write in accepted:
                write.settle(None)
        except Exception as exc:  # a bug: each caller gets it (nobody awaits this task)
            for write in batch:
                write.settle(exc)
        except BaseException:  # cancelled at shutdown: never leave a caller waiting
            for write in batch:
                write.done.cancel()
            raise

    async def _alone(self, write: Write) -> None:
        try:
            await self._one(write)
        except Exception as exc:
            write.settle(exc)
        else:
            self._committed((write,))
            write.settle(None)

    async def _transaction(self, batch: list[Write]) -> list[Write]:
        """Apply the batch in one transaction; writes rejected on their own are settled here."""
        async with self._db.transaction() as conn:
            run_ids = sorted({w.record.run_id for w in batch})
            rows = await conn.fetch(
                "SELECT run_id, version FROM wfkit_runs WHERE run_id = ANY($1::text[]) "
                "ORDER BY run_id FOR UPDATE",
                run_ids,
            )
            versions: dict[str, int] = {r[0]: r[1] for r in rows}
            accepted: list[Write] = []
            for write in batch:
                run_id, version = write.record.run_id, write.record.meta.version
                stored = versions.get(run_id)
                if (stored or 0) != version - 1:
                    write.settle(VersionConflict(run_id, expected=version - 1, actual=stored))
                    continue
                versions[run_id] = version
                accepted.append(write)
            accepted = await self._insert_runs(conn, accepted)
            latest = {w.record.run_id: w.row for w in accepted if w.record.meta.version > 1}
            if latest:
                updates = [(*row[0:2], *row[4:7], row[8], *row[10:14]) for row in latest.values()]
                await conn.execute(_UPDATE_RUNS, *_columns(updates))
            if accepted:
                await conn.execute(_INSERT_HISTORY, *_columns([w.row for w in accepted]))
            for write in accepted:
                if write.record.run_state is RunState.DATA_DELETED:
                    await conn.execute(
                        "UPDATE wfkit_records SET object = $1 WHERE run_id = $2",
                        write.record.object,
                        write.record.run_id,
                    )
            if accepted:
                await self._publish(conn, accepted)
        return accepted

    async def _insert_runs(self, conn: Any, accepted: list[Write]) -> list[Write]:
        """Insert the new runs; a write whose run could not be created is settled with the reason."""
        new = [w for w in accepted if w.record.meta.version == 1]  # in call order: seq is creation order
        if not new:
            return accepted
        inserted = {r[0] for r in await conn.fetch(_INSERT_RUNS, *_columns([w.row for w in new]))}
        failed = {w.record.run_id for w in new if w.record.run_id not in inserted}
        if not failed:
            return accepted
        for write in new:
            if write.record.run_id in failed:
                write.settle(await self._why_not_created(conn, write.record))
        kept = [w for w in accepted if w.record.run_id not in failed]
        for write in accepted:  # later versions of a run that was never created
            if write.record.run_id in failed and write.record.meta.version > 1:
                write.settle(
                    VersionConflict(write.record.run_id, expected=write.record.meta.version - 1, actual=None)
                )
        return kept

    async def _why_not_created(self, conn: Any, record: Record) -> Exception:
        holder = await conn.fetchval(
            "SELECT run_id FROM wfkit_runs WHERE workflow_name = $1 AND foreign_id = $2 "
            f"AND run_state IN {ACTIVE}",
            record.workflow_name,
            record.foreign_id,
        )
        if holder is not None and holder != record.run_id:
            return WorkflowInProgress(record.workflow_name, record.foreign_id, holder)
        current = await conn.fetchval("SELECT version FROM wfkit_runs WHERE run_id = $1", record.run_id)
        return VersionConflict(record.run_id, expected=0, actual=current)

    async def _publish(self, conn: Any, accepted: list[Write]) -> None:
        events = [w.event for w in accepted]
        workflows = sorted({e.workflow_name for e in events})
        if self._events:
            topics = sorted({e.topic for e in events})
            rows = [
                (e.topic, e.key, e.type, json.dumps(dict(e.headers)), e.created_at.isoformat())
                for e in events
            ]
            channels = ["wfkit_events"] * len(topics) + [self._channel] * len(workflows)
            await conn.execute(
                _APPEND_EVENTS,
                *_columns(rows),
                [f"wfkit_events:{t}" for t in topics],
                channels,
                topics + workflows,
            )
        else:
            outbox = [
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
            await conn.execute(_INSERT_OUTBOX, *_columns(outbox), self._channel, workflows)
