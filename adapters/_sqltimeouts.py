"""What the SQL timeout stores share: the row mapping and the read queries, written once.

Each dialect's `TimeoutStore` inherits `TimeoutReads` and says only how to run a query
(`_fetch`), taking SQL written with `?` markers and turning them into its driver's own.
"""

from __future__ import annotations

import builtins
import re
from datetime import datetime
from typing import Any

from wfkit._record import TimeoutRecord
from wfkit.adapters._sqlrows import to_us

COLUMNS = "id, workflow_name, foreign_id, run_id, status, expire_at, created_at, version"


def timeout_from_row(row: Any) -> TimeoutRecord:
    """A `TimeoutRecord` from a row of `COLUMNS`."""
    return TimeoutRecord(
        id=row[0],
        workflow_name=row[1],
        foreign_id=row[2],
        run_id=row[3],
        status=row[4],
        expire_at=datetime.fromisoformat(row[5]),
        created_at=datetime.fromisoformat(row[6]),
        version=row[7],
    )


def numbered(sql: str) -> str:
    """`?` markers as PostgreSQL's `$1, $2, ...`."""
    count = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


class TimeoutReads:
    """`list`, `list_valid` and `next_expiry` of the `TimeoutStore` port, for any SQL dialect."""

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> builtins.list[Any]:
        """The rows of `sql` (with `?` markers) for `params`."""
        raise NotImplementedError

    async def list(self, workflow_name: str, *, run_id: str | None = None) -> builtins.list[TimeoutRecord]:
        """Uncompleted timeouts of the workflow (of one run, if given), by id."""
        if run_id is None:
            sql = f"SELECT {COLUMNS} FROM wfkit_timeouts WHERE workflow_name = ? ORDER BY id"
            rows = await self._fetch(sql, (workflow_name,))
        else:
            sql = f"SELECT {COLUMNS} FROM wfkit_timeouts WHERE workflow_name = ? AND run_id = ? ORDER BY id"
            rows = await self._fetch(sql, (workflow_name, run_id))
        return [timeout_from_row(r) for r in rows]

    async def list_valid(
        self, workflow_name: str, status: int, now: datetime
    ) -> builtins.list[TimeoutRecord]:
        """Uncompleted timeouts at `status` with `expire_at <= now`, by id."""
        rows = await self._fetch(
            f"SELECT {COLUMNS} FROM wfkit_timeouts WHERE workflow_name = ? AND status = ? "
            "AND expire_us <= ? ORDER BY id",
            (workflow_name, status, to_us(now)),
        )
        return [timeout_from_row(r) for r in rows]

    async def next_expiry(self, workflow_name: str, status: int, after: datetime) -> datetime | None:
        """The earliest `expire_at` later than `after` among uncompleted timeouts at `status`."""
        rows = await self._fetch(
            "SELECT expire_at FROM wfkit_timeouts WHERE workflow_name = ? AND status = ? "
            "AND expire_us > ? ORDER BY expire_us LIMIT 1",
            (workflow_name, status, to_us(after)),
        )
        return datetime.fromisoformat(rows[0][0]) if rows else None
