"""Prometheus metrics as a scrape sees them (luno 35-42 re-expressed on a private registry).

Counters are exposed by prometheus-client with a `_total` suffix on their samples
(`workflow_process_error_count_total`); gauges and the histogram keep luno's names.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from _waits import eventually, sleeper_at
from _workflows import Doc, Status
from prometheus_client import generate_latest

import wfkit
from wfkit.testing import WorkflowEnv

WF = "metrics"
START = "start-consumer-1-of-1"
MIDDLE = "middle-consumer-1-of-1"
SERVICE = ("outbox-consumer", "delete-consumer", "paused-records-retry-consumer")


def value(env: WorkflowEnv, name: str, **labels: str) -> float | None:
    return env.registry.get_sample_value(name, {"workflow_name": WF, **labels})


def chain(**start_options: object) -> tuple[wfkit.Builder[Doc, Status], asyncio.Event]:
    """START -step-> MIDDLE -step-> END; the event is set whenever the START step runs."""
    ran = asyncio.Event()

    async def start(run: wfkit.Run[Doc, Status]) -> Status:
        ran.set()
        return Status.MIDDLE

    async def middle(run: wfkit.Run[Doc, Status]) -> Status:
        return Status.END

    b = wfkit.Builder(WF, Doc, Status)
    b.add_step(Status.START, start, Status.MIDDLE, **start_options)  # type: ignore[arg-type]
    b.add_step(Status.MIDDLE, middle, Status.END)
    return b, ran


async def test_lag_of_an_event_written_an_hour_before_run(wfkit_env: WorkflowEnv) -> None:
    seen = asyncio.Event()

    async def start(run: wfkit.Run[Doc, Status]) -> wfkit.Skip:
        seen.set()
        return run.skip()  # no further writes, so the outbox lag stays as measured

    b = wfkit.Builder(WF, Doc, Status)
    b.add_step(Status.START, start, Status.END)
    then = wfkit_env.clock.now()
    await wfkit_env.store.store(
        wfkit.Record(
            workflow_name=WF,
            foreign_id="doc",
            run_id="run-1",
            run_state=wfkit.RunState.INITIATED,
            status=Status.START,
            object=wfkit.JsonCodec().encode(Doc("old")),
            created_at=then,
            updated_at=then,
            meta=wfkit.Meta(version=1, status_description="START"),
        )
    )
    wfkit_env.clock.step(timedelta(hours=1))
    async with wfkit_env.run(b):
        await asyncio.wait_for(seen.wait(), 5)
        # The outbox row was an hour old when relayed; the relayed event was fresh when consumed.
        assert value(wfkit_env, "workflow_process_lag_seconds", process_name="outbox-consumer") == 3600
        assert value(wfkit_env, "workflow_process_lag_seconds", process_name=START) == 0
        # A consumer with a lag alert reports it, here not alerting.
        assert value(wfkit_env, "workflow_process_lag_alert", process_name=START) == 0
        assert value(wfkit_env, "workflow_process_lag_alert", process_name="outbox-consumer") == 1


async def test_lag_alert_fires_30_minutes_past_a_consumer_lag(wfkit_env: WorkflowEnv) -> None:
    b, ran = chain(lag=timedelta(hours=1))  # no lag_alert given: it is 30 min + 1 h
    clock = wfkit_env.clock
    async with wfkit_env.run(b) as wf:
        t0 = clock.now()
        await wf.trigger("a")
        await sleeper_at(clock, t0 + timedelta(hours=1))  # the event is published, held by the lag
        clock.step(timedelta(minutes=70))  # consumed 70 minutes after it was written
        await asyncio.wait_for(ran.wait(), 5)
        assert value(wfkit_env, "workflow_process_lag_seconds", process_name=START) == 70 * 60
        assert value(wfkit_env, "workflow_process_lag_alert", process_name=START) == 0

        ran.clear()
        t1 = clock.now()
        await wf.trigger("b")
        await sleeper_at(clock, t1 + timedelta(hours=1))
        clock.step(timedelta(minutes=100))  # 100 minutes behind: past 90, alerting
        await asyncio.wait_for(ran.wait(), 5)
        assert value(wfkit_env, "workflow_process_lag_alert", process_name=START) == 1


async def test_process_states_idle_running_shutdown(wfkit_env: WorkflowEnv) -> None:
    b, _ = chain()
    role = f"{WF}-{int(Status.START)}-consumer-1-of-1"
    held, release = asyncio.Event(), asyncio.Event()

    async def other_worker() -> None:
        async with wfkit_env.roles.hold(role):
            held.set()
            await release.wait()

    other = asyncio.create_task(other_worker())
    await held.wait()

    def state(process: str) -> float | None:
        return value(wfkit_env, "workflow_process_states", process_name=process)

    async with wfkit_env.run(b) as wf:
        names = (START, MIDDLE, *SERVICE)
        assert set(wf.states()) == set(names)
        await eventually(lambda: all(state(p) == 2 for p in names if p != START), "others running")
        assert state(START) == 3  # idle: someone else holds its role
        assert wf.states()[START] is wfkit.ProcessState.IDLE
        assert wfkit_env.roles.waiting(role) == 1

        release.set()
        await other
        await eventually(lambda: state(START) == 2, "the start consumer to take over its role")
        assert wf.states()[START] is wfkit.ProcessState.RUNNING
        run_id = await wf.trigger("doc")
        await wf.await_status("doc", run_id, Status.END, timeout=5)
    assert {p: state(p) for p in names} == dict.fromkeys(names, 1)  # shutdown
    assert set(wf.states().values()) == {wfkit.ProcessState.SHUTDOWN}


async def test_latency_histogram_per_consumer(wfkit_env: WorkflowEnv) -> None:
    b, _ = chain()
    async with wfkit_env.run(b) as wf:
        for i in range(3):
            run_id = await wf.trigger(f"doc-{i}")
            await wf.await_status(f"doc-{i}", run_id, Status.END, timeout=5)
        await eventually(
            lambda: value(wfkit_env, "workflow_process_latency_seconds_count", process_name=MIDDLE) == 3,
            "the middle consumer to ack its last event",
        )
    for process in (START, MIDDLE):
        assert value(wfkit_env, "workflow_process_latency_seconds_count", process_name=process) == 3
        assert (
            value(wfkit_env, "workflow_process_latency_seconds_bucket", process_name=process, le="+Inf") == 3
        )
        assert value(wfkit_env, "workflow_process_latency_seconds_sum", process_name=process) >= 0  # type: ignore[operator]
    text = generate_latest(wfkit_env.registry).decode()
    assert "# TYPE workflow_process_latency_seconds histogram" in text
    buckets = [
        line.split("le=")[1].split(",")[0]
        for line in text.splitlines()
        if line.startswith("workflow_process_latency_seconds_bucket") and f'"{START}"' in line
    ]
    assert buckets == ['"0.01"', '"0.1"', '"1.0"', '"5.0"', '"10.0"', '"60.0"', '"300.0"', '"+Inf"']


async def test_error_counter_counts_failed_steps(wfkit_env: WorkflowEnv) -> None:
    calls = 0

    async def flaky(run: wfkit.Run[Doc, Status]) -> Status:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise RuntimeError("payment provider down")
        return Status.END

    b = wfkit.Builder(WF, Doc, Status)
    b.add_step(Status.START, flaky, Status.END, error_backoff=0.001)
    async with wfkit_env.run(b) as wf:
        assert value(wfkit_env, "workflow_process_error_count_total", process_name=START) is None
        run_id = await wf.trigger("doc")
        await wf.await_status("doc", run_id, Status.END, timeout=5)
    assert value(wfkit_env, "workflow_process_error_count_total", process_name=START) == 2
    assert value(wfkit_env, "workflow_process_error_count_total", process_name="outbox-consumer") is None


async def test_run_state_changes_are_counted_by_label(wfkit_env: WorkflowEnv) -> None:
    b, _ = chain()

    def changes(previous: str, current: str) -> float | None:
        return value(
            wfkit_env,
            "workflow_run_state_changes_total",
            previous_run_state=previous,
            current_run_state=current,
        )

    async with wfkit_env.run(b) as wf:
        for i in range(2):
            run_id = await wf.trigger(f"doc-{i}")
            await wf.await_status(f"doc-{i}", run_id, Status.END, timeout=5)
    assert changes("Unknown", "Initiated") == 2
    assert changes("Initiated", "Running") == 2
    assert changes("Running", "Completed") == 2
    assert changes("Running", "Running") is None  # a status change within a run state is not one


async def test_run_control_counts_run_state_changes(wfkit_env: WorkflowEnv) -> None:
    async def hold(run: wfkit.Run[Doc, Status], payload: bytes) -> Status:
        return Status.END

    b = wfkit.Builder(WF, Doc, Status)
    b.add_callback(Status.START, hold, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("doc")
        await wf.pause(run_id, "checking")
        await wf.resume(run_id)
        await wf.cancel(run_id, "no longer wanted")
    for previous, current in [("Initiated", "Paused"), ("Paused", "Running"), ("Running", "Cancelled")]:
        assert (
            value(
                wfkit_env,
                "workflow_run_state_changes_total",
                previous_run_state=previous,
                current_run_state=current,
            )
            == 1
        ), (previous, current)


async def test_skipped_events_counted_with_lunos_reason(wfkit_env: WorkflowEnv) -> None:
    skipped = asyncio.Event()

    async def not_yet(run: wfkit.Run[Doc, Status]) -> wfkit.Skip:
        skipped.set()
        return run.skip()

    b = wfkit.Builder(WF, Doc, Status)
    b.add_step(Status.START, not_yet, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("doc")
        await asyncio.wait_for(skipped.wait(), 5)
        assert (
            value(
                wfkit_env,
                "workflow_process_skipped_events_count_total",
                process_name=START,
                reason="next value specified skip",
            )
            == 1
        )
        assert [r.meta.version for r in await wf.store.history(run_id)] == [1]  # nothing written


def test_workflows_on_one_registry_share_the_families(wfkit_env: WorkflowEnv) -> None:
    b1, _ = chain()
    b2 = wfkit.Builder("other", Doc, Status)
    b2.add_step(Status.START, lambda run: Status.END, Status.END)
    wfkit_env.build(b1)
    wfkit_env.build(b2)  # a second workflow on the same registry must not fail to register
    text = generate_latest(wfkit_env.registry).decode()
    assert text.count("# TYPE workflow_process_states gauge") == 1
    assert f'workflow_process_states{{process_name="{START}",workflow_name="other"}}' in text
    assert f'workflow_process_states{{process_name="{START}",workflow_name="{WF}"}}' in text
