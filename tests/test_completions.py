"""`Completions`, how `wfkit bench` and bench/ see runs complete: one receiver of the run-state-change
topic for every run waited on. Runs on the deterministic `SimLoop` (virtual time)."""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry

import wfkit
from wfkit.adapters import memory
from wfkit.cli._completions import Completions
from wfkit.testing import SimClock
from wfkit.testing._simloop import run as sim_run


class Step(enum.IntEnum):
    START = 1
    HOLD = 2
    DONE = 3


@dataclass
class Item:
    hold: bool = False


def workflow(clock: SimClock, streamer: memory.EventStreamer) -> wfkit.Workflow[Item, Step]:
    b = wfkit.Builder("done-watch", Item, Step)
    b.add_step(Step.START, lambda run: Step.HOLD, Step.HOLD)

    def hold(run: wfkit.Run[Item, Step]) -> Step | wfkit.Pause:
        return wfkit.Pause("held") if run.object.hold else Step.DONE

    b.add_step(Step.HOLD, hold, Step.DONE)
    return b.build(
        streamer,
        memory.RecordStore(clock=clock),
        memory.RoleScheduler(),
        clock=clock,
        metrics=CollectorRegistry(),
        ids=wfkit.RandomIds(7),
    )


def test_a_waiting_run_resolves_when_it_completes_and_a_paused_one_does_not() -> None:
    async def main() -> tuple[bool, bool]:
        clock, streamer = SimClock(), memory.EventStreamer()
        async with workflow(clock, streamer) as wf:
            completions = await Completions.follow(streamer, wf.name, stall=1000)
            done, held = completions.watch("a"), completions.watch("b")
            await wf.trigger("a")
            await wf.trigger("b", initial=Item(hold=True))
            await asyncio.wait((done,), timeout=60)
            await asyncio.sleep(10)
            result = done.done() and done.exception() is None, held.done()
            await completions.close()
            return result

    assert sim_run(main(), seed=1) == (True, False)


def test_no_completion_for_the_stall_time_fails_every_waiting_run() -> None:
    async def main() -> str:
        clock, streamer = SimClock(), memory.EventStreamer()
        async with workflow(clock, streamer) as wf:
            completions = await Completions.follow(streamer, wf.name, stall=5)
            held = completions.watch("b")
            await wf.trigger("b", initial=Item(hold=True))
            with pytest.raises(wfkit.WfkitError) as caught:
                await asyncio.wait_for(held, timeout=60)
            await completions.close()
            return str(caught.value)

    assert sim_run(main(), seed=1) == "no run completed for 5 s (1 waiting)"


def test_a_failing_check_fails_every_waiting_run() -> None:
    def check() -> None:
        raise RuntimeError("worker 123 exited")

    async def main() -> str:
        clock, streamer = SimClock(), memory.EventStreamer()
        async with workflow(clock, streamer) as wf:
            completions = await Completions.follow(streamer, wf.name, stall=1000, check=check)
            waiting = completions.watch("never-triggered")
            with pytest.raises(RuntimeError) as caught:
                await asyncio.wait_for(waiting, timeout=60)
            await completions.close()
            return str(caught.value)

    assert sim_run(main(), seed=1) == "worker 123 exited"
