"""The engine's shared core: ports, codec, clock, and the one write path every transition takes."""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import reprlib
import types
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from wfkit._builder import Spec
from wfkit._clock import Clock
from wfkit._codec import Codec
from wfkit._control import AUTO_PAUSE_REASON, next_version
from wfkit._errors import CodecError, InvalidTransition, VersionConflict, WfkitError
from wfkit._graph import WorkflowInfo
from wfkit._ids import IdSource, stable_shard
from wfkit._metrics import Metrics, ProcessStats
from wfkit._ports import EventStreamer, RecordStore, RoleScheduler, TimeoutStore
from wfkit._process import Process, ProcessState, Wake
from wfkit._record import Record
from wfkit._run import Cancel, Pause, Run, SaveAndRepeat, Skip
from wfkit._runstate import STOPPED, RunState


async def call(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a user function that may be plain or async."""
    result = fn(*args)
    if type(result) is types.CoroutineType or inspect.isawaitable(result):
        result = await result
    return result


def as_async(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`fn` itself when it is a coroutine function, else a coroutine function calling it."""
    if inspect.iscoroutinefunction(fn):
        return fn

    async def wrapper(*args: Any) -> Any:
        return await call(fn, *args)

    return wrapper


FEED_SAFETY_POLL = 30.0


class Runtime:
    """State shared by a workflow's processes; created by `Workflow`, never by users."""

    def __init__(
        self,
        spec: Spec,
        info: WorkflowInfo,
        streamer: EventStreamer,
        store: RecordStore,
        roles: RoleScheduler,
        timeouts: TimeoutStore | None,
        clock: Clock,
        codec: Codec,
        ids: IdSource,
        metrics: Metrics,
        log: logging.Logger,
        debug: bool,
    ) -> None:
        self.spec = spec
        self.info = info
        self.name = spec.name
        self.streamer = streamer
        self.store = store
        self.roles = roles
        self.timeouts = timeouts
        self.clock = clock
        self.codec = codec
        self.ids = ids
        self.metrics = metrics
        self.log = log
        self.debug = debug
        self.tracer: Any = None  # an OpenTelemetry Tracer (anything with start_as_current_span)
        self.stopping = False
        self.states: dict[str, ProcessState] = {}
        self.outbox_wake = Wake()
        self.timeout_wakes: dict[int, Wake] = {}
        self.timeout_alarms: dict[int, datetime] = {}
        """Status -> when its idle poller's alarm rings: a new timeout due no earlier needs no wake."""
        self.error_counts: dict[tuple[str, str], int] = {}
        self.processes: list[Process] = []
        self._store_notifies = False  # the store's change feed calls notify() after each write
        self._timeouts_notify = False  # the timeout store calls timeout_created() in each create
        self._unsubscribers: list[Callable[[], None]] = []
        self._terminals = frozenset(info.terminals)
        self._status_type = spec.status_type
        self._members = {int(m): m for m in spec.status_type}
        self._object_type = spec.object_type
        self._changed: asyncio.Event | None = None
        self._run_state_labels = {s: s.label for s in RunState}
        self._status_names: dict[int, str] = {}
        self._lanes: dict[int, _Lanes] = {}  # status -> this process's step consumers running ahead

    # -- observation -----------------------------------------------------------------------------

    def set_state(self, proc: Process, state: ProcessState) -> None:
        self.states[proc.name] = state
        proc.metrics.state = int(state)

    def notify(self) -> None:
        """A record was written: wake the outbox relay and everything waiting for a change."""
        self.outbox_wake.set()
        self.notify_waiters()

    def notify_waiters(self) -> None:
        """Something other than a record changed (a timeout): wake waiters, not the relay."""
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    async def changed(self, timeout: float) -> None:
        """Wait for the next local change, or `timeout` seconds for changes made elsewhere."""
        if self._changed is None:
            self._changed = asyncio.Event()
        event = self._changed
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            pass

    def follow_changes(self) -> None:
        """Follow the stores' change feeds (`ChangeFeed`), where they have one."""
        subscribe = getattr(self.store, "subscribe", None)
        if subscribe is not None:
            self._unsubscribers.append(subscribe(self.name, self.notify))
            self._store_notifies = True
        if self.timeout_wakes:
            # A feed that says which status and expiry each new timeout has wakes only the poller
            # that would otherwise sleep past it; a plain feed wakes every poller.
            subscribe_expiries = getattr(self.timeouts, "subscribe_expiries", None)
            subscribe = getattr(self.timeouts, "subscribe", None)
            if subscribe_expiries is not None:
                self._unsubscribers.append(subscribe_expiries(self.name, self.timeout_created))
                self._timeouts_notify = True
            elif subscribe is not None:
                self._unsubscribers.append(subscribe(self.name, self._wake_pollers))

    def idle_poll(self, polling_frequency: float) -> float:
        """How long a relay or poller with nothing to do waits before looking again.

        With a change feed every write wakes it, so the poll is only a safety net for writers the
        feed cannot see and runs at most every `FEED_SAFETY_POLL` seconds.
        """
        return max(polling_frequency, FEED_SAFETY_POLL) if self._store_notifies else polling_frequency

    def unfollow_changes(self) -> None:
        for unsubscribe in self._unsubscribers:
            unsubscribe()
        self._unsubscribers.clear()
        self._store_notifies = False
        self._timeouts_notify = False

    def _wake_pollers(self) -> None:
        for wake in self.timeout_wakes.values():
            wake.set()

    def timeout_scheduled(self, status: int, expire_at: datetime) -> None:
        """This worker scheduled a timeout: wake the poller, unless the store's expiry feed did."""
        if not self._timeouts_notify:
            self.timeout_created(status, expire_at)

    def timeout_created(self, status: int, expire_at: datetime) -> None:
        """A timeout was scheduled: wake the status's poller unless its alarm rings no later."""
        wake = self.timeout_wakes.get(status)
        if wake is not None:
            armed = self.timeout_alarms.get(status)
            if armed is None or expire_at < armed:
                wake.set()

    def nudge(self, topic: str) -> None:
        """Cut short the error backoff of this process's consumers of `topic` (retry, resume)."""
        for proc in self.processes:
            if proc.topic == topic:
                proc.wake.set()

    def process_metrics(self, process: str) -> ProcessStats:
        return self.metrics.process(self.name, process)

    def debug_log(self, msg: str, **meta: object) -> None:
        if self.debug:
            self.log.debug(msg, extra={"workflow": self.name, "meta": meta})

    # -- the write path ----------------------------------------------------------------------------

    async def commit(self, record: Record, previous: RunState) -> None:
        """Store a version (compare-and-set + outbox, atomically) and wake the relay."""
        await self.store.store(record)
        self._committed(record, previous)

    def _committed(self, record: Record, previous: RunState) -> None:
        if self._lanes:
            lanes = self._lanes.get(record.status)
            if lanes is not None and record.run_state not in STOPPED:
                lanes.run_ahead(record)
        if previous is not record.run_state:
            self.metrics.run_state_change(
                self.name, self._run_state_labels[previous], self._run_state_labels[record.run_state]
            )
        if not self._store_notifies:
            self.notify()

    def join_lane(
        self, status: int, shard: tuple[int, int], run_ahead: Callable[[Record], None]
    ) -> Callable[[], None]:
        """Let the step consumer of `status` (shard `index` of `count`) running in this process
        advance the runs this process commits there at once; returns how to stop."""
        index, count = shard
        lanes = self._lanes.get(status)
        if lanes is None or lanes.count != count:
            lanes = self._lanes[status] = _Lanes(count)
        lanes.by_shard[index - 1] = run_ahead

        def leave() -> None:
            if lanes.by_shard.get(index - 1) is run_ahead:
                del lanes.by_shard[index - 1]
                if not lanes.by_shard and self._lanes.get(status) is lanes:
                    del self._lanes[status]

        return leave

    def status_name(self, status: int) -> str:
        name = self._status_names.get(status)
        if name is None:
            name = self._status_names[status] = self.info.name_of(status)
        return name

    def is_terminal(self, status: int) -> bool:
        return status in self._terminals

    def decode(self, record: Record) -> Any:
        return self.codec.decode(record.object, self.spec.object_type)

    def codec_check(self, obj: Any) -> bytes:
        """Encode a new run's object, refusing one that would not decode back equal."""
        check = getattr(self.codec, "check_round_trip", None)
        if check is not None:
            data: bytes = check(obj, self.spec.object_type)
            return data
        data = self.codec.encode(obj)
        if self.codec.decode(data, self.spec.object_type) != obj:
            raise CodecError(f"{type(obj).__name__} does not survive an encode/decode round trip")
        return data

    def make_run(self, record: Record, obj: Any) -> Run[Any, Any]:
        status = self._members.get(record.status)
        return Run(record, self._status_type(record.status) if status is None else status, obj)

    def next_for(
        self, record: Record, run: Run[Any, Any], result: object, allowed: tuple[int, ...]
    ) -> Record | None:
        """The version a step's result asks for; None for skip; `InvalidTransition` if not allowed."""
        now = self.clock.now()
        kind = type(result)
        if kind is self._status_type or kind is int:
            status = int(result)  # type: ignore[call-overload]
            if status not in allowed:
                raise InvalidTransition(
                    self.name,
                    self.status_name(record.status),
                    _label(result, self),
                    tuple(self.status_name(a) for a in allowed),
                )
            state = RunState.COMPLETED if status in self._terminals else RunState.RUNNING
            return next_version(
                record,
                now,
                status=status,
                status_description=self.status_name(status),
                run_state=state,
                obj=self.codec.encode(run.object),
            )
        if isinstance(result, Skip):
            return None
        if isinstance(result, SaveAndRepeat):
            return next_version(record, now, run_state=RunState.RUNNING, obj=self.codec.encode(run.object))
        if isinstance(result, Pause):
            return next_version(
                record,
                now,
                run_state=RunState.PAUSED,
                obj=self.codec.encode(run.object),
                reason=result.reason,
            )
        if isinstance(result, Cancel):
            return next_version(
                record,
                now,
                run_state=RunState.CANCELLED,
                obj=self.codec.encode(run.object),
                reason=result.reason,
            )
        raise InvalidTransition(
            self.name,
            self.status_name(record.status),
            _label(result, self),
            tuple(self.status_name(a) for a in allowed),
        )

    async def apply(self, record: Record, new: Record | None, proc: ProcessStats | None) -> bool:
        """Commit `new` if any; a lost race is a skip (the winner's event drives the run on)."""
        if new is None:
            if proc is not None:
                proc.skip("next value specified skip")
            return False
        try:
            await self.store.store(new)  # `commit` inlined: this is the hottest write path
        except VersionConflict:
            if proc is not None:
                proc.skip("version conflict")
            self.debug_log("skipping update: record changed meanwhile", run_id=record.run_id)
            return False
        self._committed(new, record.run_state)
        return True

    async def attempt(
        self,
        proc: Process,
        record: Record,
        fn: Callable[[Run[Any, Any]], Awaitable[object]],
        allowed: tuple[int, ...],
        limit: int,
        time_limit: float | None,
    ) -> tuple[bool, Record | None]:
        """Run user code on a record: decode it, call `fn` within the time limit, check the answer.

        Returns `(True, version to write or None for skip)`, or `(False, None)` when the record was
        dealt with instead (an object that will not decode, or a run paused after too many
        failures). Any other failure raises `StepFailed`, so the event is retried after a backoff.
        """
        try:
            obj = self.codec.decode(record.object, self._object_type)
        except CodecError as exc:
            await self.pause_undecodable(record, exc)
            return False, None
        run = self.make_run(record, obj)
        try:
            if self.tracer is None and time_limit is None:
                result = await fn(run)  # the common case, without a context manager in the way
            else:
                with self._span(proc, record):
                    if time_limit is None:
                        result = await fn(run)
                    else:
                        async with asyncio.timeout(time_limit):
                            result = await fn(run)
            new = self.next_for(record, run, result, allowed)
        except (Exception, asyncio.CancelledError) as exc:
            task = asyncio.current_task()
            if isinstance(exc, asyncio.CancelledError) and (task is None or task.cancelling()):
                raise  # a real cancellation (stop, crash, lost role), not the step's own failure
            if await self.maybe_pause(proc, limit, record, exc):
                return False, None
            raise StepFailed(proc.name, record.run_id, exc) from exc
        self.clear_errors(proc, record.run_id)
        return True, new

    def _span(self, proc: Process, record: Record) -> AbstractContextManager[object]:
        """An OpenTelemetry-style span around user code, when a tracer was given to `build()`."""
        if self.tracer is None:
            return nullcontext()
        span: AbstractContextManager[object] = self.tracer.start_as_current_span(
            f"{self.name} {proc.name}",
            attributes={
                "wfkit.workflow": self.name,
                "wfkit.run_id": record.run_id,
                "wfkit.foreign_id": record.foreign_id,
                "wfkit.status": self.status_name(record.status),
                "wfkit.version": record.meta.version,
                "wfkit.traceparent": record.meta.traceparent,
            },
        )
        return span

    async def pause_undecodable(self, record: Record, error: CodecError) -> None:
        """A record whose object will not decode is paused with the reason; consumers move on."""
        reason = f"object does not decode: {error}"
        self.log.warning("pausing run %s: %s", record.run_id, reason, extra={"workflow": self.name})
        new = next_version(record, self.clock.now(), run_state=RunState.PAUSED, reason=reason)
        await self.apply(record, new, None)

    async def maybe_pause(self, proc: Process, limit: int, record: Record, error: BaseException) -> bool:
        """Count a failure of the run in this process; pause it once `limit` failures in a row."""
        key = (proc.name, record.run_id)
        count = self.error_counts.get(key, 0) + 1
        if limit <= 0 or count < limit:
            self.error_counts[key] = count
            return False
        self.error_counts.pop(key, None)
        new = next_version(record, self.clock.now(), run_state=RunState.PAUSED, reason=AUTO_PAUSE_REASON)
        await self.apply(record, new, proc.metrics)
        self.log.info(
            "paused record after exceeding allowed error count (%d): %s",
            limit,
            error,
            extra={"workflow": self.name, "run_id": record.run_id, "process_name": proc.name},
        )
        return True

    def clear_errors(self, proc: Process, run_id: str) -> None:
        if self.error_counts:
            self.error_counts.pop((proc.name, run_id), None)


class _Lanes:
    """The step consumers of one status that run in this process, by shard (`join_lane`)."""

    __slots__ = ("by_shard", "count")

    def __init__(self, count: int) -> None:
        self.count = count
        self.by_shard: dict[int, Callable[[Record], None]] = {}

    def run_ahead(self, record: Record) -> None:
        index = 0 if self.count == 1 else stable_shard(record.run_id, self.count)
        run_ahead = self.by_shard.get(index)
        if run_ahead is not None:
            run_ahead(record)


class StepFailed(WfkitError):
    """A step, timeout or timer function raised or answered wrongly; the event will be retried."""

    def __init__(self, process: str, run_id: str, error: BaseException) -> None:
        self.error = error
        super().__init__(f"consumer error in {process} for run {run_id}: {error!r}")


def _label(result: object, rt: Runtime) -> str:
    if isinstance(result, enum.Enum):
        return f"{type(result).__name__}.{result.name}"
    if type(result) is int:
        return rt.status_name(result)
    return reprlib.repr(result)  # not a status at all: say what it was, on one line
