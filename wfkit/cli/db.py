"""`wfkit db migrate|status URL`: create or upgrade a store's schema, or say which version it has.

The SQL adapters keep numbered migrations and record the highest applied in `wfkit_schema`;
opening a backend applies the missing ones (in one locked transaction, so concurrent openers
are safe) and refuses a schema newer than this wfkit. `migrate` just opens the backend, so it is
idempotent; `status` reads the version without changing anything (and without creating a file).
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from wfkit.cli._app import usage_error
from wfkit.cli._common import DEFAULT_STORE, STORE_ENV, AsJson, connect_store, print_json, sqlite_path

db_app = typer.Typer(
    name="db",
    help="Create, migrate and inspect a store's schema.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

Url = Annotated[
    str,
    typer.Argument(
        metavar="URL",
        envvar=STORE_ENV,
        help="The store: sqlite:///file.db, postgresql://user@host/db, mysql://user@host/db.",
    ),
]


@dataclass(frozen=True, slots=True)
class Schema:
    """A store's schema version next to the one this wfkit's adapter migrates to."""

    url: str
    version: int | None  # None: the SQLite file does not exist
    code: int

    @property
    def state(self) -> str:
        if self.version is None:
            return "missing"
        if self.version > self.code:
            return "newer"
        return "current" if self.version == self.code else "behind"

    def json(self) -> dict[str, Any]:
        return {"url": self.url, "version": self.version, "code_version": self.code, "state": self.state}


@db_app.command("migrate")
def migrate(url: Url = DEFAULT_STORE, as_json: AsJson = False) -> None:
    """Create the schema, or apply the migrations it lacks (safe to repeat)."""
    from rich.console import Console

    before = _read(url)
    if before.state == "newer":
        _refuse_newer(before)
    backend = connect_store(url, must_exist=False, param="URL")

    async def open_once() -> None:
        async with backend:
            pass

    err = Console(stderr=True, highlight=False)
    with err.status(f"migrating {backend.url}…", spinner="dots"):
        asyncio.run(open_once())
    after = _read(url)
    if as_json:
        print_json({**after.json(), "before": before.version or 0})
        return
    if before.version == after.version:
        typer.echo(f"{after.url}: schema version {after.version}, already up to date")
    else:
        typer.echo(f"{after.url}: migrated schema version {before.version or 0} -> {after.version}")


@db_app.command("status")
def status(url: Url = DEFAULT_STORE, as_json: AsJson = False) -> None:
    """The store's schema version and whether this wfkit can use it (changes nothing)."""
    schema = _read(url)
    if as_json:
        print_json(schema.json())
    elif schema.state == "missing":
        typer.echo(f"{schema.url}: no database yet; `wfkit db migrate {schema.url}` creates it")
    elif schema.state == "behind":
        typer.echo(
            f"{schema.url}: schema version {schema.version}, this wfkit migrates to {schema.code}: "
            f"run `wfkit db migrate {schema.url}` (or start a worker, which migrates)"
        )
    elif schema.state == "current":
        typer.echo(f"{schema.url}: schema version {schema.version}, up to date")
    if schema.state == "newer":
        _refuse_newer(schema)


def _refuse_newer(schema: Schema) -> None:
    from wfkit import ConfigurationError

    raise ConfigurationError(
        f"{schema.url} has schema version {schema.version}, newer than this wfkit understands "
        f"({schema.code}): upgrade wfkit (pip install -U wfkit)"
    )


def _read(url: str) -> Schema:
    """The schema version of the store at `url`, read without migrating."""
    from wfkit.adapters import mask_url

    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    connect_store(url, must_exist=False, param="URL")  # refuses memory:// and malformed URLs (exit 2)
    if scheme == "sqlite":
        from wfkit.adapters.sqlite import SCHEMA_VERSION

        return Schema(mask_url(url), _sqlite_version(url), SCHEMA_VERSION)
    if scheme in ("postgresql", "postgres"):
        from wfkit.adapters.postgres import SCHEMA_VERSION as PG_VERSION

        return Schema(mask_url(url), asyncio.run(_postgres_version(url)), PG_VERSION)
    if scheme in ("mysql", "mariadb"):
        from wfkit.adapters.mysql import SCHEMA_VERSION as MY_VERSION

        return Schema(mask_url(url), asyncio.run(_mysql_version(url)), MY_VERSION)
    raise usage_error(f"no schema to read for {mask_url(url)!r}", "URL")


def _sqlite_version(url: str) -> int | None:
    from wfkit import WfkitError

    path = sqlite_path(url)
    if path is None or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise WfkitError(f"cannot open SQLite database {str(path)!r}: {exc}") from None
    try:
        return _max_version(conn.execute, sqlite3.OperationalError)
    except sqlite3.DatabaseError as exc:
        raise WfkitError(f"{str(path)!r} is not a wfkit SQLite database: {exc}") from None
    finally:
        conn.close()


def _max_version(execute: Any, missing: type[Exception]) -> int:
    try:
        row = execute("SELECT MAX(version) FROM wfkit_schema").fetchone()
    except missing as exc:
        if "no such table" in str(exc):
            return 0
        raise
    return int(row[0] or 0)


async def _postgres_version(url: str) -> int:
    import asyncpg

    from wfkit import WfkitError
    from wfkit.adapters import mask_url

    try:
        conn = await asyncpg.connect(url, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise WfkitError(f"cannot connect to {mask_url(url)}: {type(exc).__name__}: {exc}") from None
    try:
        return int(await conn.fetchval("SELECT MAX(version) FROM wfkit_schema") or 0)
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def _mysql_version(url: str) -> int:
    import aiomysql

    from wfkit import WfkitError
    from wfkit.adapters import mask_url
    from wfkit.adapters.mysql._db import parse_url

    try:
        conn = await asyncio.wait_for(aiomysql.connect(**parse_url(url)), 10)
    except (OSError, TimeoutError, aiomysql.Error) as exc:
        raise WfkitError(f"cannot connect to {mask_url(url)}: {type(exc).__name__}: {exc}") from None
    try:
        async with conn.cursor() as cur:
            try:
                await cur.execute("SELECT MAX(version) FROM wfkit_schema")
            except aiomysql.ProgrammingError as exc:
                if exc.args and exc.args[0] == 1146:  # no such table
                    return 0
                raise
            row = await cur.fetchone()
            return int(row[0] or 0) if row else 0
    finally:
        conn.close()
