"""The SQLite adapters: every port contract on temp files, plus what only SQLite promises."""

from __future__ import annotations

import asyncio
import enum
import itertools
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from wfkit import Builder, ConfigurationError, RandomIds, Run, RunState
from wfkit._errors import RoleLost, WorkflowInProgress
from wfkit._ports import RoleScheduler
from wfkit._runstate import RunState as _RunState
from wfkit.adapters import connect as connect_url
from wfkit.adapters import sqlite
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

# -- the contracts: a fresh temp file per factory call -----------------------------------


@pytest.fixture
def db_files(tmp_path: Path) -> Iterator[str]:
    """Fresh database paths inside this test's temp directory."""
    return (str(tmp_path / f"wfkit-{i}.db") for i in itertools.count())


class TestRecordStore(RecordStoreContract):
    @pytest.fixture
    def record_store_factory(self, db_files: Iterator[str]) -> RecordStoreFactory:
        return lambda: sqlite.RecordStore(next(db_files))


class TestEventStreamer(EventStreamerContract):
    @pytest.fixture
    def event_streamer_factory(self, db_files: Iterator[str]) -> EventStreamerFactory:
        return lambda: sqlite.EventStreamer(next(db_files))


class TestTimeoutStore(TimeoutStoreContract):
    @pytest.fixture
    def timeout_store_factory(self, db_files: Iterator[str]) -> TimeoutStoreFactory:
        return lambda: sqlite.TimeoutStore(next(db_files))


class TestRoleScheduler(RoleSchedulerContract):
    @pytest.fixture
    def role_scheduler_factory(self, db_files: Iterator[str]) -> RoleSchedulerFactory:
        @asynccontextmanager
        async def deployment(instances: int) -> AsyncIterator[list[RoleScheduler]]:
            path = next(db_files)  # one deployment: every "process" has its own connection to one file
            async with AsyncExitStack() as stack:
                yield [await stack.enter_async_context(sqlite.RoleScheduler(path)) for _ in range(instances)]

        return deployment


# -- schema and URLs ---------------------------------------------------------------------


async def test_a_schema_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    async with sqlite.RecordStore(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO wfkit_schema (version) VALUES (?)", (sqlite.SCHEMA_VERSION + 1,))
    conn.close()
    store = sqlite.RecordStore(path)
    with pytest.raises(
        ConfigurationError,
        match=rf"schema version {sqlite.SCHEMA_VERSION + 1}, newer than this wfkit.*upgrade wfkit",
    ):
        await store.open()


async def test_the_file_is_in_wal_mode_with_a_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    async with sqlite.TimeoutStore(path), sqlite.EventStreamer(path):  # two opens migrate once
        pass
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        versions = conn.execute("SELECT version FROM wfkit_schema ORDER BY version").fetchall()
        assert versions == [(n,) for n in range(1, sqlite.SCHEMA_VERSION + 1)]  # each applied once
    conn.close()


def test_a_missing_directory_is_a_configuration_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="missing-dir") as err:
        connect_url("sqlite:///missing-dir/x.db")
    assert "does not exist" in str(err.value)
    with pytest.raises(ConfigurationError, match="/no/such/place"):
        connect_url("sqlite:////no/such/place/x.db")
    assert not (tmp_path / "missing-dir").exists()  # never created


def test_relative_and_absolute_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert connect_url("sqlite:///rel.db").url == "sqlite:///rel.db"
    with pytest.raises(ConfigurationError, match="sqlite:///"):
        connect_url("sqlite://host/x.db")

    async def main() -> None:
        async with connect_url("sqlite:///rel.db"):
            pass
        async with connect_url(f"sqlite:///{tmp_path}/abs.db"):  # = sqlite:////tmp/.../abs.db
            pass

    asyncio.run(main())
    assert (tmp_path / "rel.db").exists()
    assert (tmp_path / "abs.db").exists()


# -- record store ------------------------------------------------------------------------


async def test_two_connections_creating_one_foreign_id_get_one_run(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    async with sqlite.RecordStore(path) as a, sqlite.RecordStore(path) as b:
        first, second = make_record(), make_record()
        results = await asyncio.gather(a.store(first), b.store(second), return_exceptions=True)
        assert results.count(None) == 1, results
        assert sum(isinstance(r, WorkflowInProgress) for r in results) == 1, results
        winner = first if results[0] is None else second
        assert await b.list() == [winner]
        assert len(await a.list_outbox(winner.workflow_name)) == 1


async def test_a_conflicting_write_rolls_back_and_the_connection_stays_usable(tmp_path: Path) -> None:
    async with sqlite.RecordStore(tmp_path / "s.db") as store:
        v1 = make_record()
        await store.store(v1)
        with pytest.raises(WorkflowInProgress) as err:
            await store.store(make_record())
        assert err.value.run_id == v1.run_id  # names the run holding the foreign id
        v2 = next_version(v1, status=2, run_state=_RunState.RUNNING)
        await store.store(v2)
        assert await store.history(v1.run_id) == [v1, v2]


_RACER = """
import asyncio, sys, uuid
from wfkit._errors import WorkflowInProgress
from wfkit.adapters import sqlite
from wfkit.testing.contracts._helpers import make_record

async def main() -> None:
    won = lost = 0
    async with sqlite.RecordStore(sys.argv[1]) as store:
        for i in range(40):
            try:
                await store.store(make_record(str(uuid.uuid4()), foreign_id=f"user-{i}"))
                won += 1
            except WorkflowInProgress:
                lost += 1
    print(won, lost)

asyncio.run(main())
"""


async def test_processes_racing_on_one_file_create_one_run_per_foreign_id(tmp_path: Path) -> None:
    path = tmp_path / "procs.db"
    async with sqlite.RecordStore(path) as store:  # created and migrated before the racers start
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", _RACER, str(path), stdout=asyncio.subprocess.PIPE, cwd=tmp_path
            )
            for _ in range(3)
        ]
        outputs = [await asyncio.wait_for(p.communicate(), 30) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0]
        counts = [tuple(map(int, out.split())) for out, _ in outputs]
        assert all(won + lost == 40 for won, lost in counts), counts
        assert sum(won for won, _ in counts) == 40, counts
        assert await store.count() == 40
        assert len(await store.list_outbox("my_workflow", limit=100)) == 40


# -- streamer and roles ------------------------------------------------------------------


async def test_receivers_see_another_connections_sends_by_polling(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    async with (
        sqlite.EventStreamer(path) as writer,
        sqlite.EventStreamer(path, poll_frequency=0.01) as reader,
    ):
        receiver = await reader.receiver("t", "r")
        pending = asyncio.ensure_future(receiver.recv())
        await (await writer.sender("t")).send("run-1", 3, {"a": "b"})
        event = await asyncio.wait_for(pending, 5)
        assert (event.key, event.type, dict(event.headers)) == ("run-1", 3, {"a": "b"})


async def test_a_lost_lease_cancels_the_body_with_role_lost(tmp_path: Path) -> None:
    path = tmp_path / "roles.db"
    async with sqlite.RoleScheduler(path, lease=0.3) as roles:
        entered = asyncio.Event()

        async def holder() -> None:
            async with roles.hold("r"):
                entered.set()
                with sqlite3.connect(path) as conn:  # another process steals the lease
                    conn.execute("UPDATE wfkit_leases SET holder = 'thief', fence = fence + 1")
                conn.close()
                await asyncio.sleep(10)

        with pytest.raises(RoleLost):
            await asyncio.wait_for(holder(), 5)
        assert entered.is_set()


async def test_an_abandoned_lease_expires_and_moves_on(tmp_path: Path) -> None:
    path = tmp_path / "roles.db"
    async with sqlite.RoleScheduler(path, lease=0.3) as a, sqlite.RoleScheduler(path, lease=0.3) as b:
        hold = a.hold("r")
        await hold.__aenter__()
        assert hold._renewer is not None
        hold._renewer.cancel()  # the holder "dies": nobody renews
        await asyncio.wait_for(_hold_once(b, "r"), 5)


async def _hold_once(roles: sqlite.RoleScheduler, role: str) -> None:
    async with roles.hold(role):
        pass


# -- a workflow on connect("sqlite:///...") ----------------------------------------------


class Step(enum.IntEnum):
    CREATED = 1
    CHECKED = 2
    PAID = 3
    DONE = 4


@dataclass
class Order:
    amount: int = 0
    log: str = ""


async def _check(run: Run[Order, Step]) -> Step:
    run.object.log += "checked;"
    return Step.CHECKED


async def _pay(run: Run[Order, Step]) -> Step:
    run.object.log += "paid;"
    return Step.PAID


async def _finish(run: Run[Order, Step]) -> Step:
    run.object.log += "done;"
    return Step.DONE


def _builder() -> Builder[Order, Step]:
    b = Builder("orders", Order, Step)
    b.add_step(Step.CREATED, _check, Step.CHECKED)
    b.add_step(Step.CHECKED, _pay, Step.PAID)
    b.add_step(Step.PAID, _finish, Step.DONE)
    return b


def test_a_workflow_runs_to_completion_and_a_second_backend_sees_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = "sqlite:///orders.db"

    async def first_process() -> str:
        async with connect_url(url) as backend:
            wf = backend.build(_builder(), metrics=CollectorRegistry(), ids=RandomIds(7))
            async with wf:
                run_id = await wf.trigger("order-1", initial=Order(amount=5))
                run = await wf.await_status("order-1", run_id, Step.DONE, timeout=10)
                async with asyncio.timeout(10):  # the relay publishes, then deletes, the last event
                    while await backend.store.list_outbox("orders"):
                        await asyncio.sleep(0.01)
            assert run.object == Order(amount=5, log="checked;paid;done;")
            assert run.run_state is RunState.COMPLETED
            return run_id

    async def second_process(run_id: str) -> None:
        async with connect_url(url) as backend:
            record = await backend.store.lookup(run_id)
            assert (record.status, record.run_state) == (Step.DONE, RunState.COMPLETED)
            assert [r.status for r in await backend.store.history(run_id)] == [1, 2, 3, 4]
            assert [w.name for w in await backend.store.workflows()] == ["orders"]
            assert await backend.store.list_outbox("orders") == []

    run_id = asyncio.run(first_process())
    assert os.path.exists(tmp_path / "orders.db")
    asyncio.run(second_process(run_id))
    with sqlite3.connect(tmp_path / "orders.db") as db:  # await_status's one-off wait left no cursor
        names = [row[0] for row in db.execute("SELECT name FROM wfkit_cursors")]
    assert names
    assert not [name for name in names if name.startswith("await-")], names


async def test_a_commit_by_another_process_wakes_a_waiting_receiver_at_once(tmp_path: Path) -> None:
    """Two streamers on one file, each its own connection (as two worker processes): a receiver
    opened with a 30 s poll still wakes within the streamer's short watch of `data_version`."""
    path = tmp_path / "wake.db"
    async with (
        sqlite.EventStreamer(path) as writer,
        sqlite.EventStreamer(path, poll_frequency=0.05) as reader,
    ):
        receiver = await reader.receiver("t", "r", poll_frequency=30)
        pending = asyncio.ensure_future(receiver.recv())
        await asyncio.sleep(0.2)  # caught up and waiting
        loop = asyncio.get_running_loop()
        started = loop.time()
        await (await writer.sender("t")).send("run-1", 3, {"a": "b"})
        event = await asyncio.wait_for(pending, 5)
        assert event.key == "run-1"
        assert loop.time() - started < 1  # not the receiver's own 30 s poll


async def test_outbox_rows_from_a_store_without_a_streamer_are_still_relayed(tmp_path: Path) -> None:
    """A worker from `connect()` appends events itself and reads its (empty) outbox table only now and
    then (`QuietOutbox`); a run created through a plain store, which writes an outbox row instead,
    still runs to the end."""
    path = tmp_path / "mixed.db"
    async with connect_url(f"sqlite:///{path}") as backend:
        wf = backend.build(_builder(), metrics=CollectorRegistry(), ids=RandomIds(3))
        async with wf:
            async with sqlite.RecordStore(path) as plain:
                first = make_record(workflow_name="orders", foreign_id="legacy", status=int(Step.CREATED))
                await plain.store(first)
                assert len(await plain.list_outbox("orders")) == 1
            run = await wf.await_status("legacy", first.run_id, Step.DONE, timeout=10)
            assert run.run_state is RunState.COMPLETED
