"""The SQLite `TimeoutStore`: one row per uncompleted timeout, indexed by (workflow, status, expiry).

Ids come from an AUTOINCREMENT key, so they increase in creation order across every process on
the file. Completing or cancelling deletes the row, since the port only ever lists uncompleted
timeouts. Expiry is compared as integer microseconds; the exact datetime is kept as text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from wfkit._clock import Clock, SystemClock
from wfkit.adapters._feed import Subscribers
from wfkit.adapters._sqlreads import TimeoutReads
from wfkit.adapters._sqlrows import to_us

from ._db import Database, OnDatabase, database
from ._watch import ForeignCommits


class TimeoutStore(OnDatabase, TimeoutReads):
    """A `TimeoutStore` in one SQLite file; `created_at` comes from `clock` (the wall clock by default).

    Also a `ChangeFeed`: creating a timeout wakes this process's pollers at once, and other
    processes' within 0.1 s (`ForeignCommits` polls `PRAGMA data_version`).
    """

    def __init__(
        self,
        path: str | Path | Database,
        *,
        clock: Clock | None = None,
        busy_timeout: float = 5.0,
        synchronous: str = "FULL",
    ) -> None:
        self._db = database(path, busy_timeout=busy_timeout, synchronous=synchronous)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._subscribers = Subscribers()
        self._feed = ForeignCommits(self._db, self._subscribers)

    def subscribe(self, workflow_name: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after every timeout created for `workflow_name` through this object, and
        soon after any commit by another connection (another process) to the file."""
        return self._feed.subscribe(workflow_name, callback)

    async def close(self) -> None:
        self._feed.stop()
        await super().close()

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
        params = (
            workflow_name,
            foreign_id,
            run_id,
            status,
            expire_at.isoformat(),
            to_us(expire_at),
            self._clock.now().isoformat(),
            version,
        )
        timeout_id = await self._db.write(
            lambda conn: (
                conn.execute(
                    "INSERT INTO wfkit_timeouts (workflow_name, foreign_id, run_id, status, expire_at, "
                    "expire_us, created_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    params,
                ).lastrowid
            )
        )
        assert timeout_id is not None
        self._subscribers.notify(workflow_name)
        return timeout_id

    async def complete(self, timeout_id: int) -> None:
        """Mark the timeout done so it is listed no more; an unknown id is a no-op."""
        await self._db.execute("DELETE FROM wfkit_timeouts WHERE id = ?", (timeout_id,))

    async def cancel(self, timeout_id: int) -> None:
        """Delete the timeout; an unknown id is a no-op."""
        await self._db.execute("DELETE FROM wfkit_timeouts WHERE id = ?", (timeout_id,))
