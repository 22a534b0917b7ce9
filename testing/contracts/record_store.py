"""The `RecordStore` contract: CAS writes, one active run per foreign id, history, outbox, catalogue.

Subclass `RecordStoreContract` in a test module and override the `record_store_factory` fixture
with a callable returning an async context manager of a fresh, empty store.
"""

from __future__ import annotations

import asyncio

import pytest

from wfkit._errors import RecordNotFound, VersionConflict, WorkflowInProgress
from wfkit._graph import Edge, WorkflowInfo
from wfkit._ports import RecordStore
from wfkit._record import Header, outbox_event_for
from wfkit._runstate import RunState

from ._helpers import FOREIGN_ID, WORKFLOW, RecordStoreFactory, make_record, next_version
from ._record_store_listing import RecordStoreListingCases

__all__ = ["RecordStoreContract", "RecordStoreFactory"]


class RecordStoreContract(RecordStoreListingCases):
    """Every behaviour the engine relies on from a `RecordStore` (luno's adaptertest and more).

    Listing, paging and filters come from `RecordStoreListingCases`.
    """

    # -- reads and the update path -------------------------------------------------------

    def test_lookup_returns_the_stored_record(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            r = make_record()
            await store.store(r)
            assert await store.lookup(r.run_id) == r

        self._run(record_store_factory, body)

    def test_unknown_run_is_record_not_found(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            await store.store(make_record())
            with pytest.raises(RecordNotFound) as lookup_err:
                await store.lookup("no-such-run")
            assert lookup_err.value.run_id == "no-such-run"
            with pytest.raises(RecordNotFound):
                await store.history("no-such-run")
            with pytest.raises(RecordNotFound):
                await store.latest(WORKFLOW, "nobody")
            with pytest.raises(RecordNotFound):
                await store.latest("other_workflow", FOREIGN_ID)

        self._run(record_store_factory, body)

    def test_updates_replace_the_latest_version(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            v1 = make_record()
            await store.store(v1)
            assert await store.latest(WORKFLOW, FOREIGN_ID) == v1
            v2 = next_version(await store.lookup(v1.run_id), status=2, run_state=RunState.RUNNING)
            await store.store(v2)
            v3 = next_version(v2, status=3, run_state=RunState.COMPLETED)
            await store.store(v3)
            assert await store.lookup(v1.run_id) == v3
            assert await store.latest(WORKFLOW, FOREIGN_ID) == v3

        self._run(record_store_factory, body)

    def test_latest_is_the_most_recently_created_run(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            first = make_record(run_state=RunState.COMPLETED, status=3)
            await store.store(first)
            second = make_record()
            await store.store(second)
            assert await store.latest(WORKFLOW, FOREIGN_ID) == second
            # Writing to the older run again does not make it the latest.
            older = next_version(first, run_state=RunState.REQUESTED_DATA_DELETED)
            await store.store(older)
            assert await store.latest(WORKFLOW, FOREIGN_ID) == second

        self._run(record_store_factory, body)

    def test_history_has_every_version_ascending(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            versions = [make_record()]
            for status, state in [(2, RunState.RUNNING), (2, RunState.PAUSED), (3, RunState.RUNNING)]:
                versions.append(next_version(versions[-1], status=status, run_state=state))
            other = make_record(foreign_id="someone else")
            for i, v in enumerate(versions):
                await store.store(v)
                if i == 1:
                    await store.store(other)
            assert await store.history(versions[0].run_id) == versions
            assert [r.version for r in await store.history(versions[0].run_id)] == [1, 2, 3, 4]
            assert await store.history(other.run_id) == [other]

        self._run(record_store_factory, body)

    def test_data_deleted_scrubs_every_version(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            v1 = make_record(obj=b'{"secret":"v1"}')
            v2 = next_version(v1, status=2, run_state=RunState.COMPLETED, object=b'{"secret":"v2"}')
            v3 = next_version(v2, run_state=RunState.REQUESTED_DATA_DELETED)
            v4 = next_version(v3, run_state=RunState.DATA_DELETED, object=b'{"deleted":true}')
            for v in (v1, v2, v3, v4):
                await store.store(v)
            history = await store.history(v1.run_id)
            assert [r.object for r in history] == [b'{"deleted":true}'] * 4
            # Everything but the object is kept.
            assert history == [v.replace(object=b'{"deleted":true}') for v in (v1, v2, v3, v4)]
            assert await store.lookup(v1.run_id) == v4

        self._run(record_store_factory, body)

    # -- compare-and-set -----------------------------------------------------------------

    def test_stale_write_is_a_version_conflict(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            v1 = make_record()
            v2 = next_version(v1, status=2, run_state=RunState.RUNNING)
            await store.store(v1)
            await store.store(v2)
            stale = next_version(v1, status=3, run_state=RunState.RUNNING)
            with pytest.raises(VersionConflict) as err:
                await store.store(stale)
            assert (err.value.run_id, err.value.expected, err.value.actual) == (v1.run_id, 1, 2)
            assert await store.lookup(v1.run_id) == v2

        self._run(record_store_factory, body)

    def test_gap_write_is_a_version_conflict(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            v1 = make_record()
            await store.store(v1)
            gap = next_version(next_version(v1), status=3, run_state=RunState.RUNNING)
            with pytest.raises(VersionConflict) as err:
                await store.store(gap)
            assert (err.value.expected, err.value.actual) == (2, 1)
            assert await store.history(v1.run_id) == [v1]

        self._run(record_store_factory, body)

    def test_creating_a_run_twice_is_a_version_conflict(
        self, record_store_factory: RecordStoreFactory
    ) -> None:
        async def body(store: RecordStore) -> None:
            v1 = make_record()
            await store.store(v1)
            with pytest.raises(VersionConflict) as err:
                await store.store(v1.replace(status=2))
            assert (err.value.expected, err.value.actual) == (0, 1)
            # Also for a finished run, where the foreign id is free.
            done = make_record(foreign_id="done", run_state=RunState.COMPLETED)
            await store.store(done)
            with pytest.raises(VersionConflict):
                await store.store(done)

        self._run(record_store_factory, body)

    def test_updating_an_unknown_run_is_a_version_conflict(
        self, record_store_factory: RecordStoreFactory
    ) -> None:
        async def body(store: RecordStore) -> None:
            ghost = next_version(make_record())
            with pytest.raises(VersionConflict) as err:
                await store.store(ghost)
            assert (err.value.expected, err.value.actual) == (1, None)
            with pytest.raises(RecordNotFound):
                await store.lookup(ghost.run_id)

        self._run(record_store_factory, body)

    def test_racing_writers_from_one_version_one_wins(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            v1 = make_record()
            await store.store(v1)
            a = next_version(v1, status=2, run_state=RunState.RUNNING)
            b = next_version(v1, status=3, run_state=RunState.RUNNING)
            results = await asyncio.gather(store.store(a), store.store(b), return_exceptions=True)
            conflicts = [r for r in results if isinstance(r, VersionConflict)]
            assert len(conflicts) == 1, results
            assert results.count(None) == 1, results
            winner = a if results[0] is None else b
            assert await store.history(v1.run_id) == [v1, winner]
            assert [e.type for e in await store.list_outbox(WORKFLOW)] == [1, winner.status]

        self._run(record_store_factory, body)

    def test_failed_writes_leave_no_trace(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            v1 = make_record()
            await store.store(v1)
            with pytest.raises(VersionConflict):
                await store.store(next_version(next_version(v1)))
            with pytest.raises(WorkflowInProgress):
                await store.store(make_record())
            assert await store.history(v1.run_id) == [v1]
            assert await store.list_outbox(WORKFLOW) == [outbox_event_for(v1)]
            assert await store.count() == 1

        self._run(record_store_factory, body)

    # -- one active run per foreign id ---------------------------------------------------

    def test_second_active_run_is_workflow_in_progress(
        self, record_store_factory: RecordStoreFactory
    ) -> None:
        async def body(store: RecordStore) -> None:
            first = make_record()
            await store.store(first)
            current = first
            for state in (RunState.INITIATED, RunState.RUNNING, RunState.PAUSED):
                if state is not current.run_state:
                    current = next_version(current, run_state=state)
                    await store.store(current)
                with pytest.raises(WorkflowInProgress) as err:
                    await store.store(make_record())
                assert (err.value.workflow_name, err.value.foreign_id) == (WORKFLOW, FOREIGN_ID)
            assert await store.latest(WORKFLOW, FOREIGN_ID) == current

        self._run(record_store_factory, body)

    @pytest.mark.parametrize("finished", [RunState.COMPLETED, RunState.CANCELLED])
    def test_new_run_allowed_once_the_active_one_finishes(
        self, record_store_factory: RecordStoreFactory, finished: RunState
    ) -> None:
        async def body(store: RecordStore) -> None:
            first = make_record()
            running = next_version(first, run_state=RunState.RUNNING)
            for r in (first, running, next_version(running, run_state=finished)):
                await store.store(r)
            second = make_record()
            await store.store(second)
            assert await store.latest(WORKFLOW, FOREIGN_ID) == second
            with pytest.raises(WorkflowInProgress):
                await store.store(make_record())

        self._run(record_store_factory, body)

    def test_active_runs_are_per_workflow_and_foreign_id(
        self, record_store_factory: RecordStoreFactory
    ) -> None:
        async def body(store: RecordStore) -> None:
            await store.store(make_record())
            await store.store(make_record(foreign_id="someone else"))
            await store.store(make_record(workflow_name="other_workflow"))
            assert await store.count() == 3

        self._run(record_store_factory, body)

    def test_concurrent_creates_for_one_foreign_id_one_wins(
        self, record_store_factory: RecordStoreFactory
    ) -> None:
        async def body(store: RecordStore) -> None:
            a, b = make_record(), make_record()
            results = await asyncio.gather(store.store(a), store.store(b), return_exceptions=True)
            assert results.count(None) == 1, results
            assert sum(isinstance(r, WorkflowInProgress) for r in results) == 1, results
            winner = a if results[0] is None else b
            assert await store.latest(WORKFLOW, FOREIGN_ID) == winner
            assert await store.list() == [winner]

        self._run(record_store_factory, body)

    # -- many calls at once (stores that share transactions or queries must keep them apart) --

    def test_many_concurrent_writes_each_get_their_own_outcome(
        self, record_store_factory: RecordStoreFactory
    ) -> None:
        async def body(store: RecordStore) -> None:
            firsts = [make_record(foreign_id=f"f{i}") for i in range(12)]
            await asyncio.gather(*(store.store(r) for r in firsts))
            rivals = [
                (next_version(r, status=2, run_state=RunState.RUNNING), next_version(r, status=3))
                for r in firsts
            ]
            busy = [make_record(foreign_id=f"f{i}") for i in range(0, 12, 3)]  # foreign ids held above
            fresh = [make_record(foreign_id=f"new{i}") for i in range(6)]
            writes = [w for pair in rivals for w in pair] + busy + fresh
            results = await asyncio.gather(*(store.store(w) for w in writes), return_exceptions=True)
            outcome = dict(zip((id(w) for w in writes), results, strict=True))
            for first, (a, b) in zip(firsts, rivals, strict=True):
                pair = (outcome[id(a)], outcome[id(b)])
                assert pair.count(None) == 1, pair
                assert sum(isinstance(r, VersionConflict) for r in pair) == 1, pair
                winner = a if pair[0] is None else b
                assert await store.history(first.run_id) == [first, winner]
            assert all(isinstance(outcome[id(r)], WorkflowInProgress) for r in busy), results
            assert all(outcome[id(r)] is None for r in fresh), results
            assert await store.count() == 12 + 6
            assert len(await store.list_outbox(WORKFLOW)) == 12 + 12 + 6

        self._run(record_store_factory, body)

    def test_reactivating_a_run_onto_a_held_foreign_id_fails_alone(
        self, record_store_factory: RecordStoreFactory
    ) -> None:
        async def body(store: RecordStore) -> None:
            old = make_record()
            done = next_version(old, run_state=RunState.COMPLETED)
            await store.store(old)
            await store.store(done)
            holder = make_record()
            await store.store(holder)
            others = [make_record(foreign_id=f"other{i}") for i in range(5)]
            revived = next_version(done, run_state=RunState.RUNNING)
            results = await asyncio.gather(
                *(store.store(r) for r in [*others, revived]), return_exceptions=True
            )
            assert results[:5] == [None] * 5, results
            assert isinstance(results[5], WorkflowInProgress), results
            assert await store.history(old.run_id) == [old, done]
            assert await store.latest(WORKFLOW, FOREIGN_ID) == holder

        self._run(record_store_factory, body)

    def test_concurrent_lookups_each_get_their_run(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            records = [make_record(foreign_id=f"f{i}") for i in range(20)]
            await asyncio.gather(*(store.store(r) for r in records))
            asked = [r.run_id for r in records] + ["missing-1", records[3].run_id, "missing-2"]
            found = await asyncio.gather(*(store.lookup(i) for i in asked), return_exceptions=True)
            assert found[:20] == records
            assert isinstance(found[20], RecordNotFound)
            assert found[20].run_id == "missing-1"
            assert found[21] == records[3]
            assert isinstance(found[22], RecordNotFound)

        self._run(record_store_factory, body)

    # -- outbox --------------------------------------------------------------------------

    def test_each_write_adds_its_outbox_event(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            r = make_record()
            await store.store(r)
            events = await store.list_outbox(WORKFLOW)
            assert events == [outbox_event_for(r)]
            (event,) = events
            assert "outbox-id-" in event.id
            assert (event.workflow_name, event.topic, event.key, event.type) == (
                WORKFLOW,
                f"{WORKFLOW}-1",
                r.run_id,
                1,
            )
            assert event.headers[Header.FOREIGN_ID] == FOREIGN_ID
            assert event.headers[Header.WORKFLOW_NAME] == WORKFLOW
            assert event.headers[Header.TOPIC] == f"{WORKFLOW}-1"
            assert event.headers[Header.RECORD_VERSION] == "1"

        self._run(record_store_factory, body)

    def test_outbox_is_per_workflow_in_insertion_order(
        self, record_store_factory: RecordStoreFactory
    ) -> None:
        async def body(store: RecordStore) -> None:
            a1 = make_record()
            b1 = make_record(foreign_id="b")
            a2 = next_version(a1, status=2, run_state=RunState.RUNNING)
            other = make_record(workflow_name="other_workflow")
            a3 = next_version(a2, status=3, run_state=RunState.COMPLETED)
            for r in (a1, b1, other, a2, a3):
                await store.store(r)
            want = [outbox_event_for(r) for r in (a1, b1, a2, a3)]
            assert await store.list_outbox(WORKFLOW) == want
            assert await store.list_outbox(WORKFLOW, limit=2) == want[:2]
            assert await store.list_outbox("other_workflow") == [outbox_event_for(other)]
            assert await store.list_outbox("no_such_workflow") == []
            # A completed run's event goes to the run-state-change topic.
            assert want[-1].topic == f"{WORKFLOW}-run-state-change"

        self._run(record_store_factory, body)

    def test_delete_outbox_forgets_one_event(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            a, b = make_record(), make_record(foreign_id="b")
            await store.store(a)
            await store.store(b)
            first, second = await store.list_outbox(WORKFLOW)
            await store.delete_outbox(first.id)
            assert await store.list_outbox(WORKFLOW) == [second]
            await store.delete_outbox(first.id)  # again: a no-op
            await store.delete_outbox("outbox-id-unknown")
            assert await store.list_outbox(WORKFLOW) == [second]
            await store.delete_outbox(second.id)
            assert await store.list_outbox(WORKFLOW) == []
            assert await store.lookup(a.run_id) == a  # records are untouched

        self._run(record_store_factory, body)

    # -- catalogue -----------------------------------------------------------------------

    def test_catalogue_registers_and_lists_by_name(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            assert await store.workflows() == []
            orders = WorkflowInfo.from_edges(
                "orders",
                {1: "CREATED", 2: "PAID", 3: "FULFILLED"},
                (Edge(1, 2, "step"), Edge(2, 3, "callback")),
            )
            accounts = WorkflowInfo.from_edges(
                "accounts", {1: "OPENED", 2: "CLOSED"}, (Edge(1, 2, "timeout"),)
            )
            await store.register(orders)
            await store.register(accounts)
            assert await store.workflows() == [accounts, orders]
            orders_v2 = WorkflowInfo.from_edges("orders", {1: "CREATED", 2: "PAID"}, (Edge(1, 2, "step"),))
            await store.register(orders_v2)
            assert await store.workflows() == [accounts, orders_v2]

        self._run(record_store_factory, body)
