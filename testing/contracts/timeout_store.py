"""The `TimeoutStore` contract: increasing ids, listing uncompleted timeouts, due-ness at `now`.

Subclass `TimeoutStoreContract` and override the `timeout_store_factory` fixture with a callable
returning an async context manager of a fresh, empty store that stamps `created_at` from the
wall clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from wfkit._ports import TimeoutStore
from wfkit._record import TimeoutRecord

from ._helpers import TimeoutStoreFactory, using

__all__ = ["TimeoutStoreContract", "TimeoutStoreFactory"]

WORKFLOW = "example"
TOLERANCE = timedelta(seconds=10)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def _seed(store: TimeoutStore, now: datetime) -> list[int]:
    """luno's seed: three timeouts of runs "1", "2", "3" at status 1, due an hour ago."""
    return [
        await store.create(WORKFLOW, "andrew", run_id, 1, now - timedelta(hours=1))
        for run_id in ("1", "2", "3")
    ]


def _check_row(row: TimeoutRecord, run_id: str, now: datetime) -> None:
    assert (row.workflow_name, row.foreign_id, row.run_id, row.status) == (
        WORKFLOW,
        "andrew",
        run_id,
        1,
    )
    assert not row.completed
    assert row.expire_at == now - timedelta(hours=1)
    assert abs(row.created_at - datetime.now(UTC)) < TOLERANCE


class TimeoutStoreContract:
    """Every behaviour the engine relies on from a `TimeoutStore` (luno's adaptertest and more)."""

    @pytest.fixture
    def timeout_store_factory(self) -> TimeoutStoreFactory:
        raise NotImplementedError("override the timeout_store_factory fixture in your subclass")

    def _run(self, factory: TimeoutStoreFactory, body: Callable[[TimeoutStore], Awaitable[None]]) -> None:
        using(factory, body)

    def test_list_returns_uncompleted_timeouts_by_id(
        self, timeout_store_factory: TimeoutStoreFactory
    ) -> None:
        async def body(store: TimeoutStore) -> None:
            now = _now()
            ids = await _seed(store, now)
            rows = await store.list(WORKFLOW)
            assert [r.id for r in rows] == ids
            for row, run_id in zip(rows, ("1", "2", "3"), strict=True):
                _check_row(row, run_id, now)
            assert await store.list("other_workflow") == []

        self._run(timeout_store_factory, body)

    def test_ids_increase_in_creation_order(self, timeout_store_factory: TimeoutStoreFactory) -> None:
        async def body(store: TimeoutStore) -> None:
            now = _now()
            ids = await _seed(store, now)
            ids.append(await store.create("other_workflow", "x", "4", 2, now))
            ids.append(await store.create(WORKFLOW, "y", "5", 1, now))
            assert ids == sorted(ids)
            assert len(set(ids)) == len(ids)

        self._run(timeout_store_factory, body)

    def test_complete_and_cancel(self, timeout_store_factory: TimeoutStoreFactory) -> None:
        async def body(store: TimeoutStore) -> None:
            now = _now()
            first, second, third = await _seed(store, now)
            await store.complete(second)
            await store.cancel(third)
            valid = await store.list_valid(WORKFLOW, 1, now)
            assert [r.id for r in valid] == [first]
            _check_row(valid[0], "1", now)
            assert [r.id for r in await store.list(WORKFLOW)] == [first]

        self._run(timeout_store_factory, body)

    def test_list_valid_includes_timeouts_due_exactly_now(
        self, timeout_store_factory: TimeoutStoreFactory
    ) -> None:
        async def body(store: TimeoutStore) -> None:
            now = _now()
            past = await store.create(WORKFLOW, "a", "1", 1, now - timedelta(seconds=1))
            exact = await store.create(WORKFLOW, "b", "2", 1, now)
            future = await store.create(WORKFLOW, "c", "3", 1, now + timedelta(seconds=1))
            assert [r.id for r in await store.list_valid(WORKFLOW, 1, now)] == [past, exact]
            later = now + timedelta(seconds=1)
            assert [r.id for r in await store.list_valid(WORKFLOW, 1, later)] == [
                past,
                exact,
                future,
            ]
            assert await store.list_valid(WORKFLOW, 1, now - timedelta(seconds=2)) == []

        self._run(timeout_store_factory, body)

    def test_list_valid_matches_workflow_and_status(self, timeout_store_factory: TimeoutStoreFactory) -> None:
        async def body(store: TimeoutStore) -> None:
            now = _now()
            due = now - timedelta(minutes=5)
            at_1 = await store.create(WORKFLOW, "a", "1", 1, due)
            at_2 = await store.create(WORKFLOW, "b", "2", 2, due)
            await store.create("other_workflow", "c", "3", 1, due)
            assert [r.id for r in await store.list_valid(WORKFLOW, 1, now)] == [at_1]
            assert [r.id for r in await store.list_valid(WORKFLOW, 2, now)] == [at_2]
            assert await store.list_valid(WORKFLOW, 3, now) == []
            assert await store.list_valid("no_such_workflow", 1, now) == []

        self._run(timeout_store_factory, body)

    def test_unknown_ids_are_no_ops(self, timeout_store_factory: TimeoutStoreFactory) -> None:
        async def body(store: TimeoutStore) -> None:
            now = _now()
            ids = await _seed(store, now)
            unknown = max(ids) + 1000
            await store.cancel(unknown)
            await store.complete(unknown)
            assert [r.id for r in await store.list(WORKFLOW)] == ids
            await store.cancel(ids[0])
            await store.cancel(ids[0])  # twice: still a no-op
            await store.complete(ids[1])
            await store.complete(ids[1])
            assert [r.id for r in await store.list(WORKFLOW)] == ids[2:]

        self._run(timeout_store_factory, body)

    def test_a_timeout_keeps_the_record_version_it_was_made_for(
        self, timeout_store_factory: TimeoutStoreFactory
    ) -> None:
        async def body(store: TimeoutStore) -> None:
            now = _now()
            pinned = await store.create(WORKFLOW, "a", "1", 1, now, version=7)
            unpinned = await store.create(WORKFLOW, "b", "2", 1, now)
            versions = {r.id: r.version for r in await store.list(WORKFLOW)}
            assert versions == {pinned: 7, unpinned: 0}
            assert [r.version for r in await store.list_valid(WORKFLOW, 1, now)] == [7, 0]

        self._run(timeout_store_factory, body)

    def test_list_of_one_run_and_the_next_expiry(self, timeout_store_factory: TimeoutStoreFactory) -> None:
        async def body(store: TimeoutStore) -> None:
            now = _now()
            first = await store.create(WORKFLOW, "a", "run-a", 1, now + timedelta(minutes=5))
            await store.create(WORKFLOW, "b", "run-b", 1, now + timedelta(minutes=1))
            third = await store.create(WORKFLOW, "a", "run-a", 2, now + timedelta(minutes=2))
            await store.create(WORKFLOW, "c", "run-c", 1, now - timedelta(minutes=1))
            assert [r.id for r in await store.list(WORKFLOW, run_id="run-a")] == [first, third]
            assert await store.list(WORKFLOW, run_id="nobody") == []
            assert await store.next_expiry(WORKFLOW, 1, now) == now + timedelta(minutes=1)
            assert await store.next_expiry(WORKFLOW, 1, now + timedelta(minutes=1)) == now + timedelta(
                minutes=5
            )
            assert await store.next_expiry(WORKFLOW, 1, now + timedelta(minutes=5)) is None
            assert await store.next_expiry(WORKFLOW, 3, now) is None
            await store.complete(first)
            assert await store.next_expiry(WORKFLOW, 1, now + timedelta(minutes=1)) is None
            assert [r.id for r in await store.list(WORKFLOW, run_id="run-a")] == [third]

        self._run(timeout_store_factory, body)
