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
from typing import Any

from wfkit._builder import TimeoutSpec
from wfkit._consumers import current_record
from wfkit._errors import CodecError, ConfigurationError, RecordNotFound
from wfkit._options import Duration, Resolved, as_timedelta
from wfkit._process import Process, consume
from wfkit._record import Event, TimeoutRecord, topic
from wfkit._run import Run
from wfkit._runtime import Runtime, StepFailed, as_async, call

Timer = Callable[[Run[Any, Any], datetime], Awaitable[datetime | None]]


def after(delay: Duration) -> Timer:
    """A timer that expires `delay` after the run reaches the status."""
    delta = as_timedelta(delay)
    if delta < timedelta(0):
        raise ConfigurationError(f"after() needs a non-negative delay, got {delay!r}")

    async def timer(run: Run[Any, Any], now: datetime) -> datetime:
        return now + delta

    return timer


def at(when: datetime) -> Timer:
    """A timer that expires at a fixed time."""
    if when.tzinfo is None:
        raise ConfigurationError(f"at() needs a timezone-aware datetime, got {when!r}; use tzinfo=UTC")

    async def timer(run: Run[Any, Any], now: datetime) -> datetime:
        return when

    return timer


def inserter_body(rt: Runtime, status: int, specs: list[TimeoutSpec], opts: Resolved) -> Any:
    """The body of `<status>-timeout-auto-inserter-consumer`: schedule the timers of each arrival.

    A redelivered event adds no rows: the rows already made for this record version count.
    """
    store = rt.timeouts
    assert store is not None
    limit = opts.pause_after_errors

    async def body(proc: Process) -> None:
        async def handle(event: Event) -> None:
            record = await current_record(rt, proc, event, status)
            if record is None:
                return
            try:
                obj = rt.decode(record)
            except CodecError as exc:
                await rt.pause_undecodable(record, exc)
                return
            made = sum(
                1
                for r in await store.list(rt.name, run_id=record.run_id)
                if r.status == status and r.version == record.meta.version
            )
            now = rt.clock.now()
            try:
                expiries = [await call(spec.timer, rt.make_run(record, obj), now) for spec in specs]
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
            rt.timeout_wakes[status].set()
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
    fns = [(as_async(spec.fn), spec.to) for spec in specs]

    async def fire(proc: Process, row: TimeoutRecord) -> None:
        try:
            record = await rt.store.lookup(row.run_id)
        except RecordNotFound:
            await store.cancel(row.id)
            return
        if record.status != status or record.meta.version != row.version or not record.run_state.active:
            await store.cancel(row.id)
            return
        started = asyncio.get_running_loop().time()
        for fn, allowed in fns:
            proceed, new = await rt.attempt(
                proc, record, _at_now(rt, fn), allowed, opts.pause_after_errors, opts.time_limit
            )
            if not proceed:
                return  # paused: the row is stale now and is cancelled on the next pass
            if new is not None:
                await rt.apply(record, new, proc.metrics)
                break
        await store.complete(row.id)
        proc.metrics.observe(asyncio.get_running_loop().time() - started)
        rt.notify_waiters()

    async def ring_at(when: datetime) -> None:
        await rt.clock.sleep_until(when)
        wake.set()

    async def body(proc: Process) -> None:
        # One alarm task sleeps (in business time) until the earliest expiry and sets `wake`;
        # it is replaced only when that expiry changes, so an idle poller costs no new tasks.
        alarm: asyncio.Task[None] | None = None
        alarm_at: datetime | None = None
        try:
            while True:
                wake.clear()
                # One instant for both queries: a row falling due between them is either listed
                # as due or is the next expiry, never neither.
                now = rt.clock.now()
                for row in await store.list_valid(rt.name, status, now):
                    await fire(proc, row)
                proc.ok()
                expiry = await store.next_expiry(rt.name, status, now)
                if expiry != alarm_at:
                    if alarm is not None:
                        alarm.cancel()
                    alarm_at = expiry
                    alarm = None if expiry is None else asyncio.ensure_future(ring_at(expiry))
                await wake.poll(rt.idle_poll(opts.polling_frequency))
        finally:
            if alarm is not None:
                alarm.cancel()
                await asyncio.gather(alarm, return_exceptions=True)

    return body


def _at_now(
    rt: Runtime, fn: Callable[..., Awaitable[object]]
) -> Callable[[Run[Any, Any]], Awaitable[object]]:
    """A timeout function `fn(run, now)` as the `fn(run)` that `Runtime.attempt` calls."""

    async def call_now(run: Run[Any, Any]) -> object:
        return await fn(run, rt.clock.now())

    return call_now
