"""One SQLite file: opening it durably, the versioned schema, and serialised transactions.

Every SQLite adapter object owns one `Database` (one aiosqlite connection). SQLite serialises writers
anyway, so a single connection per adapter loses nothing, and an `asyncio.Lock` keeps the
coroutines sharing it from interleaving statements of different transactions. Several processes
on one file are safe because of WAL mode (readers never block the writer), `BEGIN IMMEDIATE` (a
writer takes the write lock before it reads what it checks, so a compare-and-set cannot race) and
`busy_timeout` (a writer waits for the lock instead of failing at once).

Migrations are numbered; `wfkit_schema` records the highest applied. They run in one
`BEGIN IMMEDIATE` transaction, so processes opening a fresh file at the same moment apply each
migration exactly once, and a file migrated by a newer wfkit is refused with a `ConfigurationError`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

from wfkit._errors import ConfigurationError

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: runs, history, outbox, catalogue, timeouts, events, cursors, leases.
    (
        """CREATE TABLE wfkit_records (
            run_id TEXT NOT NULL, version INTEGER NOT NULL,
            workflow_name TEXT NOT NULL, foreign_id TEXT NOT NULL, run_state INTEGER NOT NULL,
            status INTEGER NOT NULL, object BLOB NOT NULL, created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL, created_us INTEGER NOT NULL, run_state_reason TEXT NOT NULL,
            status_description TEXT NOT NULL, trace_origin TEXT NOT NULL, traceparent TEXT NOT NULL,
            PRIMARY KEY (run_id, version)
        ) WITHOUT ROWID""",
        # The latest version of each run; seq is creation order.
        """CREATE TABLE wfkit_runs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL,
            workflow_name TEXT NOT NULL, foreign_id TEXT NOT NULL, run_state INTEGER NOT NULL,
            status INTEGER NOT NULL, object BLOB NOT NULL, created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL, created_us INTEGER NOT NULL, run_state_reason TEXT NOT NULL,
            status_description TEXT NOT NULL, trace_origin TEXT NOT NULL, traceparent TEXT NOT NULL
        )""",
        # One active (initiated, running, paused) run per foreign id, enforced by the database.
        """CREATE UNIQUE INDEX wfkit_runs_active ON wfkit_runs (workflow_name, foreign_id)
            WHERE run_state IN (1, 2, 3)""",
        "CREATE INDEX wfkit_runs_foreign ON wfkit_runs (workflow_name, foreign_id, seq)",
        "CREATE INDEX wfkit_runs_workflow ON wfkit_runs (workflow_name, seq)",
        """CREATE TABLE wfkit_outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, workflow_name TEXT NOT NULL,
            topic TEXT NOT NULL, key TEXT NOT NULL, type INTEGER NOT NULL, headers TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX wfkit_outbox_workflow ON wfkit_outbox (workflow_name, seq)",
        "CREATE TABLE wfkit_workflows (name TEXT PRIMARY KEY, info TEXT NOT NULL) WITHOUT ROWID",
        """CREATE TABLE wfkit_timeouts (
            id INTEGER PRIMARY KEY AUTOINCREMENT, workflow_name TEXT NOT NULL, foreign_id TEXT NOT NULL,
            run_id TEXT NOT NULL, status INTEGER NOT NULL, expire_at TEXT NOT NULL,
            expire_us INTEGER NOT NULL, created_at TEXT NOT NULL, version INTEGER NOT NULL
        )""",
        "CREATE INDEX wfkit_timeouts_due ON wfkit_timeouts (workflow_name, status, expire_us)",
        "CREATE INDEX wfkit_timeouts_run ON wfkit_timeouts (workflow_name, run_id)",
        """CREATE TABLE wfkit_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key TEXT NOT NULL,
            type INTEGER NOT NULL, headers TEXT NOT NULL, created_at TEXT NOT NULL
        )""",
        "CREATE INDEX wfkit_events_topic ON wfkit_events (topic, id)",
        """CREATE TABLE wfkit_cursors (
            topic TEXT NOT NULL, name TEXT NOT NULL, position INTEGER NOT NULL,
            PRIMARY KEY (topic, name)
        ) WITHOUT ROWID""",
        """CREATE TABLE wfkit_leases (
            role TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_us INTEGER NOT NULL,
            fence INTEGER NOT NULL
        ) WITHOUT ROWID""",
    ),
)
"""Migration n (1-based) is `MIGRATIONS[n - 1]`: statements applied in one transaction."""

SCHEMA_VERSION = len(MIGRATIONS)


def path_from_url(url: str) -> Path:
    """The file of `sqlite:///rel.db` (relative to the working directory) or `sqlite:////abs.db`."""
    if url.startswith("sqlite:///"):
        rest = url[len("sqlite:///") :]
    elif url.startswith("sqlite://"):
        raise ConfigurationError(
            f"bad SQLite URL {url!r}: use sqlite:///relative.db or sqlite:////absolute/path.db"
        )
    else:
        rest = url
    rest = rest.split("?", 1)[0]
    if not rest:
        raise ConfigurationError(f"SQLite URL {url!r} names no file: use sqlite:///wfkit.db")
    return Path(rest)


def check_directory(path: Path) -> None:
    """A missing directory is the caller's to create: never make one silently."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ConfigurationError(
            f"directory {str(directory)!r} for SQLite database {str(path)!r} does not exist: "
            "create it first (wfkit never creates directories)"
        )


class Database:
    """One connection to the file, with its pragmas set, its schema migrated and a lock for turns."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.synchronous = synchronous.upper()
        if self.synchronous not in _SYNCHRONOUS:
            raise ConfigurationError(f"synchronous must be one of {', '.join(_SYNCHRONOUS)}")
        self.lock = asyncio.Lock()
        self._conn: aiosqlite.Connection | None = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError(f"SQLite database {str(self.path)!r} is not open: use `async with`")
        return self._conn

    async def open(self) -> None:
        """Connect, set WAL, `synchronous` and `busy_timeout`, and migrate the schema."""
        if self._conn is not None:
            return
        check_directory(self.path)
        try:
            conn = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot open SQLite database {str(self.path)!r}: {exc}") from exc
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            self._conn = conn
            await self._migrate()
        except BaseException:
            self._conn = None
            await conn.close()
            raise

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            async with self.lock:
                await conn.close()

    async def _migrate(self) -> None:
        async with self.transaction() as conn:
            await conn.execute("CREATE TABLE IF NOT EXISTS wfkit_schema (version INTEGER NOT NULL)")
            rows = await conn.execute_fetchall("SELECT MAX(version) FROM wfkit_schema")
            current = next(iter(rows))[0] or 0
            if current > SCHEMA_VERSION:
                raise ConfigurationError(
                    f"SQLite database {str(self.path)!r} has schema version {current}, newer than this "
                    f"wfkit understands ({SCHEMA_VERSION}): upgrade wfkit (pip install -U 'wfkit[sqlite]')"
                )
            for number in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[number - 1]:
                    await conn.execute(statement)
                await conn.execute("INSERT INTO wfkit_schema (version) VALUES (?)", (number,))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """`BEGIN IMMEDIATE` … `COMMIT` on this connection, rolled back on any error or cancellation.

        aiosqlite runs statements in submission order on one thread, so a rollback submitted while
        the caller is being cancelled still runs before the next transaction's `BEGIN`.
        """
        async with self.lock:
            conn = self.conn
            try:
                await conn.execute("BEGIN IMMEDIATE")
                yield conn
                await conn.commit()
            except BaseException:
                await asyncio.shield(conn.rollback())
                raise

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row | tuple[Any, ...]]:
        """Rows of one read (its own snapshot), taken in turn with the transactions."""
        async with self.lock:
            return list(await self.conn.execute_fetchall(sql, params))

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement in its own (implicit) transaction; returns the rows it changed."""
        async with self.lock:
            cursor = await self.conn.execute(sql, params)
            count = cursor.rowcount
            await cursor.close()
            return count


class OnDatabase:
    """`open()`, `close()` and `async with` for an adapter built on one `Database` (`self._db`)."""

    _db: Database

    async def open(self) -> None:
        await self._db.open()

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
