"""`wf.states()`: the exact process names and their states (inventory §5, items 10, 11, 20, 25, 30).

Names follow luno's rules from the lower-cased enum names: `<status>-consumer-<i>-of-<n>`,
`<status>-timeout-consumer`, `<status>-timeout-auto-inserter-consumer`, `outbox-consumer`,
`<run state>-run-state-change-hook-consumer`, `delete-consumer`, `paused-records-retry-consumer`,
`<connector>-connector-to-<workflow>-consumer-<i>-of-<n>` and `<foreign id>-scheduler-<spec>`.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime, timedelta
from typing import Any

from _signup import sign_up_builder
from _waits import eventually

import wfkit
from wfkit import ProcessState
from wfkit.adapters import memory
from wfkit.testing import WorkflowEnv

SIGN_UP_PROCESSES = {
    "initiated-consumer-1-of-1",
    "profile_created-consumer-1-of-1",
    "cellphone_number_submitted-consumer-1-of-2",
    "cellphone_number_submitted-consumer-2-of-2",
    "otp_verified-timeout-consumer",
    "otp_verified-timeout-auto-inserter-consumer",
    "outbox-consumer",
    "completed-run-state-change-hook-consumer",
    "delete-consumer",
    "paused-records-retry-consumer",
}


async def all_running(wf: wfkit.Workflow[Any, Any]) -> dict[str, ProcessState]:
    """`wf.states()` once every process holds its role (they start IDLE)."""
    await eventually(
        lambda: set(wf.states().values()) == {ProcessState.RUNNING}, "every process to be running"
    )
    return wf.states()


# -- 10, 11. the acceptance workflow -------------------------------------------------------------


async def test_sign_up_processes(wfkit_env: WorkflowEnv) -> None:
    wf = wfkit_env.build(sign_up_builder())
    assert wf.states() == {}
    async with wf:
        # Callbacks have no process.
        assert set(wf.states()) == SIGN_UP_PROCESSES
        assert set(await all_running(wf)) == SIGN_UP_PROCESSES
    assert wf.states() == dict.fromkeys(SIGN_UP_PROCESSES, ProcessState.SHUTDOWN)


async def test_sign_up_processes_without_outbox(wfkit_env: WorkflowEnv) -> None:
    wfkit_env.store = memory.RecordStore(clock=wfkit_env.clock, relay_to=wfkit_env.streamer)
    async with wfkit_env.run(sign_up_builder(), outbox=False) as wf:
        assert set(wf.states()) == SIGN_UP_PROCESSES - {"outbox-consumer"}


# -- 20. the paused-records retry process --------------------------------------------------------


class Status(enum.IntEnum):
    START = 1
    MIDDLE = 2
    END = 3


@dataclasses.dataclass
class Doc:
    text: str = ""


def simple(name: str) -> wfkit.Builder[Doc, Status]:
    b = wfkit.Builder(name, Doc, Status)
    b.add_step(Status.START, lambda run: Status.END, Status.END)
    return b


async def test_pause_retry_process_only_when_enabled(wfkit_env: WorkflowEnv) -> None:
    async with wfkit_env.run(simple("default")) as wf:
        assert "paused-records-retry-consumer" in wf.states()
    async with wfkit_env.run(simple("custom"), pause_retry=timedelta(minutes=5)) as wf:
        assert "paused-records-retry-consumer" in wf.states()
    async with wfkit_env.run(simple("disabled"), pause_retry=None) as wf:
        assert "paused-records-retry-consumer" not in wf.states()
        assert set(wf.states()) == {"outbox-consumer", "start-consumer-1-of-1", "delete-consumer"}


# -- 25. a schedule is a process -----------------------------------------------------------------


async def test_schedule_process_state_and_shutdown() -> None:
    env = WorkflowEnv(datetime(2023, 4, 9, 8, 30, tzinfo=UTC))
    wf = env.build(simple("scheduled"))
    async with wf:
        wf.schedule("andrew", "@monthly")
        states = await all_running(wf)
        assert states == {
            "andrew-scheduler-@monthly": ProcessState.RUNNING,
            "start-consumer-1-of-1": ProcessState.RUNNING,
            "outbox-consumer": ProcessState.RUNNING,
            "delete-consumer": ProcessState.RUNNING,
            "paused-records-retry-consumer": ProcessState.RUNNING,
        }
    assert wf.states() == dict.fromkeys(states, ProcessState.SHUTDOWN)


# -- 30. every kind of process -------------------------------------------------------------------


async def test_every_kind_of_process(wfkit_env: WorkflowEnv) -> None:
    async def connect(wf: wfkit.Workflow[Doc, Status], event: wfkit.ConnectorEvent) -> None:
        await wf.trigger(event.foreign_id)

    b = wfkit.Builder("example", Doc, Status)
    b.add_step(Status.START, lambda run: Status.MIDDLE, Status.MIDDLE)
    b.add_step(Status.MIDDLE, lambda run: Status.END, Status.END, parallel=3)
    b.add_timeout(Status.START, wfkit.after(timedelta(hours=1)), lambda run, now: Status.END, Status.END)
    b.add_connector("consume-other-stream", memory.Connector([]), connect, parallel=2)
    wf = wfkit_env.build(b)
    assert wf.states() == {}
    await wf.run()
    try:
        running = await all_running(wf)
    finally:
        await wf.stop()
    expected = {
        "outbox-consumer",
        "start-consumer-1-of-1",
        "middle-consumer-1-of-3",
        "middle-consumer-2-of-3",
        "middle-consumer-3-of-3",
        "start-timeout-consumer",
        "start-timeout-auto-inserter-consumer",
        "consume-other-stream-connector-to-example-consumer-1-of-2",
        "consume-other-stream-connector-to-example-consumer-2-of-2",
        "delete-consumer",
        "paused-records-retry-consumer",
    }
    assert set(running) == expected
    assert wf.states() == dict.fromkeys(expected, ProcessState.SHUTDOWN)
