"""Timeouts: timer helpers, the auto-inserter that schedules them and the poller that fires them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from wfkit._builder import TimeoutSpec
from wfkit._consumers import StepFailed, _f, _td, current_record
from wfkit._errors import CodecError, ConfigurationError, RecordNotFound
from wfkit._options import Duration, ProcessOptions, as_timedelta
from wfkit._process import Process, consume, wait_until_set
from wfkit._record import Event, TimeoutRecord, topic
from wfkit._run import Run, Skip
from wfkit._runtime import Runtime, call

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


def inserter_body(rt: Runtime, status: int, specs: list[TimeoutSpec], opts: ProcessOptions) -> Any:
    """The body of `<status>-timeout-auto-inserter-consumer`: schedule the timers of each arrival.

    Redelivered or repeated events (save-and-repeat, resume) do not add rows while the run already
    has its timeouts pending at this status.
    """
    store = rt.timeouts
    assert store is not None
    limit = opts.pause_after_errors or 0

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
            pending = [
                r for r in await store.list(rt.name) if r.run_id == record.run_id and r.status == status
            ]
            now = rt.clock.now()
            try:
                expiries = [await call(spec.timer, rt.make_run(record, obj), now) for spec in specs]
            except Exception as exc:
                if await rt.maybe_pause(proc, limit, record, exc):
                    return
                raise StepFailed(proc.name, record.run_id, exc) from exc
            rt.clear_errors(proc, record.run_id)
            for expire_at in expiries[len(pending) :]:
                if expire_at is not None:
                    await store.create(rt.name, record.foreign_id, record.run_id, status, expire_at)
            rt.timeout_wakes[status].set()
            rt.notify()

        await consume(
            rt,
            proc,
            topic(rt.name, status),
            handle,
            poll=_f(opts.polling_frequency),
            lag=timedelta(0),
            lag_alert=_td(opts.lag_alert),
        )

    return body


def poller_body(rt: Runtime, status: int, specs: list[TimeoutSpec], opts: ProcessOptions) -> Any:
    """The body of `<status>-timeout-consumer`: fire due timeouts, sleeping until the next expiry.

    Each expired row runs the status's timeout functions in order until one asks for a change; a
    row whose run moved on, finished or vanished is cancelled; a paused run's row waits.
    """
    store = rt.timeouts
    assert store is not None
    limit = opts.pause_after_errors or 0
    poll = _f(opts.polling_frequency)
    time_limit = opts.time_limit
    wake = rt.timeout_wakes[status]

    async def fire(proc: Process, row: TimeoutRecord) -> None:
        try:
            record = await rt.store.lookup(row.run_id)
        except RecordNotFound:
            await store.cancel(row.id)
            return
        if record.status != status or record.run_state.finished:
            await store.cancel(row.id)
            return
        if record.run_state.stopped:
            return
        try:
            obj = rt.decode(record)
        except CodecError as exc:
            await rt.pause_undecodable(record, exc)
            return
        started = asyncio.get_running_loop().time()
        for spec in specs:
            run = rt.make_run(record, obj)
            try:
                if time_limit is None:
                    result = await call(spec.fn, run, rt.clock.now())
                else:
                    async with asyncio.timeout(time_limit):
                        result = await call(spec.fn, run, rt.clock.now())
                new = rt.next_for(record, run, result, spec.to)
            except Exception as exc:
                if await rt.maybe_pause(proc, limit, record, exc):
                    return
                raise StepFailed(proc.name, record.run_id, exc) from exc
            if isinstance(result, Skip):
                continue
            rt.clear_errors(proc, record.run_id)
            await rt.apply(record, new, proc.metrics)
            break
        await store.complete(row.id)
        proc.metrics.observe(asyncio.get_running_loop().time() - started)
        rt.notify()

    async def body(proc: Process) -> None:
        while True:
            wake.clear()
            for row in await store.list_valid(rt.name, status, rt.clock.now()):
                await fire(proc, row)
            proc.ok()
            upcoming = [r.expire_at for r in await store.list(rt.name) if r.status == status]
            if upcoming:
                sleeper = asyncio.ensure_future(rt.clock.sleep_until(min(upcoming)))
                waker = asyncio.ensure_future(wait_until_set(wake, poll))
                try:
                    await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sleeper.cancel()
                    waker.cancel()
            else:
                await wait_until_set(wake, poll)

    return body
