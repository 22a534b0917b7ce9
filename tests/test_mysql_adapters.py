"""The MySQL adapters: every port contract on the real MariaDB server, plus what only MySQL promises.

A session fixture creates a fresh database `wfkit_test_<hex>` on 127.0.0.1:3306, migrates it once and
drops it at the end; every factory call empties its tables first (tests run one at a time). An
unreachable server fails the tests (it never skips them): CI runs MariaDB, and so does every
development machine (see INFRA.md).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar

import aiomysql
import pytest

from wfkit import ConfigurationError, RunState, WfkitError
from wfkit._errors import VersionConflict, WorkflowInProgress
from wfkit._ports import RoleScheduler
from wfkit.adapters import connect as connect_url
from wfkit.adapters import mysql
from wfkit.adapters.mysql._db import TABLES
from wfkit.testing.contracts import (
    EventStreamerContract,
    EventStreamerFactory,
    RecordStoreContract,
    RecordStoreFactory,
    RoleSchedulerContract,
    RoleSchedulerFactory,
    TimeoutStoreContract,
    TimeoutStoreFactory,
)
from wfkit.testing.contracts._helpers import make_record, next_version

HOST, PORT, USER = "127.0.0.1", 3306, "root"
A = TypeVar("A", bound=AbstractAsyncContextManager[Any])


async def _admin(db: str = "test") -> Any:
    try:
        return await aiomysql.connect(
            host=HOST, port=PORT, user=USER, db=db, connect_timeout=5, autocommit=True
        )
    except (OSError, aiomysql.MySQLError) as exc:
        pytest.fail(
            f"MariaDB is not reachable on {HOST}:{PORT} as {USER} ({exc}): start it "
            "(see DEVELOPERS.md); these tests never skip",
            pytrace=False,
        )


async def _run(conn: Any, *statements: str) -> None:
    async with conn.cursor() as cur:
        for statement in statements:
            await cur.execute(statement)


@pytest.fixture(scope="session")
def my_url() -> Iterator[str]:
    """The URL of a fresh, migrated database for this test session, dropped afterwards."""
    name = f"wfkit_test_{uuid.uuid4().hex[:12]}"
    url = f"mysql://{USER}@{HOST}:{PORT}/{name}"

    async def create() -> None:
        conn = await _admin()
        try:
            await _run(conn, f"CREATE DATABASE `{name}`")
        finally:
            conn.close()
        async with mysql.RecordStore(url):  # migrate once
            pass

    async def drop() -> None:
        conn = await _admin()
        try:
            await _run(conn, f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()

    asyncio.run(create())
    try:
        yield url
    finally:
        asyncio.run(drop())


async def _empty(url: str) -> None:
    conn = await _admin(url.rsplit("/", 1)[1])
    try:
        await _run(conn, *(f"DELETE FROM {table}" for table in TABLES))
    finally:
        conn.close()


def _fresh(url: str, make: Any) -> Any:
    """An async context manager: empty every table, then enter the adapter `make()` builds."""

    @asynccontextmanager
    async def fresh() -> AsyncIterator[Any]:
        await _empty(url)
        async with make() as adapter:
            yield adapter

    return fresh()


def _db(url: str) -> mysql.Database:
    return mysql.Database(url, max_size=4)


# -- the contracts: empty tables per factory call -------------------------------------------


class TestRecordStore(RecordStoreContract):
    @pytest.fixture
    def record_store_factory(self, my_url: str) -> RecordStoreFactory:
        return lambda: _fresh(my_url, lambda: mysql.RecordStore(_db(my_url)))


class TestEventStreamer(EventStreamerContract):
    @pytest.fixture
    def event_streamer_factory(self, my_url: str) -> EventStreamerFactory:
        return lambda: _fresh(my_url, lambda: mysql.EventStreamer(_db(my_url)))


class TestTimeoutStore(TimeoutStoreContract):
    @pytest.fixture
    def timeout_store_factory(self, my_url: str) -> TimeoutStoreFactory:
        return lambda: _fresh(my_url, lambda: mysql.TimeoutStore(_db(my_url)))


class TestRoleScheduler(RoleSchedulerContract):
    @pytest.fixture
    def role_scheduler_factory(self, my_url: str) -> RoleSchedulerFactory:
        @asynccontextmanager
        async def deployment(instances: int) -> AsyncIterator[list[RoleScheduler]]:
            await _empty(my_url)  # one deployment: every "process" has its own pool on one database
            async with AsyncExitStack() as stack:
                yield [
                    await stack.enter_async_context(mysql.RoleScheduler(_db(my_url)))
                    for _ in range(instances)
                ]

        return deployment


# -- schema, URLs and errors -----------------------------------------------------------------


async def test_migrations_run_once_under_a_race_and_a_newer_schema_is_refused(my_url: str) -> None:
    name = f"wfkit_test_{uuid.uuid4().hex[:12]}"
    url = my_url.rsplit("/", 1)[0] + "/" + name
    conn = await _admin()
    try:
        await _run(conn, f"CREATE DATABASE `{name}`")
        stores = [mysql.RecordStore(_db(url)) for _ in range(4)]
        await asyncio.gather(*(s.open() for s in stores))  # "processes" opening a fresh database at once
        for s in stores:
            await s.close()
        async with conn.cursor() as cur:
            await cur.execute(f"SELECT version FROM `{name}`.wfkit_schema ORDER BY version")
            versions = list(await cur.fetchall())
            assert versions == [(n,) for n in range(1, mysql.SCHEMA_VERSION + 1)]  # each applied once
            await cur.execute(f"INSERT INTO `{name}`.wfkit_schema VALUES (%s)", (mysql.SCHEMA_VERSION + 1,))
        with pytest.raises(
            ConfigurationError,
            match=rf"schema version {mysql.SCHEMA_VERSION + 1}, newer than this wfkit.*upgrade wfkit",
        ):
            await mysql.RecordStore(_db(url)).open()
    finally:
        await _run(conn, f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


async def test_an_unreachable_server_is_a_wfkit_error_naming_host_and_port() -> None:
    started = time.monotonic()
    backend = connect_url("mysql://bob:s3cret@127.0.0.1:1/nowhere", connect_timeout=2)
    assert backend.url == "mysql://bob:***@127.0.0.1:1/nowhere"
    with pytest.raises(WfkitError, match=r"127\.0\.0\.1:1") as err:
        async with backend:
            pass
    assert "s3cret" not in str(err.value)
    assert time.monotonic() - started < 5


def test_a_bad_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="mysql://") as err:
        mysql.connect("postgresql://x:secret@h/db")
    assert "secret" not in str(err.value)
    with pytest.raises(ConfigurationError, match="mysql://"):
        mysql.connect("mysql://root@127.0.0.1:3306/")


# -- record store ----------------------------------------------------------------------------


async def test_two_backends_triggering_one_foreign_id_get_exactly_one_run(my_url: str) -> None:
    await _empty(my_url)
    async with connect_url(my_url) as a, connect_url(my_url) as b:
        for i in range(10):
            first, second = make_record(foreign_id=f"user-{i}"), make_record(foreign_id=f"user-{i}")
            results = await asyncio.gather(
                a.store.store(first), b.store.store(second), return_exceptions=True
            )
            assert results.count(None) == 1, results
            assert sum(isinstance(r, WorkflowInProgress) for r in results) == 1, results
            winner = first if results[0] is None else second
            loser = next(r for r in results if isinstance(r, WorkflowInProgress))
            assert loser.run_id == winner.run_id
        assert await b.store.count() == 10
        # connect() wires the store to its streamer: each winner's event went straight to the event
        # table in its own transaction (none for a loser), and nothing waits in the outbox
        events = await a.store._fetch("SELECT `key` FROM wfkit_events", ())
        winners = [(await a.store.latest("my_workflow", f"user-{i}")).run_id for i in range(10)]
        assert sorted(row[0] for row in events) == sorted(winners)
        assert await a.store.list_outbox("my_workflow") == []


async def test_versions_of_one_run_queued_together_commit_in_call_order(my_url: str) -> None:
    # Writes queued together share a transaction (group commit), at most one per run: a run's next
    # version waits for its previous one's batch, in the same batch or one running alongside.
    await _empty(my_url)
    async with connect_url(my_url) as backend:
        for n in range(20):
            first = make_record(foreign_id=f"run{n}")
            second = next_version(first, status=2, run_state=RunState.RUNNING)
            third = next_version(second, status=3)
            others = [make_record(foreign_id=f"other{n}-{i}") for i in range(n % 6)]
            results = await asyncio.gather(*(backend.store.store(r) for r in [first, *others, second, third]))
            assert results == [None] * (3 + len(others))
            assert await backend.store.history(first.run_id) == [first, second, third]


async def test_a_batch_gives_each_write_its_own_outcome(my_url: str) -> None:
    """Stale versions and a busy foreign id fail their own writes only, whatever batch they share."""
    await _empty(my_url)
    async with connect_url(my_url) as backend:
        store = backend.store
        runs = [make_record(foreign_id=f"user-{i}") for i in range(6)]
        await asyncio.gather(*(store.store(r) for r in runs))
        fresh = [next_version(r, status=2) for r in runs[:3]]
        stale = [next_version(next_version(r), status=3) for r in runs[3:]]  # skips a version
        # stale versions: the batch goes through, and only they are told why not
        results = await asyncio.gather(*(store.store(r) for r in [*fresh, *stale]), return_exceptions=True)
        assert results[:3] == [None] * 3
        assert all(isinstance(r, VersionConflict) for r in results[3:]), results
        # a busy foreign id spoils its batch: every write is retried alone, with its own answer
        busy = make_record(foreign_id="user-0")  # user-0's run is still active
        new = [make_record(foreign_id=f"user-new-{i}") for i in range(3)]
        results = await asyncio.gather(*(store.store(r) for r in [*new, busy]), return_exceptions=True)
        assert results[:3] == [None] * 3
        assert isinstance(results[3], WorkflowInProgress)
        assert results[3].run_id == runs[0].run_id
        assert [r.meta.version for r in await store.history(runs[0].run_id)] == [1, 2]
        assert [r.meta.version for r in await store.history(runs[5].run_id)] == [1]
        events = await store._fetch("SELECT `key` FROM wfkit_events", ())
        assert len(events) == len(runs) + len(fresh) + len(new)  # one per write that got through


# -- streamer --------------------------------------------------------------------------------


async def test_a_receiver_in_another_backend_sees_a_send_at_its_poll(my_url: str) -> None:
    await _empty(my_url)
    async with (
        mysql.EventStreamer(_db(my_url)) as writer,
        mysql.EventStreamer(_db(my_url), poll_frequency=0.05) as reader,
    ):
        receiver = await reader.receiver("t", "r")
        pending = asyncio.ensure_future(receiver.recv())
        await asyncio.sleep(0.2)  # the receiver is caught up and polling
        await (await writer.sender("t")).send("run-1", 3, {"a": "b"})
        event = await asyncio.wait_for(pending, 5)
        assert (event.key, event.type, dict(event.headers)) == ("run-1", 3, {"a": "b"})


async def test_a_send_through_the_same_streamer_wakes_a_receiver_before_its_poll(my_url: str) -> None:
    await _empty(my_url)
    async with mysql.EventStreamer(_db(my_url), poll_frequency=30) as streamer:
        receiver = await streamer.receiver("t", "r")
        pending = asyncio.ensure_future(receiver.recv())
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await (await streamer.sender("t")).send("run-1", 3, {})
        await asyncio.wait_for(pending, 5)
        assert time.monotonic() - started < 2
