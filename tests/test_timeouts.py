"""Timeouts on their fast paths: fixed timers, the poller's one-call pass, and the memory store's `due`."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

from _reminders import Doc, Status, reminders

import wfkit
from wfkit.adapters import memory
from wfkit.testing import SimEnv, SimRunner
from wfkit.testing._simclock import SimClock


async def fire_times(env: SimEnv, wf: wfkit.Workflow[Doc, Status], hours: int) -> list[float]:
    """Seconds from the run's arrival at WAITING to each later write, once it is DONE."""
    run_id = await wf.trigger("doc")
    await wf.await_status("doc", run_id, Status.DONE, timeout=(hours + 2) * 3600)
    history = await wf.store.history(run_id)
    start = history[1].updated_at
    return [(r.updated_at - start).total_seconds() for r in history[2:]]


# -- after() and at() -----------------------------------------------------------------------------


async def test_after_and_at_are_timers_that_also_say_their_expiry_without_a_run() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    when = datetime(2031, 6, 1, tzinfo=UTC)
    later, fixed = wfkit.after(timedelta(minutes=5)), wfkit.at(when)
    assert await later(None, now) == now + timedelta(minutes=5)  # type: ignore[arg-type]
    assert await fixed(None, now) == when  # type: ignore[arg-type]
    assert later.expiry(now) == now + timedelta(minutes=5)  # type: ignore[attr-defined]
    assert fixed.expiry(now) == when  # type: ignore[attr-defined]


def test_a_timer_of_its_own_still_gets_the_decoded_run(wfkit_sim: SimRunner) -> None:
    async def by_object(run: wfkit.Run[Doc, Status], now: datetime) -> datetime:
        return now + timedelta(seconds=run.object.wait)

    async def scenario(env: SimEnv) -> list[float]:
        async with env.run(reminders(3, by_object)) as wf:
            return await fire_times(env, wf, 3)

    assert wfkit_sim.run(scenario) == [3600.0, 7200.0, 10800.0]


def test_an_object_that_will_not_decode_is_paused_when_its_after_timeout_fires(
    wfkit_sim: SimRunner,
) -> None:
    """`after()` needs no object, so the auto-inserter schedules it without decoding one; the poller
    decodes it when the timeout fires and pauses the run with the reason."""

    async def scenario(env: SimEnv) -> tuple[int, wfkit.RunState, wfkit.RunState, str]:
        async with env.run(reminders(3)) as wf:
            run_id = await wf.trigger("doc")
            await wf.await_status("doc", run_id, Status.WAITING, timeout=60)
            await env.advance(60)
            waiting = await env.store.lookup(run_id)
            # Someone writes a version the codec cannot read, at the same status.
            await env.store.store(
                waiting.replace(
                    object=b"not json",
                    meta=dataclasses.replace(waiting.meta, version=waiting.meta.version + 1),
                )
            )
            await env.advance(60)
            rows = [r for r in await env.timeouts.list("reminders", run_id=run_id) if r.version == 3]
            before = (await env.store.lookup(run_id)).run_state
            await env.advance(3600)
            after = await env.store.lookup(run_id)
        return len(rows), before, after.run_state, after.meta.run_state_reason

    rows, before, after, reason = wfkit_sim.run(scenario)
    assert rows == 1
    assert before is wfkit.RunState.RUNNING
    assert after is wfkit.RunState.PAUSED
    assert "does not decode" in reason


# -- the poller's pass ----------------------------------------------------------------------------


class PortOnly:
    """A memory timeout store behind the port's methods alone (no `due`), as a SQL store is."""

    def __init__(self, inner: memory.TimeoutStore) -> None:
        self.create = inner.create
        self.complete = inner.complete
        self.cancel = inner.cancel
        self.list = inner.list
        self.list_valid = inner.list_valid
        self.next_expiry = inner.next_expiry
        self.subscribe_expiries = inner.subscribe_expiries


def test_a_store_without_due_is_polled_with_list_valid_and_next_expiry(wfkit_sim: SimRunner) -> None:
    async def scenario(env: SimEnv) -> list[float]:
        async with env.run(reminders(5), timeout_store=PortOnly(env.timeouts)) as wf:
            return await fire_times(env, wf, 5)

    assert wfkit_sim.run(scenario) == [3600.0 * h for h in range(1, 6)]


def test_due_asks_a_subclass_that_answers_list_valid_itself(wfkit_sim: SimRunner) -> None:
    class Counting(memory.TimeoutStore):
        polls = 0

        async def list_valid(
            self, workflow_name: str, status: int, now: datetime
        ) -> list[wfkit.TimeoutRecord]:
            self.polls += 1
            return await super().list_valid(workflow_name, status, now)

    async def scenario(env: SimEnv) -> tuple[list[float], int]:
        store = Counting(clock=env.clock)
        async with env.run(reminders(3), timeout_store=store) as wf:
            return await fire_times(env, wf, 3), store.polls

    times, polls = wfkit_sim.run(scenario)
    assert times == [3600.0, 7200.0, 10800.0]
    assert polls >= 3


# -- the memory store's due ------------------------------------------------------------------------


async def test_memory_due_is_list_valid_and_next_expiry_in_one_call() -> None:
    store = memory.TimeoutStore(SimClock())
    rng = random.Random(7)
    base = datetime(2030, 1, 1, tzinfo=UTC)
    made: list[int] = []
    for step in range(400):
        if rng.random() < 0.6 or not made:
            expiry = base + timedelta(seconds=rng.choice([0, 10, 10, 25, 60 + step]))
            made.append(await store.create("wf", "f", f"r{step % 5}", rng.choice([1, 2]), expiry))
        else:
            await store.complete(made.pop(rng.randrange(len(made))))
        now = base + timedelta(seconds=rng.choice([-5, 0, 10, 20, 100, 1000]))
        for status in (1, 2, 3):
            rows, expiry = await store.due("wf", status, now)
            assert rows == await store.list_valid("wf", status, now)
            assert expiry == await store.next_expiry("wf", status, now)
    assert await store.due("other", 1, base) == ([], None)


async def test_a_run_whose_timeouts_all_completed_lists_none_and_gets_new_ones() -> None:
    store = memory.TimeoutStore(SimClock())
    now = datetime(2030, 1, 1, tzinfo=UTC)
    first = await store.create("wf", "f", "r1", 2, now)
    await store.complete(first)
    assert await store.list("wf", run_id="r1") == []
    second = await store.create("wf", "f", "r1", 2, now + timedelta(hours=1), version=3)
    assert [r.id for r in await store.list("wf", run_id="r1")] == [second]
    assert [r.id for r in await store.list("wf")] == [second]
    await store.cancel(second)
    await store.cancel(second)  # an unknown id is a no-op
    assert await store.list("wf") == []
