"""The listing half of the `RecordStore` contract: creation order, sorts, paging, filters and counts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any, ClassVar

import pytest

from wfkit._ports import RecordStore
from wfkit._query import Order, RecordFilter, SortKey
from wfkit._record import Record
from wfkit._runstate import RunState

from ._helpers import T0, WORKFLOW, RecordStoreFactory, make_record, next_version, using

SECOND_WORKFLOW = "my_second_workflow"


async def _store_all(store: RecordStore, records: list[Record]) -> list[Record]:
    for r in records:
        await store.store(r)
    return records


def _ids(records: list[Record]) -> list[str]:
    return [r.run_id for r in records]


class RecordStoreListingCases:
    """Listing cases of `RecordStoreContract` (luno adaptertest §4.2 with paging edges)."""

    list_record_count: ClassVar[int] = 300
    """Runs created for the paging cases; the page sizes below assume at least 300."""

    @pytest.fixture
    def record_store_factory(self) -> RecordStoreFactory:
        raise NotImplementedError("override the record_store_factory fixture in your subclass")

    def _run(self, factory: RecordStoreFactory, body: Callable[[RecordStore], Awaitable[None]]) -> None:
        using(factory, body)

    def _paging_records(self) -> list[Record]:
        n = self.list_record_count
        return [
            make_record(
                workflow_name=WORKFLOW if i <= n // 2 else SECOND_WORKFLOW,
                foreign_id=f"user-{i}",
                created_at=T0 + timedelta(seconds=i),
            )
            for i in range(n)
        ]

    def test_empty_store_lists_nothing(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            assert await store.list() == []
            assert await store.list(WORKFLOW, order=Order.DESC) == []
            assert await store.count() == 0
            assert await store.count(WORKFLOW) == 0
            assert await store.list_outbox(WORKFLOW) == []

        self._run(record_store_factory, body)

    def test_list_pages_every_workflow_in_creation_order(
        self, record_store_factory: RecordStoreFactory
    ) -> None:
        async def body(store: RecordStore) -> None:
            records = await _store_all(store, self._paging_records())
            n = len(records)
            first = await store.list(offset=0, limit=53)
            assert first == records[:53]
            second = await store.list(offset=53, limit=100)
            assert second == records[53:153]
            assert second[0] != first[-1]
            assert _ids(await store.list(offset=153, limit=n - 153)) == _ids(records[153:])
            assert _ids(await store.list(offset=n - 50, limit=100)) == _ids(records[-50:])
            assert await store.list(offset=n, limit=10) == []
            assert await store.list(offset=n + 700, limit=10) == []
            assert await store.list(limit=0) == []
            assert _ids(await store.list()) == _ids(records[:25])  # the default page
            assert await store.count() == n

        self._run(record_store_factory, body)

    def test_descending_pages_from_the_newest(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            records = await _store_all(store, self._paging_records())
            newest_first = records[::-1]
            n = len(records)
            assert _ids(await store.list(limit=10, order=Order.DESC)) == _ids(newest_first[:10])
            page = await store.list(offset=10, limit=20, order=Order.DESC)
            assert _ids(page) == _ids(newest_first[10:30])
            tail = await store.list(offset=n - 50, limit=100, order=Order.DESC)
            assert _ids(tail) == _ids(newest_first[-50:])
            by_wf = await store.list(SECOND_WORKFLOW, limit=5, order=Order.DESC)
            assert _ids(by_wf) == _ids(newest_first[:5])

        self._run(record_store_factory, body)

    def test_list_by_workflow_name(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            records = [
                make_record(
                    workflow_name=WORKFLOW if i % 2 else SECOND_WORKFLOW,
                    foreign_id=f"user-{i}",
                    created_at=T0 + timedelta(seconds=i),
                )
                for i in range(200)
            ]
            await _store_all(store, records)
            mine = [r for r in records if r.workflow_name == WORKFLOW]
            got = await store.list(WORKFLOW, limit=2000)
            assert got == mine
            assert len(got) == 100
            assert _ids(await store.list(WORKFLOW, offset=90, limit=20)) == _ids(mine[90:])
            assert await store.count(WORKFLOW) == 100
            assert await store.count(SECOND_WORKFLOW) == 100
            assert await store.list("no_such_workflow") == []
            assert await store.count("no_such_workflow") == 0

        self._run(record_store_factory, body)

    def test_list_shows_the_latest_version_of_each_run(
        self, record_store_factory: RecordStoreFactory
    ) -> None:
        async def body(store: RecordStore) -> None:
            a = make_record(foreign_id="a")
            b = make_record(foreign_id="b", created_at=T0 + timedelta(seconds=1))
            await _store_all(store, [a, b])
            a2 = next_version(a, status=2, run_state=RunState.RUNNING)
            await store.store(a2)
            # Updating a run keeps its place in creation order.
            assert await store.list() == [a2, b]
            assert await store.list(order=Order.DESC) == [b, a2]
            assert await store.list(filters=RecordFilter(statuses=[1])) == [b]
            assert await store.list(filters=RecordFilter(statuses=[2])) == [a2]

        self._run(record_store_factory, body)

    def test_filter_by_foreign_id(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            records = []
            for i in range(40):
                state = RunState.COMPLETED if i < 38 else RunState.RUNNING
                fid = "andrew" if i % 2 else "zola"
                records.append(make_record(foreign_id=fid, run_state=state, status=3))
            await _store_all(store, records)
            for fid in ("andrew", "zola"):
                f = RecordFilter(foreign_ids=[fid])
                got = await store.list(filters=f, limit=100)
                assert got == [r for r in records if r.foreign_id == fid]
                assert await store.count(filters=f) == 20
            both = RecordFilter(foreign_ids=["andrew", "zola"])
            assert await store.count(filters=both) == 40
            assert await store.list(filters=RecordFilter(foreign_ids=["nobody"])) == []

        self._run(record_store_factory, body)

    def test_filter_by_run_state(self, record_store_factory: RecordStoreFactory) -> None:
        counts = {
            RunState.INITIATED: 10,
            RunState.RUNNING: 30,
            RunState.COMPLETED: 20,
            RunState.PAUSED: 3,
            RunState.CANCELLED: 1,
            RunState.DATA_DELETED: 15,
            RunState.REQUESTED_DATA_DELETED: 2,
        }

        async def body(store: RecordStore) -> None:
            i = 0
            for state, count in counts.items():
                for _ in range(count):
                    await store.store(make_record(foreign_id=f"user-{i}", run_state=state))
                    i += 1
            for state, count in counts.items():
                f = RecordFilter(run_states=[state])
                got = await store.list(filters=f, limit=1000)
                assert len(got) == count
                assert all(r.run_state == state for r in got)
                assert await store.count(filters=f) == count
            several = RecordFilter(run_states=[RunState.RUNNING, RunState.PAUSED])
            assert len(await store.list(filters=several, limit=1000)) == 33
            assert await store.count(filters=several) == 33

        self._run(record_store_factory, body)

    def test_filter_by_status(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            counts = {1: 10, 2: 60, 3: 20}
            i = 0
            for status, count in counts.items():
                for _ in range(count):
                    await store.store(make_record(foreign_id=f"user-{i}", status=status))
                    i += 1
            for status, count in counts.items():
                f = RecordFilter(statuses=[status])
                got = await store.list(filters=f, limit=100)
                assert len(got) == count
                assert all(r.status == status for r in got)
                assert await store.count(filters=f) == count
            assert await store.count(filters=RecordFilter(statuses=[1, 3])) == 30
            assert await store.count(filters=RecordFilter(statuses=[9])) == 0

        self._run(record_store_factory, body)

    def test_filter_by_created_at(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            records = [
                make_record(foreign_id=f"user-{i}", created_at=T0 + timedelta(seconds=i)) for i in range(10)
            ]
            await _store_all(store, records)
            minute = timedelta(minutes=1)
            around = RecordFilter(created_after=T0 - minute, created_before=T0 + minute)
            assert await store.count(filters=around) == 10
            assert await store.count(filters=RecordFilter(created_after=T0 + minute)) == 0
            assert await store.count(filters=RecordFilter(created_before=T0 - minute)) == 0
            # Both bounds are exclusive.
            after = RecordFilter(created_after=T0 + timedelta(seconds=2))
            assert await store.list(filters=after, limit=100) == records[3:]
            before = RecordFilter(created_before=T0 + timedelta(seconds=5))
            assert await store.list(filters=before, limit=100) == records[:5]
            window = RecordFilter(
                created_after=T0 + timedelta(seconds=2), created_before=T0 + timedelta(seconds=5)
            )
            assert await store.list(filters=window) == records[3:5]
            assert await store.list(filters=window, order=Order.DESC) == records[4:2:-1]

        self._run(record_store_factory, body)

    def test_filters_combine_with_paging(self, record_store_factory: RecordStoreFactory) -> None:
        async def body(store: RecordStore) -> None:
            records = [
                make_record(
                    workflow_name=WORKFLOW if i % 3 else SECOND_WORKFLOW,
                    foreign_id=f"user-{i}",
                    status=1 + i % 2,
                    created_at=T0 + timedelta(seconds=i),
                )
                for i in range(60)
            ]
            await _store_all(store, records)
            f = RecordFilter(statuses=[2], run_states=[RunState.INITIATED])
            want = [r for r in records if r.workflow_name == WORKFLOW and r.status == 2]
            assert await store.count(WORKFLOW, filters=f) == len(want)
            assert await store.list(WORKFLOW, filters=f, limit=100) == want
            assert await store.list(WORKFLOW, offset=3, limit=4, filters=f) == want[3:7]
            desc = await store.list(WORKFLOW, offset=3, limit=4, order=Order.DESC, filters=f)
            assert desc == want[::-1][3:7]
            none = RecordFilter(statuses=[2], run_states=[RunState.COMPLETED])
            assert await store.list(WORKFLOW, filters=none) == []

        self._run(record_store_factory, body)

    # -- sorting by other columns than creation order ------------------------------------------

    def _sortable_records(self) -> list[Record]:
        """Runs (latest versions, in creation order) whose every sort key ties with others'.

        Foreign ids differ in case and outside ASCII (code point order), statuses and versions
        repeat, and `updated_at` is out of creation order, with and without a fraction of a second.
        """
        names = ("order-b", "Order-a", "order-a", "order-é", "order-Z", "order-a1")
        records = []
        for i in range(48):
            record = make_record(
                workflow_name=WORKFLOW if i % 3 else SECOND_WORKFLOW,
                foreign_id=names[i % len(names)],
                status=1 + (i * 7) % 5,
                run_state=RunState.COMPLETED if i % 4 else RunState.CANCELLED,
                created_at=T0 + timedelta(seconds=i),
            )
            for _ in range((i * 5) % 4):
                record = next_version(record)
            if record.meta.version > 1:
                late = timedelta(seconds=100 + (i * 13) % 17, microseconds=500_000 if i % 5 == 0 else 0)
                record = replace(record, updated_at=T0 + late)
            records.append(record)
        return records

    async def _store_versions(self, store: RecordStore, records: list[Record]) -> None:
        """Create every run in order, then write each run's later versions up to the given one."""
        for r in records:
            await store.store(replace(r, meta=replace(r.meta, version=1), updated_at=r.created_at))
        for r in records:
            for version in range(2, r.meta.version + 1):
                at = r.updated_at if version == r.meta.version else r.created_at
                await store.store(replace(r, meta=replace(r.meta, version=version), updated_at=at))

    def test_sorts_by_every_key_both_ways_with_ties_in_creation_order(
        self, record_store_factory: RecordStoreFactory
    ) -> None:
        async def body(store: RecordStore) -> None:
            records = self._sortable_records()
            await self._store_versions(store, records)
            for sort in SortKey:
                for order in Order:
                    want = _sorted(records, sort, order)
                    got = await store.list(limit=1000, order=order, sort=sort)
                    assert _ids(got) == _ids(want), (sort, order)
                    assert got == want, (sort, order)
                    paged: list[Record] = []
                    for offset in range(0, len(records), 7):  # pages neither repeat nor skip a run
                        paged += await store.list(offset=offset, limit=7, order=order, sort=sort)
                    assert _ids(paged) == _ids(want), (sort, order)
                    assert _ids(await store.list(offset=40, limit=5, order=order, sort=sort)) == _ids(
                        want[40:45]
                    )
                    assert await store.list(offset=len(records), limit=5, order=order, sort=sort) == []
                    assert await store.list(limit=0, order=order, sort=sort) == []
            default = await store.list(limit=1000)
            assert default == await store.list(limit=1000, sort=SortKey.CREATED) == records

        self._run(record_store_factory, body)

    def test_sorts_combine_with_workflow_filters_and_paging(
        self, record_store_factory: RecordStoreFactory
    ) -> None:
        async def body(store: RecordStore) -> None:
            records = self._sortable_records()
            await self._store_versions(store, records)
            cases = [
                (WORKFLOW, RecordFilter()),
                (SECOND_WORKFLOW, RecordFilter(run_states=[RunState.COMPLETED])),
                (None, RecordFilter(statuses=[1, 3, 4])),
                (WORKFLOW, RecordFilter(foreign_ids=["order-a", "Order-a", "order-é"])),
                (None, RecordFilter(created_after=T0 + timedelta(seconds=9), statuses=[2, 5])),
            ]
            for workflow, filters in cases:
                chosen = [
                    r
                    for r in records
                    if (workflow is None or r.workflow_name == workflow) and filters.matches(r)
                ]
                assert await store.count(workflow, filters=filters) == len(chosen)
                for sort in SortKey:
                    for order in Order:
                        want = _sorted(chosen, sort, order)
                        got = await store.list(workflow, limit=1000, order=order, filters=filters, sort=sort)
                        assert _ids(got) == _ids(want), (workflow, filters, sort, order)
                        page = await store.list(
                            workflow, offset=2, limit=3, order=order, filters=filters, sort=sort
                        )
                        assert _ids(page) == _ids(want[2:5]), (workflow, filters, sort, order)

        self._run(record_store_factory, body)

    def test_sorting_by_updated_or_version_follows_the_latest_write(
        self, record_store_factory: RecordStoreFactory
    ) -> None:
        async def body(store: RecordStore) -> None:
            records = [
                make_record(foreign_id=f"user-{i}", created_at=T0 + timedelta(seconds=i)) for i in range(5)
            ]
            await _store_all(store, records)
            # Every key ties or agrees with creation order: each sort is creation order.
            for sort in SortKey:
                assert _ids(await store.list(sort=sort)) == _ids(records), sort
                assert _ids(await store.list(sort=sort, order=Order.DESC)) == _ids(records[::-1]), sort
            oldest = next_version(records[0], status=2, run_state=RunState.RUNNING)
            oldest = replace(oldest, updated_at=T0 + timedelta(minutes=5))
            await store.store(oldest)
            newest_first = await store.list(order=Order.DESC, sort=SortKey.UPDATED)
            assert _ids(newest_first) == _ids([oldest, *records[:0:-1]])
            assert (await store.list(order=Order.DESC, sort=SortKey.VERSION))[0] == oldest
            assert (await store.list(order=Order.DESC, sort=SortKey.STATUS))[0] == oldest
            assert _ids(await store.list(sort=SortKey.VERSION)) == _ids([*records[1:], oldest])
            # Creation order does not move.
            assert _ids(await store.list()) == _ids([oldest, *records[1:]])

        self._run(record_store_factory, body)


def _sorted(records: list[Record], sort: SortKey, order: Order) -> list[Record]:
    """What `list(sort=sort, order=order)` must return: by the key, ties by creation order."""
    keys: dict[SortKey, Callable[[Record], Any]] = {
        SortKey.CREATED: lambda r: 0,
        SortKey.UPDATED: lambda r: r.updated_at,
        SortKey.STATUS: lambda r: r.status,
        SortKey.FOREIGN_ID: lambda r: r.foreign_id,
        SortKey.VERSION: lambda r: r.meta.version,
    }
    key = keys[sort]
    ranked = sorted(enumerate(records), key=lambda pair: (key(pair[1]), pair[0]))
    if order is Order.DESC:
        ranked.reverse()
    return [r for _, r in ranked]
