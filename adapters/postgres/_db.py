"""One PostgreSQL database: a shared asyncpg pool, the versioned schema and a LISTEN connection.

The four adapters of one `Backend` share one `Database` (reference-counted `open`/`close`), so a
backend holds one pool plus one dedicated connection for LISTEN. Migrations are numbered;
`wfkit_schema` records the highest applied. They run in one transaction that first takes
`pg_advisory_xact_lock`, so processes opening a fresh database at the same moment apply each
migration exactly once, and a database migrated by a newer wfkit is refused with a
`ConfigurationError`. `schema=` puts every table in that schema (via `search_path`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import asyncpg

from wfkit._errors import ConfigurationError, WfkitError
from wfkit.adapters import mask_url

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
)
"""Migration n (1-based) is `MIGRATIONS[n - 1]`: statements applied in one transaction."""

SCHEMA_VERSION = len(MIGRATIONS)

Listener = Callable[[str], None]


def host_and_port(url: str) -> str:
    """`host:port` of a `postgresql://` URL, for error messages (defaults as libpq's)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "localhost", parts.port or 5432
    except ValueError:
        return "the server"
    return f"{host}:{port}"


class Database:
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
        self._listener: asyncpg.Connection | None = None
        self._channels: dict[str, list[Listener]] = {}
        self._users = 0
        self._lock = asyncio.Lock()

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise RuntimeError(f"PostgreSQL database {mask_url(self.url)!r} is not open: use `async with`")
        return self._pool

    def _settings(self) -> dict[str, str]:
        return {"search_path": self.schema} if self.schema else {}

    def _unreachable(self, exc: BaseException) -> WfkitError:
        return WfkitError(
            f"cannot connect to PostgreSQL at {host_and_port(self.url)} ({mask_url(self.url)}) within "
            f"{self.connect_timeout:g} s: {type(exc).__name__}: {mask_url(str(exc))}; check that the server "
            "is running and the URL's host, port, user and database are right"
        )

    async def open(self) -> None:
        """Connect the pool (within `connect_timeout`) and migrate the schema; counts its users."""
        async with self._lock:
            self._users += 1
            if self._pool is not None:
                return
            try:
                pool = await asyncio.wait_for(
                    asyncpg.create_pool(
                        self.url,
                        min_size=self._min_size,
                        max_size=self._max_size,
                        timeout=self.connect_timeout,
                        server_settings=self._settings(),
                    ),
                    self.connect_timeout,
                )
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self._users -= 1
                raise self._unreachable(exc) from exc
            try:
                await self._migrate(pool)
            except BaseException:
                self._users -= 1
                await pool.close()
                raise
            self._pool = pool

    async def close(self) -> None:
        async with self._lock:
            self._users = max(self._users - 1, 0)
            if self._users:
                return
            pool, self._pool = self._pool, None
            listener, self._listener = self._listener, None
            self._channels.clear()
            if listener is not None:
                await listener.close()
            if pool is not None:
                await pool.close()

    async def _migrate(self, pool: Any) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            if self.schema:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            await conn.execute("CREATE TABLE IF NOT EXISTS wfkit_schema (version INTEGER NOT NULL)")
            current = await conn.fetchval("SELECT MAX(version) FROM wfkit_schema") or 0
            if current > SCHEMA_VERSION:
                raise ConfigurationError(
                    f"PostgreSQL database {mask_url(self.url)!r} has schema version {current}, newer than "
                    f"this wfkit understands ({SCHEMA_VERSION}): upgrade wfkit "
                    "(pip install -U 'wfkit[postgres]')"
                )
            for number in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[number - 1]:
                    await conn.execute(statement)
                await conn.execute("INSERT INTO wfkit_schema (version) VALUES ($1)", number)

    async def listen(self, channel: str, callback: Listener) -> None:
        """Call `callback(payload)` for every NOTIFY on `channel`, on a dedicated connection."""
        async with self._lock:
            if self._listener is None:
                try:
                    self._listener = await asyncpg.connect(
                        self.url, timeout=self.connect_timeout, server_settings=self._settings()
                    )
                except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    raise self._unreachable(exc) from exc
            callbacks = self._channels.get(channel)
            if callbacks is None:
                callbacks = self._channels[channel] = []
                await self._listener.add_listener(channel, self._dispatch)
            callbacks.append(callback)

    def unlisten(self, channel: str, callback: Listener) -> None:
        """Stop calling `callback` for `channel` (the LISTEN itself stays until close)."""
        callbacks = self._channels.get(channel)
        if callbacks is not None and callback in callbacks:
            callbacks.remove(callback)

    def _dispatch(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        for callback in tuple(self._channels.get(channel, ())):
            callback(payload)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """A pooled connection inside `BEGIN` … `COMMIT`, rolled back on any error."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn


class OnDatabase:
    """`open()`, `close()` and `async with` for an adapter built on a shared `Database` (`self._db`)."""

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


def database(url_or_db: str | Database, **options: Any) -> Database:
    """The `Database` given, or a new one (owned by its adapter) for a URL."""
    return url_or_db if isinstance(url_or_db, Database) else Database(url_or_db, **options)
