"""Timeouts: timer helpers, the auto-inserter that schedules them and the poller that fires them.

A timeout row is made for one record version: any later write to the run (a transition, a pause,
a save-and-repeat) makes it stale, and the poller cancels it instead of firing. The write's own
event reschedules the status's timers if the run is still there, so `after(d)` counts from the
latest write at the status, a resumed run gets a fresh timer, and a row whose transition was
already applied can never fire a second time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from wfkit._builder import TimeoutSpec
from wfkit._consumers import current_record
from wfkit._errors import CodecError, ConfigurationError, RecordNotFound
from wfkit._options import Duration, Resolved, as_timedelta
from wfkit._process import Process, consume
from wfkit._record import Event, TimeoutRecord, topic
from wfkit._run import Run
from wfkit._runstate import RunState
from wfkit._runtime import Runtime, StepFailed, as_async

Timer = Callable[[Run[Any, Any], datetime], Awaitable[datetime | None]]

_ACTIVE = frozenset(state for state in RunState if state.active)


class _FixedTimer:
    """The timer of `after()` or `at()`: its expiry follows from the time alone.

    Called, it is a timer like any other; the auto-inserter asks `expiry(now)` instead, without
    building a `Run` the timer would ignore or awaiting a coroutine for an addition.
    """

    __slots__ = ("_delta", "_when")

    def __init__(self, delta: timedelta, when: datetime | None) -> None:
        self._delta = delta
        self._when = when

    def expiry(self, now: datetime) -> datetime:
        return now + self._delta if self._when is None else self._when

    async def __call__(self, run: Run[Any, Any], now: datetime) -> datetime:
        return self.expiry(now)


def after(delay: Duration) -> Timer:
    """A timer that expires `delay` after the run reaches the status."""
    delta = as_timedelta(delay)
    if delta < timedelta(0):
        raise ConfigurationError(f"after() needs a non-negative delay, got {delay!r}")
    return _FixedTimer(delta, None)


def at(when: datetime) -> Timer:
    """A timer that expires at a fixed time."""
    if when.tzinfo is None:
        raise ConfigurationError(f"at() needs a timezone-aware datetime, got {when!r}; use tzinfo=UTC")
    return _FixedTimer(timedelta(0), when)


def inserter_body(rt: Runtime, status: int, specs: list[TimeoutSpec], opts: Resolved) -> Any:
    """The body of `<status>-timeout-auto-inserter-consumer`: schedule the timers of each arrival.

    A redelivered event adds no rows: the rows already made for this record version count.
    """
    store = rt.timeouts
    assert store is not None
    limit = opts.pause_after_errors
    timers = [as_async(spec.timer) for spec in specs]
    # Timers of `after()` and `at()` need neither the run nor its object: when every timer of the
    # status is one, the object is not decoded here (one that will not decode is paused by the
    # first consumer that needs it, at the latest the poller when the timeout fires).
    fixed = [spec.timer for spec in specs if isinstance(spec.timer, _FixedTimer)]
    if len(fixed) < len(specs):
        fixed = []

    async def body(proc: Process) -> None:
        async def handle(event: Event) -> None:
            record = await current_record(rt, proc, event, status)
            if record is None:
                return
            obj = None
            if not fixed:
                try:
                    obj = rt.decode(record)
                except CodecError as exc:
                    await rt.pause_undecodable(record, exc)
                    return
            version = record.meta.version
            made = 0
            for r in await store.list(rt.name, run_id=record.run_id):
                if r.status == status and r.version == version:
                    made += 1
            now = rt.clock.now()
            expiries: list[datetime | None] = []
            if fixed:
                expiries = [timer.expiry(now) for timer in fixed]
            else:
                try:
                    for timer in timers:
                        expiries.append(await timer(rt.make_run(record, obj), now))
                except Exception as exc:
                    if await rt.maybe_pause(proc, limit, record, exc):
                        return
                    raise StepFailed(proc.name, record.run_id, exc) from exc
            rt.clear_errors(proc, record.run_id)
            for expire_at in expiries[made:]:
                if expire_at is not None:
                    await store.create(
                        rt.name,
                        record.foreign_id,
                        record.run_id,
                        status,
                        expire_at,
                        version=record.meta.version,
                    )
                    rt.timeout_scheduled(status, expire_at)
            rt.notify_waiters()

        await consume(
            rt,
            proc,
            topic(rt.name, status),
            handle,
            poll=opts.polling_frequency,
            lag=timedelta(0),
            lag_alert=opts.lag_alert,
        )

    return body


def poller_body(rt: Runtime, status: int, specs: list[TimeoutSpec], opts: Resolved) -> Any:
    """The body of `<status>-timeout-consumer`: fire due timeouts, sleeping until the next expiry.

    A due row whose run is still at the version it was made for runs the status's timeout
    functions in order until one asks for a change (all skipping completes it too); any other row
    is stale and cancelled.
    """
    store = rt.timeouts
    assert store is not None
    wake = rt.timeout_wakes[status]
    fns = [(_at_now(rt, as_async(spec.fn)), spec.to) for spec in specs]

    async def fire(proc: Process, row: TimeoutRecord, loop: asyncio.AbstractEventLoop) -> None:
        try:
            record = await rt.store.lookup(row.run_id)
        except RecordNotFound:
            await store.cancel(row.id)
            return
        if record.status != status or record.meta.version != row.version or record.run_state not in _ACTIVE:
            await store.cancel(row.id)
            return
        started = loop.time()
        for fn, allowed in fns:
            proceed, new = await rt.attempt(
                proc, record, fn, allowed, opts.pause_after_errors, opts.time_limit
            )
            if not proceed:
                return  # paused: the row is stale now and is cancelled on the next pass
            if new is not None:
                await rt.apply(record, new, proc.metrics)
                break
        await store.complete(row.id)
        proc.metrics.observe(loop.time() - started)
        rt.notify_waiters()

    async def ring_at(when: datetime) -> None:
        await rt.clock.sleep_until(when)
        wake.set()

    # A clock with `call_at(when, callback)` (the simulator's) rings the alarm from a timer; any
    # other clock gets an alarm task sleeping in `sleep_until`.
    call_at: Callable[[datetime, Callable[[], None]], _Cancellable] | None = getattr(
        rt.clock, "call_at", None
    )
    # A store with `due(workflow, status, now)` answers both questions of a pass in one call.
    due: Callable[[str, int, datetime], Awaitable[tuple[list[TimeoutRecord], datetime | None]]] | None
    due = getattr(store, "due", None)

    async def body(proc: Process) -> None:
        # One alarm sleeps (in business time) until the earliest expiry and sets `wake`; it is
        # replaced only when that expiry changes, so an idle poller costs no new alarms.
        alarm: _Cancellable | None = None
        alarm_at: datetime | None = None
        alarms = rt.timeout_alarms
        loop = asyncio.get_running_loop()
        try:
            while True:
                alarms.pop(status, None)  # looking: every new timeout wakes the next pass
                wake.clear()
                # One instant for both queries: a row falling due between them is either listed
                # as due or is the next expiry, never neither. A row made during the pass, which
                # `due` answered before, has woken the next pass (no alarm is registered).
                now = rt.clock.now()
                if due is None:
                    for row in await store.list_valid(rt.name, status, now):
                        await fire(proc, row, loop)
                    expiry = await store.next_expiry(rt.name, status, now)
                else:
                    rows, expiry = await due(rt.name, status, now)
                    for row in rows:
                        await fire(proc, row, loop)
                proc.ok()
                if expiry != alarm_at:
                    # A clock's alarm that is due has rung, or rings at once (a spare pass at
                    # worst): only one still to come is cancelled.
                    if alarm is not None and (call_at is None or alarm_at is None or alarm_at > now):
                        alarm.cancel()
                    alarm_at = expiry
                    if expiry is None:
                        alarm = None
                    elif call_at is not None:
                        alarm = call_at(expiry, wake.set)
                    else:
                        alarm = asyncio.ensure_future(ring_at(expiry))
                if alarm_at is not None:
                    alarms[status] = alarm_at  # a timeout due no earlier is seen when it rings
                await wake.poll(rt.idle_poll(opts.polling_frequency), loop)
        finally:
            alarms.pop(status, None)
            if alarm is not None:
                alarm.cancel()
                if isinstance(alarm, asyncio.Task):
                    await asyncio.gather(alarm, return_exceptions=True)

    return body


class _Cancellable(Protocol):
    def cancel(self) -> object: ...


def _at_now(
    rt: Runtime, fn: Callable[..., Awaitable[object]]
) -> Callable[[Run[Any, Any]], Awaitable[object]]:
    """A timeout function `fn(run, now)` as the `fn(run)` that `Runtime.attempt` calls.

    A plain function returning `fn`'s awaitable: no coroutine of its own on the firing path.
    """

    def call_now(run: Run[Any, Any]) -> Awaitable[object]:
        return fn(run, rt.clock.now())

    return call_now
