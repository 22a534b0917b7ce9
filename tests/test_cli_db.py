"""`wfkit db migrate|status`: versioned schemas created and migrated by the adapters, idempotently,
and a schema newer than the code refused with the fix. SQLite on temp files; PostgreSQL and MariaDB
on fresh databases on loopback (see INFRA.md), dropped afterwards."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiomysql
import asyncpg
import pytest
from _cli_store import assert_one_line_error, invoke

from wfkit.adapters import mysql, postgres, sqlite


def test_migrate_creates_the_schema_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wf.db'}"
    code, out, err = invoke("db", "migrate", url)
    assert code == 0, err
    assert out.strip() == f"{url}: migrated schema version 0 -> {sqlite.SCHEMA_VERSION}"
    code, out, _ = invoke("db", "migrate", url)
    assert (code, out.strip()) == (0, f"{url}: schema version {sqlite.SCHEMA_VERSION}, already up to date")
    code, out, _ = invoke("db", "migrate", url, "--json")
    assert code == 0
    assert json.loads(out) == {
        "url": url,
        "version": sqlite.SCHEMA_VERSION,
        "code_version": sqlite.SCHEMA_VERSION,
        "state": "current",
        "before": sqlite.SCHEMA_VERSION,
    }


def test_status_reads_without_creating_anything(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wf.db'}"
    code, out, _ = invoke("db", "status", url)
    assert code == 0
    assert f"`wfkit db migrate {url}` creates it" in out
    assert not (tmp_path / "wf.db").exists()
    sqlite3.connect(tmp_path / "wf.db").close()  # an empty file: no wfkit tables yet
    code, out, _ = invoke("db", "status", url, "--json")
    assert (code, json.loads(out)["state"], json.loads(out)["version"]) == (0, "behind", 0)
    invoke("db", "migrate", url)
    code, out, _ = invoke("db", "status", url)
    assert (code, out.strip()) == (0, f"{url}: schema version {sqlite.SCHEMA_VERSION}, up to date")


def test_a_schema_newer_than_the_code_is_refused_with_the_fix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wf.db'}"
    invoke("db", "migrate", url)
    db = sqlite3.connect(tmp_path / "wf.db")
    db.execute("INSERT INTO wfkit_schema (version) VALUES (?)", (sqlite.SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    for command in (["db", "migrate", url], ["db", "status", url], ["runs", "list", "--store", url]):
        code, _, err = invoke(*command)
        assert code == 1, command
        assert_one_line_error(err, f"schema version {sqlite.SCHEMA_VERSION + 1}", "upgrade wfkit")


def test_a_file_that_is_no_database_is_exit_1(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("shopping list\n" * 100)
    code, _, err = invoke("db", "status", f"sqlite:///{tmp_path / 'notes.db'}")
    assert code == 1
    assert_one_line_error(err, "notes.db", "not a wfkit SQLite database")


@pytest.mark.parametrize(
    ("url", "needle"), [("memory://", "memory://"), ("ftp://x", "unsupported store URL")]
)
def test_a_url_without_a_schema_is_exit_2(url: str, needle: str) -> None:
    code, _, err = invoke("db", "migrate", url)
    assert code == 2
    assert_one_line_error(err, "URL", needle)


# -- server databases ----------------------------------------------------------------------------


async def _postgres(sql: str) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _mariadb(sql: str) -> None:
    conn = await aiomysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = f"wfkit_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_postgres(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    name = f"wfkit_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_mariadb(f"CREATE DATABASE `{name}`"))
    try:
        yield f"mysql://root@127.0.0.1:3306/{name}"
    finally:
        asyncio.run(_mariadb(f"DROP DATABASE `{name}`"))


@pytest.mark.parametrize(
    ("fixture", "version"), [("pg_url", postgres.SCHEMA_VERSION), ("mariadb_url", mysql.SCHEMA_VERSION)]
)
def test_server_databases_migrate_once(fixture: str, version: int, request: pytest.FixtureRequest) -> None:
    url: str = request.getfixturevalue(fixture)
    code, out, _ = invoke("db", "status", url, "--json")
    assert (code, json.loads(out)["state"]) == (0, "behind")
    code, out, err = invoke("db", "migrate", url)
    assert code == 0, err
    assert out.strip() == f"{url}: migrated schema version 0 -> {version}"
    code, out, _ = invoke("db", "migrate", url)
    assert (code, out.strip()) == (0, f"{url}: schema version {version}, already up to date")


def test_an_unreachable_server_is_one_line_exit_1() -> None:
    code, _, err = invoke("db", "status", "postgresql://postgres@127.0.0.1:1/nowhere")
    assert code == 1
    assert_one_line_error(err, "cannot connect", "127.0.0.1:1")
