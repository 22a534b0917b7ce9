"""One PostgreSQL database: a shared asyncpg pool, the versioned schema and a LISTEN connection.

The four adapters of one `Backend` share one `Database` (reference-counted `open`/`close`), so a
backend holds one pool plus one dedicated connection for LISTEN. Migrations are numbered;
`wfkit_schema` records the highest applied. They run in one transaction that first takes
`pg_advisory_xact_lock`, so processes opening a fresh database at the same moment apply each
migration exactly once, and a database migrated by a newer wfkit is refused with a
`ConfigurationError`. `schema=` puts every table in that schema (via `search_path`).

Mid-run, driver errors never reach users: a lost or refused connection becomes `StoreUnavailable`
(consumers retry it with backoff; asyncpg's pool reconnects once the server is back) and a full
disk `DiskFull`, each naming the fix. The LISTEN connection re-opens itself (`_listen.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from wfkit._errors import ConfigurationError, WfkitError
from wfkit.adapters import mask_url
from wfkit.adapters._sqlbase import DatabaseUser, SharedLife, migrations_to_apply
from wfkit.adapters._sqlerrors import DiskFull, StoreUnavailable
from wfkit.adapters._sqlreads import numbered

from ._listen import Callback, Listener, Resync

_MIGRATION_LOCK = 0x77666B6974  # "wfkit": the advisory lock key migrations serialise on
NOW_US = "(extract(epoch from clock_timestamp()) * 1000000)::bigint"
"""The server's wall clock in microseconds (one clock for every process on the database)."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: runs, history, outbox, catalogue, timeouts, events, cursors, leases.
    (
        """CREATE TABLE wfkit_records (
            run_id TEXT NOT NULL, version BIGINT NOT NULL,
            workflow_name TEXT NOT NULL, foreign_id TEXT NOT NULL, run_state INTEGER NOT NULL,
            status BIGINT NOT NULL, object BYTEA NOT NULL, created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL, created_us BIGINT NOT NULL, run_state_reason TEXT NOT NULL,
            status_description TEXT NOT NULL, trace_origin TEXT NOT NULL, traceparent TEXT NOT NULL,
            PRIMARY KEY (run_id, version)
        )""",
        # The latest version of each run; seq is creation order.
        """CREATE TABLE wfkit_runs (
            seq BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, version BIGINT NOT NULL,
            workflow_name TEXT NOT NULL, foreign_id TEXT NOT NULL, run_state INTEGER NOT NULL,
            status BIGINT NOT NULL, object BYTEA NOT NULL, created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL, created_us BIGINT NOT NULL, run_state_reason TEXT NOT NULL,
            status_description TEXT NOT NULL, trace_origin TEXT NOT NULL, traceparent TEXT NOT NULL
        )""",
        # One active (initiated, running, paused) run per foreign id, enforced by the database.
        """CREATE UNIQUE INDEX wfkit_runs_active ON wfkit_runs (workflow_name, foreign_id)
            WHERE run_state IN (1, 2, 3)""",
        "CREATE INDEX wfkit_runs_foreign ON wfkit_runs (workflow_name, foreign_id, seq)",
        "CREATE INDEX wfkit_runs_workflow ON wfkit_runs (workflow_name, seq)",
        """CREATE TABLE wfkit_outbox (
            seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, workflow_name TEXT NOT NULL,
            topic TEXT NOT NULL, key TEXT NOT NULL, type BIGINT NOT NULL, headers TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX wfkit_outbox_workflow ON wfkit_outbox (workflow_name, seq)",
        "CREATE TABLE wfkit_workflows (name TEXT PRIMARY KEY, info TEXT NOT NULL)",
        """CREATE TABLE wfkit_timeouts (
            id BIGSERIAL PRIMARY KEY, workflow_name TEXT NOT NULL, foreign_id TEXT NOT NULL,
            run_id TEXT NOT NULL, status BIGINT NOT NULL, expire_at TEXT NOT NULL,
            expire_us BIGINT NOT NULL, created_at TEXT NOT NULL, version BIGINT NOT NULL
        )""",
        "CREATE INDEX wfkit_timeouts_due ON wfkit_timeouts (workflow_name, status, expire_us)",
        "CREATE INDEX wfkit_timeouts_run ON wfkit_timeouts (workflow_name, run_id)",
        """CREATE TABLE wfkit_events (
            id BIGSERIAL PRIMARY KEY, topic TEXT NOT NULL, key TEXT NOT NULL,
            type BIGINT NOT NULL, headers TEXT NOT NULL, created_at TEXT NOT NULL
        )""",
        "CREATE INDEX wfkit_events_topic ON wfkit_events (topic, id)",
        """CREATE TABLE wfkit_cursors (
            topic TEXT NOT NULL, name TEXT NOT NULL, position BIGINT NOT NULL,
            PRIMARY KEY (topic, name)
        )""",
        """CREATE TABLE wfkit_leases (
            role TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_us BIGINT NOT NULL,
            fence BIGINT NOT NULL
        )""",
    ),
    # 2: the text columns runs are sorted by (SortKey) take the "C" collation, so they sort by code
    # point whatever the database's locale (as SQLite, MySQL's utf8mb4_bin and Python do; equality
    # is unchanged). No index per sort column: a sorted page of 100k runs costs tens of ms without
    # one, and each index would slow every transition's update (and end PostgreSQL's HOT updates).
    (
        'ALTER TABLE wfkit_runs ALTER COLUMN foreign_id TYPE TEXT COLLATE "C", '
        'ALTER COLUMN updated_at TYPE TEXT COLLATE "C"',
    ),
)
"""Migration n (1-based) is `MIGRATIONS[n - 1]`: statements applied in one transaction."""

SCHEMA_VERSION = len(MIGRATIONS)

_LOST = (
    OSError,  # refused, reset, timed out
    asyncpg.PostgresConnectionError,  # closed in the middle of an operation
    asyncpg.exceptions.CannotConnectNowError,  # starting up or shutting down
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
)


async def _keep_session(conn: Any) -> None:
    """The pool's reset on release, which wfkit does not need: its pooled sessions never keep state
    (no SET, no temporary table, no session lock; LISTEN has its own connection). asyncpg's default
    reset is one more round trip per query, about half of all of them."""


_SESSION = {"plan_cache_mode": "force_custom_plan"}
"""Plan every execution for its arguments and the tables' current size. With the default, after
five runs of a statement PostgreSQL may keep one generic plan for the connection's life, and one
made while a fresh database's tables were nearly empty scans them whole: a fresh database then
served 30% fewer steps per second, lookups of 16 runs taking 1.4 ms instead of 0.1 ms. Planning
wfkit's short statements costs less than that (PostgreSQL 12 or newer)."""

_MAPPED = (*_LOST, asyncpg.InterfaceError, asyncpg.exceptions.DiskFullError)


def host_and_port(url: str) -> str:
    """`host:port` of a `postgresql://` URL, for error messages (defaults as libpq's)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "localhost", parts.port or 5432
    except ValueError:
        return "the server"
    return f"{host}:{port}"


def _one_line(exc: BaseException) -> str:
    """The driver's message without its DETAIL/HINT lines."""
    text = str(getattr(exc, "message", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__


class Database(SharedLife):
    """A pool on one PostgreSQL database (opened by the first adapter, closed by the last)."""

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        connect_timeout: float = 10.0,
        min_size: int = 1,
        max_size: int = 10,
    ) -> None:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ConfigurationError(
                f"bad PostgreSQL URL {mask_url(url)!r}: use postgresql://user:password@host:5432/database"
            )
        self.url = url
        self.schema = schema
        self.connect_timeout = connect_timeout
        self._min_size, self._max_size = min_size, max_size
        self._pool: asyncpg.Pool | None = None
        self._mapped: MappedPool | None = None
        self.listener = Listener(self._connect_listener, host_and_port(url))

    @property
    def pool(self) -> MappedPool:
        """The pool, raising `StoreUnavailable` / `DiskFull` instead of asyncpg's errors."""
        if self._mapped is None:
            raise RuntimeError(f"PostgreSQL database {mask_url(self.url)!r} is not open: use `async with`")
        return self._mapped

    def translated(self, exc: Exception) -> Exception:
        """The wfkit error for a driver error (`exc` itself when it is not one wfkit maps)."""
        if isinstance(exc, asyncpg.exceptions.DiskFullError):
            return DiskFull(
                f"PostgreSQL at {host_and_port(self.url)} has no disk space left ({_one_line(exc)}): "
                "free disk space on the server, in its data directory or the tablespace the message names; "
                "nothing was written, and consumers retry once there is room"
            )
        if isinstance(exc, _LOST) or (isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)):
            return StoreUnavailable(
                f"PostgreSQL at {host_and_port(self.url)} ({mask_url(self.url)}) is unreachable: "
                f"{type(exc).__name__}: {mask_url(_one_line(exc))}; wfkit's consumers retry with backoff and "
                "lose nothing; start the server or restore the network (retry calls such as trigger)"
            )
        return exc

    def _settings(self) -> dict[str, str]:
        settings = dict(_SESSION)
        if self.schema:
            settings["search_path"] = self.schema
        return settings

    def _unreachable(self, exc: BaseException) -> WfkitError:
        return WfkitError(
            f"cannot connect to PostgreSQL at {host_and_port(self.url)} ({mask_url(self.url)}) within "
            f"{self.connect_timeout:g} s: {type(exc).__name__}: {mask_url(str(exc))}; check that the server "
            "is running and the URL's host, port, user and database are right"
        )

    async def _connect(self) -> None:
        """Connect the pool (within `connect_timeout`) and migrate the schema."""
        try:
            pool = await asyncio.wait_for(
                asyncpg.create_pool(
                    self.url,
                    min_size=self._min_size,
                    max_size=self._max_size,
                    timeout=self.connect_timeout,
                    server_settings=self._settings(),
                    reset=_keep_session,
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise self._unreachable(exc) from exc
        try:
            await self._migrate(pool)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        self._mapped = MappedPool(pool, self)

    async def _disconnect(self) -> None:
        pool, self._pool, self._mapped = self._pool, None, None
        await self.listener.close()
        self.listener = Listener(self._connect_listener, host_and_port(self.url))
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), self.connect_timeout)
            except (TimeoutError, *_MAPPED):
                pool.terminate()  # the server is gone: nothing left to close politely

    async def _migrate(self, pool: Any) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            if self.schema:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            await conn.execute("CREATE TABLE IF NOT EXISTS wfkit_schema (version INTEGER NOT NULL)")
            current = await conn.fetchval("SELECT MAX(version) FROM wfkit_schema") or 0
            database = f"PostgreSQL database {mask_url(self.url)!r}"
            for number in migrations_to_apply(current, SCHEMA_VERSION, database, "postgres"):
                for statement in MIGRATIONS[number - 1]:
                    await conn.execute(statement)
                await conn.execute("INSERT INTO wfkit_schema (version) VALUES ($1)", number)

    async def _connect_listener(self) -> Any:
        return await asyncpg.connect(self.url, timeout=self.connect_timeout, server_settings=self._settings())

    async def listen(self, channel: str, callback: Callback, resync: Resync | None = None) -> None:
        """Call `callback(payload)` for every NOTIFY on `channel`, on a dedicated connection that is
        re-opened when it drops; `resync()` is called after each re-open (notifications were lost)."""
        async with self._life_lock():
            if not self.listener.started:
                try:
                    await self.listener.start()
                except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    raise self._unreachable(exc) from exc
            await self.listener.add(channel, callback, resync)

    def unlisten(self, channel: str, callback: Callback, resync: Resync | None = None) -> None:
        """Stop calling `callback` (and `resync`) for `channel` (the LISTEN itself stays until close)."""
        self.listener.remove(channel, callback, resync)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """A pooled connection inside `BEGIN` … `COMMIT`, rolled back on any error.

        A lost connection or a full disk raises `StoreUnavailable` / `DiskFull` (a lost COMMIT may
        or may not have been applied: the version compare-and-set makes a retry safe).
        """
        pool = self.pool.raw
        try:
            async with pool.acquire() as conn, conn.transaction():
                yield conn
        except _MAPPED as exc:
            mapped = self.translated(exc)
            if mapped is exc:
                raise
            raise mapped from exc


class MappedPool:
    """The asyncpg pool's query methods, raising wfkit's errors for a lost server or a full disk."""

    __slots__ = ("_db", "raw")

    def __init__(self, pool: asyncpg.Pool, db: Database) -> None:
        self.raw = pool
        self._db = db

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        try:
            rows: list[Any] = await self.raw.fetch(query, *args)
            return rows
        except _MAPPED as exc:
            raise self._translated(exc) from exc

    async def fetchrow(self, query: str, *args: Any) -> Any:
        try:
            return await self.raw.fetchrow(query, *args)
        except _MAPPED as exc:
            raise self._translated(exc) from exc

    async def fetchval(self, query: str, *args: Any) -> Any:
        try:
            return await self.raw.fetchval(query, *args)
        except _MAPPED as exc:
            raise self._translated(exc) from exc

    async def execute(self, query: str, *args: Any) -> str:
        try:
            status: str = await self.raw.execute(query, *args)
            return status
        except _MAPPED as exc:
            raise self._translated(exc) from exc

    async def executemany(self, query: str, args: list[tuple[Any, ...]]) -> None:
        try:
            await self.raw.executemany(query, args)
        except _MAPPED as exc:
            raise self._translated(exc) from exc

    def _translated(self, exc: Exception) -> Exception:
        mapped = self._db.translated(exc)
        if mapped is exc:
            raise exc  # not ours to map (a misuse of the pool): the original, with its traceback
        return mapped


class OnDatabase(DatabaseUser[Database]):
    """An adapter on this dialect's `Database`: the shared reads run in its markers."""

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        rows: list[Any] = await self._db.pool.fetch(numbered(sql), *params)
        return rows


def database(url_or_db: str | Database, **options: Any) -> Database:
    """The `Database` given, or a new one (owned by its adapter) for a URL."""
    return url_or_db if isinstance(url_or_db, Database) else Database(url_or_db, **options)
