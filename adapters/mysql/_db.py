"""One MySQL/MariaDB database: a shared aiomysql pool and the versioned schema.

The four adapters of one `Backend` share one `Database` (reference-counted `open`/`close`). Migrations
are numbered; `wfkit_schema` records the highest applied. DDL commits implicitly in MySQL, so instead
of one transaction a migration runs under `GET_LOCK` (named after the database): processes opening a
fresh database at the same moment apply each migration exactly once, and every statement is
idempotent (`IF NOT EXISTS`), so a migration cut short is completed by the next opener. A database
migrated by a newer wfkit is refused with a `ConfigurationError`.

Every table uses `utf8mb4_bin`, so text compares and sorts by code point (as PostgreSQL's "C"), and
transactions run at READ COMMITTED, so `SELECT … FOR UPDATE` of a missing row takes no gap lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import aiomysql

from wfkit._errors import ConfigurationError, WfkitError
from wfkit.adapters import mask_url
from wfkit.adapters._sqlbase import DatabaseUser, SharedLife, migrations_to_apply

SCHEMES = ("mysql", "mariadb")
NOW_US = "CAST(UNIX_TIMESTAMP(SYSDATE(6)) * 1000000 AS SIGNED)"
"""The server's wall clock in microseconds (one clock for every process on the database)."""

_TABLE = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
_RECORD_COLUMNS = """
    workflow_name VARCHAR(255) NOT NULL, foreign_id VARCHAR(255) NOT NULL, run_state INT NOT NULL,
    status BIGINT NOT NULL, object LONGBLOB NOT NULL, created_at VARCHAR(64) NOT NULL,
    updated_at VARCHAR(64) NOT NULL, created_us BIGINT NOT NULL, run_state_reason TEXT NOT NULL,
    status_description TEXT NOT NULL, trace_origin TEXT NOT NULL, traceparent TEXT NOT NULL"""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: runs, history, outbox, catalogue, timeouts, events, topics, cursors, leases.
    (
        f"""CREATE TABLE IF NOT EXISTS wfkit_records (
            run_id VARCHAR(255) NOT NULL, version BIGINT NOT NULL, {_RECORD_COLUMNS},
            PRIMARY KEY (run_id, version)
        ) {_TABLE}""",
        # The latest version of each run; seq is creation order. MariaDB has no partial indexes, so
        # one active (initiated, running, paused) run per foreign id is a UNIQUE index over a stored
        # generated column that is the foreign id while the run is active and NULL otherwise.
        f"""CREATE TABLE IF NOT EXISTS wfkit_runs (
            seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, run_id VARCHAR(255) NOT NULL,
            version BIGINT NOT NULL, {_RECORD_COLUMNS},
            active_foreign_id VARCHAR(255) AS (IF(run_state IN (1, 2, 3), foreign_id, NULL)) STORED,
            UNIQUE KEY wfkit_runs_run (run_id),
            UNIQUE KEY wfkit_runs_active (workflow_name, active_foreign_id),
            KEY wfkit_runs_foreign (workflow_name, foreign_id, seq),
            KEY wfkit_runs_workflow (workflow_name, seq)
        ) {_TABLE}""",
        f"""CREATE TABLE IF NOT EXISTS wfkit_outbox (
            seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, id VARCHAR(255) NOT NULL,
            workflow_name VARCHAR(255) NOT NULL, topic VARCHAR(255) NOT NULL, `key` VARCHAR(255) NOT NULL,
            type BIGINT NOT NULL, headers LONGTEXT NOT NULL, created_at VARCHAR(64) NOT NULL,
            UNIQUE KEY wfkit_outbox_id (id), KEY wfkit_outbox_workflow (workflow_name, seq)
        ) {_TABLE}""",
        f"""CREATE TABLE IF NOT EXISTS wfkit_workflows (
            name VARCHAR(255) NOT NULL PRIMARY KEY, info LONGTEXT NOT NULL
        ) {_TABLE}""",
        f"""CREATE TABLE IF NOT EXISTS wfkit_timeouts (
            id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, workflow_name VARCHAR(255) NOT NULL,
            foreign_id VARCHAR(255) NOT NULL, run_id VARCHAR(255) NOT NULL, status BIGINT NOT NULL,
            expire_at VARCHAR(64) NOT NULL, expire_us BIGINT NOT NULL, created_at VARCHAR(64) NOT NULL,
            version BIGINT NOT NULL,
            KEY wfkit_timeouts_due (workflow_name, status, expire_us),
            KEY wfkit_timeouts_run (workflow_name, run_id)
        ) {_TABLE}""",
        f"""CREATE TABLE IF NOT EXISTS wfkit_events (
            id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, topic VARCHAR(255) NOT NULL,
            `key` VARCHAR(255) NOT NULL, type BIGINT NOT NULL, headers LONGTEXT NOT NULL,
            created_at VARCHAR(64) NOT NULL, KEY wfkit_events_topic (topic, id)
        ) {_TABLE}""",
        # One row per topic, locked by each append so a topic's ids commit in increasing order.
        f"CREATE TABLE IF NOT EXISTS wfkit_topics (topic VARCHAR(255) NOT NULL PRIMARY KEY) {_TABLE}",
        f"""CREATE TABLE IF NOT EXISTS wfkit_cursors (
            topic VARCHAR(255) NOT NULL, name VARCHAR(255) NOT NULL, position BIGINT NOT NULL,
            PRIMARY KEY (topic, name)
        ) {_TABLE}""",
        f"""CREATE TABLE IF NOT EXISTS wfkit_leases (
            role VARCHAR(255) NOT NULL PRIMARY KEY, holder VARCHAR(64) NOT NULL,
            expires_us BIGINT NOT NULL, fence BIGINT NOT NULL
        ) {_TABLE}""",
    ),
)
"""Migration n (1-based) is `MIGRATIONS[n - 1]`: idempotent statements applied under `GET_LOCK`."""

SCHEMA_VERSION = len(MIGRATIONS)
TABLES = (
    "wfkit_records",
    "wfkit_runs",
    "wfkit_outbox",
    "wfkit_workflows",
    "wfkit_timeouts",
    "wfkit_events",
    "wfkit_topics",
    "wfkit_cursors",
    "wfkit_leases",
)
DUPLICATE_KEY = 1062
_FOUND_ROWS = 2  # CLIENT_FOUND_ROWS: UPDATE reports matched rows, so an unchanged renewal counts
_RETRYABLE = (1205, 1213)  # lock wait timeout, deadlock: the transaction was rolled back


def parse_url(url: str) -> dict[str, Any]:
    """aiomysql connection arguments from `mysql://user:password@host:3306/database`."""
    try:
        parts = urlsplit(url)
        scheme, port = parts.scheme.lower(), parts.port or 3306
    except ValueError:
        scheme, parts, port = "", None, 0
    database = unquote(parts.path.lstrip("/")) if parts is not None else ""
    if scheme not in SCHEMES or parts is None or not database or "/" in database:
        raise ConfigurationError(
            f"bad MySQL URL {mask_url(url)!r}: use mysql://user:password@host:3306/database"
        )
    args: dict[str, Any] = {
        "host": parts.hostname or "localhost",
        "port": port,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "db": database,
    }
    for key, value in parse_qsl(parts.query):
        args[key] = value
    return args


def _error_code(exc: BaseException) -> int | None:
    if isinstance(exc, aiomysql.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def is_retryable(exc: BaseException) -> bool:
    """True for a deadlock or lock wait timeout (the transaction was rolled back: run it again)."""
    return _error_code(exc) in _RETRYABLE


def duplicate_key(exc: BaseException) -> str | None:
    """The name of the violated unique key of a duplicate-key error, else None."""
    if _error_code(exc) != DUPLICATE_KEY:
        return None
    message = str(exc.args[1]) if len(exc.args) > 1 else ""
    return message.rsplit("for key ", 1)[-1].strip("'`\"").rsplit(".", 1)[-1]


class Conn:
    """One aiomysql connection with the few query helpers the adapters use."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> tuple[int, int]:
        """Run a statement; (matched row count, last insert id)."""
        async with self.raw.cursor() as cur:
            await cur.execute(sql, tuple(args))
            return int(cur.rowcount), int(cur.lastrowid or 0)

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self.raw.cursor() as cur:
            await cur.execute(sql, tuple(args))
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = await self.fetchall(sql, args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, args: Sequence[Any] = ()) -> Any:
        row = await self.fetchone(sql, args)
        return None if row is None else row[0]


class Database(SharedLife):
    """A pool on one MySQL/MariaDB database (opened by the first adapter, closed by the last)."""

    def __init__(
        self, url: str, *, connect_timeout: float = 10.0, min_size: int = 1, max_size: int = 10
    ) -> None:
        self._args = parse_url(url)
        self.url = url
        self.connect_timeout = connect_timeout
        self._min_size, self._max_size = min_size, max_size
        self._pool: Any = None

    @property
    def where(self) -> str:
        return f"{self._args['host']}:{self._args['port']}"

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise RuntimeError(f"MySQL database {mask_url(self.url)!r} is not open: use `async with`")
        return self._pool

    def _unreachable(self, exc: BaseException) -> WfkitError:
        return WfkitError(
            f"cannot connect to MySQL at {self.where} ({mask_url(self.url)}) within "
            f"{self.connect_timeout:g} s: {type(exc).__name__}: {mask_url(str(exc))}; check that the server "
            "is running and the URL's host, port, user and database are right"
        )

    async def _connect(self) -> None:
        """Connect the pool (within `connect_timeout`) and migrate the schema."""
        try:
            pool = await asyncio.wait_for(
                aiomysql.create_pool(
                    minsize=self._min_size,
                    maxsize=self._max_size,
                    autocommit=True,
                    charset="utf8mb4",
                    connect_timeout=self.connect_timeout,
                    client_flag=_FOUND_ROWS,
                    init_command="SET SESSION sql_notes = 0",
                    **self._args,
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError, aiomysql.MySQLError) as exc:
            raise self._unreachable(exc) from exc
        try:
            await self._migrate(pool)
        except BaseException:
            pool.close()
            await pool.wait_closed()
            raise
        self._pool = pool

    async def _disconnect(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
            await pool.wait_closed()

    async def _migrate(self, pool: Any) -> None:
        lock = "wfkit_migrate:" + hashlib.sha1(str(self._args["db"]).encode()).hexdigest()[:32]
        async with pool.acquire() as raw:
            conn = Conn(raw)
            if await conn.fetchval("SELECT GET_LOCK(%s, %s)", (lock, max(int(self.connect_timeout), 1))) != 1:
                raise WfkitError(f"timed out waiting for another process migrating {mask_url(self.url)}")
            try:
                await conn.execute(f"CREATE TABLE IF NOT EXISTS wfkit_schema (version INT NOT NULL) {_TABLE}")
                current = await conn.fetchval("SELECT MAX(version) FROM wfkit_schema") or 0
                database = f"MySQL database {mask_url(self.url)!r}"
                for number in migrations_to_apply(current, SCHEMA_VERSION, database, "mysql"):
                    for statement in MIGRATIONS[number - 1]:
                        await conn.execute(statement)
                    await conn.execute("INSERT INTO wfkit_schema (version) VALUES (%s)", (number,))
            finally:
                await conn.execute("SELECT RELEASE_LOCK(%s)", (lock,))

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        """A pooled connection in autocommit mode."""
        async with self.pool.acquire() as raw:
            yield Conn(raw)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """A pooled connection inside a READ COMMITTED transaction, rolled back on any error."""
        async with self.pool.acquire() as raw:
            conn = Conn(raw)
            if not getattr(raw, "_wfkit_read_committed", False):  # once per connection, not per transaction
                await conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                raw._wfkit_read_committed = True
            await raw.begin()
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(Exception):  # a cancelled query closed it: the server rolls back
                    await raw.rollback()
                raise
            await raw.commit()

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> tuple[int, int]:
        async with self.connection() as conn:
            return await conn.execute(sql, args)

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self.connection() as conn:
            return await conn.fetchall(sql, args)

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        async with self.connection() as conn:
            return await conn.fetchone(sql, args)

    async def fetchval(self, sql: str, args: Sequence[Any] = ()) -> Any:
        async with self.connection() as conn:
            return await conn.fetchval(sql, args)


class OnDatabase(DatabaseUser[Database]):
    """An adapter on this dialect's `Database`: the shared reads run in its markers."""

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        rows: list[Any] = await self._db.fetchall(sql.replace("?", "%s"), params)
        return rows


def database(url_or_db: str | Database, **options: Any) -> Database:
    """The `Database` given, or a new one (owned by its adapter) for a URL."""
    return url_or_db if isinstance(url_or_db, Database) else Database(url_or_db, **options)
