"""One SQLite file: opening it durably, the versioned schema, and group-committed transactions.

The adapters of one `connect()` share one `Database`: one `sqlite3` connection driven from one
worker thread. SQLite serialises writers anyway, so one connection per process loses nothing, and
sharing it lets the writes of the store, the streamer, the timeouts and the roles ride the same
commit (one fsync for all writes that arrived while the previous batch committed). Several processes
on one file are safe because of WAL mode (readers never block the writer), `BEGIN IMMEDIATE` (a
writer takes the write lock before it reads what it checks, so a compare-and-set cannot race) and
`busy_timeout` (a writer waits for the lock instead of failing at once).

Migrations are numbered; `wfkit_schema` records the highest applied. They run in one
`BEGIN IMMEDIATE` transaction, so processes opening a fresh file at the same moment apply each
migration exactly once, and a file migrated by a newer wfkit is refused with a `ConfigurationError`.

Driver errors that users can act on become wfkit errors naming the fix: a full disk (or a size
limit reached) is `DiskFull` naming the directory to free space in, and a write lock held by
another process past `busy_timeout` is `StoreUnavailable` (consumers retry both with backoff).
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from wfkit._errors import ConfigurationError
from wfkit.adapters._sqlbase import DatabaseUser, SharedLife, migrations_to_apply
from wfkit.adapters._sqlerrors import DiskFull, StoreUnavailable

T = TypeVar("T")

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


class Database(SharedLife):
    """One connection to the file, its own thread, and group commit.

    Statements run on a plain `sqlite3` connection in one worker thread, so a whole transaction
    is one hop from the event loop instead of one per statement. Writes are group-committed:
    every `write(fn)` submitted while a batch commits joins the next batch, where each runs in its
    own SAVEPOINT (a failing one rolls back alone and gets its error) and all share one `BEGIN
    IMMEDIATE` … `COMMIT`, hence one fsync. A caller's `write` returns only after its batch has
    committed.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.synchronous = synchronous.upper()
        if self.synchronous not in _SYNCHRONOUS:
            raise ConfigurationError(f"synchronous must be one of {', '.join(_SYNCHRONOUS)}")
        self._writer: _Connection | None = None
        self._reader: _Connection | None = None
        self._pending: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.opened_data_version: int | None = None
        """`data_version` when the file was opened: what `ForeignCommits` compares with first."""

    async def _connect(self) -> None:
        """Connect, set WAL, `synchronous` and `busy_timeout`, and migrate the schema.

        Writes go through one connection and reads through another, each driven by its own
        thread: in WAL mode a read never waits for the writer's fsync. A `Database` shared by
        several adapters opens once and closes with its last user.
        """
        check_directory(self.path)
        try:
            writer = await _Connection.open(self.path, self._setup_writer)
            try:
                self._reader = await _Connection.open(self.path, self._setup_reader)
            except BaseException:
                await writer.close()
                raise
        except sqlite3.Error as exc:
            mapped = self.translated(exc)
            if mapped is exc:
                raise ConfigurationError(f"cannot open SQLite database {str(self.path)!r}: {exc}") from exc
            raise mapped from exc
        self._writer = writer

    def _setup_writer(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        _migrate(conn, self.path)
        self.opened_data_version = int(conn.execute("PRAGMA data_version").fetchone()[0])

    def _setup_reader(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        conn.execute("PRAGMA query_only = ON")

    def translated(self, exc: sqlite3.Error) -> Exception:
        """The wfkit error for a driver error (`exc` itself when it is not one wfkit maps)."""
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # the primary result code
        if code == sqlite3.SQLITE_FULL:
            return DiskFull(
                f"SQLite database {str(self.path)!r} cannot grow ({exc}): free disk space at "
                f"{str(self.path.parent)!r} (or raise the size limit, if PRAGMA max_page_count set one); "
                "nothing was written, and consumers retry once there is room"
            )
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return StoreUnavailable(
                f"SQLite database {str(self.path)!r} is locked by another connection ({exc}; busy_timeout "
                f"is {self.busy_timeout:g} s): consumers retry with backoff; pass a larger busy_timeout "
                "to connect(), or end the process holding a long write transaction"
            )
        return exc

    async def _disconnect(self) -> None:
        if self._writer is None:
            return
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        writer, reader = self._writer, self._reader
        self._writer = self._reader = None
        await writer.close()
        if reader is not None:
            await reader.close()

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(connection)` on the reading connection (its own snapshot; never waits for a commit)."""
        return await self._call(self._reader, fn)

    async def data_version(self) -> int:
        """`PRAGMA data_version` of the writing connection: it changes when another process commits."""
        return await self._call(
            self._writer, lambda conn: int(conn.execute("PRAGMA data_version").fetchone()[0])
        )

    async def _call(self, side: _Connection | None, fn: Callable[[sqlite3.Connection], T]) -> T:
        if side is None:
            raise RuntimeError(f"SQLite database {str(self.path)!r} is not open: use `async with`")
        try:
            return await side.call(fn)
        except sqlite3.Error as exc:
            if (mapped := self.translated(exc)) is exc:
                raise
            raise mapped from exc

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(connection)` in a transaction, committed (group-committed) before this returns.

        `fn` runs on the database's thread inside its own SAVEPOINT: it may read what it checks and
        raise to undo just its own statements. Cancelling the caller does not withdraw a write
        already submitted (like a commit whose reply was lost).
        """
        return await self.submit(fn)

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Queue `fn` for the next commit; the future resolves once that commit is durable.

        Writes commit in submission order, so a later write (or a later `write`'s read) sees it.
        """
        if self._writer is None:
            raise RuntimeError(f"SQLite database {str(self.path)!r} is not open: use `async with`")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._pending.append((fn, done))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush(), name=f"wfkit:sqlite-commit:{self.path.name}")
        return done

    async def _flush(self) -> None:
        try:
            while self._pending and (writer := self._writer) is not None:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                fns = [fn for fn, _ in batch]
                try:
                    outcomes = await writer.call(functools.partial(_commit, fns=fns))
                except BaseException as exc:  # BEGIN or COMMIT failed: nothing of the batch was written
                    failure = self.translated(exc) if isinstance(exc, sqlite3.Error) else exc
                    outcomes = [(False, failure)] * len(batch)
                for (_, done), (ok, value) in zip(batch, outcomes, strict=True):
                    if done.done():
                        continue
                    if ok:
                        done.set_result(value)
                    else:
                        done.set_exception(
                            self.translated(value) if isinstance(value, sqlite3.Error) else value
                        )
        finally:
            self._flusher = None
            for _, done in self._pending if self._writer is None else ():
                if not done.done():
                    done.set_exception(RuntimeError(f"SQLite database {str(self.path)!r} was closed"))

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows of one read (its own snapshot)."""
        return await self.run(lambda conn: conn.execute(sql, params).fetchall())

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement, group-committed; returns the rows it changed."""
        return await self.write(lambda conn: conn.execute(sql, params).rowcount)


def database(
    path: str | Path | Database, *, busy_timeout: float = 5.0, synchronous: str = "FULL"
) -> Database:
    """`path` itself when it is already a `Database` (adapters sharing one), else a new one on it."""
    if isinstance(path, Database):
        return path
    return Database(path, busy_timeout=busy_timeout, synchronous=synchronous)


@dataclass(slots=True)
class _Connection:
    """A `sqlite3` connection and the one thread that drives it (sqlite3 blocks)."""

    conn: sqlite3.Connection
    thread: ThreadPoolExecutor

    @classmethod
    async def open(cls, path: Path, setup: Callable[[sqlite3.Connection], None]) -> _Connection:
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"wfkit-sqlite-{path.name}")

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            try:
                setup(conn)
            except BaseException:
                conn.close()
                raise
            return conn

        try:
            conn = await asyncio.get_running_loop().run_in_executor(thread, connect)
        except BaseException:
            thread.shutdown(wait=False)
            raise
        return cls(conn, thread)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.thread, fn, self.conn)

    async def close(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self.thread, self.conn.close)
        finally:
            self.thread.shutdown(wait=False)


MAX_BATCH = 512
"""At most this many writes share one commit."""


def _commit(
    conn: sqlite3.Connection, fns: list[Callable[[sqlite3.Connection], Any]]
) -> list[tuple[bool, Any]]:
    """Run each write in its own SAVEPOINT inside one `BEGIN IMMEDIATE` … `COMMIT` (thread side)."""
    outcomes: list[tuple[bool, Any]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for fn in fns:
            conn.execute("SAVEPOINT wfkit_write")
            try:
                value = fn(conn)
            except Exception as exc:
                if not conn.in_transaction:
                    # SQLite rolled the whole transaction back itself (SQLITE_FULL, IOERR, BUSY...):
                    # nothing of the batch was written, and every write gets this error.
                    raise
                conn.execute("ROLLBACK TO wfkit_write")
                conn.execute("RELEASE wfkit_write")
                outcomes.append((False, exc))
            else:
                conn.execute("RELEASE wfkit_write")
                outcomes.append((True, value))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Apply the migrations this file lacks, in one `BEGIN IMMEDIATE` (safe when processes race)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS wfkit_schema (version INTEGER NOT NULL)")
        current = conn.execute("SELECT MAX(version) FROM wfkit_schema").fetchone()[0] or 0
        for number in migrations_to_apply(
            current, SCHEMA_VERSION, f"SQLite database {str(path)!r}", "sqlite"
        ):
            for statement in MIGRATIONS[number - 1]:
                conn.execute(statement)
            conn.execute("INSERT INTO wfkit_schema (version) VALUES (?)", (number,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class OnDatabase(DatabaseUser[Database]):
    """An adapter on this dialect's `Database`: the shared reads run in its markers."""

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return await self._db.fetchall(sql, params)
