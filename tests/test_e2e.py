"""luno's end-to-end scenarios (inventory §5, items 1-14) on wfkit's memory adapters.

Items 10 and 11 (the process inventory of the sign-up workflow) live in test_states.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from _signup import SignUp, User, sign_up_builder
from _waits import eventually, sleeper_at

import wfkit
from wfkit.adapters import memory
from wfkit.testing import WorkflowEnv, await_timeout_insert, require, trigger_callback_on

# -- 1. the acceptance workflow: user sign-up ----------------------------------------------------


@pytest.mark.parametrize("relay", ["workflow-outbox", "store-relay"])
async def test_acceptance_user_sign_up(wfkit_env: WorkflowEnv, relay: str) -> None:
    options: dict[str, object] = {"debug": True}
    if relay == "store-relay":
        # luno's WithoutOutbox + memrecordstore.WithOutbox: the store publishes its own outbox.
        wfkit_env.store = memory.RecordStore(clock=wfkit_env.clock, relay_to=wfkit_env.streamer)
        options["outbox"] = False
    completed: list[wfkit.Run[User, SignUp]] = []
    hook_seen = asyncio.Event()

    async def on_complete(run: wfkit.Run[User, SignUp]) -> None:
        completed.append(run)
        hook_seen.set()

    start = wfkit_env.clock.now()
    async with wfkit_env.run(sign_up_builder(on_complete), **options) as wf:
        fid = "andrew"
        run_id = await wf.trigger(fid)

        # An unconfirmed email is skipped: the run stays where it is, nothing is written.
        await trigger_callback_on(wf, fid, run_id, SignUp.EMAIL_CONFIRMATION_SENT, {"confirmed": False})
        waiting = await wf.store.lookup(run_id)
        assert waiting.status == SignUp.EMAIL_CONFIRMATION_SENT
        # A callback for a status the run is not at is a silent no-op.
        await wf.callback(fid, SignUp.OTP_SENT, b'{"otp": 345345}')
        assert (await wf.store.lookup(run_id)).meta.version == waiting.meta.version

        await trigger_callback_on(wf, fid, run_id, SignUp.EMAIL_CONFIRMATION_SENT, {"confirmed": True})
        await trigger_callback_on(wf, fid, run_id, SignUp.EMAIL_VERIFIED, {"cellphone": "+44 7467623292"})
        await trigger_callback_on(wf, fid, run_id, SignUp.OTP_SENT, {"otp": 345345})

        timeout = await await_timeout_insert(wf, fid, run_id, SignUp.OTP_VERIFIED)
        assert timeout.expire_at == start + timedelta(hours=1)
        assert (await wf.store.lookup(run_id)).status == SignUp.OTP_VERIFIED
        wfkit_env.clock.step(timedelta(hours=1))

        run = await wf.await_status(fid, run_id, SignUp.COMPLETED, timeout=5)
        await asyncio.wait_for(hook_seen.wait(), 5)

    assert run.status is SignUp.COMPLETED
    assert run.run_state is wfkit.RunState.COMPLETED
    assert run.object == User(
        name="Andrew Wormald",
        email="andreww@luno.com",
        email_confirmed=True,
        cellphone="+44 7467623292",
        otp=345345,
        otp_verified=True,
        completed_at=(start + timedelta(hours=1)).isoformat(),
    )
    final = await wfkit_env.store.latest("user sign up", "andrew")
    assert final.run_id == run_id
    assert final.status == SignUp.COMPLETED
    assert final.meta.status_description == "COMPLETED"
    assert final.run_state is wfkit.RunState.COMPLETED
    assert [r.run_id for r in completed] == [run_id]
    assert completed[0].status is SignUp.COMPLETED


# -- 2. outbox relayed by the store --------------------------------------------------------------


class Status(enum.IntEnum):
    START = 1
    MIDDLE = 2
    END = 3


@dataclasses.dataclass
class Thing:
    value: str = ""
    email: str = ""
    cellphone: str = ""
    user_id: str = ""
    yin: bool = False
    yang: bool = False
    consumed_at: str = ""
    count: int = 0
    items: list[int] = dataclasses.field(default_factory=list)


async def test_outbox_disabled_but_relayed_by_store(wfkit_env: WorkflowEnv) -> None:
    async def finish(run: wfkit.Run[Thing, Status]) -> Status:
        return Status.END

    wfkit_env.store = memory.RecordStore(clock=wfkit_env.clock, relay_to=wfkit_env.streamer)
    b = wfkit.Builder("relayed", Thing, Status)
    b.add_step(Status.START, finish, Status.END)
    async with wfkit_env.run(b, outbox=False) as wf:
        assert "outbox-consumer" not in wf.states()
        run_id = await wf.trigger("fid")
        run = await wf.await_status("fid", run_id, Status.END, timeout=5)
    assert run.run_state is wfkit.RunState.COMPLETED
    # Nothing is left waiting in an outbox nobody relays.
    assert await wfkit_env.store.list_outbox("relayed") == []


# -- 3. timeout after a step ---------------------------------------------------------------------


async def test_timeout_fires_after_its_delay(wfkit_env: WorkflowEnv) -> None:
    async def create(run: wfkit.Run[Thing, Status]) -> Status:
        return Status.MIDDLE

    async def expire(run: wfkit.Run[Thing, Status], now: datetime) -> Status:
        run.object.user_id = f"user-at-{now.isoformat()}"
        return Status.END

    b = wfkit.Builder("timeouts", Thing, Status)
    b.add_step(Status.START, create, Status.MIDDLE)
    b.add_timeout(Status.MIDDLE, wfkit.after(timedelta(hours=1)), expire, Status.END, polling_frequency=0.1)
    start = wfkit_env.clock.now()
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("andrew")
        row = await await_timeout_insert(wf, "andrew", run_id, Status.MIDDLE)
        assert row.expire_at == start + timedelta(hours=1)
        assert (await wf.store.lookup(run_id)).status == Status.MIDDLE
        wfkit_env.clock.step(timedelta(hours=1))
        run = await wf.await_status("andrew", run_id, Status.END, timeout=5)
    assert run.object.user_id == f"user-at-{(start + timedelta(hours=1)).isoformat()}"
    # A fired timeout is done: it is no longer listed.
    assert await wfkit_env.timeouts.list("timeouts") == []


async def test_timeout_that_skips_is_completed(wfkit_env: WorkflowEnv) -> None:
    # wfkit departs from luno: a timeout function returning skip() completes the timeout and leaves
    # the run where it is (luno leaves the row and fires it again on every poll).
    fired: list[datetime] = []

    async def expire(run: wfkit.Run[Thing, Status], now: datetime) -> wfkit.Skip:
        fired.append(now)
        return run.skip()

    b = wfkit.Builder("skipped timeout", Thing, Status)
    b.add_step(Status.START, lambda run: Status.MIDDLE, Status.MIDDLE)
    b.add_timeout(Status.MIDDLE, wfkit.after(timedelta(hours=1)), expire, Status.END)
    b.add_callback(Status.MIDDLE, lambda run, payload: Status.END, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("andrew")
        await await_timeout_insert(wf, "andrew", run_id, Status.MIDDLE)
        wfkit_env.clock.step(timedelta(hours=1))
        await eventually(lambda: len(fired) == 1, "the timeout to fire")
        await eventually(_no_timeouts(wfkit_env, "skipped timeout"), "the timeout to be completed")
        wfkit_env.clock.step(timedelta(hours=1))
        # Still waiting at MIDDLE: the callback can move it on; the timeout never fires again.
        await wf.callback("andrew", Status.MIDDLE, b"")
        assert (await wf.store.lookup(run_id)).status == Status.END
    assert len(fired) == 1


def _no_timeouts(env: WorkflowEnv, name: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await env.timeouts.list(name) == []

    return check


# -- callbacks -----------------------------------------------------------------------------------


async def test_several_callbacks_on_one_status(wfkit_env: WorkflowEnv) -> None:
    # Callbacks on a status run in order until one moves the run; each sees the whole payload
    # (luno hands every callback the same, already drained reader).
    seen: list[tuple[str, bytes]] = []

    def handler(name: str, accepts: bytes, to: Status) -> object:
        async def fn(run: wfkit.Run[Thing, Status], payload: bytes) -> Status | wfkit.Skip:
            seen.append((name, payload))
            if payload != accepts:
                return run.skip()
            run.object.value = name
            return to

        return fn

    b = wfkit.Builder("two callbacks", Thing, Status)
    b.add_callback(Status.START, handler("first", b"approve", Status.MIDDLE), Status.MIDDLE)  # type: ignore[arg-type]
    b.add_callback(Status.START, handler("second", b"reject", Status.END), Status.END)  # type: ignore[arg-type]
    b.add_step(Status.MIDDLE, lambda run: Status.END, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("andrew")
        await wf.callback("andrew", Status.START, b"reject")
        run = await wf.await_status("andrew", run_id, Status.END, timeout=5)
    assert seen == [("first", b"reject"), ("second", b"reject")]
    assert run.object.value == "second"
    assert Status.MIDDLE not in [r.status for r in await wfkit_env.store.history(run_id)]


# -- 4. trigger and schedule before run ----------------------------------------------------------


async def test_trigger_and_schedule_need_a_running_workflow(wfkit_env: WorkflowEnv) -> None:
    async def finish(run: wfkit.Run[Thing, Status]) -> Status:
        return Status.END

    b = wfkit.Builder("not running", Thing, Status)
    b.add_step(Status.START, finish, Status.END)
    wf = wfkit_env.build(b)
    with pytest.raises(wfkit.WorkflowNotRunning, match="trigger failed"):
        await wf.trigger("andrew")
    with pytest.raises(wfkit.WorkflowNotRunning, match="schedule failed"):
        wf.schedule("andrew", "@monthly")
    async with wf:
        await wf.trigger("andrew")
    # ... and after stop() again.
    with pytest.raises(wfkit.WorkflowNotRunning):
        await wf.trigger("andrew-2")
    with pytest.raises(wfkit.RecordNotFound):
        await wfkit_env.store.latest("not running", "andrew-2")


# -- 5. require at an intermediate and at the final status --------------------------------------


async def test_require_sees_intermediate_and_final_objects(wfkit_env: WorkflowEnv) -> None:
    async def set_email(run: wfkit.Run[Thing, Status]) -> Status:
        run.object.email = "andrew@wormald.com"
        return Status.MIDDLE

    async def set_cellphone(run: wfkit.Run[Thing, Status]) -> Status:
        run.object.cellphone = "+44 7467623292"
        return Status.END

    b = wfkit.Builder("require", Thing, Status)
    b.add_step(Status.START, set_email, Status.MIDDLE)
    b.add_step(Status.MIDDLE, set_cellphone, Status.END)
    async with wfkit_env.run(b) as wf:
        await wf.trigger("andrew")
        await require(wf, "andrew", Status.END, Thing(email="andrew@wormald.com", cellphone="+44 7467623292"))
        # The run has moved on; require still checks the object as it was at MIDDLE.
        await require(wf, "andrew", Status.MIDDLE, Thing(email="andrew@wormald.com"))
        with pytest.raises(AssertionError, match="expected"):
            await require(wf, "andrew", Status.MIDDLE, Thing(email="someone@else.com"))


# -- 6. timeout at a fixed time ------------------------------------------------------------------


async def test_timeout_at_a_fixed_time() -> None:
    env = WorkflowEnv(datetime(1992, 1, 1, tzinfo=UTC))
    when = datetime(1992, 4, 9, tzinfo=UTC)

    async def yin(run: wfkit.Run[Thing, Status]) -> Status:
        run.object.yin = True
        return Status.MIDDLE

    async def yang(run: wfkit.Run[Thing, Status], now: datetime) -> Status:
        assert now == when
        run.object.yang = True
        return Status.END

    b = wfkit.Builder("fixed time", Thing, Status)
    b.add_step(Status.START, yin, Status.MIDDLE)
    b.add_timeout(Status.MIDDLE, wfkit.at(when), yang, Status.END)
    async with env.run(b) as wf:
        run_id = await wf.trigger("andrew")
        row = await await_timeout_insert(wf, "andrew", run_id, Status.MIDDLE)
        assert row.expire_at == when
        env.clock.set(when)
        run = await wf.await_status("andrew", run_id, Status.END, timeout=5)
    assert (run.object.yin, run.object.yang) == (True, True)


# -- 7. connector --------------------------------------------------------------------------------


async def test_connector_triggers_runs_and_drops_no_event(wfkit_env: WorkflowEnv) -> None:
    # With two shards, every external event is handled exactly by one shard (wfkit shards connector
    # events by a stable hash of the event id; luno drops events whose hash is negative).
    events = [
        wfkit.ConnectorEvent(id=f"event-{i}", foreign_id=f"user-{i}", type="signed-up") for i in range(12)
    ]
    handled: list[str] = []

    async def on_event(wf: wfkit.Workflow[Thing, Status], event: wfkit.ConnectorEvent) -> None:
        handled.append(event.id)
        await wf.trigger(event.foreign_id, initial=Thing(value="trigger set value"))

    async def step(run: wfkit.Run[Thing, Status]) -> Status:
        run.object.value = "workflow step set value"
        return Status.END

    b = wfkit.Builder("connected", Thing, Status)
    b.add_step(Status.START, step, Status.END)
    b.add_connector("my-connector", memory.Connector(events, clock=wfkit_env.clock), on_event, parallel=2)
    async with wfkit_env.run(b) as wf:
        for event in events:
            await require(wf, event.foreign_id, Status.START, Thing(value="trigger set value"))
            await require(wf, event.foreign_id, Status.END, Thing(value="workflow step set value"))
    assert sorted(handled) == sorted(e.id for e in events)


# -- 8. consumer lag -----------------------------------------------------------------------------


async def test_lag_delays_consumption_in_business_time(wfkit_env: WorkflowEnv) -> None:
    async def consume(run: wfkit.Run[Thing, Status]) -> Status:
        run.object.consumed_at = wfkit_env.clock.now().isoformat()
        return Status.END

    b = wfkit.Builder("lagged", Thing, Status)
    b.add_step(Status.START, consume, Status.END, lag=timedelta(hours=1))
    start = wfkit_env.clock.now()
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("andrew")
        # The consumer is parked until the event is an hour old, and the run has not moved.
        await sleeper_at(wfkit_env.clock, start + timedelta(hours=1))
        assert (await wf.store.lookup(run_id)).status == Status.START
        wfkit_env.clock.step(timedelta(hours=1))
        run = await wf.await_status("andrew", run_id, Status.END, timeout=5)
    assert run.object.consumed_at == (start + timedelta(hours=1)).isoformat()


# -- 9. name -------------------------------------------------------------------------------------


def test_name_is_the_builders(wfkit_env: WorkflowEnv) -> None:
    b = wfkit.Builder("my workflow name", Thing, Status)
    b.add_step(Status.START, lambda run: Status.END, Status.END)
    assert wfkit_env.build(b).name == "my workflow name"


# -- 12, 13. save and repeat ---------------------------------------------------------------------


def counting_builder(name: str, iterations: int) -> wfkit.Builder[Thing, Status]:
    async def count(run: wfkit.Run[Thing, Status]) -> Status | wfkit.SaveAndRepeat:
        run.object.count += 1
        run.object.items.append(run.object.count)
        if run.object.count < iterations:
            return run.save_and_repeat()
        return Status.END

    b = wfkit.Builder(name, Thing, Status)
    b.add_step(Status.START, count, Status.END)
    return b


async def test_save_and_repeat_100_times(wfkit_env: WorkflowEnv) -> None:
    async with wfkit_env.run(counting_builder("repeat", 100)) as wf:
        run_id = await wf.trigger("andrew")
        run = await wf.await_status("andrew", run_id, Status.END, timeout=5)
    assert run.object.count == 100
    assert run.object.items == list(range(1, 101))
    history = await wfkit_env.store.history(run_id)
    # trigger, 99 saves at START (each one version), then END.
    assert [r.meta.version for r in history] == list(range(1, 102))
    assert [r.status for r in history] == [Status.START] * 100 + [Status.END]


async def test_save_and_repeat_in_concurrent_workflows(wfkit_env: WorkflowEnv) -> None:
    async def one(i: int) -> Thing:
        async with wfkit_env.run(counting_builder(f"repeat-{i}", 10)) as wf:
            run_id = await wf.trigger("andrew")
            return (await wf.await_status("andrew", run_id, Status.END, timeout=5)).object

    results = await asyncio.gather(*(one(i) for i in range(5)))
    assert [r.count for r in results] == [10] * 5
    assert all(r.items == list(range(1, 11)) for r in results)


# -- 14. linear chains (luno's benchmark, as a correctness test) --------------------------------


@pytest.mark.parametrize("length", [5, 10, 100])
async def test_linear_chain_runs_to_completion(wfkit_env: WorkflowEnv, length: int) -> None:
    chain = enum.IntEnum("Chain", {f"S{i}": i for i in range(1, length + 2)})  # type: ignore[misc]

    def advance(to: enum.IntEnum) -> object:
        async def step(run: wfkit.Run[Thing, enum.IntEnum]) -> enum.IntEnum:
            run.object.count += 1
            return to

        return step

    b: wfkit.Builder[Thing, enum.IntEnum] = wfkit.Builder(f"chain-{length}", Thing, chain)
    for i in range(1, length + 1):
        b.add_step(chain(i), advance(chain(i + 1)), chain(i + 1))  # type: ignore[arg-type]
    async with wfkit_env.run(b) as wf:
        for n in range(3):
            run_id = await wf.trigger(f"run-{n}")
            run = await wf.await_status(f"run-{n}", run_id, chain(length + 1), timeout=5)
            assert run.object.count == length
            assert run.run_state is wfkit.RunState.COMPLETED
