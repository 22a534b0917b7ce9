"""Running ahead: a worker that moves a run to a status whose step consumer it runs advances the
run at once, instead of waiting for the status's event to come back from the streamer.

Every test runs on the deterministic `SimLoop` (virtual time). What a user relies on: each
transition still happens once, failures still back off and count towards the pause, a paused run
is not advanced, and a stop in the middle loses nothing.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

import wfkit
from wfkit.adapters import memory
from wfkit.testing import SimClock
from wfkit.testing._simloop import run as sim_run


class Stage(enum.IntEnum):
    A = 1
    B = 2
    C = 3
    D = 4
    DONE = 5


@dataclass
class Job:
    seen: list[int] = field(default_factory=list)


class CountingStore(memory.RecordStore):
    """A memory store that counts lookups: a run advanced ahead needs none."""

    def __init__(self, clock: wfkit.Clock) -> None:
        super().__init__(clock=clock)
        self.lookups = 0

    async def lookup(self, run_id: str) -> wfkit.Record:
        self.lookups += 1
        return await super().lookup(run_id)


@dataclass
class Setup:
    clock: SimClock
    store: CountingStore
    streamer: memory.EventStreamer
    calls: dict[tuple[str, int], int] = field(default_factory=dict)


def chain(setup: Setup, **step_options: Any) -> wfkit.Builder[Job, Stage]:
    """A -> B -> C -> D -> DONE, each step noting its status in the object and counting its calls."""
    b = wfkit.Builder("ahead", Job, Stage)
    for here, there in zip(list(Stage), list(Stage)[1:], strict=False):

        async def step(run: wfkit.Run[Job, Stage], there: Stage = there) -> Stage:
            key = (run.foreign_id, int(run.status))
            setup.calls[key] = setup.calls.get(key, 0) + 1
            run.object.seen.append(int(run.status))
            return there

        b.add_step(here, step, there, **step_options)
    return b


def build(setup: Setup, b: wfkit.Builder[Job, Stage], **options: Any) -> wfkit.Workflow[Job, Stage]:
    return b.build(
        setup.streamer,
        setup.store,
        memory.RoleScheduler(),
        clock=setup.clock,
        metrics=CollectorRegistry(),
        ids=wfkit.RandomIds(5),
        **options,
    )


def new_setup() -> Setup:
    clock = SimClock()
    return Setup(clock, CountingStore(clock), memory.EventStreamer(clock=clock))


async def finished(store: memory.RecordStore, count: int, state: wfkit.RunState) -> list[wfkit.Record]:
    """Wait (in virtual time) until `count` runs are in `state`."""
    for _ in range(600):
        runs = await store.list("ahead", limit=1000, filters=wfkit.RecordFilter(run_states=[state]))
        if len(runs) >= count:
            return runs
        await asyncio.sleep(0.5)
    raise AssertionError(f"fewer than {count} runs reached {state.name}")


async def versions(store: memory.RecordStore, run_id: str) -> list[int]:
    return [r.meta.version for r in await store.history(run_id)]


async def run_all(setup: Setup, wf: wfkit.Workflow[Job, Stage], count: int) -> tuple[int, list[list[int]]]:
    """Start `count` runs once the consumers are up and wait until all complete: the lookups made
    and each run's versions."""
    async with wf:
        await asyncio.sleep(1)  # the consumers are running (a run triggered before waits for its event)
        ids = [await wf.trigger(f"job-{i}") for i in range(count)]
        await finished(setup.store, count, wfkit.RunState.COMPLETED)
    return setup.store.lookups, [await versions(setup.store, run_id) for run_id in ids]


def all_acked(streamer: memory.EventStreamer) -> bool:
    """Every step consumer's cursor is at the end of its topic (nothing left to redeliver)."""
    for stage in list(Stage)[:-1]:
        topic = f"ahead-{int(stage)}"
        if streamer.cursor(topic, f"ahead-{int(stage)}-consumer-1-of-1") != len(streamer.events(topic)):
            return False
    return True


def test_a_worker_advances_the_runs_it_moves_without_looking_them_up() -> None:
    """With `concurrency` > 1 every step of every run runs ahead: no step consumer looks a run up,
    each transition happens once, and every event is still acked in order."""
    setup = new_setup()

    async def main() -> tuple[int, list[list[int]], bool]:
        wf = build(setup, chain(setup), defaults=wfkit.ProcessOptions.of(concurrency=4))
        async with wf:
            await asyncio.sleep(1)  # the consumers are running (a trigger before runs on its event)
            ids = [await wf.trigger(f"job-{i}") for i in range(10)]
            await finished(setup.store, 10, wfkit.RunState.COMPLETED)
            await asyncio.sleep(1)  # the last events come back and are acked
            acked = all_acked(setup.streamer)
        return setup.store.lookups, [await versions(setup.store, run_id) for run_id in ids], acked

    lookups, histories, acked = sim_run(main(), seed=1)
    assert lookups == 0
    assert histories == [[1, 2, 3, 4, 5]] * 10
    assert set(setup.calls.values()) == {1}
    assert len(setup.calls) == 40
    assert acked


def test_a_sequential_consumer_waits_for_its_events() -> None:
    """`concurrency` 1 (the memory default) keeps luno's one event at a time: each step looks the
    run up when its event arrives, so a step never overlaps another of its status."""
    setup = new_setup()

    async def main() -> int:
        async with build(setup, chain(setup)) as wf:
            for i in range(3):
                await wf.trigger(f"job-{i}")
            await finished(setup.store, 3, wfkit.RunState.COMPLETED)
        return setup.store.lookups

    assert sim_run(main(), seed=1) == 3 * 4


def test_sharded_consumers_each_run_ahead_only_their_own_runs() -> None:
    setup = new_setup()

    wf = build(setup, chain(setup, parallel=2), defaults=wfkit.ProcessOptions.of(concurrency=3))
    lookups, histories = sim_run(run_all(setup, wf, 12), seed=1)
    assert lookups == 0
    assert histories == [[1, 2, 3, 4, 5]] * 12
    assert set(setup.calls.values()) == {1}


def test_a_step_failing_ahead_backs_off_retries_and_counts_towards_the_pause() -> None:
    """A failure while running ahead is the event's failure: the consumer backs off for
    `error_backoff` and redelivers, and it counts towards `pause_after_errors` as any other."""
    setup = new_setup()
    attempts: dict[str, list[float]] = {"flaky": [], "broken": []}

    async def main() -> tuple[list[int], wfkit.RunState]:
        b = wfkit.Builder("ahead", Job, Stage)

        async def first(run: wfkit.Run[Job, Stage]) -> Stage:
            return Stage.B

        async def second(run: wfkit.Run[Job, Stage]) -> Stage:
            tries = attempts[run.foreign_id]
            tries.append(asyncio.get_running_loop().time())
            if run.foreign_id == "broken" or len(tries) == 1:
                raise ConnectionError("downstream unavailable")
            return Stage.DONE

        b.add_step(Stage.A, first, Stage.B)
        b.add_step(Stage.B, second, Stage.DONE, error_backoff=7, pause_after_errors=3)
        async with build(setup, b, defaults=wfkit.ProcessOptions.of(concurrency=4)) as wf:
            flaky = await wf.trigger("flaky")
            await wf.trigger("broken")
            await finished(setup.store, 1, wfkit.RunState.COMPLETED)
            paused = await finished(setup.store, 1, wfkit.RunState.PAUSED)
        return await versions(setup.store, flaky), paused[0].run_state

    flaky_versions, broken_state = sim_run(main(), seed=1)
    assert flaky_versions == [1, 2, 3]
    assert len(attempts["flaky"]) == 2
    assert attempts["flaky"][1] - attempts["flaky"][0] >= 7  # retried after the backoff
    assert broken_state is wfkit.RunState.PAUSED
    assert len(attempts["broken"]) == 3  # paused after exactly `pause_after_errors` tries


def test_a_run_paused_while_its_step_runs_ahead_stays_paused() -> None:
    setup = new_setup()
    called: list[int] = []

    async def main() -> tuple[wfkit.RunState, int]:
        b = wfkit.Builder("ahead", Job, Stage)

        async def first(run: wfkit.Run[Job, Stage]) -> Stage:
            return Stage.B

        async def slow(run: wfkit.Run[Job, Stage]) -> Stage:
            called.append(int(run.status))
            await asyncio.sleep(5)
            return Stage.C

        b.add_step(Stage.A, first, Stage.B)
        b.add_step(Stage.B, slow, Stage.C)
        b.add_step(Stage.C, lambda run: Stage.DONE, Stage.DONE)
        async with build(setup, b, defaults=wfkit.ProcessOptions.of(concurrency=4)) as wf:
            run_id = await wf.trigger("job")
            await asyncio.sleep(1)  # the slow step is under way
            await wf.pause(run_id, "hold on")
            await asyncio.sleep(60)
            record = await setup.store.lookup(run_id)
        return record.run_state, record.status

    state, status = sim_run(main(), seed=1)
    assert called == [int(Stage.B)]
    assert state is wfkit.RunState.PAUSED
    assert status == Stage.B


def test_a_stop_with_steps_running_ahead_loses_nothing() -> None:
    """Stopping cancels the steps running ahead; their events were never acked, so the next start
    runs them again, and each transition still happens once."""
    setup = new_setup()
    started: list[str] = []

    async def main() -> list[list[int]]:
        b = wfkit.Builder("ahead", Job, Stage)

        async def first(run: wfkit.Run[Job, Stage]) -> Stage:
            return Stage.B

        async def slow(run: wfkit.Run[Job, Stage]) -> Stage:
            started.append(run.foreign_id)
            await asyncio.sleep(10)
            return Stage.DONE

        b.add_step(Stage.A, first, Stage.B)
        b.add_step(Stage.B, slow, Stage.DONE)
        options = {"defaults": wfkit.ProcessOptions.of(concurrency=4)}
        async with build(setup, b, **options) as wf:
            ids = [await wf.trigger(f"job-{i}") for i in range(3)]
            await asyncio.sleep(1)  # the three slow steps are running ahead
        assert len(started) == 3
        async with build(setup, b, **options):
            await finished(setup.store, 3, wfkit.RunState.COMPLETED)
        return [await versions(setup.store, run_id) for run_id in ids]

    assert sim_run(main(), seed=1) == [[1, 2, 3]] * 3
    assert len(started) == 6  # each slow step begun once per start, committed once


def test_runs_ahead_wait_for_a_slot_so_a_status_never_runs_more_steps_at_once_than_its_concurrency() -> None:
    setup = new_setup()
    running = peak = 0

    async def main() -> tuple[int, list[list[int]]]:
        b = wfkit.Builder("ahead", Job, Stage)

        async def first(run: wfkit.Run[Job, Stage]) -> Stage:
            return Stage.B

        async def slow(run: wfkit.Run[Job, Stage]) -> Stage:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(2)
            running -= 1
            return Stage.DONE

        b.add_step(Stage.A, first, Stage.B, concurrency=8)
        b.add_step(Stage.B, slow, Stage.DONE, concurrency=2)
        return await run_all(setup, build(setup, b), 10)

    lookups, histories = sim_run(main(), seed=1)
    assert peak == 2
    assert lookups == 0  # every run still went ahead: it waited for a slot, not for its event
    assert histories == [[1, 2, 3]] * 10
