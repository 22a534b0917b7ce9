"""Regressions from the engine review: no hot loops, no double timeouts, no lost callbacks.

Most run on the deterministic `SimLoop` (virtual time), so "how often did it retry in a minute"
is exact and a hot loop shows up as a budget overrun instead of a hung test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _workflows import Doc, Status
from prometheus_client import CollectorRegistry

import wfkit
from wfkit.adapters import memory
from wfkit.testing._simloop import run as sim_run


class SimClock:
    """Business time = the SimLoop's virtual time."""

    def now(self) -> datetime:
        return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=asyncio.get_running_loop().time())

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)


class CountingTimeouts(memory.TimeoutStore):
    """A memory timeout store that counts polls and fails on a runaway poller."""

    def __init__(self, clock: wfkit.Clock, fail_complete: int = 0) -> None:
        super().__init__(clock=clock)
        self.polls = 0
        self.fail_complete = fail_complete

    async def list_valid(self, workflow_name: str, status: int, now: datetime) -> list[wfkit.TimeoutRecord]:
        self.polls += 1
        if self.polls > 10_000:
            raise AssertionError("the timeout poller is spinning")
        return await super().list_valid(workflow_name, status, now)

    async def complete(self, timeout_id: int) -> None:
        if self.fail_complete:
            self.fail_complete -= 1
            raise ConnectionError("timeout store unavailable")
        await super().complete(timeout_id)


def simulate(body: Callable[[], Awaitable[Any]]) -> Any:
    return sim_run(body(), seed=1)


def build(b: wfkit.Builder[Doc, Status], clock: Any, **kw: Any) -> wfkit.Workflow[Doc, Status]:
    kw.setdefault("timeout_store", memory.TimeoutStore(clock=clock))
    return b.build(
        kw.pop("streamer", None) or memory.EventStreamer(clock=clock),
        kw.pop("store", None) or memory.RecordStore(clock=clock),
        kw.pop("roles", None) or memory.RoleScheduler(),
        clock=clock,
        metrics=CollectorRegistry(),
        ids=wfkit.RandomIds(3),
        **kw,
    )


def test_a_step_awaiting_a_cancelled_future_backs_off_instead_of_spinning() -> None:
    calls = 0

    async def step(run: wfkit.Run[Doc, Status]) -> Status:
        nonlocal calls
        calls += 1
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.cancel()
        await fut
        return Status.MIDDLE

    async def main() -> None:
        b = wfkit.Builder("cancelled future", Doc, Status)
        b.add_step(Status.START, step, Status.MIDDLE, error_backoff=1)
        b.add_step(Status.MIDDLE, lambda run: Status.END, Status.END)
        async with build(b, SimClock()) as wf:
            await wf.trigger("doc")
            await asyncio.sleep(10)

    simulate(main)
    assert 5 <= calls <= 12  # about one attempt per virtual second of backoff


def test_a_due_timeout_of_a_paused_run_does_not_spin_the_poller() -> None:
    clock = SimClock()
    timeouts = CountingTimeouts(clock)

    async def wait(run: wfkit.Run[Doc, Status]) -> Status:
        return Status.END

    async def main() -> None:
        b = wfkit.Builder("paused timeout", Doc, Status)
        b.add_step(Status.START, lambda run: Status.MIDDLE, Status.MIDDLE)
        b.add_timeout(Status.MIDDLE, wfkit.after(5), lambda run, now: Status.END, Status.END)
        async with build(b, clock, timeout_store=timeouts) as wf:
            run_id = await wf.trigger("doc")
            await wf.await_status("doc", run_id, Status.MIDDLE, timeout=5)
            await asyncio.sleep(1)
            await wf.pause(run_id, "hold on")
            await asyncio.sleep(60)
            record = await wf.store.lookup(run_id)
            assert record.run_state is wfkit.RunState.PAUSED
            assert record.status == Status.MIDDLE

    simulate(main)
    assert timeouts.polls < 400  # polling every 0.5 s for a minute, not a hot loop


def test_a_timeout_whose_completion_failed_is_not_applied_twice() -> None:
    clock = SimClock()
    timeouts = CountingTimeouts(clock, fail_complete=1)
    reminders = 0

    async def remind(run: wfkit.Run[Doc, Status], now: datetime) -> Status:
        nonlocal reminders
        reminders += 1
        run.object.steps.append(f"reminder {reminders}")
        return Status.MIDDLE

    async def main() -> list[wfkit.Record]:
        b = wfkit.Builder("reminders", Doc, Status)
        b.add_step(Status.START, lambda run: Status.MIDDLE, Status.MIDDLE)
        b.add_timeout(Status.MIDDLE, wfkit.after(60), remind, Status.MIDDLE, error_backoff=0.1)
        b.add_callback(Status.MIDDLE, lambda run, payload: Status.END, Status.END)
        async with build(b, clock, timeout_store=timeouts) as wf:
            run_id = await wf.trigger("doc")
            await asyncio.sleep(90)  # one expiry at 60 s; the next would be due at 120 s
            return await wf.store.history(run_id)

    history = simulate(main)
    fired = [r for r in history if r.status == Status.MIDDLE and r.meta.version > 2]
    assert len(fired) == 1, [(r.meta.version, r.object) for r in history]


def test_a_callback_that_loses_a_race_is_applied_after_looking_again() -> None:
    async def main() -> wfkit.Record:
        store = memory.RecordStore()
        raced = False

        async def paid(run: wfkit.Run[Doc, Status], payload: bytes) -> Status:
            nonlocal raced
            if not raced:
                raced = True
                await wf.retry(run.run_id)  # someone else writes the run meanwhile
            return Status.END

        b = wfkit.Builder("callback race", Doc, Status)
        b.add_step(Status.START, lambda run: Status.MIDDLE, Status.MIDDLE)
        b.add_callback(Status.MIDDLE, paid, Status.END)
        wf = build(b, SimClock(), store=store)
        async with wf:
            run_id = await wf.trigger("doc")
            await wf.await_status("doc", run_id, Status.MIDDLE, timeout=5)
            await wf.callback("doc", Status.MIDDLE, b"{}")
            return await store.lookup(run_id)

    record = simulate(main)
    assert record.status == Status.END


def test_a_failing_step_backs_off_across_workers_too() -> None:
    calls = 0

    async def step(run: wfkit.Run[Doc, Status]) -> Status:
        nonlocal calls
        calls += 1
        raise ConnectionError("downstream unavailable")

    async def main() -> None:
        clock = SimClock()
        shared: dict[str, Any] = {
            "streamer": memory.EventStreamer(clock=clock),
            "roles": memory.RoleScheduler(),
        }
        store = memory.RecordStore(clock=clock)
        b = wfkit.Builder("busy", Doc, Status)
        b.add_step(Status.START, step, Status.MIDDLE, error_backoff=1)
        b.add_step(Status.MIDDLE, lambda run: Status.END, Status.END)
        workers = [build(b, clock, store=store, **shared) for _ in range(3)]
        for w in workers:
            await w.run()
        await workers[0].trigger("doc")
        await asyncio.sleep(10)
        for w in workers:
            await w.stop()

    simulate(main)
    assert 5 <= calls <= 15  # about one attempt per second of backoff, not one per worker at once


def test_a_commit_in_one_worker_wakes_the_relay_of_another() -> None:
    async def main() -> float:
        clock = SimClock()
        streamer, store, roles = (
            memory.EventStreamer(clock=clock),
            memory.RecordStore(clock=clock),
            memory.RoleScheduler(),
        )
        b = wfkit.Builder("relay", Doc, Status)
        b.add_step(Status.START, lambda run: Status.MIDDLE, Status.MIDDLE)
        b.add_step(Status.MIDDLE, lambda run: Status.END, Status.END)
        a = build(b, clock, streamer=streamer, store=store, roles=roles)
        other = build(b, clock, streamer=streamer, store=store, roles=roles)
        await a.run()  # `a` holds every role, including the outbox relay's
        await other.run()
        await asyncio.sleep(1)
        started = asyncio.get_running_loop().time()
        run_id = await other.trigger("doc")
        await other.await_status("doc", run_id, Status.END, timeout=5)
        took = asyncio.get_running_loop().time() - started
        await other.stop()
        await a.stop()
        return took

    assert simulate(main) == 0  # no poll interval waited anywhere


async def test_stop_lets_its_own_cancellation_through(wfkit_env: Any) -> None:
    b = wfkit.Builder("stopping", Doc, Status)
    b.add_step(Status.START, lambda run: Status.END, Status.END)
    wf = wfkit_env.build(b)
    await wf.run()
    stopper = asyncio.ensure_future(wf.stop())
    await asyncio.sleep(0)
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    assert not wf.running


def test_an_idle_loop_looks_again_within_its_safety_poll_and_at_once_when_woken() -> None:
    """`Wake.poll(every)`: the relay's and poller's sleep. Its timer outlives a wait (so a busy
    loop arms none per pass) yet never lets a wait last longer than `every`."""
    from wfkit._process import Wake

    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        wake = Wake()
        woke = []
        await wake.poll(30.0)  # never set: the safety poll ends it
        woke.append(loop.time())
        loop.call_later(5.0, wake.set)
        await wake.poll(30.0)  # set after 5 s; the first timer is re-armed, not reused
        woke.append(loop.time())
        await wake.poll(10.0)  # a shorter poll than the pending timer's re-arms it
        woke.append(loop.time())
        wake.set()
        await wake.poll(30.0)  # already set: returns at once, and clears it
        woke.append(loop.time())
        assert not wake.is_set()
        return woke

    assert sim_run(scenario(), seed=1) == [30.0, 35.0, 45.0, 45.0]


def test_a_consumer_with_concurrency_overlaps_runs_acks_in_order_and_retries_a_failure() -> None:
    """`concurrency=4`: steps of different runs overlap (at most 4 at once), a failing step backs
    off and is redelivered (the cursor never passed it), and every run completes exactly once."""
    in_flight = peak = 0
    failed: set[str] = set()

    async def slow(run: wfkit.Run[Doc, Status]) -> Status:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(1.0)
            if run.foreign_id == "doc-3" and "doc-3" not in failed:
                failed.add("doc-3")
                raise ConnectionError("downstream unavailable")
            run.object.steps.append("slow")
            return Status.MIDDLE
        finally:
            in_flight -= 1

    async def main() -> tuple[float, list[list[int]]]:
        clock = SimClock()
        store = memory.RecordStore(clock=clock)
        b = wfkit.Builder("overlap", Doc, Status)
        b.add_step(Status.START, slow, Status.MIDDLE, error_backoff=5)
        b.add_step(Status.MIDDLE, lambda run: Status.END, Status.END)
        wf = build(b, clock, store=store, defaults=wfkit.ProcessOptions.of(concurrency=4))
        async with wf:
            ids = [await wf.trigger(f"doc-{i}") for i in range(8)]
            for i, run_id in enumerate(ids):
                await wf.await_status(f"doc-{i}", run_id, Status.END, timeout=60)
            elapsed = asyncio.get_running_loop().time()
        histories = [[r.meta.version for r in await store.history(run_id)] for run_id in ids]
        objects = [(await store.lookup(run_id)).object for run_id in ids]
        assert all(obj.count(b"slow") == 1 for obj in objects)  # each step applied once
        return elapsed, histories

    elapsed, histories = simulate(main)
    assert peak == 4
    assert failed == {"doc-3"}
    assert histories == [[1, 2, 3]] * 8  # created, MIDDLE, END: no gap, no transition twice
    assert elapsed < 20  # overlapped: 8 one-second steps four at a time, plus one backoff


def test_a_timeout_falling_due_during_a_slow_poll_still_fires_on_time() -> None:
    """The poller lists due rows, then asks for the next expiry: a row that falls due between the
    two (a slow query on a busy database) must be one or the other, not wait for a safety poll."""

    class SlowListing(memory.TimeoutStore):
        async def list_valid(
            self, workflow_name: str, status: int, now: datetime
        ) -> list[wfkit.TimeoutRecord]:
            rows = await super().list_valid(workflow_name, status, now)
            await asyncio.sleep(0.3)  # the answer arrives 0.3 s after it was true
            return rows

    async def main() -> float:
        clock = SimClock()
        b = wfkit.Builder("slow poll", Doc, Status)
        b.add_step(Status.START, lambda run: Status.MIDDLE, Status.MIDDLE)
        b.add_timeout(Status.MIDDLE, wfkit.after(0.2), lambda run, now: Status.END, Status.END)
        async with build(b, clock, timeout_store=SlowListing(clock=clock)) as wf:
            await asyncio.sleep(1)  # the poller's first pass is over: it sleeps until woken
            run_id = await wf.trigger("doc")
            reached = await wf.await_status("doc", run_id, Status.MIDDLE, timeout=5)
            done = await wf.await_status("doc", run_id, Status.END, timeout=60)
            return (done.updated_at - reached.updated_at).total_seconds()

    assert simulate(main) < 2  # not the 30 s safety poll


def test_a_client_built_without_consumers_triggers_and_workers_do_the_steps() -> None:
    async def main() -> tuple[list[int], list[int]]:
        clock = SimClock()
        shared: dict[str, Any] = {
            "streamer": memory.EventStreamer(clock=clock),
            "store": memory.RecordStore(clock=clock),
            "roles": memory.RoleScheduler(),
        }
        b = wfkit.Builder("client", Doc, Status)
        b.add_step(Status.START, lambda run: Status.MIDDLE, Status.MIDDLE)
        b.add_step(Status.MIDDLE, lambda run: Status.END, Status.END)
        client = build(b, clock, consumers=False, **shared)
        async with client:
            run_id = await client.trigger("doc")
            await asyncio.sleep(60)
            alone = [r.status for r in await client.store.history(run_id)]
            async with build(b, clock, **shared) as worker:
                await worker.await_status("doc", run_id, Status.END, timeout=10)
            return alone, [r.status for r in await client.store.history(run_id)]

    alone, after = simulate(main)
    assert alone == [Status.START]  # the client started no process
    assert after == [Status.START, Status.MIDDLE, Status.END]


def test_stop_cancels_again_a_process_that_swallowed_its_cancellation() -> None:
    """A library can swallow a cancellation (Python 3.11's `asyncio.wait_for` returns a result that
    lands with the cancel; database drivers connect through it): `stop()` still ends, because a
    process still running a moment later is cancelled again."""
    swallowed: list[str] = []

    class StubbornRoles:
        """Every role is taken elsewhere; the first cancellation of each wait is lost."""

        @contextlib.asynccontextmanager
        async def hold(self, role: str) -> AsyncIterator[None]:
            while True:
                try:
                    await asyncio.sleep(0.05)
                except asyncio.CancelledError:
                    if role in swallowed:
                        raise
                    swallowed.append(role)
            yield  # never reached: the role is never free

    async def main() -> float:
        clock = SimClock()
        b = wfkit.Builder("stubborn", Doc, Status)
        b.add_step(Status.START, lambda run: Status.END, Status.END)
        wf = build(b, clock, roles=StubbornRoles())
        await wf.run()
        await asyncio.sleep(1)
        started = asyncio.get_running_loop().time()
        async with asyncio.timeout(60):
            await wf.stop()
        return asyncio.get_running_loop().time() - started

    took = simulate(main)
    assert swallowed  # the scenario happened: cancellations were lost
    assert took <= 2.0
