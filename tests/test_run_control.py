"""Run states and run control (inventory §5, items 21-23) plus wfkit's pause, resume, retry, cancel
and delete_data, through the workflow and through `wfkit.Admin` over the bare store."""

from __future__ import annotations

import dataclasses
import enum
import json

import pytest
from _waits import eventually

import wfkit
from wfkit import RunState
from wfkit.testing import WorkflowEnv, wait_for


class Status(enum.IntEnum):
    START = 1
    MIDDLE = 2
    END = 3


@dataclasses.dataclass
class Person:
    name: str = ""
    email: str = ""
    visits: int = 0


def parked(name: str) -> wfkit.Builder[Person, Status]:
    """START -> MIDDLE by a step, MIDDLE -> END only by a callback: runs wait at MIDDLE."""

    async def start(run: wfkit.Run[Person, Status]) -> Status:
        run.object.visits += 1
        return Status.MIDDLE

    b = wfkit.Builder(name, Person, Status)
    b.add_step(Status.START, start, Status.MIDDLE)
    b.add_callback(Status.MIDDLE, lambda run, payload: Status.END, Status.END)
    return b


async def run_states(env: WorkflowEnv, run_id: str) -> list[RunState]:
    return [r.run_state for r in await env.store.history(run_id)]


# -- 21. run-state history -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("end", [RunState.INITIATED, RunState.RUNNING, RunState.COMPLETED]),
        ("pause", [RunState.INITIATED, RunState.RUNNING, RunState.PAUSED]),
        ("cancel", [RunState.INITIATED, RunState.RUNNING, RunState.CANCELLED]),
    ],
)
async def test_run_state_history(wfkit_env: WorkflowEnv, outcome: str, expected: list[RunState]) -> None:
    async def middle(run: wfkit.Run[Person, Status]) -> Status | wfkit.Pause | wfkit.Cancel:
        if outcome == "pause":
            return await run.pause("pausing")
        if outcome == "cancel":
            return await run.cancel("cancelling")
        return Status.END

    b = wfkit.Builder(f"run states {outcome}", Person, Status)
    b.add_step(Status.START, lambda run: Status.MIDDLE, Status.MIDDLE)
    b.add_step(Status.MIDDLE, middle, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("andrew")
        await wait_for(wf, "andrew", lambda r: r.run_state is expected[-1], timeout=5)
    assert await run_states(wfkit_env, run_id) == expected


# -- 22. run control through the workflow and through Admin -------------------------------------


async def test_workflow_run_control(wfkit_env: WorkflowEnv) -> None:
    async with wfkit_env.run(parked("control")) as wf:
        run_id = await wf.trigger("andrew", initial=Person("Andrew", "andrew@example.com"))
        await wf.await_status("andrew", run_id, Status.MIDDLE, timeout=5)

        await wf.pause(run_id, "test pause")
        latest = await wf.store.latest("control", "andrew")
        assert (latest.run_state, latest.meta.run_state_reason) == (RunState.PAUSED, "test pause")
        # A paused run still holds its foreign id.
        with pytest.raises(wfkit.WorkflowInProgress):
            await wf.trigger("andrew")
        # A callback on a paused run is a no-op.
        await wf.callback("andrew", Status.MIDDLE, b"{}")
        assert (await wf.store.lookup(run_id)).meta.version == latest.meta.version

        await wf.resume(run_id)
        latest = await wf.store.latest("control", "andrew")
        assert (latest.run_state, latest.meta.run_state_reason) == (RunState.RUNNING, "")
        with pytest.raises(wfkit.InvalidRunStateTransition):
            await wf.resume(run_id)

        await wf.cancel(run_id, "test cancel")
        latest = await wf.store.latest("control", "andrew")
        assert (latest.run_state, latest.meta.run_state_reason) == (RunState.CANCELLED, "test cancel")
        for action in (wf.pause(run_id), wf.resume(run_id), wf.cancel(run_id), wf.retry(run_id)):
            with pytest.raises(wfkit.InvalidRunStateTransition):
                await action

        await wf.delete_data(run_id, "test delete")
        latest = await wf.store.latest("control", "andrew")
        assert latest.run_state in (RunState.REQUESTED_DATA_DELETED, RunState.DATA_DELETED)
        assert latest.meta.run_state_reason == "test delete"
        deleted = await wait_for(wf, "andrew", lambda r: r.run_state is RunState.DATA_DELETED, timeout=5)
        assert deleted.meta.run_state_reason == "test delete"

        # The foreign id is free again once its run is finished.
        await wf.trigger("andrew")
        with pytest.raises(wfkit.RecordNotFound):
            await wf.pause("no-such-run")


async def test_an_initiated_run_can_be_paused_and_cancelled(wfkit_env: WorkflowEnv) -> None:
    # A run nobody has consumed yet (its start has only a callback) is INITIATED.
    b = wfkit.Builder("initiated", Person, Status)
    b.add_callback(Status.START, lambda run, payload: Status.END, Status.END)
    async with wfkit_env.run(b) as wf:
        first = await wf.trigger("first")
        await wf.pause(first, "test pause")
        assert (await wf.store.lookup(first)).run_state is RunState.PAUSED
        second = await wf.trigger("second")
        await wf.cancel(second, "test cancel")
        assert (await wf.store.lookup(second)).run_state is RunState.CANCELLED
    assert await run_states(wfkit_env, first) == [RunState.INITIATED, RunState.PAUSED]


async def test_admin_controls_runs_without_the_workflow_code(wfkit_env: WorkflowEnv) -> None:
    async with wfkit_env.run(parked("admin")) as wf:
        run_id = await wf.trigger("andrew", initial=Person("Andrew"))
        await wf.await_status("andrew", run_id, Status.MIDDLE, timeout=5)

    # The workflow is stopped: an operator works on the store alone.
    admin = wfkit.Admin(wfkit_env.store, clock=wfkit_env.clock)
    [info] = await admin.workflows()
    assert info.name == "admin"
    assert info.name_of(Status.MIDDLE) == "MIDDLE"
    [listed] = await admin.list("admin")
    assert listed.run_id == run_id

    paused = await admin.pause(run_id, "test pause")
    assert (paused.run_state, paused.meta.run_state_reason) == (RunState.PAUSED, "test pause")
    assert (await admin.lookup(run_id)).run_state is RunState.PAUSED
    resumed = await admin.resume(run_id)
    assert resumed.run_state is RunState.RUNNING
    with pytest.raises(wfkit.InvalidRunStateTransition):
        await admin.delete_data(run_id)
    cancelled = await admin.cancel(run_id, "test cancel")
    assert (cancelled.run_state, cancelled.meta.run_state_reason) == (RunState.CANCELLED, "test cancel")
    with pytest.raises(wfkit.InvalidRunStateTransition):
        await admin.retry(run_id)
    requested = await admin.delete_data(run_id, "test delete")
    assert requested.run_state is RunState.REQUESTED_DATA_DELETED
    history = await admin.history(run_id)
    assert [r.meta.version for r in history] == list(range(1, len(history) + 1))

    # A worker started later (a fresh instance of the workflow) carries out the deletion.
    async with wfkit_env.run(parked("admin")) as wf:
        deleted = await wait_for(wf, "andrew", lambda r: r.run_state is RunState.DATA_DELETED, timeout=5)
    assert deleted.meta.run_state_reason == "test delete"
    assert (await admin.lookup(run_id)).object == b'{"result":"deleted"}'


async def test_admin_resume_is_picked_up_by_running_workers(wfkit_env: WorkflowEnv) -> None:
    calls = 0

    async def step(run: wfkit.Run[Person, Status]) -> Status | wfkit.Pause:
        nonlocal calls
        calls += 1
        if calls == 1:
            return await run.pause("first visit")
        return Status.END

    b = wfkit.Builder("admin resume", Person, Status)
    b.add_step(Status.START, step, Status.END)
    admin = wfkit.Admin(wfkit_env.store, clock=wfkit_env.clock)
    async with wfkit_env.run(b, outbox=wfkit.ProcessOptions.of(polling_frequency=0.01)) as wf:
        run_id = await wf.trigger("andrew")
        await wait_for(wf, "andrew", lambda r: r.run_state is RunState.PAUSED, timeout=5)
        await admin.resume(run_id)
        run = await wf.await_status("andrew", run_id, Status.END, timeout=5)
    assert calls == 2
    assert run.run_state is RunState.COMPLETED


# -- retry ---------------------------------------------------------------------------------------


async def test_retry_resumes_a_paused_run_now(wfkit_env: WorkflowEnv) -> None:
    calls = 0

    async def step(run: wfkit.Run[Person, Status]) -> Status:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("downstream unavailable")
        return Status.END

    b = wfkit.Builder("retry paused", Person, Status)
    b.add_step(Status.START, step, Status.END, pause_after_errors=1, error_backoff=0.001)
    async with wfkit_env.run(b) as wf:  # auto-resume only after the default hour
        run_id = await wf.trigger("andrew")
        await wait_for(wf, "andrew", lambda r: r.run_state is RunState.PAUSED, timeout=5)
        await wf.retry(run_id)
        run = await wf.await_status("andrew", run_id, Status.END, timeout=5)
    assert calls == 2
    assert run.run_state is RunState.COMPLETED


async def test_retry_reruns_a_step_that_skipped(wfkit_env: WorkflowEnv) -> None:
    ready = False
    calls = 0

    async def step(run: wfkit.Run[Person, Status]) -> Status | wfkit.Skip:
        nonlocal calls
        calls += 1
        return Status.END if ready else run.skip()

    b = wfkit.Builder("retry skipped", Person, Status)
    b.add_step(Status.START, step, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("andrew")
        await eventually(lambda: calls == 1, "the step to run once")
        assert (await wf.store.lookup(run_id)).status == Status.START
        ready = True
        await wf.retry(run_id)
        run = await wf.await_status("andrew", run_id, Status.END, timeout=5)
    assert calls == 2
    assert run.status is Status.END


async def test_retry_reruns_a_failing_step_now(wfkit_env: WorkflowEnv) -> None:
    # DESIGN §2b: retry "re-publishes the current status event of a running or paused run ... so
    # its step runs now". A run whose step just failed is RUNNING with its consumer backing off.
    calls = 0

    async def step(run: wfkit.Run[Person, Status]) -> Status:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("downstream unavailable")
        return Status.END

    b = wfkit.Builder("retry failing", Person, Status)
    b.add_step(Status.START, step, Status.END, error_backoff=60)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("andrew")
        await eventually(lambda: calls == 1, "the step to fail once")
        await wf.retry(run_id)
        await wf.await_status("andrew", run_id, Status.END, timeout=0.5)


async def test_retry_on_a_finished_run_is_refused(wfkit_env: WorkflowEnv) -> None:
    b = wfkit.Builder("retry finished", Person, Status)
    b.add_step(Status.START, lambda run: Status.END, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("andrew")
        await wf.await_status("andrew", run_id, Status.END, timeout=5)
        before = await wf.store.lookup(run_id)
        with pytest.raises(wfkit.InvalidRunStateTransition):
            await wf.retry(run_id)
        with pytest.raises(wfkit.InvalidRunStateTransition):
            await wfkit.Admin(wfkit_env.store).retry(run_id)
        assert await wf.store.lookup(run_id) == before


# -- delete_data ---------------------------------------------------------------------------------


async def finished_run(env: WorkflowEnv, wf: wfkit.Workflow[Person, Status], fid: str) -> str:
    run_id = await wf.trigger(fid, initial=Person("Andrew Wormald", "andrew@example.com"))
    await wf.await_status(fid, run_id, Status.MIDDLE, timeout=5)
    await wf.callback(fid, Status.MIDDLE, b"")
    assert (await wf.store.lookup(run_id)).run_state is RunState.COMPLETED
    return run_id


async def test_delete_data_scrubs_every_version_with_the_default_marker(wfkit_env: WorkflowEnv) -> None:
    async with wfkit_env.run(parked("forget me")) as wf:
        run_id = await finished_run(wfkit_env, wf, "andrew")
        await wf.delete_data(run_id, "gdpr request")
        await wait_for(wf, "andrew", lambda r: r.run_state is RunState.DATA_DELETED, timeout=5)
    history = await wfkit_env.store.history(run_id)
    assert all(b"Andrew" not in r.object and b"andrew@" not in r.object for r in history)
    assert {r.object for r in history} == {b'{"result":"deleted"}'}
    # History keeps the metadata: every version, status and run state.
    assert [r.meta.version for r in history] == list(range(1, len(history) + 1))
    assert [r.status for r in history] == [Status.START, Status.MIDDLE, Status.END, Status.END, Status.END]
    assert [r.run_state for r in history][-3:] == [
        RunState.COMPLETED,
        RunState.REQUESTED_DATA_DELETED,
        RunState.DATA_DELETED,
    ]
    assert history[-1].meta.run_state_reason == "gdpr request"


async def test_delete_data_with_a_custom_delete(wfkit_env: WorkflowEnv) -> None:
    def scrub(person: Person) -> None:
        person.name = "redacted"
        person.email = ""

    async with wfkit_env.run(parked("custom delete"), custom_delete=scrub) as wf:
        run_id = await finished_run(wfkit_env, wf, "andrew")
        await wf.delete_data(run_id)
        await wait_for(wf, "andrew", lambda r: r.run_state is RunState.DATA_DELETED, timeout=5)
    history = await wfkit_env.store.history(run_id)
    # Every version holds the scrubbed object; what the scrubber kept (visits) is the latest value.
    assert [json.loads(r.object) for r in history] == [{"email": "", "name": "redacted", "visits": 1}] * len(
        history
    )


async def test_delete_data_is_only_for_finished_runs(wfkit_env: WorkflowEnv) -> None:
    async with wfkit_env.run(parked("delete running")) as wf:
        run_id = await wf.trigger("andrew", initial=Person("Andrew"))
        await wf.await_status("andrew", run_id, Status.MIDDLE, timeout=5)
        with pytest.raises(wfkit.InvalidRunStateTransition):
            await wf.delete_data(run_id)
        await wf.pause(run_id)
        with pytest.raises(wfkit.InvalidRunStateTransition):
            await wf.delete_data(run_id)
    assert b"Andrew" in (await wfkit_env.store.lookup(run_id)).object


# -- 23. run-state truth tables ------------------------------------------------------------------


def test_run_state_predicates() -> None:
    deleted = {RunState.DATA_DELETED, RunState.REQUESTED_DATA_DELETED}
    finished = {RunState.COMPLETED, RunState.CANCELLED, *deleted}
    stopped = {RunState.PAUSED, RunState.CANCELLED, *deleted}
    assert [int(s) for s in RunState] == list(range(8))  # luno's numbers, wire-compatible
    for state in RunState:
        assert state.valid is (state is not RunState.UNKNOWN)
        assert state.finished is (state in finished), state
        assert state.stopped is (state in stopped), state
    assert RunState.DATA_DELETED.label == "Data Deleted"
    for bad in (-1, 8, 9, 9999):
        with pytest.raises(ValueError):
            RunState(bad)


def test_run_state_transition_table() -> None:
    allowed = {
        (RunState.INITIATED, RunState.RUNNING),
        (RunState.INITIATED, RunState.PAUSED),
        (RunState.RUNNING, RunState.COMPLETED),
        (RunState.RUNNING, RunState.PAUSED),
        (RunState.RUNNING, RunState.CANCELLED),
        (RunState.PAUSED, RunState.RUNNING),
        (RunState.PAUSED, RunState.CANCELLED),
        (RunState.COMPLETED, RunState.REQUESTED_DATA_DELETED),
        (RunState.CANCELLED, RunState.REQUESTED_DATA_DELETED),
        (RunState.REQUESTED_DATA_DELETED, RunState.DATA_DELETED),
        (RunState.DATA_DELETED, RunState.REQUESTED_DATA_DELETED),
    }
    for a in RunState:
        for b in RunState:
            assert a.can_become(b) is ((a, b) in allowed), (a, b)
