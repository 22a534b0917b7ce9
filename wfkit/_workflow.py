"""`Workflow`: a built workflow — its lifecycle, triggers, callbacks, awaiting and run control."""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from wfkit import _schedule
from wfkit._builder import Spec
from wfkit._clock import Clock, SystemClock
from wfkit._codec import Codec, JsonCodec
from wfkit._control import Action, controlled
from wfkit._errors import (
    AwaitTimeout,
    ConfigurationError,
    StatusNotConfigured,
    VersionConflict,
    WorkflowNotRunning,
)
from wfkit._graph import WorkflowInfo
from wfkit._ids import IdSource, RandomIds
from wfkit._metrics import metrics_for
from wfkit._options import ProcessOptions, resolve
from wfkit._ports import EventReceiver, EventStreamer, RecordStore, RoleScheduler, TimeoutStore
from wfkit._process import Process, ProcessState, run_process, setup_logger
from wfkit._record import Meta, Record, run_state_change_topic, topic
from wfkit._run import Run
from wfkit._runstate import RunState
from wfkit._runtime import Runtime, call

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

_CALLBACK_ATTEMPTS = 3
_RECANCEL = 1.0
"""Seconds `stop()` waits for its processes before cancelling the ones still running again."""

T = TypeVar("T")
S = TypeVar("S", bound=enum.IntEnum)


@dataclass(frozen=True, slots=True)
class WorkflowConfig:
    """Build options as given to `Builder.build`."""

    timeout_store: TimeoutStore | None = None
    clock: Clock | None = None
    codec: Codec | None = None
    logger: logging.Logger | None = None
    defaults: ProcessOptions | None = None
    outbox: ProcessOptions | bool | None = None
    custom_delete: Callable[[Any], Awaitable[None] | None] | None = None
    pause_retry: timedelta | None = timedelta(hours=1)
    metrics: CollectorRegistry | None = None
    tracer: object | None = None
    debug: bool = False
    ids: IdSource | None = None
    consumers: bool = True


class Workflow(Generic[T, S]):
    """A built workflow. Start it with `async with wf:` (or `await wf.run()` / `await wf.stop()`)."""

    def __init__(
        self,
        spec: Spec,
        info: WorkflowInfo,
        streamer: EventStreamer,
        store: RecordStore,
        roles: RoleScheduler,
        config: WorkflowConfig,
    ) -> None:
        self._spec = spec
        self._info = info
        self._config = config
        self._defaults = resolve(None, config.defaults)
        self._rt = Runtime(
            spec,
            info,
            streamer,
            store,
            roles,
            config.timeout_store,
            clock=config.clock or SystemClock(),
            codec=config.codec or JsonCodec(),
            ids=config.ids or RandomIds(),
            metrics=metrics_for(config.metrics),
            log=setup_logger(config.logger),
            debug=config.debug,
        )
        self._rt.tracer = config.tracer
        self._processes = self._rt.processes = self._plan()
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self._awaits = itertools.count(1)  # receiver names; not from `ids`, so awaiting draws no ids
        self._default_start = info.starts[0]

    # -- identity --------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def info(self) -> WorkflowInfo:
        """The status graph as plain data (what `register` writes to the store's catalogue)."""
        return self._info

    @property
    def store(self) -> RecordStore:
        return self._rt.store

    @property
    def clock(self) -> Clock:
        return self._rt.clock

    @property
    def timeout_store(self) -> TimeoutStore | None:
        return self._rt.timeouts

    async def wait_for_change(self, timeout: float | None = None) -> None:
        """Return after the next write, or after `timeout` seconds at most.

        Writes through this workflow always wake it; writes by other workers do when the store has
        a change feed. The default timeout is a short poll without a feed and a long one with it.
        """
        await self._rt.changed(self._rt.idle_poll(0.05) if timeout is None else timeout)

    @property
    def object_type(self) -> type[T]:
        return self._spec.object_type

    @property
    def status_type(self) -> type[S]:
        return self._spec.status_type  # type: ignore[return-value]

    # -- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Start every process; returns once they are all started (idempotent).

        A workflow built with `consumers=False` starts none: it is a client that triggers, calls
        back and controls runs, while workers on the same store do the steps.
        """
        if self._running:
            return
        self._running = True  # before the first await, so a concurrent run() starts nothing twice
        rt = self._rt
        rt.stopping = False
        try:
            await rt.store.register(self._info)
        except BaseException:
            self._running = False
            raise
        rt.follow_changes()
        for proc in self._processes if self._config.consumers else ():
            rt.set_state(proc, ProcessState.IDLE)
            self._tasks.append(
                asyncio.create_task(run_process(rt, proc), name=f"wfkit:{self.name}:{proc.name}")
            )

    async def stop(self) -> None:
        """Stop every process and wait for them to finish; a no-op if not running."""
        if not self._running:
            return
        self._rt.stopping = True
        tasks, self._tasks = self._tasks, []
        self._rt.unfollow_changes()
        for task in tasks:
            task.cancel()
        try:
            pending = set(tasks)
            while pending:
                # A library can swallow a cancellation (Python 3.11's asyncio.wait_for returns a
                # result that lands with the cancel, and database drivers connect through it): a
                # process still running a moment later is cancelled again.
                _, pending = await asyncio.wait(pending, timeout=_RECANCEL)
                for task in pending:
                    task.cancel()
            for task in tasks:
                if not task.cancelled():
                    task.exception()  # retrieved: a process's last error was logged where it happened
        finally:
            self._running = False

    async def __aenter__(self) -> Workflow[T, S]:
        await self.run()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._running

    def states(self) -> dict[str, ProcessState]:
        """Each process (named as luno does) and what it is doing now."""
        return dict(self._rt.states)

    # -- runs ------------------------------------------------------------------------------------

    async def trigger(self, foreign_id: str, *, initial: T | None = None, start_at: S | None = None) -> str:
        """Start a run for `foreign_id`; returns its run id once the run is durable."""
        if not self._running:
            raise WorkflowNotRunning(self.name, "trigger")
        if not isinstance(foreign_id, str) or not foreign_id.strip():
            raise ConfigurationError(f"trigger needs a non-empty foreign id string, got {foreign_id!r}")
        start = self._start_status(start_at)
        obj: Any = initial if initial is not None else self._new_object()
        data = self._rt.codec_check(obj)
        rt = self._rt
        now = rt.clock.now()
        frame = sys._getframe(1)
        record = Record(
            workflow_name=self.name,
            foreign_id=foreign_id,
            run_id=rt.ids.uuid(),
            run_state=RunState.INITIATED,
            status=start,
            object=data,
            created_at=now,
            updated_at=now,
            meta=Meta(
                version=1,
                status_description=rt.status_name(start),
                # file name and line only: the same in every checkout, so traces replay exactly
                trace_origin=f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}",
                traceparent=f"00-{rt.ids.hex(16)}-{rt.ids.hex(8)}-01",
            ),
        )
        await rt.commit(record, RunState.UNKNOWN)
        return record.run_id

    async def callback(self, foreign_id: str, status: S, payload: bytes = b"") -> None:
        """Deliver an external answer to the run of `foreign_id` waiting at `status`.

        A callback for a status the run is not at, or for a stopped run, is a no-op.
        """
        st = self._check_status(status)
        for cb in self._spec.callbacks.get(st, ()):
            for attempt in range(_CALLBACK_ATTEMPTS):
                record = await self._rt.store.latest(self.name, foreign_id)
                if not self._waiting_at(record, st):
                    return
                run = self._rt.make_run(record, self._rt.decode(record))
                result = await call(cb.fn, run, payload)
                new = self._rt.next_for(record, run, result, cb.to)
                if new is None:
                    break  # this callback skipped: the next one of the status may act
                try:
                    await self._rt.commit(new, record.run_state)
                    return
                except VersionConflict:
                    # Someone else wrote the run meanwhile (a retry, a pause): look again.
                    if attempt == _CALLBACK_ATTEMPTS - 1:
                        raise

    def _waiting_at(self, record: Record, status: int) -> bool:
        if record.status == status and record.run_state.active and not record.run_state.stopped:
            return True
        rt = self._rt
        rt.debug_log(
            "callback ignored: run is not waiting at this status",
            foreign_id=record.foreign_id,
            status=rt.status_name(status),
            run_status=rt.status_name(record.status),
            run_state=record.run_state.name,
        )
        return False

    async def await_status(
        self, foreign_id: str, run_id: str, status: S, *, timeout: float | None = None
    ) -> Run[T, S]:
        """Wait until the run has reached `status` and return it as it was there.

        Subscribes before reading, so no change is missed; if the run passed the status already,
        the version from its history is returned.
        """
        rt = self._rt
        st = self._check_status(status)
        t = run_state_change_topic(self.name) if rt.is_terminal(st) else topic(self.name, st)
        name = f"await-{self.name}-{st}-{run_id}-{next(self._awaits)}"
        receiver = await _one_off_receiver(rt.streamer, t, name)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    found = await self._reached(run_id, st)
                    if found is not None:
                        return found
                    while (event := await receiver.recv()).key != run_id:
                        await receiver.ack(event)
                    await receiver.ack(event)
        except TimeoutError:
            raise AwaitTimeout(
                f"run {run_id} of {foreign_id!r} to reach {rt.status_name(st)}", timeout or 0
            ) from None
        finally:
            await receiver.close()

    async def _reached(self, run_id: str, status: int) -> Run[T, S] | None:
        history = await self._rt.store.history(run_id)
        for record in reversed(history):
            if record.status == status:
                return self._rt.make_run(record, self._rt.decode(record))
        return None

    def schedule(
        self,
        foreign_id: str,
        cron: str,
        *,
        initial: T | None = None,
        start_at: S | None = None,
        filter: Callable[[], Awaitable[bool] | bool] | None = None,
    ) -> None:
        """Trigger a run for `foreign_id` at every slot of `cron`, in the background until `stop()`.

        `initial` and `start_at` are passed to each `trigger`; `filter()` may veto a slot.
        """
        if not self._running:
            raise WorkflowNotRunning(self.name, "schedule")
        if start_at is not None:
            self._start_status(start_at)  # refuse a bad start now, not at the first slot

        async def fire() -> None:
            await self.trigger(foreign_id, initial=initial, start_at=start_at)

        proc = _schedule.schedule_process(self._rt, fire, foreign_id, cron, filter, self._defaults)
        self._rt.set_state(proc, ProcessState.IDLE)
        self._tasks.append(asyncio.create_task(run_process(self._rt, proc)))

    # -- run control -----------------------------------------------------------------------------

    async def pause(self, run_id: str, reason: str = "") -> None:
        await self._control(run_id, Action.PAUSE, reason)

    async def resume(self, run_id: str) -> None:
        await self._control(run_id, Action.RESUME)

    async def retry(self, run_id: str) -> None:
        """Run the current status's step again now (resuming a paused run)."""
        await self._control(run_id, Action.RETRY)

    async def cancel(self, run_id: str, reason: str = "") -> None:
        await self._control(run_id, Action.CANCEL, reason)

    async def delete_data(self, run_id: str, reason: str = "") -> None:
        """Scrub the run's object everywhere it is stored (right to be forgotten)."""
        await self._control(run_id, Action.DELETE_DATA, reason)

    async def _control(self, run_id: str, action: Action, reason: str = "") -> None:
        rt = self._rt
        record = await rt.store.lookup(run_id)
        new = controlled(record, action, rt.clock.now(), reason)
        await rt.commit(new, record.run_state)  # compare-and-set, run-state metric, wake-up
        if new.run_state is RunState.RUNNING:
            rt.nudge(topic(self.name, new.status))

    # -- diagrams --------------------------------------------------------------------------------

    def mermaid(self) -> str:
        """The state graph as a Mermaid `stateDiagram-v2`."""
        from wfkit._visualise import mermaid

        return mermaid(self._info)

    def graph(self) -> Any:
        """The state graph as a `graphviz.Digraph` (needs `pip install 'wfkit[graphviz]'`)."""
        from wfkit._visualise import digraph

        return digraph(self._info)

    # -- helpers ---------------------------------------------------------------------------------

    def _check_status(self, status: object) -> int:
        st = self._spec.status_type
        if isinstance(status, bool) or not isinstance(status, st) or int(status) not in self._info.nodes:
            raise StatusNotConfigured(self.name, status)
        return int(status)

    def _start_status(self, start_at: object) -> int:
        if start_at is None:
            return self._default_start
        st = self._check_status(start_at)
        if self._rt.is_terminal(st):
            raise ConfigurationError(
                f"cannot start workflow {self.name!r} at terminal status {self._rt.status_name(st)}: "
                "no step would ever consume it"
            )
        return st

    def _new_object(self) -> Any:
        try:
            return self._spec.object_type()
        except Exception as exc:
            raise ConfigurationError(
                f"trigger without initial= needs {self._spec.object_type.__name__}() to work, but it "
                f"raised {exc!r}: pass initial=..."
            ) from exc

    def _plan(self) -> list[Process]:
        from wfkit._plan import plan

        return plan(self, self._rt, self._spec, self._config)


async def _one_off_receiver(streamer: EventStreamer, topic: str, name: str) -> EventReceiver:
    """A receiver for one wait, starting at the head; its cursor goes when it is closed, on a
    streamer that can do that (`ephemeral_receivers`), instead of staying behind for good."""
    if getattr(streamer, "ephemeral_receivers", False):
        receiver: EventReceiver = await streamer.receiver(  # type: ignore[call-arg]
            topic, name, from_latest=True, ephemeral=True
        )
        return receiver
    return await streamer.receiver(topic, name, from_latest=True)
