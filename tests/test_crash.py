"""The crash test, end to end: three `wfkit worker` processes on one database, one SIGKILLed at random
every second and restarted, while 2,000 five-step runs go through.

At the end every run has completed, every history has versions 1..6 with each status once (no
transition applied twice, none lost), every object shows each step applied once, the outbox is
empty and the workers exit 0 on SIGTERM. The driver is `tests/crash/driver.py`; the lease is one
second, so a killed worker's roles move on within about a second. SQLite runs on a temp file,
PostgreSQL and MariaDB each on a fresh database (127.0.0.1:5432, :3306) that is dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiomysql
import asyncpg
import pytest
from crash.driver import CrashReport, crash_test

RUNS = 2000
HOST, PORT, MYSQL_PORT = "127.0.0.1", 5432, 3306


def _check(report: CrashReport) -> None:
    print(report.summary())  # shown with -s: how long each phase took, how many kills
    assert report.problems == [], report.explain()
    assert report.completed == RUNS, report.explain()
    # SIGKILLs really happened while runs were in flight: about one a second until all completed.
    assert report.kills >= max(int(report.complete_seconds) - 2, 1), report.explain()
    assert report.exit_codes == [0, 0, 0], report.explain()


async def test_sqlite_workers_killed_every_second_lose_no_run(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    report = await crash_test(f"sqlite:///{tmp_path / 'crash.db'}", runs=RUNS, seed=7, logs=logs)
    _check(report)


@pytest.fixture
async def fresh_pg_database() -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped (with its connections) afterwards."""
    name = f"wfkit_crash_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(host=HOST, port=PORT, user="postgres", database="postgres", timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is not reachable on {HOST}:{PORT} ({exc}): start it (see DEVELOPERS.md)")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql://postgres@{HOST}:{PORT}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_postgres_workers_killed_every_second_lose_no_run(
    fresh_pg_database: str, tmp_path: Path
) -> None:
    report = await crash_test(fresh_pg_database, runs=RUNS, seed=7, logs=tmp_path)
    _check(report)


@pytest.fixture
async def fresh_mysql_database() -> AsyncIterator[str]:
    """The URL of a new, empty MariaDB database, dropped afterwards."""
    name = f"wfkit_crash_{uuid.uuid4().hex[:12]}"
    try:
        admin = await aiomysql.connect(
            host=HOST, port=MYSQL_PORT, user="root", connect_timeout=5, autocommit=True
        )
    except (OSError, aiomysql.MySQLError) as exc:
        pytest.fail(f"MariaDB is not reachable on {HOST}:{MYSQL_PORT} ({exc}): start it (see DEVELOPERS.md)")
    try:
        async with admin.cursor() as cur:
            await cur.execute(f"CREATE DATABASE `{name}`")
        yield f"mysql://root@{HOST}:{MYSQL_PORT}/{name}"
    finally:
        async with admin.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


async def test_mysql_workers_killed_every_second_lose_no_run(
    fresh_mysql_database: str, tmp_path: Path
) -> None:
    """Beyond the issue's SQLite and PostgreSQL: MySQL's group commit under the same kills."""
    report = await crash_test(fresh_mysql_database, runs=RUNS, seed=7, logs=tmp_path)
    _check(report)
