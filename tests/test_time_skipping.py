"""The `wfkit_sim` fixture: unit tests on virtual time, where a 30-day timeout takes milliseconds.

The assertions are on business time (what the records say), which is exact under the SimLoop;
wall time is only a loose sanity bound.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import time
from datetime import timedelta

import pytest

import wfkit
from wfkit.testing import (
    Deadlock,
    SimEnv,
    SimRunner,
    await_timeout_insert,
    require,
    trigger_callback_on,
    wait_for,
)

THIRTY_DAYS = timedelta(days=30)


class Status(enum.IntEnum):
    OPENED = 1
    WAITING = 2
    PAID = 3
    EXPIRED = 4


@dataclasses.dataclass
class Invoice:
    amount: int = 100
    reminded: bool = False


def invoices() -> wfkit.Builder[Invoice, Status]:
    """An invoice waits for payment (a callback) for 30 days, then expires."""
    b = wfkit.Builder("invoice", Invoice, Status)
    b.add_step(Status.OPENED, lambda run: Status.WAITING, Status.WAITING)
    b.add_callback(Status.WAITING, lambda run, payload: Status.PAID, Status.PAID)

    def expire(run: wfkit.Run[Invoice, Status], now: object) -> Status:
        run.object.reminded = True
        return Status.EXPIRED

    b.add_timeout(Status.WAITING, wfkit.after(THIRTY_DAYS), expire, Status.EXPIRED)
    return b


def test_a_30_day_timeout_fires_30_business_days_later_in_milliseconds(wfkit_sim: SimRunner) -> None:
    async def scenario(env: SimEnv) -> tuple[wfkit.Record, wfkit.TimeoutRecord]:
        async with env.run(invoices()) as wf:
            run_id = await wf.trigger("inv-1")
            row = await await_timeout_insert(wf, "inv-1", run_id, Status.WAITING)
            await env.advance(THIRTY_DAYS)
            await require(wf, "inv-1", Status.EXPIRED, Invoice(reminded=True))
            return await wf.store.lookup(run_id), row

    started = time.perf_counter()
    record, row = wfkit_sim.run(scenario)
    wall = time.perf_counter() - started

    assert record.status == Status.EXPIRED
    assert record.run_state is wfkit.RunState.COMPLETED
    assert row.expire_at == record.created_at + THIRTY_DAYS
    # Business time: the expiry was applied exactly when it fell due, not a poll interval later.
    assert record.updated_at - record.created_at == THIRTY_DAYS
    assert wall < 2.0, f"30 simulated days took {wall:.2f}s of wall time"


def test_the_timeout_does_not_fire_a_moment_early(wfkit_sim: SimRunner) -> None:
    async def scenario(env: SimEnv) -> list[Status]:
        seen = []
        async with env.run(invoices()) as wf:
            run_id = await wf.trigger("inv-2")
            await await_timeout_insert(wf, "inv-2", run_id, Status.WAITING)
            await env.advance(THIRTY_DAYS - timedelta(seconds=1))
            seen.append(Status((await wf.store.lookup(run_id)).status))
            await env.advance(timedelta(seconds=1))
            seen.append(Status((await wf.store.lookup(run_id)).status))
        return seen

    assert wfkit_sim.run(scenario) == [Status.WAITING, Status.EXPIRED]


def test_a_callback_on_day_29_beats_the_timeout(wfkit_sim: SimRunner) -> None:
    async def scenario(env: SimEnv) -> wfkit.Run[Invoice, Status]:
        async with env.run(invoices()) as wf:
            run_id = await wf.trigger("inv-3")
            await env.advance(timedelta(days=29))
            await trigger_callback_on(wf, "inv-3", run_id, Status.WAITING, {"paid": True})
            await env.advance(timedelta(days=5))  # well past the old expiry: nothing more happens
            history = await wf.store.history(run_id)
            assert [Status(r.status) for r in history][-1] is Status.PAID
            return await wait_for(wf, "inv-3", lambda run: run.status is Status.PAID)

    paid = wfkit_sim.run(scenario)
    assert paid.updated_at - paid.created_at == timedelta(days=29)
    assert paid.object == Invoice()  # the expiry never ran


def test_business_time_starts_at_the_epoch_and_follows_virtual_time(wfkit_sim: SimRunner) -> None:
    async def scenario(env: SimEnv) -> list[float]:
        start = env.now()
        after = await env.advance(90)
        await env.advance_to(start + timedelta(hours=1))
        return [
            (after - start).total_seconds(),
            (env.now() - start).total_seconds(),
            asyncio.get_running_loop().time(),
        ]

    assert wfkit_sim.run(scenario) == [90.0, 3600.0, 3600.0]


def test_the_runner_keeps_the_environment_of_its_latest_run(wfkit_sim: SimRunner) -> None:
    async def scenario(env: SimEnv) -> str:
        async with env.run(invoices()) as wf:
            run_id = await wf.trigger("inv-5")
            await env.advance(THIRTY_DAYS + timedelta(seconds=1))  # just past the expiry
        return run_id

    run_id = wfkit_sim.run(scenario, seed=11)
    env = wfkit_sim.env
    assert env is not None
    assert env.seed == 11
    # The memory adapters outlive the loop: inspect what the scenario left behind.
    history = asyncio.run(env.store.history(run_id))
    assert [Status(r.status) for r in history] == [Status.OPENED, Status.WAITING, Status.EXPIRED]


def test_the_same_seed_replays_the_same_run(wfkit_sim: SimRunner) -> None:
    async def scenario(env: SimEnv) -> list[tuple[str, int, str]]:
        async with env.run(invoices()) as wf:
            ids = [await wf.trigger(f"inv-{i}") for i in range(3)]
            await env.advance(THIRTY_DAYS)
            return [
                (r.run_id, r.meta.version, r.updated_at.isoformat())
                for run_id in ids
                for r in await wf.store.history(run_id)
            ]

    first = wfkit_sim.run(scenario, seed=5)
    assert wfkit_sim.run(scenario, seed=5) == first
    assert wfkit_sim.run(scenario, seed=6) != first  # other ids, at least


def test_waiting_on_something_that_never_happens_is_a_deadlock_naming_the_task(
    wfkit_sim: SimRunner,
) -> None:
    async def waits_forever(env: SimEnv) -> None:
        await asyncio.get_running_loop().create_future()

    with pytest.raises(Deadlock, match="waits_forever") as caught:
        wfkit_sim.run(waits_forever)
    assert any("waits_forever" in task for task in caught.value.pending)


def test_a_scenario_that_outlives_the_virtual_time_limit_fails_instead_of_hanging() -> None:
    runner = SimRunner(limit=timedelta(days=2))

    async def never_paid(env: SimEnv) -> None:
        async with env.run(invoices()) as wf:
            run_id = await wf.trigger("inv-4")
            # Running workflows keep timers (safety polls), so this is no deadlock: it would
            # run through simulated time forever without the runner's limit.
            await wf.await_status("inv-4", run_id, Status.PAID)

    started = time.perf_counter()
    with pytest.raises(wfkit.AwaitTimeout, match="never_paid") as caught:
        runner.run(never_paid)
    assert caught.value.timeout == timedelta(days=2).total_seconds()
    assert "await_status" in str(caught.value)  # the pending task is named
    assert time.perf_counter() - started < 2.0
