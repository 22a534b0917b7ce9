"""luno's await, hook and pause-retry scenarios (inventory §5, items 15-19).

Item 20 (the paused-records-retry process exists or not) is in test_states.py and item 21 (run
state history) in test_run_control.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from datetime import timedelta

import pytest
from _waits import eventually, sleeper_at

import wfkit
from wfkit.testing import WorkflowEnv, require, wait_for


class Status(enum.IntEnum):
    START = 1
    MIDDLE = 2
    END = 3


@dataclasses.dataclass
class Doc:
    text: str = ""
    attempts: int = 0


def chain(name: str, middle: object | None = None) -> wfkit.Builder[Doc, Status]:
    """START -> MIDDLE -> END; the MIDDLE step is `middle` (default: go to END)."""

    async def start(run: wfkit.Run[Doc, Status]) -> Status:
        run.object.text = "hello world"
        return Status.MIDDLE

    async def finish(run: wfkit.Run[Doc, Status]) -> Status:
        return Status.END

    b = wfkit.Builder(name, Doc, Status)
    b.add_step(Status.START, start, Status.MIDDLE)
    b.add_step(Status.MIDDLE, middle or finish, Status.END, error_backoff=0.001)  # type: ignore[arg-type]
    return b


# -- 15. await ------------------------------------------------------------------------------------


async def test_await_status_returns_the_run_at_that_status(wfkit_env: WorkflowEnv) -> None:
    async with wfkit_env.run(chain("await")) as wf:
        run_id = await wf.trigger("andrew")
        run = await wf.await_status("andrew", run_id, Status.END, timeout=5)
        assert run.status is Status.END
        assert run.object.text == "hello world"
        assert run.run_id == run_id
        # wfkit departs from luno: a status the run has already passed is found in its history,
        # and the run is returned as it was there (luno returns whatever the store holds now).
        middle = await wf.await_status("andrew", run_id, Status.MIDDLE, timeout=5)
        assert middle.status is Status.MIDDLE
        assert middle.run_state is wfkit.RunState.RUNNING
        assert middle.meta.version == 2


async def test_await_status_times_out_for_a_status_never_reached(wfkit_env: WorkflowEnv) -> None:
    async def park(run: wfkit.Run[Doc, Status]) -> wfkit.Skip:
        return run.skip()

    async with wfkit_env.run(chain("await timeout", park)) as wf:
        run_id = await wf.trigger("andrew")
        with pytest.raises(wfkit.AwaitTimeout):
            await wf.await_status("andrew", run_id, Status.END, timeout=0.2)
        with pytest.raises(wfkit.StatusNotConfigured):
            await wf.await_status("andrew", run_id, 99, timeout=0.2)  # type: ignore[arg-type]


# -- 16, 17, 18. hooks ------------------------------------------------------------------------------


class Hooks:
    """Records every hook call and lets a test wait for the n-th."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, wfkit.Run[Doc, Status]]] = []
        self._changed = asyncio.Event()

    def hook(self, kind: str) -> object:
        async def fn(run: wfkit.Run[Doc, Status]) -> None:
            self.calls.append((kind, run))
            self._changed.set()

        return fn

    async def wait(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.calls) < count:
                self._changed.clear()
                await self._changed.wait()

    def install(self, b: wfkit.Builder[Doc, Status]) -> wfkit.Builder[Doc, Status]:
        b.on_pause(self.hook("pause"))  # type: ignore[arg-type]
        b.on_cancel(self.hook("cancel"))  # type: ignore[arg-type]
        b.on_complete(self.hook("complete"))  # type: ignore[arg-type]
        return b


async def test_on_pause_fires_when_a_step_pauses(wfkit_env: WorkflowEnv) -> None:
    async def pause(run: wfkit.Run[Doc, Status]) -> wfkit.Pause:
        return await run.pause("waiting for a human")

    hooks = Hooks()
    async with wfkit_env.run(hooks.install(chain("hook pause", pause))) as wf:
        run_id = await wf.trigger("andrew")
        await hooks.wait(1)
    [(kind, run)] = hooks.calls
    assert kind == "pause"
    assert run.run_id == run_id
    assert run.run_state is wfkit.RunState.PAUSED
    assert run.meta.run_state_reason == "waiting for a human"
    assert run.status is Status.MIDDLE
    # wfkit departs from luno: pausing from a step keeps the step's changes to the object.
    assert run.object.text == "hello world"


async def test_on_cancel_fires_when_a_step_cancels(wfkit_env: WorkflowEnv) -> None:
    async def cancel(run: wfkit.Run[Doc, Status]) -> wfkit.Cancel:
        return await run.cancel("not wanted")

    hooks = Hooks()
    async with wfkit_env.run(hooks.install(chain("hook cancel", cancel))) as wf:
        run_id = await wf.trigger("andrew")
        await hooks.wait(1)
    [(kind, run)] = hooks.calls
    assert (kind, run.run_id, run.run_state) == ("cancel", run_id, wfkit.RunState.CANCELLED)
    assert run.meta.run_state_reason == "not wanted"


async def test_on_complete_fires_on_reaching_a_terminal_status(wfkit_env: WorkflowEnv) -> None:
    hooks = Hooks()
    async with wfkit_env.run(hooks.install(chain("hook complete"))) as wf:
        run_id = await wf.trigger("andrew")
        await hooks.wait(1)
    [(kind, run)] = hooks.calls
    assert (kind, run.run_id, run.status, run.run_state) == (
        "complete",
        run_id,
        Status.END,
        wfkit.RunState.COMPLETED,
    )
    assert run.object.text == "hello world"


async def test_hooks_fire_for_api_pause_and_cancel(wfkit_env: WorkflowEnv) -> None:
    # A run parked at a status with only a callback stays RUNNING until someone acts on it.
    b = wfkit.Builder("hook api", Doc, Status)
    b.add_step(Status.START, lambda run: Status.MIDDLE, Status.MIDDLE)
    b.add_callback(Status.MIDDLE, lambda run, payload: Status.END, Status.END)
    hooks = Hooks()
    async with wfkit_env.run(hooks.install(b)) as wf:
        run_id = await wf.trigger("andrew")
        await wf.await_status("andrew", run_id, Status.MIDDLE, timeout=5)
        await wf.pause(run_id, "by an operator")
        await hooks.wait(1)
        await wf.cancel(run_id, "for good")
        await hooks.wait(2)
    assert [(k, r.run_state, r.meta.run_state_reason) for k, r in hooks.calls] == [
        ("pause", wfkit.RunState.PAUSED, "by an operator"),
        ("cancel", wfkit.RunState.CANCELLED, "for good"),
    ]


# -- 19. pause after errors and automatic resume --------------------------------------------------


async def test_pause_after_errors_then_auto_resume(wfkit_env: WorkflowEnv) -> None:
    failures = 0

    async def flaky(run: wfkit.Run[Doc, Status]) -> Status:
        nonlocal failures
        if failures < 5:
            failures += 1
            # wfkit departs from luno: failures count whatever the message (luno keys its counter
            # on the error text, so errors with changing text never pause a run).
            raise RuntimeError(f"request {failures} failed")
        return Status.END

    b = wfkit.Builder("pause retry", Doc, Status)
    b.add_step(Status.START, flaky, Status.END, pause_after_errors=3, error_backoff=0.001)
    async with wfkit_env.run(b, pause_retry=timedelta(milliseconds=10)) as wf:
        run_id = await wf.trigger("andrew")
        paused = await wait_for(wf, "andrew", lambda r: r.run_state is wfkit.RunState.PAUSED, timeout=5)
        assert failures == 3
        assert paused.meta.run_state_reason == wfkit.AUTO_PAUSE_REASON

        # Resume is timed in business time from the pause: once the retry consumer waits for
        # it, step the clock past it.
        await sleeper_at(wfkit_env.clock, paused.updated_at + timedelta(milliseconds=10))
        wfkit_env.clock.step(timedelta(milliseconds=10))
        run = await wf.await_status("andrew", run_id, Status.END, timeout=5)
    # Paused after 3, resumed with the counter reset, 2 more failures (< 3), then success.
    assert failures == 5
    assert run.run_state is wfkit.RunState.COMPLETED
    states = [r.run_state for r in await wfkit_env.store.history(run_id)]
    assert states == [
        wfkit.RunState.INITIATED,
        wfkit.RunState.PAUSED,
        wfkit.RunState.RUNNING,
        wfkit.RunState.COMPLETED,
    ]


async def test_a_success_resets_the_error_count(wfkit_env: WorkflowEnv) -> None:
    # pause_after_errors counts *consecutive* failures of a run.
    script = iter(["fail", "fail", "save", "fail", "fail", "save", "fail", "fail", "end"])

    async def step(run: wfkit.Run[Doc, Status]) -> Status | wfkit.SaveAndRepeat:
        action = next(script)
        if action == "fail":
            raise RuntimeError("boom")
        run.object.attempts += 1
        return Status.END if action == "end" else run.save_and_repeat()

    b = wfkit.Builder("consecutive", Doc, Status)
    b.add_step(Status.START, step, Status.END, pause_after_errors=3, error_backoff=0.001)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("andrew")
        run = await wf.await_status("andrew", run_id, Status.END, timeout=5)
    assert run.object.attempts == 3
    history = await wfkit_env.store.history(run_id)
    assert wfkit.RunState.PAUSED not in [r.run_state for r in history]


async def test_invalid_transition_counts_as_an_error_and_is_never_applied(wfkit_env: WorkflowEnv) -> None:
    calls = 0

    async def wrong(run: wfkit.Run[Doc, Status]) -> Status:
        nonlocal calls
        calls += 1
        return Status.START  # not a destination of MIDDLE

    async with wfkit_env.run(
        chain("invalid transition", wrong), defaults=wfkit.ProcessOptions.of(pause_after_errors=2)
    ) as wf:
        await wf.trigger("andrew")
        paused = await wait_for(wf, "andrew", lambda r: r.run_state is wfkit.RunState.PAUSED, timeout=5)
    assert calls == 2
    assert paused.status is Status.MIDDLE
    statuses = [r.status for r in await wfkit_env.store.history(paused.run_id)]
    assert statuses == [Status.START, Status.MIDDLE, Status.MIDDLE]


async def test_auto_resume_only_for_runs_paused_by_errors(wfkit_env: WorkflowEnv) -> None:
    # wfkit departs from luno: a run paused on purpose (by a step or an operator) stays paused;
    # luno resumes every paused run after the pause-retry delay.
    fail_once: set[str] = set()

    async def step(run: wfkit.Run[Doc, Status]) -> Status | wfkit.Pause:
        if run.foreign_id == "manual":
            return await run.pause("needs a human")
        if run.foreign_id not in fail_once:
            fail_once.add(run.foreign_id)
            raise RuntimeError("transient")
        return Status.END

    b = wfkit.Builder("selective resume", Doc, Status)
    b.add_step(Status.START, step, Status.END, pause_after_errors=1, error_backoff=0.001)
    async with wfkit_env.run(b, pause_retry=timedelta(minutes=5)) as wf:
        manual_id = await wf.trigger("manual")
        await wait_for(wf, "manual", lambda r: r.run_state is wfkit.RunState.PAUSED, timeout=5)
        auto_id = await wf.trigger("auto")
        await wait_for(wf, "auto", lambda r: r.run_state is wfkit.RunState.PAUSED, timeout=5)
        # Both pause events must be published before the clock moves (their age is what counts).
        topic = wfkit.run_state_change_topic("selective resume")
        await eventually(
            lambda: {e.key for e in wfkit_env.streamer.events(topic)} >= {manual_id, auto_id},
            "both pause events to be published",
        )
        wfkit_env.clock.step(timedelta(minutes=5))
        # The retry consumer handles events in order: once the later (auto) run is resumed and
        # done, the manual one has been considered and left alone.
        await wf.await_status("auto", auto_id, Status.END, timeout=5)
        manual = await wf.store.lookup(manual_id)
    assert manual.run_state is wfkit.RunState.PAUSED
    assert manual.meta.run_state_reason == "needs a human"
    # Never resumed (a resume would show as RUNNING, even if the step paused it again).
    assert [r.run_state for r in await wfkit_env.store.history(manual_id)] == [
        wfkit.RunState.INITIATED,
        wfkit.RunState.PAUSED,
    ]


async def test_auto_resume_waits_for_the_delay(wfkit_env: WorkflowEnv) -> None:
    calls = 0

    async def step(run: wfkit.Run[Doc, Status]) -> Status:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("transient")
        return Status.END

    b = wfkit.Builder("resume delay", Doc, Status)
    b.add_step(Status.START, step, Status.END, pause_after_errors=1, error_backoff=0.001)
    async with wfkit_env.run(b, pause_retry=timedelta(hours=1)) as wf:
        run_id = await wf.trigger("andrew")
        paused = await wait_for(wf, "andrew", lambda r: r.run_state is wfkit.RunState.PAUSED, timeout=5)
        # The retry consumer is parked on the clock until an hour after the pause.
        await sleeper_at(wfkit_env.clock, paused.updated_at + timedelta(hours=1))
        wfkit_env.clock.step(timedelta(minutes=59))
        assert wfkit_env.clock.next_deadline == paused.updated_at + timedelta(hours=1)
        assert (await wf.store.lookup(run_id)).run_state is wfkit.RunState.PAUSED
        wfkit_env.clock.step(timedelta(minutes=1))
        await wf.await_status("andrew", run_id, Status.END, timeout=5)
    assert calls == 2


async def test_require_and_hooks_see_object_of_auto_paused_run(wfkit_env: WorkflowEnv) -> None:
    async def boom(run: wfkit.Run[Doc, Status]) -> Status:
        raise RuntimeError("boom")

    hooks = Hooks()
    async with wfkit_env.run(
        hooks.install(chain("auto pause hook", boom)),
        defaults=wfkit.ProcessOptions.of(pause_after_errors=2),
        pause_retry=None,
    ) as wf:
        await wf.trigger("andrew")
        await hooks.wait(1)
        await require(wf, "andrew", Status.MIDDLE, Doc(text="hello world"))
    [(kind, run)] = hooks.calls
    # Hooks fire for automatic pauses too.
    assert (kind, run.run_state, run.meta.run_state_reason) == (
        "pause",
        wfkit.RunState.PAUSED,
        wfkit.AUTO_PAUSE_REASON,
    )
