"""End-to-end cases of the contracts: a real workflow running on the adapter under test.

luno's adaptertest runs its "sync user" workflow through every streamer and a triggering
connector through every connector; these are the same, on the memory adapters for the other ports.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from wfkit import Builder, Connector, ConnectorEvent, EventStreamer, RandomIds, Run, RunState, Workflow
from wfkit.adapters import memory
from wfkit.testing._clock import FakeClock
from wfkit.testing._helpers import await_timeout_insert, require


class SyncStatus(enum.IntEnum):
    STARTED = 1
    EMAIL_SET = 2
    REGULATION_TIMEOUT = 3
    COMPLETED = 4


@dataclasses.dataclass
class User:
    uid: str = ""
    email: str = ""
    country_code: str = ""


async def _set_email(run: Run[User, SyncStatus]) -> SyncStatus:
    run.object.email = "andrew@workflow.com"
    return SyncStatus.EMAIL_SET


async def _regulation_period(run: Run[User, SyncStatus], now: datetime) -> datetime | None:
    return now + timedelta(hours=1) if run.object.country_code == "GB" else None


async def _cool_down_over(run: Run[User, SyncStatus], now: datetime) -> SyncStatus:
    return SyncStatus.REGULATION_TIMEOUT


async def _complete(run: Run[User, SyncStatus]) -> SyncStatus:
    return SyncStatus.COMPLETED


async def sync_user_through(streamer: EventStreamer, wait_seconds: float) -> None:
    """luno's "sync user 2": sharded steps, a one-hour timeout, all events through `streamer`."""
    clock = FakeClock(datetime(2023, 4, 9, 8, 30, tzinfo=UTC))
    b = Builder("sync user 2", User, SyncStatus)
    b.add_step(SyncStatus.STARTED, _set_email, SyncStatus.EMAIL_SET, parallel=5, polling_frequency=0.2)
    b.add_timeout(SyncStatus.EMAIL_SET, _regulation_period, _cool_down_over, SyncStatus.REGULATION_TIMEOUT)
    b.add_step(SyncStatus.REGULATION_TIMEOUT, _complete, SyncStatus.COMPLETED, parallel=5)
    wf = b.build(
        streamer,
        memory.RecordStore(clock=clock),
        memory.RoleScheduler(),
        timeout_store=memory.TimeoutStore(clock=clock),
        clock=clock,
        metrics=CollectorRegistry(),
        ids=RandomIds(1),
    )
    async with wf:
        run_id = await wf.trigger("andrew", initial=User(uid="u-1", country_code="GB"))
        await await_timeout_insert(wf, "andrew", run_id, SyncStatus.EMAIL_SET, timeout=wait_seconds)
        clock.step(timedelta(hours=1))
        run = await wf.await_status("andrew", run_id, SyncStatus.COMPLETED, timeout=wait_seconds)
    assert run.object == User(uid="u-1", email="andrew@workflow.com", country_code="GB")
    assert run.meta.status_description == "COMPLETED"
    assert run.run_state is RunState.COMPLETED


async def connector_triggers_runs(
    connector: Connector, events: list[ConnectorEvent], wait_seconds: float
) -> None:
    """luno's connector case: each external event triggers a run, whose step then completes it."""

    class Status(enum.IntEnum):
        STARTED = 1
        EMAIL_SET = 2

    async def on_event(wf: Workflow[User, Status], event: ConnectorEvent) -> None:
        await wf.trigger(event.foreign_id, initial=User(uid=event.foreign_id))

    async def set_email(run: Run[User, Status]) -> Status:
        run.object.email = "connector@workflow.com"
        return Status.EMAIL_SET

    b = Builder("connector-test", User, Status)
    b.add_step(Status.STARTED, set_email, Status.EMAIL_SET)
    b.add_connector("tester", connector, on_event)
    workflow = b.build(
        memory.EventStreamer(),
        memory.RecordStore(),
        memory.RoleScheduler(),
        metrics=CollectorRegistry(),
        ids=RandomIds(2),
    )
    async with workflow:
        for event in events:
            expected = User(uid=event.foreign_id, email="connector@workflow.com")
            await require(workflow, event.foreign_id, Status.EMAIL_SET, expected, timeout=wait_seconds)
