"""luno's schedule scenarios (inventory §5, items 24 and 26-29) on a FakeClock.

wfkit departs from luno on purpose: `wf.schedule()` returns at once and runs in the background
until `stop()` (luno's Schedule blocks), and it accepts standard five-field cron with lists, ranges
and steps. Item 25 (the scheduler's process state) is in test_states.py.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime

import pytest
from _waits import eventually, sleeper_at

import wfkit
from wfkit.testing import WorkflowEnv, require, wait_for

APRIL_9 = datetime(2023, 4, 9, 8, 30, tzinfo=UTC)
MAY_1 = datetime(2023, 5, 1, tzinfo=UTC)
JUNE_1 = datetime(2023, 6, 1, tzinfo=UTC)
JULY_1 = datetime(2023, 7, 1, tzinfo=UTC)
FAST = wfkit.ProcessOptions.of(error_backoff=0.001)


class Status(enum.IntEnum):
    START = 1
    END = 2


@dataclasses.dataclass
class Mail:
    email: str = ""
    sent: bool = False


def send_builder(name: str = "monthly") -> wfkit.Builder[Mail, Status]:
    async def send(run: wfkit.Run[Mail, Status]) -> Status:
        run.object.sent = True
        return Status.END

    b = wfkit.Builder(name, Mail, Status)
    b.add_step(Status.START, send, Status.END)
    return b


async def runs_of(env: WorkflowEnv, name: str) -> list[wfkit.Record]:
    return await env.store.list(name, limit=100, order=wfkit.Order.ASC)


async def finished_run_created_at(
    wf: wfkit.Workflow[Mail, Status], when: datetime
) -> wfkit.Run[Mail, Status]:
    return await wait_for(
        wf, "andrew", lambda r: r.created_at == when and r.run_state is wfkit.RunState.COMPLETED, timeout=5
    )


# -- 24. monthly ---------------------------------------------------------------------------------


async def test_monthly_schedule_triggers_a_run_each_month() -> None:
    env = WorkflowEnv(APRIL_9)
    async with env.run(send_builder(), defaults=FAST) as wf:
        wf.schedule("andrew", "@monthly")  # returns at once: the scheduler runs in the background
        await sleeper_at(env.clock, MAY_1)
        assert await runs_of(env, "monthly") == []

        env.clock.set(MAY_1)
        may = await finished_run_created_at(wf, MAY_1)
        assert may.object == Mail(sent=True)

        await sleeper_at(env.clock, JUNE_1)
        env.clock.set(JUNE_1)
        june = await finished_run_created_at(wf, JUNE_1)
    assert june.run_id != may.run_id
    assert [r.created_at for r in await runs_of(env, "monthly")] == [MAY_1, JUNE_1]


# -- 26. filter ----------------------------------------------------------------------------------


async def test_schedule_filter_decides_each_slot() -> None:
    env = WorkflowEnv(APRIL_9)
    answers = iter([True, False, True])
    asked: list[datetime] = []

    async def allow() -> bool:
        asked.append(env.clock.now())
        return next(answers)

    async with env.run(send_builder(), defaults=FAST) as wf:
        wf.schedule("andrew", "@monthly", filter=allow)
        await sleeper_at(env.clock, MAY_1)
        env.clock.set(MAY_1)
        await finished_run_created_at(wf, MAY_1)

        await sleeper_at(env.clock, JUNE_1)
        env.clock.set(JUNE_1)
        # Refused: the scheduler moves straight on to the next slot without a run.
        await sleeper_at(env.clock, JULY_1)
        assert [r.created_at for r in await runs_of(env, "monthly")] == [MAY_1]

        env.clock.set(JULY_1)
        await finished_run_created_at(wf, JULY_1)
    assert asked == [MAY_1, JUNE_1, JULY_1]
    assert [r.created_at for r in await runs_of(env, "monthly")] == [MAY_1, JULY_1]


# -- 27. initial value ---------------------------------------------------------------------------


async def test_schedule_with_an_initial_value() -> None:
    env = WorkflowEnv(APRIL_9)
    seen: list[str] = []

    async def send(run: wfkit.Run[Mail, Status]) -> Status:
        seen.append(run.object.email)
        run.object.sent = True
        return Status.END

    b = wfkit.Builder("initial", Mail, Status)
    b.add_step(Status.START, send, Status.END)
    async with env.run(b, defaults=FAST) as wf:
        wf.schedule("andrew", "@monthly", initial=Mail(email="test-email@example.com"))
        await sleeper_at(env.clock, MAY_1)
        env.clock.set(MAY_1)
        await require(wf, "andrew", Status.END, Mail(email="test-email@example.com", sent=True))
    assert seen == ["test-email@example.com"]


# -- 28. filter errors ---------------------------------------------------------------------------


async def test_schedule_filter_error_creates_no_run_and_retries_the_slot() -> None:
    env = WorkflowEnv(APRIL_9)
    calls = 0

    def broken() -> bool:
        nonlocal calls
        calls += 1
        raise RuntimeError("feature flag service down")

    async with env.run(send_builder(), defaults=FAST) as wf:
        wf.schedule("andrew", "@monthly", filter=broken)
        await sleeper_at(env.clock, MAY_1)
        env.clock.set(MAY_1)
        # The slot is retried (with the error backoff) rather than given up.
        await eventually(lambda: calls >= 3, "the filter to be retried")
        assert await runs_of(env, "monthly") == []


async def test_schedule_slot_is_retried_after_a_transient_filter_error() -> None:
    env = WorkflowEnv(APRIL_9)
    calls = 0

    def flaky() -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("transient")
        return True

    async with env.run(send_builder(), defaults=FAST) as wf:
        wf.schedule("andrew", "@monthly", filter=flaky)
        await sleeper_at(env.clock, MAY_1)
        env.clock.set(MAY_1)
        # The May slot still gets its run once the filter answers.
        await finished_run_created_at(wf, MAY_1)
        await sleeper_at(env.clock, JUNE_1)
    assert calls == 2


# -- 29. an existing run ---------------------------------------------------------------------------


async def test_schedule_continues_from_the_latest_run() -> None:
    env = WorkflowEnv(APRIL_9)
    async with env.run(send_builder(), defaults=FAST) as wf:
        first = await wf.trigger("andrew")
        await wf.await_status("andrew", first, Status.END, timeout=5)
        # The scheduler starts after the May slot has passed: the next slot after the latest
        # run's creation is overdue, so it fires at once (catching up at most one slot).
        env.clock.set(datetime(2023, 5, 1, 10, tzinfo=UTC))
        wf.schedule("andrew", "@monthly")
        caught_up = await finished_run_created_at(wf, env.clock.now())
        await sleeper_at(env.clock, JUNE_1)
    assert caught_up.run_id != first
    assert len(await runs_of(env, "monthly")) == 2


async def test_schedule_skips_a_slot_while_a_run_is_active() -> None:
    env = WorkflowEnv(APRIL_9)
    b = wfkit.Builder("slow", Mail, Status)
    b.add_callback(Status.START, lambda run, payload: Status.END, Status.END)  # waits for a callback
    async with env.run(b, defaults=FAST) as wf:
        wf.schedule("andrew", "@monthly")
        await sleeper_at(env.clock, MAY_1)
        env.clock.set(MAY_1)
        await sleeper_at(env.clock, JUNE_1)
        [may] = await runs_of(env, "slow")
        env.clock.set(JUNE_1)
        # The May run is still waiting: June's slot is skipped, not queued.
        await sleeper_at(env.clock, JULY_1)
        assert [r.run_id for r in await runs_of(env, "slow")] == [may.run_id]
        await wf.callback("andrew", Status.START, b"")
        env.clock.set(JULY_1)
        await wait_for(wf, "andrew", lambda r: r.created_at == JULY_1, timeout=5)
    assert len(await runs_of(env, "slow")) == 2


async def test_schedule_accepts_standard_cron_lists() -> None:
    env = WorkflowEnv(APRIL_9)
    async with env.run(send_builder("twice daily"), defaults=FAST) as wf:
        wf.schedule("andrew", "0 9,17 * * *")
        nine = APRIL_9.replace(hour=9, minute=0)
        five = APRIL_9.replace(hour=17, minute=0)
        await sleeper_at(env.clock, nine)
        env.clock.set(nine)
        await finished_run_created_at(wf, nine)
        await sleeper_at(env.clock, five)
        env.clock.set(five)
        await finished_run_created_at(wf, five)


async def test_schedule_rejects_a_bad_spec_at_once(wfkit_env: WorkflowEnv) -> None:
    async with wfkit_env.run(send_builder()) as wf:
        with pytest.raises(wfkit.ConfigurationError, match="cron"):
            wf.schedule("andrew", "every tuesday")
        assert not any("scheduler" in name for name in wf.states())
