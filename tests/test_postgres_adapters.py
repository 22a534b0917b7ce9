"""The PostgreSQL adapters: every port contract on the real server, plus what only PostgreSQL promises.

A session fixture creates a fresh database `wfkit_test_<hex>` on 127.0.0.1:5432 and drops it at the
end; every factory call gets its own empty schema in it. An unreachable server fails the tests (it
never skips them): CI runs PostgreSQL, and so does every development machine (see INFRA.md).
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from wfkit import Builder, ConfigurationError, RandomIds, Run, RunState, WfkitError
from wfkit._errors import WorkflowInProgress
from wfkit._ports import RoleScheduler
from wfkit.adapters import connect as connect_url
from wfkit.adapters import postgres
from wfkit.adapters._sqlrows import COLUMNS as RECORD_COLUMNS
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

HOST, PORT = "127.0.0.1", 5432
_USERS = ("postgres", "root")
_ADMIN_DATABASES = ("postgres", "test")


async def _admin() -> tuple[str, asyncpg.Connection]:
    """A connection to a maintenance database as the first user that works (trust auth)."""
    errors: list[str] = []
    for user in _USERS:
        for dbname in _ADMIN_DATABASES:
            try:
                conn = await asyncpg.connect(host=HOST, port=PORT, user=user, database=dbname, timeout=5)
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                errors.append(f"{user}@{dbname}: {exc}")
                continue
            return user, conn
    pytest.fail(
        f"PostgreSQL is not reachable on {HOST}:{PORT} ({'; '.join(errors)}): start it "
        "(see DEVELOPERS.md); these tests never skip",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The URL of a fresh database for this test session, dropped afterwards."""
    name = f"wfkit_test_{uuid.uuid4().hex[:12]}"

    async def create() -> str:
        user, conn = await _admin()
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return user

    async def drop() -> None:
        _, conn = await _admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    user = asyncio.run(create())
    try:
        yield f"postgresql://{user}@{HOST}:{PORT}/{name}"
    finally:
        asyncio.run(drop())


_schemas = itertools.count()


def _fresh_schema() -> str:
    return f"s{next(_schemas)}_{uuid.uuid4().hex[:8]}"


def _db(url: str, schema: str | None = None) -> postgres.Database:
    return postgres.Database(url, schema=schema or _fresh_schema(), max_size=4)


# -- the contracts: a fresh schema per factory call --------------------------------------


class TestRecordStore(RecordStoreContract):
    @pytest.fixture
    def record_store_factory(self, pg_url: str) -> RecordStoreFactory:
        return lambda: postgres.RecordStore(_db(pg_url))


class TestEventStreamer(EventStreamerContract):
    @pytest.fixture
    def event_streamer_factory(self, pg_url: str) -> EventStreamerFactory:
        return lambda: postgres.EventStreamer(_db(pg_url))


class TestTimeoutStore(TimeoutStoreContract):
    @pytest.fixture
    def timeout_store_factory(self, pg_url: str) -> TimeoutStoreFactory:
        return lambda: postgres.TimeoutStore(_db(pg_url))


class TestRoleScheduler(RoleSchedulerContract):
    @pytest.fixture
    def role_scheduler_factory(self, pg_url: str) -> RoleSchedulerFactory:
        @asynccontextmanager
        async def deployment(instances: int) -> AsyncIterator[list[RoleScheduler]]:
            schema = _fresh_schema()  # one deployment: every "process" has its own pool on one schema
            async with AsyncExitStack() as stack:
                yield [
                    await stack.enter_async_context(postgres.RoleScheduler(_db(pg_url, schema)))
                    for _ in range(instances)
                ]

        return deployment


# -- schema, URLs and errors -------------------------------------------------------------


async def test_migrations_run_once_under_a_race_and_a_newer_schema_is_refused(pg_url: str) -> None:
    schema = _fresh_schema()
    stores = [postgres.RecordStore(_db(pg_url, schema)) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))  # "processes" opening a fresh schema at once
    for s in stores:
        await s.close()
    conn = await asyncpg.connect(pg_url, server_settings={"search_path": schema})
    try:
        versions = await conn.fetch("SELECT version FROM wfkit_schema ORDER BY version")
        assert versions == [(n,) for n in range(1, postgres.SCHEMA_VERSION + 1)]  # each applied once
        await conn.execute("INSERT INTO wfkit_schema (version) VALUES ($1)", postgres.SCHEMA_VERSION + 1)
    finally:
        await conn.close()
    with pytest.raises(
        ConfigurationError,
        match=rf"schema version {postgres.SCHEMA_VERSION + 1}, newer than this wfkit.*upgrade wfkit",
    ):
        await postgres.RecordStore(_db(pg_url, schema)).open()


async def test_lookups_keep_using_the_run_id_index_after_a_fresh_table_grows(pg_url: str) -> None:
    # PostgreSQL's default may keep the plan made while the table was nearly empty (a scan of it
    # all) for the connection's life; wfkit's sessions plan each execution for the table as it is.
    db = postgres.Database(pg_url, schema=_fresh_schema(), min_size=1, max_size=1)  # one connection
    async with postgres.RecordStore(db) as store:
        runs = [make_record(foreign_id=f"f-{n}") for n in range(16)]
        for run in runs:
            await store.store(run)
        for _ in range(12):  # past the five runs after which PostgreSQL may switch to a generic plan
            found = await asyncio.gather(*(store.lookup(run.run_id) for run in runs))  # one IN (16 ids)
            assert [r.run_id for r in found] == [run.run_id for run in runs]
        await db.pool.execute(
            f"INSERT INTO wfkit_runs ({RECORD_COLUMNS}) SELECT 'r' || n, 1, workflow_name, 'g' || n, "
            "run_state, status, object, created_at, updated_at, created_us, run_state_reason, "
            "status_description, trace_origin, traceparent FROM (SELECT * FROM wfkit_runs LIMIT 1) AS one, "
            "generate_series(1, 2000) AS n"
        )
        async with db.pool.raw.acquire() as conn:
            name = await conn.fetchval(
                "SELECT name FROM pg_prepared_statements WHERE statement LIKE '%WHERE run_id IN (%$16)'"
            )
            ids = ", ".join(f"'r{n}'" for n in range(16))
            plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE {name}({ids})")
    assert "Index Scan" in plan, plan
    assert '"Seq Scan"' not in plan, plan


async def test_versions_of_one_run_queued_together_commit_in_call_order(pg_url: str) -> None:
    # A batch is one statement that sees the runs as committed when it began, so a run's next
    # version waits for its previous one's batch, in the same batch or one running alongside.
    async with postgres.RecordStore(_db(pg_url)) as store:
        for n in range(20):
            first = make_record(foreign_id=f"run{n}")
            second = next_version(first, status=2, run_state=RunState.RUNNING)
            third = next_version(second, status=3)
            others = [make_record(foreign_id=f"other{n}-{i}") for i in range(n % 6)]
            results = await asyncio.gather(*(store.store(r) for r in [first, *others, second, third]))
            assert results == [None] * (3 + len(others))
            assert await store.history(first.run_id) == [first, second, third]


async def test_an_unreachable_server_is_a_wfkit_error_naming_host_and_port() -> None:
    started = time.monotonic()
    backend = connect_url("postgresql://bob:s3cret@127.0.0.1:1/nowhere", connect_timeout=2)
    assert backend.url == "postgresql://bob:***@127.0.0.1:1/nowhere"
    with pytest.raises(WfkitError, match=r"127\.0\.0\.1:1") as err:
        async with backend:
            pass
    assert "s3cret" not in str(err.value)
    assert time.monotonic() - started < 5


def test_a_bad_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="postgresql://"):
        postgres.connect("mysql://x:secret@h/db")


# -- record store ------------------------------------------------------------------------


async def test_two_pools_triggering_one_foreign_id_get_exactly_one_run(pg_url: str) -> None:
    schema = _fresh_schema()
    async with postgres.RecordStore(_db(pg_url, schema)) as a, postgres.RecordStore(_db(pg_url, schema)) as b:
        for i in range(10):
            first, second = make_record(foreign_id=f"user-{i}"), make_record(foreign_id=f"user-{i}")
            results = await asyncio.gather(a.store(first), b.store(second), return_exceptions=True)
            assert results.count(None) == 1, results
            assert sum(isinstance(r, WorkflowInProgress) for r in results) == 1, results
            winner = first if results[0] is None else second
            loser = next(r for r in results if isinstance(r, WorkflowInProgress))
            assert loser.run_id == winner.run_id
        assert await b.count() == 10
        assert len(await a.list_outbox("my_workflow")) == 10


async def test_a_notify_wakes_a_subscriber_in_another_backend_at_once(pg_url: str) -> None:
    schema = _fresh_schema()
    async with (
        connect_url(pg_url, schema=schema) as writer,
        connect_url(pg_url, schema=schema) as reader,
    ):
        woke = asyncio.Event()
        assert isinstance(reader.store, postgres.RecordStore)
        unsubscribe = reader.store.subscribe("my_workflow", woke.set)
        started = time.monotonic()
        await writer.store.store(make_record())
        await asyncio.wait_for(woke.wait(), 5)
        assert time.monotonic() - started < 1
        unsubscribe()


# -- streamer ------------------------------------------------------------------------------


async def test_a_receiver_in_another_backend_wakes_on_notify_not_on_its_poll(pg_url: str) -> None:
    schema = _fresh_schema()
    async with (
        postgres.EventStreamer(_db(pg_url, schema)) as writer,
        postgres.EventStreamer(_db(pg_url, schema), poll_frequency=30) as reader,
    ):
        receiver = await reader.receiver("t", "r")
        pending = asyncio.ensure_future(receiver.recv())
        await asyncio.sleep(0.2)  # the receiver is caught up and waiting
        started = time.monotonic()
        await (await writer.sender("t")).send("run-1", 3, {"a": "b"})
        event = await asyncio.wait_for(pending, 5)
        assert time.monotonic() - started < 2
        assert (event.key, event.type, dict(event.headers)) == ("run-1", 3, {"a": "b"})


# -- a workflow on connect("postgresql://...") ---------------------------------------------


class Step(enum.IntEnum):
    CREATED = 1
    CHECKED = 2
    DONE = 3


@dataclass
class Order:
    amount: int = 0
    log: str = ""


async def _check(run: Run[Order, Step]) -> Step:
    run.object.log += "checked;"
    return Step.CHECKED


async def _finish(run: Run[Order, Step]) -> Step:
    run.object.log += "done;"
    return Step.DONE


def _builder() -> Builder[Order, Step]:
    b = Builder("orders", Order, Step)
    b.add_step(Step.CREATED, _check, Step.CHECKED)
    b.add_step(Step.CHECKED, _finish, Step.DONE)
    return b


async def test_a_notify_wakes_the_relay_of_a_workflow_in_another_backend(pg_url: str) -> None:
    """Backend B runs the workflow (relay poll 30 s); backend A writes a run: B's relay wakes at once."""
    schema = _fresh_schema()
    options: dict[str, Any] = {"schema": schema, "poll_frequency": 30}
    async with connect_url(pg_url, **options) as a, connect_url(pg_url, **options) as b:
        wf = b.build(_builder(), metrics=CollectorRegistry(), ids=RandomIds(3))
        async with wf:
            await asyncio.sleep(0.3)  # B's relay has looked once and now idles on its long poll
            started = time.monotonic()
            await a.store.store(make_record(workflow_name="orders", foreign_id="order-1", obj=b"{}"))
            async with asyncio.timeout(5):
                while await a.store.list_outbox("orders"):
                    await asyncio.sleep(0.01)
            assert time.monotonic() - started < 3
