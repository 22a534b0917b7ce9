"""The MySQL `TimeoutStore`: one row per uncompleted timeout, indexed by (workflow, status, expiry).

Ids come from `AUTO_INCREMENT`, so they increase in creation order. Completing or cancelling deletes
the row, since the port only ever lists uncompleted timeouts. Expiry is compared as integer
microseconds; the exact datetime is kept as text. It is a `ChangeFeed` for timeouts created through
this object (MySQL has no NOTIFY; other processes' pollers see them at their next poll).
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


class TimeoutStore(OnDatabase, TimeoutReads):
    """A `TimeoutStore` in one MySQL/MariaDB database; `created_at` comes from `clock` (wall clock)."""

    def __init__(self, url_or_db: str | Database, *, clock: Clock | None = None, **options: Any) -> None:
        self._db = database(url_or_db, **options)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._subscribers = Subscribers()

    def subscribe(self, workflow_name: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after every timeout created for `workflow_name` through this object."""
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
        _, timeout_id = await self._db.execute(
            "INSERT INTO wfkit_timeouts (workflow_name, foreign_id, run_id, status, expire_at, "
            "expire_us, created_at, version) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                workflow_name,
                foreign_id,
                run_id,
                status,
                expire_at.isoformat(),
                to_us(expire_at),
                self._clock.now().isoformat(),
                version,
            ),
        )
        self._subscribers.notify(workflow_name)
        return timeout_id

    async def complete(self, timeout_id: int) -> None:
        """Mark the timeout done so it is listed no more; an unknown id is a no-op."""
        await self._db.execute("DELETE FROM wfkit_timeouts WHERE id = %s", (timeout_id,))

    async def cancel(self, timeout_id: int) -> None:
        """Delete the timeout; an unknown id is a no-op."""
        await self._db.execute("DELETE FROM wfkit_timeouts WHERE id = %s", (timeout_id,))
