"""DESIGN §3 through the workflow and the memory store: one active run per foreign id, every write
a compare-and-set on the version, gap-free history, duplicates skipped, slow steps cut off."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from _waits import eventually
from _workflows import Doc, Status

import wfkit
from wfkit.testing import WorkflowEnv, wait_for

WF = "guarantees"
START = "start-consumer-1-of-1"
START_ROLE = f"{WF}-{int(Status.START)}-consumer-1-of-1"


async def to_middle(run: wfkit.Run[Doc, Status], payload: bytes) -> Status:
    return Status.MIDDLE


async def to_end(run: wfkit.Run[Doc, Status], payload: bytes) -> Status:
    return Status.END


def waiting() -> wfkit.Builder[Doc, Status]:
    """START -callback-> MIDDLE -callback-> END: runs stay where they are until told."""
    b = wfkit.Builder(WF, Doc, Status)
    b.add_callback(Status.START, to_middle, Status.MIDDLE)
    b.add_callback(Status.MIDDLE, to_end, Status.END)
    return b


def metric(env: WorkflowEnv, name: str, **labels: str) -> float:
    return env.registry.get_sample_value(name, {"workflow_name": WF, **labels}) or 0.0


def next_version(record: wfkit.Record, **changes: object) -> wfkit.Record:
    """What a writer that read `record` would store next."""
    meta = dataclasses.replace(record.meta, version=record.meta.version + 1)
    return record.replace(meta=meta, **changes)


# -- one active run per foreign id -------------------------------------------------------------


async def test_concurrent_triggers_of_one_foreign_id_start_exactly_one_run(wfkit_env: WorkflowEnv) -> None:
    async with wfkit_env.run(waiting()) as wf:
        results = await asyncio.gather(*(wf.trigger("doc") for _ in range(50)), return_exceptions=True)
        run_ids = [r for r in results if isinstance(r, str)]
        refused = [r for r in results if not isinstance(r, str)]
        assert len(run_ids) == 1
        assert len(refused) == 49
        assert all(isinstance(e, wfkit.WorkflowInProgress) for e in refused), refused
        assert {e.run_id for e in refused} == set(run_ids)  # type: ignore[attr-defined]
        assert [r.run_id for r in await wfkit_env.store.list(WF)] == run_ids
        # Other foreign ids are not held up.
        others = await asyncio.gather(*(wf.trigger(f"doc-{i}") for i in range(10)))
        assert len(set(others)) == 10


async def test_a_foreign_id_is_free_again_once_its_run_finishes(wfkit_env: WorkflowEnv) -> None:
    async with wfkit_env.run(waiting()) as wf:
        first = await wf.trigger("doc")
        await wf.callback("doc", Status.START, b"")
        with pytest.raises(wfkit.WorkflowInProgress):
            await wf.trigger("doc")
        await wf.callback("doc", Status.MIDDLE, b"")  # completes
        second = await wf.trigger("doc")
        assert second != first

        await wf.pause(second, "review")  # a paused run still holds the foreign id
        with pytest.raises(wfkit.WorkflowInProgress):
            await wf.trigger("doc")
        await wf.cancel(second, "withdrawn")
        third = await wf.trigger("doc")
        assert len({first, second, third}) == 3
        assert (await wfkit_env.store.latest(WF, "doc")).run_id == third
        states = {r.run_id: r.run_state for r in await wfkit_env.store.list(WF)}
        assert states == {
            first: wfkit.RunState.COMPLETED,
            second: wfkit.RunState.CANCELLED,
            third: wfkit.RunState.INITIATED,
        }


# -- compare-and-set ---------------------------------------------------------------------------


async def test_a_stale_write_is_a_version_conflict_and_loses_nothing(wfkit_env: WorkflowEnv) -> None:
    store = wfkit_env.store
    async with wfkit_env.run(waiting()) as wf:
        run_id = await wf.trigger("doc", initial=Doc("v1"))
        await wf.callback("doc", Status.START, b"")
        v1, v2 = await store.history(run_id)

        stale = next_version(v1, status=Status.END, run_state=wfkit.RunState.COMPLETED)
        with pytest.raises(wfkit.VersionConflict, match="expected_version=1, actual_version=2") as exc:
            await store.store(stale)
        assert (exc.value.expected, exc.value.actual) == (1, 2)
        assert await store.history(run_id) == [v1, v2]

        # Two writers that both read v2: the first wins, the second conflicts.
        mine = next_version(v2, object=wfkit.JsonCodec().encode(Doc("mine")))
        theirs = next_version(v2, object=wfkit.JsonCodec().encode(Doc("theirs")))
        await store.store(mine)
        with pytest.raises(wfkit.VersionConflict):
            await store.store(theirs)
        assert await store.lookup(run_id) == mine
        assert [r.meta.version for r in await store.history(run_id)] == [1, 2, 3]


async def test_a_step_running_while_the_run_is_paused_does_not_overwrite_the_pause(
    wfkit_env: WorkflowEnv,
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    calls = 0

    async def slow(run: wfkit.Run[Doc, Status]) -> Status:
        nonlocal calls
        calls += 1
        if calls == 1:
            entered.set()
            await release.wait()
        run.object.steps.append(f"call {calls}")
        return Status.END

    b = wfkit.Builder(WF, Doc, Status)
    b.add_step(Status.START, slow, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("doc")
        await asyncio.wait_for(entered.wait(), 5)
        await wf.pause(run_id, "operator pause")
        release.set()
        await eventually(
            lambda: (
                metric(
                    wfkit_env,
                    "workflow_process_skipped_events_count_total",
                    process_name=START,
                    reason="version conflict",
                )
                == 1
            ),
            "the step's write to lose the compare-and-set",
        )
        latest = await wfkit_env.store.lookup(run_id)
        assert latest.run_state is wfkit.RunState.PAUSED
        assert latest.meta.run_state_reason == "operator pause"
        assert latest.status == Status.START
        assert len(await wfkit_env.store.history(run_id)) == 2

        await wf.resume(run_id)  # nothing was lost: the step runs again and the run goes on
        run = await wf.await_status("doc", run_id, Status.END, timeout=5)
        assert run.object.steps == ["call 2"]
        assert calls == 2


async def test_history_has_consecutive_versions_from_one(wfkit_env: WorkflowEnv) -> None:
    async def start(run: wfkit.Run[Doc, Status]) -> Status:
        wfkit_env.clock.step(1)  # business time passes between versions
        return Status.MIDDLE

    async def middle(run: wfkit.Run[Doc, Status]) -> Status | wfkit.SaveAndRepeat:
        wfkit_env.clock.step(1)
        run.object.steps.append("tick")
        return run.save_and_repeat() if len(run.object.steps) < 3 else Status.END

    b = wfkit.Builder(WF, Doc, Status)
    b.add_step(Status.START, start, Status.MIDDLE)
    b.add_step(Status.MIDDLE, middle, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("doc")
        await wf.await_status("doc", run_id, Status.END, timeout=5)
        history = await wfkit_env.store.history(run_id)
    assert [r.meta.version for r in history] == [1, 2, 3, 4, 5]
    assert [r.status for r in history] == [Status.START, *[Status.MIDDLE] * 3, Status.END]
    assert [r.run_state for r in history] == [
        wfkit.RunState.INITIATED,
        *[wfkit.RunState.RUNNING] * 3,
        wfkit.RunState.COMPLETED,
    ]
    assert {r.run_id for r in history} == {run_id}
    assert {r.created_at for r in history} == {history[0].created_at}
    updated = [r.updated_at for r in history]
    assert updated == sorted(updated)
    assert len(set(updated)) == 5


# -- duplicates and redelivery -----------------------------------------------------------------


async def test_a_duplicate_event_does_not_apply_a_transition_twice(wfkit_env: WorkflowEnv) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    calls = 0

    async def start(run: wfkit.Run[Doc, Status]) -> Status:
        nonlocal calls
        calls += 1
        entered.set()
        await release.wait()
        run.object.steps.append("start")
        return Status.MIDDLE

    b = wfkit.Builder(WF, Doc, Status)
    b.add_step(Status.START, start, Status.MIDDLE)
    b.add_callback(Status.MIDDLE, to_end, Status.END)
    topic = wfkit.topic(WF, Status.START)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("doc")
        await asyncio.wait_for(entered.wait(), 5)
        (original,) = wfkit_env.streamer.events(topic)
        assert original.headers[wfkit.Header.RECORD_VERSION] == "1"
        sender = await wfkit_env.streamer.sender(topic)
        for _ in range(3):  # redelivered while the first delivery is still being handled
            await sender.send(original.key, original.type, original.headers)
        release.set()
        await wf.await_status("doc", run_id, Status.MIDDLE, timeout=5)
        await eventually(
            lambda: (
                metric(
                    wfkit_env,
                    "workflow_process_skipped_events_count_total",
                    process_name=START,
                    reason="event record version lower than latest record version",
                )
                == 3
            ),
            "the duplicates to be skipped",
        )
        await sender.send(original.key, original.type, original.headers)  # and once more, late
        await eventually(
            lambda: (
                metric(
                    wfkit_env,
                    "workflow_process_skipped_events_count_total",
                    process_name=START,
                    reason="event record version lower than latest record version",
                )
                == 4
            ),
            "the late duplicate to be skipped",
        )
        await sender.close()
        history = await wfkit_env.store.history(run_id)
    assert calls == 1
    assert [(r.meta.version, r.status) for r in history] == [(1, Status.START), (2, Status.MIDDLE)]
    assert wfkit.JsonCodec().decode(history[-1].object, Doc).steps == ["start"]


async def test_a_step_cut_off_by_role_loss_runs_again_with_the_same_idempotency_key(
    wfkit_env: WorkflowEnv,
) -> None:
    entered = asyncio.Event()
    keys: list[str] = []
    cancelled = 0

    async def charge(run: wfkit.Run[Doc, Status]) -> Status:
        nonlocal cancelled
        keys.append(run.idempotency_key)
        if len(keys) == 1:
            entered.set()
            try:
                await asyncio.Event().wait()  # hangs until the role is lost
            except asyncio.CancelledError:
                cancelled += 1
                raise
        return Status.END

    b = wfkit.Builder(WF, Doc, Status)
    b.add_step(Status.START, charge, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("doc")
        await asyncio.wait_for(entered.wait(), 5)
        assert wfkit_env.roles.revoke(START_ROLE)  # e.g. a lease expired: the work is cancelled
        await wf.await_status("doc", run_id, Status.END, timeout=5)
        history = await wfkit_env.store.history(run_id)
    assert cancelled == 1
    assert len(keys) == 2  # the step ran twice, the transition once
    assert keys[0] == keys[1]
    assert [r.meta.version for r in history] == [1, 2]


# -- time limits and idempotency keys ----------------------------------------------------------


async def test_time_limit_cancels_a_slow_step_and_counts_an_error(wfkit_env: WorkflowEnv) -> None:
    started = cancelled = 0

    async def hangs(run: wfkit.Run[Doc, Status]) -> Status:
        nonlocal started, cancelled
        started += 1
        try:
            await asyncio.Event().wait()  # never fires
        except asyncio.CancelledError:
            cancelled += 1
            raise
        return Status.END

    b = wfkit.Builder(WF, Doc, Status)
    b.add_step(Status.START, hangs, Status.END, time_limit=0.01, pause_after_errors=2, error_backoff=0.001)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("doc")

        async def paused() -> bool:
            return (await wfkit_env.store.lookup(run_id)).run_state is wfkit.RunState.PAUSED

        await eventually(paused, "the run to pause after two timed-out attempts")
        history = await wfkit_env.store.history(run_id)
    assert (started, cancelled) == (2, 2)  # each attempt was cut off, none left running
    assert metric(wfkit_env, "workflow_process_error_count_total", process_name=START) == 1
    assert [r.run_state for r in history] == [wfkit.RunState.INITIATED, wfkit.RunState.PAUSED]
    assert history[-1].meta.run_state_reason == wfkit.AUTO_PAUSE_REASON
    assert history[-1].status == Status.START


async def test_time_limit_with_pause_after_one_error(wfkit_env: WorkflowEnv) -> None:
    async def hangs(run: wfkit.Run[Doc, Status]) -> Status:
        await asyncio.Event().wait()
        return Status.END

    b = wfkit.Builder(WF, Doc, Status)
    b.add_step(Status.START, hangs, Status.END, time_limit=0.01, pause_after_errors=1)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("doc")
        run = await wait_for(wf, "doc", lambda r: r.run_state is wfkit.RunState.PAUSED, timeout=5)
    assert run.run_id == run_id
    assert run.meta.run_state_reason == wfkit.AUTO_PAUSE_REASON


async def test_a_fast_step_is_not_affected_by_its_time_limit(wfkit_env: WorkflowEnv) -> None:
    async def quick(run: wfkit.Run[Doc, Status]) -> Status:
        await asyncio.sleep(0)
        return Status.END

    b = wfkit.Builder(WF, Doc, Status)
    b.add_step(Status.START, quick, Status.END, time_limit=5)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("doc")
        await wf.await_status("doc", run_id, Status.END, timeout=5)
    assert metric(wfkit_env, "workflow_process_error_count_total", process_name=START) == 0


async def test_idempotency_key_is_stable_across_retries_of_one_transition(wfkit_env: WorkflowEnv) -> None:
    keys: dict[str, list[str]] = {"start": [], "middle": []}

    async def start(run: wfkit.Run[Doc, Status]) -> Status:
        keys["start"].append(run.idempotency_key)
        if len(keys["start"]) < 3:
            raise ConnectionError("provider timed out")
        return Status.MIDDLE

    async def middle(run: wfkit.Run[Doc, Status]) -> Status:
        keys["middle"].append(run.idempotency_key)
        return Status.END

    b = wfkit.Builder(WF, Doc, Status)
    b.add_step(Status.START, start, Status.MIDDLE, error_backoff=0.001)
    b.add_step(Status.MIDDLE, middle, Status.END)
    async with wfkit_env.run(b) as wf:
        first = await wf.trigger("doc")
        await wf.await_status("doc", first, Status.END, timeout=5)
        second = await wf.trigger("doc")  # the same foreign id, a new run
        await wf.await_status("doc", second, Status.END, timeout=5)
    first_start = keys["start"][:3]
    assert len(set(first_start)) == 1  # one transition, one key, however often it was tried
    assert keys["middle"][0] != first_start[0]  # the next transition has its own key
    assert len({first_start[0], keys["middle"][0], keys["start"][3], keys["middle"][1]}) == 4
