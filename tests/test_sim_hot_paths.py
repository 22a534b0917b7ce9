"""The simulator's fast paths keep their promises: alarms, wakes, one-off cursors, the SimLoop."""

from __future__ import annotations

import asyncio
import hashlib
import random
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from _reminders import Status, reminders

import wfkit
from wfkit._process import Wake
from wfkit.adapters import memory
from wfkit.testing import SimEnv, SimRunner
from wfkit.testing._simclock import SimClock
from wfkit.testing._simloop import SimLoop
from wfkit.testing._simloop import run as sim_run
from wfkit.testing._trace import Trace


def _cursors(streamer: memory.EventStreamer) -> int:
    return sum(len(topic.cursors) for topic in streamer._topics.values())


# -- task 2: one-off receivers leave no cursor behind -----------------------------------------------


def test_await_status_leaves_no_cursor_behind_and_consumer_cursors_stay(wfkit_sim: SimRunner) -> None:
    async def scenario(env: SimEnv) -> tuple[int, int, int | None]:
        async with env.run(reminders(1)) as wf:
            run_id = await wf.trigger("doc-0")
            await wf.await_status("doc-0", run_id, Status.DONE, timeout=7200)
            before = _cursors(env.streamer)
            for i in range(1, 60):
                rid = await wf.trigger(f"doc-{i}")
                await wf.await_status(f"doc-{i}", rid, Status.WAITING, timeout=60)  # waits on an event
                await wf.await_status(f"doc-{i}", rid, Status.DONE, timeout=7200)
                await wf.await_status(f"doc-{i}", rid, Status.START, timeout=60)  # from history at once
            after = _cursors(env.streamer)
        # The consumers' durable cursors survive the workflow's stop (a restart resumes there).
        durable = env.streamer.cursor(wfkit.topic("reminders", Status.START), "reminders-1-consumer-1-of-1")
        return before, after, durable

    before, after, durable = wfkit_sim.run(scenario)
    assert after == before
    assert durable is not None
    assert durable >= 60


async def test_an_ephemeral_receiver_forgets_its_cursor_on_close_a_durable_one_keeps_it() -> None:
    streamer = memory.EventStreamer()
    sender = await streamer.sender("t")
    await sender.send("r1", 1, {})
    one_off = await streamer.receiver("t", "wait-1", from_latest=True, ephemeral=True)
    durable = await streamer.receiver("t", "consumer")
    await sender.send("r2", 1, {})
    await one_off.ack(await one_off.recv())
    await durable.ack(await durable.recv())
    assert streamer.cursor("t", "wait-1") == 2
    await one_off.close()
    await durable.close()
    assert streamer.cursor("t", "wait-1") is None
    assert streamer.cursor("t", "consumer") == 1
    assert (await (await streamer.receiver("t", "consumer")).recv()).key == "r2"


# -- alarms and wakes -----------------------------------------------------------------------------


@pytest.mark.parametrize("bound", [False, True])
def test_sim_clock_alarms_ring_on_time_can_be_cancelled_and_ring_at_a_jump_in_order(bound: bool) -> None:
    async def scenario() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, SimLoop)
        clock = SimClock(loop=loop) if bound else SimClock()
        rang: list[tuple[str, float]] = []
        epoch = clock.now()
        clock.call_at(epoch + timedelta(seconds=10), lambda: rang.append(("ten", loop.time())))
        cancelled = clock.call_at(epoch + timedelta(seconds=5), lambda: rang.append(("five", loop.time())))
        cancelled.cancel()
        clock.call_at(epoch + timedelta(seconds=40), lambda: rang.append(("forty", loop.time())))
        clock.call_at(epoch + timedelta(seconds=30), lambda: rang.append(("thirty", loop.time())))
        await asyncio.sleep(12)
        clock.jump(30.0)  # business time 42: both later alarms are due, and ring now, in time order
        rang.append(("jumped", loop.time()))
        await asyncio.sleep(60)  # their loop timers were cancelled: nothing rings twice
        return rang

    assert sim_run(scenario(), seed=1) == [("ten", 10.0), ("thirty", 12.0), ("forty", 12.0), ("jumped", 12.0)]


def test_a_sim_clock_made_without_jumps_rings_its_alarms_on_time_and_refuses_to_jump() -> None:
    async def scenario() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        clock = SimClock(loop=loop, jumps=False)
        rang: list[tuple[str, float]] = []
        epoch = clock.now()
        clock.call_at(epoch + timedelta(seconds=10), lambda: rang.append(("ten", loop.time())))
        clock.call_at(epoch + timedelta(seconds=5), lambda: rang.append(("five", loop.time()))).cancel()
        await clock.sleep_until(epoch + timedelta(seconds=20))
        with pytest.raises(RuntimeError, match="jumps=False"):
            clock.jump(1.0)
        rang.append(("slept", loop.time()))
        return rang

    assert sim_run(scenario(), seed=1) == [("ten", 10.0), ("slept", 20.0)]


def test_a_simulation_s_clock_jumps_only_if_its_fault_plan_jumps_it() -> None:
    from wfkit.testing import FaultPlan, Workload, simulate

    for plan, jumps in ((FaultPlan.none(), False), (FaultPlan.parse("clock_jump=0.5"), True)):
        report = simulate(reminders(2), seed=3, nodes=1, workload=Workload(runs=2), faults=plan)
        assert report.ok, report.explain()
        assert ("clock_jump" in report.stats["faults"]) is jumps


# -- the garbage collector during a simulation ------------------------------------------------------


def test_a_set_aside_run_restores_the_collector_and_frees_its_cycles_afterwards() -> None:
    import gc
    import weakref

    class Node:
        pass

    refs: list[weakref.ref[Node]] = []
    kept: list[Node] = []

    async def scenario() -> None:
        # A collection that finds nothing to free, then cycles: the next ones set them aside unscanned.
        for _ in range(12_000):
            kept.append(Node())
            await asyncio.sleep(0)
        for _ in range(50_000):
            a, b = Node(), Node()
            a.other, b.other = b, a  # type: ignore[attr-defined]
            refs.append(weakref.ref(a))
            await asyncio.sleep(0)

    callbacks, thresholds = list(gc.callbacks), gc.get_threshold()
    sim_run(scenario(), seed=1, set_aside=True)
    assert gc.callbacks == callbacks
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert all(ref() is None for ref in refs)


def test_a_set_aside_run_leaves_objects_frozen_before_it_alone() -> None:
    import gc

    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        sim_run(asyncio.sleep(1), seed=1, set_aside=True)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_a_safety_poll_armed_by_an_earlier_wait_does_not_cut_a_later_wait_short() -> None:
    """A busy loop's safety poll never wakes it: the timer moves on to the current wait's deadline."""

    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        wake = Wake()
        woke = []
        loop.call_later(20.0, wake.set)
        await wake.poll(30.0)  # armed for 30, set at 20
        woke.append(loop.time())
        await wake.poll(30.0)  # deadline 50: the timer armed for 30 re-arms for 50 instead of waking
        woke.append(loop.time())
        return woke

    assert sim_run(scenario(), seed=1) == [20.0, 50.0]


def test_a_new_timeout_wakes_the_poller_only_if_due_before_its_alarm(wfkit_sim: SimRunner) -> None:
    async def scenario(env: SimEnv) -> list[bool]:
        wf = env.build(reminders(1))
        rt = wf._rt
        wake = rt.timeout_wakes[Status.WAITING]
        alarm = env.now() + timedelta(hours=1)
        seen = []
        rt.timeout_alarms[Status.WAITING] = alarm
        for delta in (timedelta(hours=2), timedelta(0), -timedelta(seconds=1)):
            wake.clear()
            rt.timeout_created(Status.WAITING, alarm + delta)
            seen.append(wake.is_set())
        del rt.timeout_alarms[Status.WAITING]  # a poller that is looking (or not running): any wakes
        wake.clear()
        rt.timeout_created(Status.WAITING, alarm + timedelta(days=1))
        seen.append(wake.is_set())
        return seen

    assert wfkit_sim.run(scenario) == [False, False, True, True]


def test_hourly_timeouts_fire_on_the_hour_for_a_day(wfkit_sim: SimRunner) -> None:
    """The poller's alarm (a SimClock timer) fires each timeout exactly when due."""

    async def scenario(env: SimEnv) -> list[float]:
        async with env.run(reminders(24)) as wf:
            run_id = await wf.trigger("doc")
            await wf.await_status("doc", run_id, Status.DONE, timeout=2 * 86400)
            history = await wf.store.history(run_id)
        start = history[1].updated_at
        return [(r.updated_at - start).total_seconds() for r in history[2:]]

    assert wfkit_sim.run(scenario) == [3600.0 * h for h in range(1, 25)]


# -- the SimLoop ------------------------------------------------------------------------------------


def test_the_simloop_reports_a_failing_callback_and_goes_on() -> None:
    loop = SimLoop(3)
    seen: list[object] = []
    loop.set_exception_handler(lambda _loop, context: seen.append(context["exception"]))

    def boom() -> None:
        raise ValueError("boom")

    try:
        loop.call_soon(boom)
        loop.call_later(1.0, seen.append, "later")
        loop.run_until_complete(asyncio.sleep(2))
    finally:
        loop.close()
    assert [type(x).__name__ if isinstance(x, Exception) else x for x in seen] == ["ValueError", "later"]


def test_a_bound_sim_clock_reads_its_loop_like_an_unbound_one() -> None:
    async def scenario() -> list[datetime]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, SimLoop)
        bound, unbound = SimClock(loop=loop), SimClock()
        seen = [bound.now(), unbound.now()]
        await bound.sleep_until(bound.now() + timedelta(seconds=90))
        seen += [bound.now(), unbound.now()]
        bound.jump(5.0)
        unbound.jump(5.0)
        seen += [bound.now(), unbound.now()]
        return seen

    t0, t0b, t1, t1b, t2, t2b = sim_run(scenario(), seed=2)
    assert (t0, t1, t2) == (t0b, t1b, t2b)
    assert (t1 - t0, t2 - t1) == (timedelta(seconds=90), timedelta(seconds=5))


# -- the trace ------------------------------------------------------------------------------------


def test_trace_lines_and_hash_are_those_of_encoding_each_line_on_its_own() -> None:
    """Lines are hashed in batches, the hot lines built as structs: the bytes and the hash are those
    of encoding each line on its own, with sorted keys."""
    encode = msgspec.json.Encoder(order="sorted").encode
    now = [0.0]
    trace = Trace(lambda: now[0])
    sha = hashlib.sha256()
    expected: list[str] = []
    rng = random.Random(5)
    for i in range(2500):  # more than two batches
        if rng.random() < 0.3:
            now[0] += rng.choice([0.0000004, 0.1234567, 3600.0, 1e-7])
        fields = {"n": i % 3, "run": f"run-{i}", "v": i, "detail": 'a "quoted" é\n \u2028 },{"k"'}
        trace.add("write", **fields)
        line = encode({**fields, "k": "write", "t": round(now[0], 6)})
        sha.update(line + b"\n")
        expected.append(line.decode())
        if i in (0, 1023, 1500):  # reading mid-way changes nothing
            assert trace.lines == expected
            assert trace.hash == sha.hexdigest()
            assert trace.count == i + 1
    assert trace.hash == sha.hexdigest()
    assert trace.lines == expected
    assert trace.tail(2) == expected[-2:]
    assert trace.count == 2500
    fast, slow = Trace(lambda: now[0]), Trace(lambda: now[0])
    for i, t in enumerate((0.5, 0.5, 1e-7, 7200.1234567)):
        now[0] = t
        fast.write(i, f"run-{i}", i + 1, 2, 3)
        slow.add("write", n=i, run=f"run-{i}", v=i + 1, s=2, rs=3)
        fast.send(i, f"run-{i}", i + 1, "wf-2")
        slow.add("send", n=i, run=f"run-{i}", v=i + 1, topic="wf-2")
        fast.timeout(i, f"run-{i}", 2)
        slow.add("timeout", n=i, run=f"run-{i}", s=2)
    assert fast.lines == slow.lines
    assert fast.hash == slow.hash
    quiet = Trace(lambda: 1.0, keep=False)
    quiet.add("send", n=1)
    assert quiet.lines == []
    assert quiet.count == 1
    assert quiet.hash == hashlib.sha256(encode({"k": "send", "n": 1, "t": 1.0}) + b"\n").hexdigest()


# -- the memory timeout store's fast paths ----------------------------------------------------------


async def test_memory_timeouts_list_and_expire_in_order_whatever_order_they_were_made_in() -> None:
    """The first-row and last-row shortcuts agree with a plain sort, rows made in any order."""
    store = memory.TimeoutStore(SimClock())
    rng = random.Random(11)
    base = datetime(2030, 1, 1, tzinfo=UTC)
    made: dict[int, tuple[int, datetime]] = {}  # id -> (status, expiry)
    for step in range(600):
        action = rng.random()
        if action < 0.55 or not made:
            status = rng.choice([1, 2])
            expiry = base + timedelta(seconds=rng.choice([0, 10, 10, 20, 35, 50, 60 + step]))
            made[await store.create("wf", "f", f"r{step % 7}", status, expiry)] = (status, expiry)
        elif action < 0.85:
            victim = min(made) if rng.random() < 0.5 else rng.choice(sorted(made))
            await (store.complete if rng.random() < 0.5 else store.cancel)(victim)
            del made[victim]
        now = base + timedelta(seconds=rng.choice([-5, 0, 10, 15, 20, 40, 100, 1000]))
        for status in (1, 2):
            due = sorted(i for i, (s, e) in made.items() if s == status and e <= now)
            assert [r.id for r in await store.list_valid("wf", status, now)] == due
            later = [e for s, e in made.values() if s == status and e > now]
            assert await store.next_expiry("wf", status, now) == (min(later) if later else None)
    assert [r.id for r in await store.list("wf")] == sorted(made)
