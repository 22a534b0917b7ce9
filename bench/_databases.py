"""A fresh database for each side of the store benchmark, and each side's durability settings.

`--store sqlite:////tmp/bench.db` gives every side its own file beside that name
(`/tmp/bench-wfkit1.db`, `/tmp/bench-dbos.db`, ...), removed before and after. `--store
postgresql://user@host:5432/db` names a server and a database to connect to for `CREATE DATABASE`:
every side gets a fresh database `wfkit_bench_<side>_<hex>` on that server, dropped after. So no
side sees another's rows and every side starts on empty tables.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from wfkit.adapters import mask_url

SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


@dataclasses.dataclass(frozen=True)
class Target:
    """One `--store` URL: which database kind, and how to make a fresh one per side."""

    kind: str  # "sqlite" or "postgresql"
    url: str

    @classmethod
    def parse(cls, url: str) -> Target:
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme == "sqlite":
            path = sqlite_path(url).resolve()
            if not path.parent.is_dir():
                raise SystemExit(
                    f"--store {url}: directory {str(path.parent)!r} does not exist: create it first"
                )
            return cls("sqlite", f"sqlite:///{path}")
        if scheme in ("postgresql", "postgres"):
            return cls("postgresql", url)
        raise SystemExit(
            f"--store {mask_url(url)!r}: use sqlite:///file.db or postgresql://user@host:5432/db"
        )

    @property
    def title(self) -> str:
        return "SQLite" if self.kind == "sqlite" else "PostgreSQL"

    async def check(self) -> None:
        """Fail at once, not once per side, when the server cannot be reached."""
        if self.kind == "postgresql":
            try:
                await _admin(self.url, "SELECT 1")
            except Exception as exc:
                raise SystemExit(
                    f"--store {mask_url(self.url)}: cannot connect ({type(exc).__name__}: {exc}); "
                    "the URL names a server and a database to run CREATE DATABASE from"
                ) from None

    @contextlib.asynccontextmanager
    async def fresh(self, side: str, *, keep: bool = False) -> AsyncIterator[str]:
        """The URL of an empty database for `side` (wfkit's URL form), removed afterwards."""
        if self.kind == "sqlite":
            base = sqlite_path(self.url)
            path = base.with_name(f"{base.stem}-{side}{base.suffix or '.db'}")
            remove_sqlite(path)
            try:
                yield f"sqlite:///{path}"
            finally:
                if not keep:
                    remove_sqlite(path)
            return
        name = f"wfkit_bench_{side}_{uuid.uuid4().hex[:8]}"
        await _admin(self.url, f'CREATE DATABASE "{name}"')
        try:
            yield with_database(self.url, name)
        finally:
            if not keep:
                await _admin(self.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_path(url: str) -> Path:
    """`sqlite:///relative.db` -> relative.db, `sqlite:////abs.db` -> /abs.db."""
    rest = url.split("://", 1)[1] if "://" in url else url
    return Path(rest[1:] if rest.startswith("/") else rest)


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def pg_parts(url: str) -> dict[str, Any]:
    """Host, port, user, password and database of a postgresql:// URL (for libraries that want them)."""
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "password": parts.password or "",
        "dbname": parts.path.lstrip("/") or "postgres",
    }


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def sqlite_settings(conn: sqlite3.Connection | Any) -> str:
    """`synchronous` and `journal_mode` as this connection has them (synchronous is per connection)."""
    sync = conn.execute("PRAGMA synchronous").fetchone()[0]
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    return f"synchronous={SYNCHRONOUS.get(int(sync), sync)} journal={str(mode).upper()}"


def pg_settings(values: dict[str, str]) -> str:
    """`synchronous_commit` and `fsync` as one session saw them."""
    return " ".join(f"{name}={values[name]}" for name in ("synchronous_commit", "fsync") if name in values)


PG_SHOW = ("synchronous_commit", "fsync")
"""What a side asks PostgreSQL on its own connection, with `SHOW`."""


def prepare_sqlite_wal(path: Path) -> None:
    """Put a new file in WAL mode (persistent in the file) before a peer that would not opens it."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
