"""The testing helpers (inventory §5, items 31-33, adapted).

luno's helpers panic on misuse (a nil *testing.T, a non-Workflow API, a store without snapshots);
wfkit's are plain async functions that raise clear errors instead: a status that is not in the
graph is `StatusNotConfigured`, a wait that never ends is `AwaitTimeout` naming what it waited for.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
from datetime import UTC, datetime, timedelta

import pytest
from _waits import sleeper_at

import wfkit
from wfkit.testing import (
    WorkflowEnv,
    await_timeout_insert,
    new_testing_run,
    require,
    trigger_callback_on,
    wait_for,
)


class Status(enum.IntEnum):
    START = 1
    MIDDLE = 2
    END = 3
    UNUSED = 9  # a member of the enum that no step, callback or timeout uses


class Other(enum.IntEnum):
    START = 1


@dataclasses.dataclass
class Name:
    value: str = ""


@dataclasses.dataclass
class Answer:
    approved: bool
    by: str


def two_steps(name: str) -> wfkit.Builder[Name, Status]:
    b = wfkit.Builder(name, Name, Status)
    b.add_step(Status.START, lambda run: Status.MIDDLE, Status.MIDDLE)
    b.add_step(Status.MIDDLE, lambda run: Status.END, Status.END)
    return b


# -- 31. misuse is a clear error -----------------------------------------------------------------


async def test_helpers_refuse_a_status_not_in_the_graph(wfkit_env: WorkflowEnv) -> None:
    async with wfkit_env.run(two_steps("misuse")) as wf:
        run_id = await wf.trigger("andrew")
        for status in (Status.UNUSED, Other.START, 1):
            with pytest.raises(wfkit.StatusNotConfigured, match="misuse"):
                await require(wf, "andrew", status, Name())  # type: ignore[misc]
            with pytest.raises(wfkit.StatusNotConfigured):
                await trigger_callback_on(wf, "andrew", run_id, status, {})  # type: ignore[misc]
            with pytest.raises(wfkit.StatusNotConfigured):
                await await_timeout_insert(wf, "andrew", run_id, status)  # type: ignore[misc]


async def test_await_timeout_insert_refuses_a_status_without_a_timeout(wfkit_env: WorkflowEnv) -> None:
    # MIDDLE is in the graph but no timeout is configured there: waiting could never succeed.
    async with wfkit_env.run(two_steps("no timeouts")) as wf:
        run_id = await wf.trigger("andrew")
        with pytest.raises(wfkit.ConfigurationError, match="timeout"):
            await await_timeout_insert(wf, "andrew", run_id, Status.MIDDLE, timeout=5)


async def test_helpers_give_up_with_a_clear_error(wfkit_env: WorkflowEnv) -> None:
    b = wfkit.Builder("stuck", Name, Status)
    b.add_step(Status.START, lambda run: run.skip(), Status.MIDDLE)
    b.add_timeout(Status.MIDDLE, wfkit.after(60), lambda run, now: Status.END, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("andrew")
        with pytest.raises(wfkit.AwaitTimeout, match="'andrew' to reach"):
            await require(wf, "andrew", Status.MIDDLE, Name(), timeout=0.1)
        with pytest.raises(wfkit.AwaitTimeout, match=f"run {run_id} to reach"):
            await trigger_callback_on(wf, "andrew", run_id, Status.MIDDLE, {}, timeout=0.1)
        with pytest.raises(wfkit.AwaitTimeout, match="a timeout for run"):
            await await_timeout_insert(wf, "andrew", run_id, Status.MIDDLE, timeout=0.1)
        with pytest.raises(wfkit.AwaitTimeout):
            await wait_for(wf, "nobody", lambda run: True, timeout=0.1)
        # AwaitTimeout is also a TimeoutError, so `except TimeoutError` code keeps working.
        with pytest.raises(TimeoutError):
            await wait_for(wf, "andrew", lambda run: run.status is Status.END, timeout=0.1)


# -- 32. require compares as stored ---------------------------------------------------------------


class LowerCodec(wfkit.JsonCodec):
    """Stores names lower-cased (like luno's test type with a custom MarshalJSON)."""

    def encode(self, obj: object) -> bytes:
        if isinstance(obj, Name):
            obj = Name(obj.value.lower())
        return super().encode(obj)


async def test_require_round_trips_the_expected_object(wfkit_env: WorkflowEnv) -> None:
    async def shout(run: wfkit.Run[Name, Status]) -> Status:
        run.object.value = "Lower"
        return Status.END

    b = wfkit.Builder("custom encoding", Name, Status)
    b.add_step(Status.START, shout, Status.END)
    async with wfkit_env.run(b, codec=LowerCodec()) as wf:
        run_id = await wf.trigger("andrew")
        await wf.await_status("andrew", run_id, Status.END, timeout=5)
        assert json.loads((await wf.store.lookup(run_id)).object) == {"value": "lower"}
        await require(wf, "andrew", Status.END, Name("Lower"))
        await require(wf, "andrew", Status.END, Name("lower"))
        with pytest.raises(AssertionError, match="other"):
            await require(wf, "andrew", Status.END, Name("Other"))


# -- 33. wait_for ----------------------------------------------------------------------------------


async def test_wait_for_with_plain_and_async_predicates(wfkit_env: WorkflowEnv) -> None:
    async with wfkit_env.run(two_steps("wait for")) as wf:
        run_id = await wf.trigger("andrew")
        done = await wait_for(wf, "andrew", lambda run: run.run_state is wfkit.RunState.COMPLETED, timeout=1)
        assert (done.run_id, done.status) == (run_id, Status.END)

        async def at_middle(run: wfkit.Run[Name, Status]) -> bool:
            return run.status is Status.MIDDLE

        # Versions the run has moved past count too: the first matching version is returned.
        middle = await wait_for(wf, "andrew", at_middle, timeout=1)
        assert (middle.status, middle.meta.version, middle.run_state) == (
            Status.MIDDLE,
            2,
            wfkit.RunState.RUNNING,
        )


async def test_trigger_callback_on_waits_then_sends_json(wfkit_env: WorkflowEnv) -> None:
    received: list[bytes] = []

    async def approve(run: wfkit.Run[Name, Status], payload: bytes) -> Status:
        received.append(payload)
        run.object.value = json.loads(payload)["by"]
        return Status.END

    b = wfkit.Builder("callbacks", Name, Status)
    b.add_step(Status.START, lambda run: Status.MIDDLE, Status.MIDDLE, lag=timedelta(minutes=1))
    b.add_callback(Status.MIDDLE, approve, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("andrew")
        # The run only reaches MIDDLE once the lagged step runs, a minute of business time later.
        sending = asyncio.ensure_future(
            trigger_callback_on(wf, "andrew", run_id, Status.MIDDLE, Answer(approved=True, by="Andrew"))
        )
        await sleeper_at(wfkit_env.clock, wfkit_env.clock.now() + timedelta(minutes=1))
        assert not sending.done()
        wfkit_env.clock.step(timedelta(minutes=1))
        await asyncio.wait_for(sending, 5)
        run = await wf.await_status("andrew", run_id, Status.END, timeout=5)
    assert [json.loads(p) for p in received] == [{"approved": True, "by": "Andrew"}]
    assert run.object.value == "Andrew"


# -- new_testing_run -------------------------------------------------------------------------------


async def check_size(run: wfkit.Run[Name, Status]) -> Status | wfkit.Pause | wfkit.Cancel:
    """A step under unit test: pauses long names, cancels empty ones."""
    if not run.object.value:
        return await run.cancel("empty")
    if len(run.object.value) > 5:
        return await run.pause("too long")
    return Status.END


def record_at(status: Status) -> wfkit.Record:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    return wfkit.Record(
        workflow_name="unit",
        foreign_id="andrew",
        run_id="run-1",
        run_state=wfkit.RunState.RUNNING,
        status=int(status),
        object=b"{}",
        created_at=now,
        updated_at=now,
        meta=wfkit.Meta(version=3),
    )


async def test_new_testing_run_calls_the_controller_functions() -> None:
    calls: list[str] = []

    async def on_pause() -> None:
        calls.append("pause")

    async def on_cancel() -> None:
        calls.append("cancel")

    def run_of(value: str) -> wfkit.Run[Name, Status]:
        return new_testing_run(
            record_at(Status.START), Name(value), status=Status.START, pause=on_pause, cancel=on_cancel
        )

    assert await check_size(run_of("Andrew Wormald")) == wfkit.Pause("too long")
    assert calls == ["pause"]
    assert await check_size(run_of("")) == wfkit.Cancel("empty")
    assert calls == ["pause", "cancel"]
    run = run_of("Andy")
    assert await check_size(run) is Status.END
    assert calls == ["pause", "cancel"]
    assert (run.run_id, run.foreign_id, run.status, run.meta.version) == ("run-1", "andrew", Status.START, 3)


async def test_new_testing_run_controller_defaults_and_errors() -> None:
    # Without controller functions the directives are simply returned.
    bare = new_testing_run(record_at(Status.START), Name("Andrew Wormald"), status=Status.START)
    assert await check_size(bare) == wfkit.Pause("too long")

    async def refuse() -> None:
        raise RuntimeError("pause refused")

    failing = new_testing_run(
        record_at(Status.START), Name("Andrew Wormald"), status=Status.START, pause=refuse
    )
    with pytest.raises(RuntimeError, match="pause refused"):
        await check_size(failing)
