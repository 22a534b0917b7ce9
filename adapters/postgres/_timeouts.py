"""The PostgreSQL `TimeoutStore`: one row per uncompleted timeout, indexed by (workflow, status, expiry).

Ids come from a `BIGSERIAL`, so they increase in creation order. Completing or cancelling deletes
the row, since the port only ever lists uncompleted timeouts. Expiry is compared as integer
microseconds; the exact datetime is kept as text. Creating a timeout queues
`pg_notify('wfkit_timeouts', workflow)`, and every store LISTENs, so pollers in every process wake.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from wfkit._clock import Clock, SystemClock
from wfkit.adapters._feed import Subscribers
from wfkit.adapters._sqlreads import TimeoutReads
from wfkit.adapters._sqlrows import to_us

from ._db import Database, OnDatabase, database

CHANNEL = "wfkit_timeouts"


class TimeoutStore(OnDatabase, TimeoutReads):
    """A `TimeoutStore` in one PostgreSQL database; `created_at` comes from `clock` (wall clock by default).

    Also a `ChangeFeed` across processes (LISTEN/NOTIFY on `wfkit_timeouts`).
    """

    def __init__(self, url_or_db: str | Database, *, clock: Clock | None = None, **options: Any) -> None:
        self._db = database(url_or_db, **options)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._subscribers = Subscribers()

    async def open(self) -> None:
        await self._db.open()
        try:
            await self._db.listen(CHANNEL, self._subscribers.notify, self._subscribers.notify_all)
        except BaseException:
            await self._db.close()
            raise

    async def close(self) -> None:
        self._db.unlisten(CHANNEL, self._subscribers.notify, self._subscribers.notify_all)
        await self._db.close()

    def subscribe(self, workflow_name: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after every timeout created for `workflow_name`, by any process."""
        return self._subscribers.subscribe(workflow_name, callback)

    async def create(
        self,
        workflow_name: str,
        foreign_id: str,
        run_id: str,
        status: int,
        expire_at: datetime,
        *,
        version: int = 0,
    ) -> int:
        """Schedule a timeout of the run at `status`, due at `expire_at`; returns its id."""
        async with self._db.transaction() as conn:
            timeout_id: int = await conn.fetchval(
                "INSERT INTO wfkit_timeouts (workflow_name, foreign_id, run_id, status, expire_at, "
                "expire_us, created_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                workflow_name,
                foreign_id,
                run_id,
                status,
                expire_at.isoformat(),
                to_us(expire_at),
                self._clock.now().isoformat(),
                version,
            )
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, workflow_name)
        self._subscribers.notify(workflow_name)
        return timeout_id

    async def complete(self, timeout_id: int) -> None:
        """Mark the timeout done so it is listed no more; an unknown id is a no-op."""
        await self._db.pool.execute("DELETE FROM wfkit_timeouts WHERE id = $1", timeout_id)

    async def cancel(self, timeout_id: int) -> None:
        """Delete the timeout; an unknown id is a no-op."""
        await self._db.pool.execute("DELETE FROM wfkit_timeouts WHERE id = $1", timeout_id)
