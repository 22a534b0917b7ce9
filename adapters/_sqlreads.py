"""The read queries every SQL dialect shares, written once with `?` markers.

Each dialect's `RecordStore` and `TimeoutStore` inherit `RecordReads` / `TimeoutReads` after their
`OnDatabase`, which says how to run a query (`_fetch`) in the driver's own markers (`numbered` for
PostgreSQL's `$n`, `%s` for MySQL).
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from wfkit._errors import RecordNotFound
from wfkit._graph import WorkflowInfo
from wfkit._query import Order, RecordFilter, SortKey
from wfkit._record import Record, TimeoutRecord
from wfkit.adapters._coalesce import Coalesced, padded
from wfkit.adapters._sqlrows import COLUMNS as RECORD_COLUMNS
from wfkit.adapters._sqlrows import record_from_row, to_us, where_clause

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
        """The rows of SQL written with `?` markers (the dialect's `OnDatabase`, first in the MRO)."""
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


def _question_mark(n: int) -> str:
    return "?"


SORT_COLUMNS: dict[SortKey, str] = {
    SortKey.CREATED: "",
    SortKey.UPDATED: "updated_at",
    SortKey.STATUS: "status",
    SortKey.FOREIGN_ID: "foreign_id",
    SortKey.VERSION: "version",
}
"""The fixed column each sort orders by before `seq` (never user text). No index serves these sorts:
a page of 100k runs sorts in tens of milliseconds, and an index per column would cost every write.

`updated_at` is ISO text in UTC, which sorts as time does; text columns compare by code point
(SQLite's BINARY, MySQL's `utf8mb4_bin`, PostgreSQL's "C" collation set by migration 2)."""


def order_by(sort: SortKey, order: Order, table: str = "") -> str:
    """`ORDER BY` for a page: the sort column, then creation order, both in `order`'s direction
    (`table` qualifies the columns, e.g. `r.`)."""
    direction = "ASC" if Order(order) is Order.ASC else "DESC"
    column = SORT_COLUMNS[SortKey(sort)]
    seq = f"{table}seq {direction}"
    return f"ORDER BY {table}{column} {direction}, {seq}" if column else f"ORDER BY {seq}"


class RecordReads:
    """The `RecordStore` port's reads (runs, pages, counts, history, catalogue), for any dialect."""

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> builtins.list[Any]:
        """The rows of SQL written with `?` markers (the dialect's `OnDatabase`, first in the MRO)."""
        raise NotImplementedError

    _lookups: Coalesced[str, Record] | None = None

    async def lookup(self, run_id: str) -> Record:
        """The latest version of the run; `RecordNotFound` if there is none.

        Concurrent lookups share one query (`Coalesced`): a step consumer's window asks at once.
        """
        if self._lookups is None:
            self._lookups = Coalesced(self._lookup_many)
        record = await self._lookups.get(run_id)
        if record is None:
            raise RecordNotFound(run_id=run_id)
        return record

    async def _lookup_many(self, run_ids: Sequence[str]) -> dict[str, Record]:
        keys = padded(run_ids)
        markers = ", ".join("?" * len(keys))
        rows = await self._fetch(
            f"SELECT {RECORD_COLUMNS} FROM wfkit_runs WHERE run_id IN ({markers})", tuple(keys)
        )
        return {record.run_id: record for record in map(record_from_row, rows)}

    async def latest(self, workflow_name: str, foreign_id: str) -> Record:
        """The most recently created run of the foreign id; `RecordNotFound` if there is none."""
        rows = await self._fetch(
            f"SELECT {RECORD_COLUMNS} FROM wfkit_runs WHERE workflow_name = ? AND foreign_id = ? "
            "ORDER BY seq DESC LIMIT 1",
            (workflow_name, foreign_id),
        )
        if not rows:
            raise RecordNotFound(workflow_name=workflow_name, foreign_id=foreign_id)
        return record_from_row(rows[0])

    async def list(
        self,
        workflow_name: str | None = None,
        *,
        offset: int = 0,
        limit: int = 25,
        order: Order = Order.ASC,
        filters: RecordFilter | None = None,
        sort: SortKey = SortKey.CREATED,
    ) -> builtins.list[Record]:
        """A page of runs (latest versions) by `sort` in `order`; ties by creation order, same way."""
        if offset < 0 or limit < 0:
            raise ValueError(f"offset and limit must not be negative (got {offset}, {limit})")
        where, params = where_clause(workflow_name, filters, _question_mark)
        page = f"wfkit_runs{where} {order_by(sort, order)} LIMIT ? OFFSET ?"
        if SortKey(sort) is SortKey.CREATED:  # the seq index hands the page over in order
            sql = f"SELECT {RECORD_COLUMNS} FROM {page}"
        else:  # sort narrow (column, seq) pairs, then read the page's rows: 3x faster on 100k runs
            sql = (
                f"SELECT {RECORD_COLUMNS} FROM wfkit_runs AS r JOIN (SELECT seq AS page_seq FROM {page}) "
                f"AS p ON r.seq = p.page_seq {order_by(sort, order, 'r.')}"
            )
        rows = await self._fetch(sql, (*params, limit, offset))
        return [record_from_row(r) for r in rows]

    async def count(self, workflow_name: str | None = None, *, filters: RecordFilter | None = None) -> int:
        """How many runs `list` would page through."""
        where, params = where_clause(workflow_name, filters, _question_mark)
        rows = await self._fetch(f"SELECT COUNT(*) FROM wfkit_runs{where}", tuple(params))
        return int(rows[0][0])

    async def history(self, run_id: str) -> builtins.list[Record]:
        """Every version of the run, ascending from version 1; `RecordNotFound` if none."""
        rows = await self._fetch(
            f"SELECT {RECORD_COLUMNS} FROM wfkit_records WHERE run_id = ? ORDER BY version", (run_id,)
        )
        if not rows:
            raise RecordNotFound(run_id=run_id)
        return [record_from_row(r) for r in rows]

    async def workflows(self) -> builtins.list[WorkflowInfo]:
        """Catalogue entries, by name."""
        rows = await self._fetch("SELECT info FROM wfkit_workflows ORDER BY name", ())
        return [WorkflowInfo.from_dict(json.loads(r[0])) for r in rows]
