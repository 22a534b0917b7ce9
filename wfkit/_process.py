"""The process loop every consumer runs: hold a role, do the work, back off on errors."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from wfkit._errors import RoleLost
from wfkit._ids import stable_shard
from wfkit._metrics import ProcessStats
from wfkit._options import Backoff
from wfkit._ports import EventReceiver
from wfkit._record import Event, Header, Record

if TYPE_CHECKING:
    from wfkit._runtime import Runtime


class ProcessState(enum.IntEnum):
    """What a process is doing (luno's numbers, also the `workflow_process_states` gauge value)."""

    UNKNOWN = 0
    SHUTDOWN = 1
    RUNNING = 2
    IDLE = 3


@dataclass(slots=True)
class Process:
    """One long-lived activity of a workflow, exclusive across the deployment through its role."""

    name: str
    role: str
    body: Callable[[Process], Awaitable[None]]
    backoff: Backoff
    metrics: ProcessStats
    topic: str | None = None
    """The status topic it consumes, if any: run control nudges it out of its error backoff."""
    failures: int = field(default=0)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def ok(self) -> None:
        """Work succeeded: the next error backs off from the start again."""
        self.failures = 0


async def run_process(rt: Runtime, proc: Process) -> None:
    """Loop until the workflow stops: hold the role, run the body, back off after an error.

    The backoff happens while the role is still held (as luno does), so a failing event is not
    handed straight to another worker. A lost role cancels the body and the loop waits for the role
    again; a cancellation of the task itself (stop, crash) ends the loop.
    """
    try:
        while True:
            rt.set_state(proc, ProcessState.IDLE)
            try:
                async with rt.roles.hold(proc.role):
                    rt.set_state(proc, ProcessState.RUNNING)
                    try:
                        await proc.body(proc)
                    except Exception as exc:
                        await _back_off(rt, proc, exc)
                        continue
                return  # bodies loop forever; one that returns has finished its work
            except RoleLost:
                rt.log.debug("role lost", extra={"workflow": rt.name, "process_name": proc.name})
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if rt.stopping or task is None or task.cancelling() > 0:
                    raise
                # A cancellation nobody asked for (user code awaited a cancelled future, or a role
                # loss that landed as its body ended): an error like any other, never a hot loop.
                await _back_off(rt, proc, RuntimeError("unexpected cancellation"))
    finally:
        rt.set_state(proc, ProcessState.SHUTDOWN)


async def _back_off(rt: Runtime, proc: Process, exc: BaseException) -> None:
    proc.failures += 1
    proc.metrics.errors += 1
    rt.log.error(
        "run error [role=%s], [process=%s]: %s",
        proc.role,
        proc.name,
        exc,
        extra={"workflow": rt.name, "process_name": proc.name, "role": proc.role},
        exc_info=rt.debug,
    )
    await wait_until_set(proc.wake, proc.backoff.delay(proc.failures, rt.ids.random))


Handler = Callable[[Event], Awaitable[None]]
Advance = Callable[[Record], Awaitable[None]]
"""What a step consumer does with a run's record once it is known to be current (`run_ahead`)."""
_H_VERSION = Header.RECORD_VERSION.value
_LAG_SAMPLE = 31  # mask: the lag gauges are set on events 1, 33, 65, ...


async def consume(
    rt: Runtime,
    proc: Process,
    topic: str,
    handler: Handler,
    *,
    poll: float,
    lag: timedelta,
    lag_alert: timedelta,
    shard: tuple[int, int] = (1, 1),
    accept: Callable[[Event], bool] | None = None,
    concurrency: int = 1,
    ahead: tuple[int, Advance] | None = None,
) -> None:
    """Feed each event of `topic` to `handler`, acking only after it returns (at-least-once).

    The receiver is named by the process's role, so a restarted process resumes at its cursor and
    an event whose handler failed is delivered again after the backoff. Events of other shards or
    refused by `accept` are acked without handling. With `concurrency` > 1, that many events are
    handled at once (see `_Window`); then `ahead`, a status and what to do with a run's record
    there, lets this process run ahead: a run this worker moves to that status is advanced at once,
    before its event comes back from the streamer (`_Window.run_ahead`).
    """
    receiver = await rt.streamer.receiver(topic, proc.role, poll_frequency=poll)
    window = _Window(receiver, handler, proc, concurrency) if concurrency > 1 else None
    index, count = shard
    leave_lane: Callable[[], None] | None = None
    if window is not None and ahead is not None and not lag:
        status, advance = ahead
        leave_lane = rt.join_lane(status, shard, partial(window.run_ahead, advance))
    clock = rt.clock
    m = proc.metrics
    loop = asyncio.get_running_loop()
    alert = lag_alert.total_seconds()
    seen = 0
    try:
        while True:
            event = await (receiver.recv() if window is None else window.receive())
            if lag:
                await clock.sleep_until(event.created_at + lag)
            seen += 1
            if seen & _LAG_SAMPLE == 1 or lag:
                # The lag gauges follow a sample (the first of every 32 events): reading the clock
                # for every event costs more than a gauge scraped every few seconds is worth.
                behind = (clock.now() - event.created_at).total_seconds()
                m.lag = behind
                if alert > 0:
                    m.lag_alert = 1 if behind > alert else 0
            if (count > 1 and stable_shard(event.key, count) != index - 1) or (
                accept is not None and not accept(event)
            ):
                m.skip("filtered out")
                await receiver.ack(event)
                continue
            if window is not None:
                await window.submit(event)
                continue
            started = loop.time()
            await handler(event)
            await receiver.ack(event)
            m.observe(loop.time() - started)
            proc.failures = 0  # proc.ok(), inlined on the per-event path
    finally:
        if leave_lane is not None:
            leave_lane()
        try:
            if window is not None:
                await window.close()
        finally:
            await receiver.close()


class _Window:
    """Events handled `size` at a time, acked strictly in delivery order.

    Overlapping the handlers of different runs lets their store writes share a commit (one fsync
    for many transitions on a SQL store). Events of the same run are handled one after the other,
    and the cursor never passes an event whose handler has not returned, so a crash redelivers
    what was in flight (the version checks make a redelivery harmless). The first handler error
    ends the window: it is raised from `receive` or `submit` at once, as the sequential loop would
    raise it, and `close` cancels the handlers still running.
    """

    def __init__(self, receiver: EventReceiver, handler: Handler, proc: Process, size: int) -> None:
        self._receiver = receiver
        self._handler = handler
        self._proc = proc
        self._slots = asyncio.Semaphore(size)
        self._order: asyncio.Queue[tuple[Event, asyncio.Task[None]]] = asyncio.Queue()
        self._in_flight: dict[asyncio.Task[None], None] = {}  # submitted, not yet acked; ordered
        self._last_of_run: dict[str, asyncio.Task[None]] = {}
        self._ahead: dict[str, tuple[int, asyncio.Task[None]]] = {}  # run id -> (version, handling)
        self._acker = asyncio.ensure_future(self._ack_in_order())
        # An event the receiver has already read needs no task to wait for (optional extension)
        self._recv_nowait: Callable[[], Event | None] | None = getattr(receiver, "recv_nowait", None)

    async def receive(self) -> Event:
        """The receiver's next event, or the first handler error as soon as it happens."""
        if self._recv_nowait is not None:
            event = self._recv_nowait()
            if event is not None:
                return event
        recv = asyncio.ensure_future(self._receiver.recv())
        try:
            await asyncio.wait((recv, self._acker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not recv.done():
                recv.cancel()
                await asyncio.wait((recv,))
            if not recv.cancelled():
                recv.exception()  # seen, even when leaving by cancellation or a handler error
        if self._acker.done():
            self._acker.result()  # raises the first handler error
        return recv.result()

    async def submit(self, event: Event) -> None:
        """Start handling `event` once a slot is free; raise an earlier handler's error."""
        if self._ahead:
            task = self._taken_ahead(event)
            if task is not None:
                if self._acker.done():
                    self._acker.result()
                self._in_flight[task] = None
                self._order.put_nowait((event, task))
                return
        await self._slots.acquire()
        if self._acker.done():
            self._slots.release()
            self._acker.result()
        before = self._last_of_run.get(event.key)
        task = asyncio.ensure_future(self._handle(event, before))
        self._last_of_run[event.key] = task
        self._in_flight[task] = None
        self._order.put_nowait((event, task))

    def run_ahead(self, advance: Advance, record: Record) -> None:
        """Handle the event that will announce `record` now, before the streamer delivers it.

        This worker just committed `record` at the status this window consumes: `advance` runs on
        it at once (no wait for the event, no lookup: the record is the current version unless a
        later write wins, which its compare-and-set then detects). When the event arrives,
        `submit` takes this handling as that event's, so it is acked in order and a failure
        backs off and redelivers exactly as if the event had been handled then. It waits for a
        slot like any event (`size` handlers at once); a window still handling an event of the
        run leaves the run to its event.
        """
        run_id = record.run_id
        last = self._last_of_run.get(run_id)
        if last is not None and last is not asyncio.current_task():
            return
        task = asyncio.ensure_future(self._handle_ahead(advance, record))
        self._last_of_run[run_id] = task
        self._ahead[run_id] = (record.meta.version, task)

    def _taken_ahead(self, event: Event) -> asyncio.Task[None] | None:
        """The handling `run_ahead` started for `event`, if any (forgetting one it outdates)."""
        ahead = self._ahead.get(event.key)
        if ahead is None:
            return None
        version = int(event.headers.get(_H_VERSION, 0))
        if ahead[0] > version:
            return None  # an older event of the run: its handler finds it stale
        del self._ahead[event.key]
        return ahead[1] if ahead[0] == version else None

    async def _handle_ahead(self, advance: Advance, record: Record) -> None:
        await self._slots.acquire()
        try:
            await self._observed(advance(record))
        finally:
            self._finished(record.run_id)

    async def _handle(self, event: Event, before: asyncio.Task[None] | None) -> None:
        try:
            if before is not None and not before.done():
                await asyncio.wait((before,))
            await self._observed(self._handler(event))
        finally:
            self._finished(event.key)

    async def _observed(self, handling: Awaitable[None]) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await handling
        self._proc.metrics.observe(loop.time() - started)

    def _finished(self, run_id: str) -> None:
        """A handler of the run is done (either way): free its slot, and the run unless a later
        handler of it has started."""
        self._slots.release()
        if self._last_of_run.get(run_id) is asyncio.current_task():
            del self._last_of_run[run_id]

    async def _ack_in_order(self) -> None:
        while True:
            event, task = await self._order.get()
            if not task.done():
                await asyncio.wait((task,))
            task.result()  # a handler error ends the window
            del self._in_flight[task]
            await self._receiver.ack(event)
            self._proc.failures = 0

    async def close(self) -> None:
        """Cancel what is in flight (its events stay un-acked, so they are delivered again) and
        collect every outcome, so no handler error goes unretrieved."""
        tasks = [*self._in_flight, *(task for _, task in self._ahead.values()), self._acker]
        self._ahead.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def wait_until_set(wake: asyncio.Event, timeout: float) -> None:
    """Wait until `wake` is set or `timeout` seconds pass (infrastructure time), then clear it.

    The timeout simply sets `wake` (a spurious wake-up only means "look again"), which is much
    cheaper on a hot idle path than `asyncio.timeout`.
    """
    if not wake.is_set():
        alarm = asyncio.get_running_loop().call_later(timeout, wake.set)
        try:
            await wake.wait()
        finally:
            alarm.cancel()
    wake.clear()


class Wake:
    """The event an idle loop (relay, timeout poller) sleeps on between passes, with a safety poll.

    An `asyncio.Event` (`set`, `clear`, `is_set`, `wait`) trimmed for the hottest wait in the
    engine, plus `poll(every)`: wait until the event is set or at most `every` seconds pass, then
    clear it. The poll timer outlives the wait: it is re-armed only once it has fired or would
    fire too late, and when it fires before the current wait's deadline (a wait that began after
    it was armed) it moves on to that deadline instead of waking the loop. So a loop that writes
    wake thousands of times a second arms no timer per pass, and a busy loop is not woken by its
    safety poll; a wake-up only ever means "look again".
    """

    __slots__ = ("_deadline", "_timer", "_timer_at", "_timer_loop", "_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[None]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0  # when `_timer` rings
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._deadline = 0.0

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if not self._value:
            self._value = True
            for fut in self._waiters:
                if not fut.done():
                    fut.set_result(None)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        fut = asyncio.get_running_loop().create_future()
        waiters = self._waiters
        waiters.append(fut)
        try:
            await fut
            return True
        finally:
            waiters.remove(fut)

    async def poll(self, every: float, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Wait until set or `every` seconds pass, then clear. `loop`, if given, must be the running
        loop (a caller that holds it saves asking for it: that costs a system call per ask)."""
        if not self._value:
            if loop is None:
                loop = asyncio.get_running_loop()
            deadline = self._deadline = loop.time() + every
            timer = self._timer
            if timer is None or self._timer_at > deadline or self._timer_loop is not loop:
                if timer is not None:
                    timer.cancel()
                self._timer = loop.call_at(deadline, self._ring)
                self._timer_at = deadline
                self._timer_loop = loop
            fut = loop.create_future()
            waiters = self._waiters
            waiters.append(fut)
            try:
                await fut
            finally:
                waiters.remove(fut)
        self._value = False

    def _ring(self) -> None:
        self._timer = None
        loop = self._timer_loop
        if loop is not None and self._waiters and loop.time() < self._deadline:
            self._timer = loop.call_at(self._deadline, self._ring)  # the current wait's own deadline
            self._timer_at = self._deadline
        else:
            self.set()

    def __repr__(self) -> str:
        return f"<Wake {'set' if self._value else 'unset'}, waiters: {len(self._waiters)}>"


def setup_logger(logger: logging.Logger | None) -> logging.Logger:
    return logger if logger is not None else logging.getLogger("wfkit")
