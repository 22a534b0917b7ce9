"""`Builder`: declare a workflow's steps, callbacks, timeouts, connectors and hooks, then build it."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from wfkit._errors import ConfigurationError
from wfkit._graph import Edge, EdgeKind, WorkflowInfo
from wfkit._options import Backoff, Duration, ProcessOptions
from wfkit._record import ConnectorEvent
from wfkit._run import Directive, Run

if TYPE_CHECKING:
    import logging

    from prometheus_client import CollectorRegistry

    from wfkit._clock import Clock
    from wfkit._codec import Codec
    from wfkit._ids import IdSource
    from wfkit._ports import Connector, EventStreamer, RecordStore, RoleScheduler, TimeoutStore
    from wfkit._workflow import Workflow

T = TypeVar("T")
S = TypeVar("S", bound=enum.IntEnum)

StepFn = Callable[[Run[T, S]], Awaitable[S | Directive] | S | Directive]
CallbackFn = Callable[[Run[T, S], bytes], Awaitable[S | Directive] | S | Directive]
TimeoutFn = Callable[[Run[T, S], datetime], Awaitable[S | Directive] | S | Directive]
TimerFn = Callable[[Run[T, S], datetime], Awaitable[datetime | None] | datetime | None]
HookFn = Callable[[Run[T, S]], Awaitable[None] | None]
ConnectorFn = Callable[["Workflow[T, S]", ConnectorEvent], Awaitable[None] | None]
CustomDelete = Callable[[T], Awaitable[None] | None]
HookKind = Literal["paused", "cancelled", "completed"]


@dataclass(frozen=True, slots=True)
class StepSpec:
    status: int
    fn: Callable[..., Any]
    to: tuple[int, ...]
    options: ProcessOptions


@dataclass(frozen=True, slots=True)
class CallbackSpec:
    status: int
    fn: Callable[..., Any]
    to: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TimeoutSpec:
    status: int
    timer: Callable[..., Any]
    fn: Callable[..., Any]
    to: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    name: str
    connector: Connector
    fn: Callable[..., Any]
    options: ProcessOptions


@dataclass(slots=True)
class Spec:
    """Everything the builder collected; the workflow reads it, nobody mutates it after build."""

    name: str
    object_type: type[Any]
    status_type: type[enum.IntEnum]
    steps: dict[int, StepSpec] = field(default_factory=dict)
    callbacks: dict[int, list[CallbackSpec]] = field(default_factory=dict)
    timeouts: dict[int, list[TimeoutSpec]] = field(default_factory=dict)
    timeout_options: dict[int, ProcessOptions] = field(default_factory=dict)
    connectors: dict[str, ConnectorSpec] = field(default_factory=dict)
    hooks: dict[HookKind, HookFn[Any, Any]] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def info(self) -> WorkflowInfo:
        statuses = {int(s): s.name for s in self.status_type}
        return WorkflowInfo.from_edges(self.name, statuses, tuple(self.edges))


class Builder(Generic[T, S]):
    """Declares a workflow; `Builder("orders", Order, Status)` is a `Builder[Order, Status]`."""

    def __init__(self, name: str, object_type: type[T], status_type: type[S]) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError("a workflow needs a non-empty name: Builder('orders', Order, Status)")
        if not (isinstance(status_type, type) and issubclass(status_type, enum.IntEnum)):
            raise ConfigurationError(
                f"statuses must be an enum.IntEnum class, got {status_type!r}: "
                "declare `class Status(enum.IntEnum): CREATED = 1 ...`"
            )
        if not isinstance(object_type, type) and not hasattr(object_type, "__origin__"):
            raise ConfigurationError(
                f"object_type must be a type (a dataclass, Struct, model or dict), got {object_type!r}"
            )
        for member in status_type:
            if int(member) <= 0:
                raise ConfigurationError(
                    f"status {status_type.__name__}.{member.name} = {int(member)}: status numbers must be "
                    "positive (0 is reserved for 'unknown')"
                )
        self._spec = Spec(name, object_type, status_type)

    @property
    def name(self) -> str:
        return self._spec.name

    def add_step(
        self,
        from_: S,
        fn: StepFn[T, S],
        *to: S,
        parallel: int | None = None,
        polling_frequency: Duration | None = None,
        error_backoff: Backoff | Duration | None = None,
        lag: Duration | None = None,
        lag_alert: Duration | None = None,
        pause_after_errors: int | None = None,
        time_limit: Duration | None = None,
        concurrency: int | None = None,
    ) -> Builder[T, S]:
        """Run `fn` for every run that reaches `from_`; it returns one of `to` or a directive.

        Options left unset come from `build(defaults=...)`; see `wfkit.ProcessOptions`.
        """
        status = self._status(from_, "add_step")
        if status in self._spec.steps:
            raise ConfigurationError(
                f"add_step({self._label(status)}, ...) already exists: only one step may consume a status; "
                "branch inside the step and return one of several destinations instead"
            )
        dests = self._destinations(to, f"add_step({self._label(status)}, ...)")
        _require_callable(fn, "add_step")
        options = ProcessOptions.of(
            parallel=parallel,
            polling_frequency=polling_frequency,
            error_backoff=error_backoff,
            lag=lag,
            lag_alert=lag_alert,
            pause_after_errors=pause_after_errors,
            time_limit=time_limit,
            concurrency=concurrency,
        )
        self._spec.steps[status] = StepSpec(status, fn, dests, options)
        self._add_edges(status, dests, "step")
        return self

    def add_callback(self, status: S, fn: CallbackFn[T, S], *to: S) -> Builder[T, S]:
        """Run `fn` when `wf.callback(foreign_id, status, payload)` arrives for a run at `status`."""
        st = self._status(status, "add_callback")
        dests = self._destinations(to, f"add_callback({self._label(st)}, ...)")
        _require_callable(fn, "add_callback")
        self._spec.callbacks.setdefault(st, []).append(CallbackSpec(st, fn, dests))
        self._add_edges(st, dests, "callback")
        return self

    def add_timeout(
        self,
        status: S,
        timer: TimerFn[T, S],
        fn: TimeoutFn[T, S],
        *to: S,
        polling_frequency: Duration | None = None,
        error_backoff: Backoff | Duration | None = None,
        lag_alert: Duration | None = None,
        pause_after_errors: int | None = None,
        time_limit: Duration | None = None,
    ) -> Builder[T, S]:
        """When a run reaches `status`, `timer` says when; at that time `fn` runs if it is still there."""
        st = self._status(status, "add_timeout")
        dests = self._destinations(to, f"add_timeout({self._label(st)}, ...)")
        _require_callable(timer, "add_timeout (timer)")
        _require_callable(fn, "add_timeout")
        options = ProcessOptions.of(
            polling_frequency=polling_frequency,
            error_backoff=error_backoff,
            lag_alert=lag_alert,
            pause_after_errors=pause_after_errors,
            time_limit=time_limit,
        )
        self._spec.timeouts.setdefault(st, []).append(TimeoutSpec(st, timer, fn, dests))
        # Several timeouts of one status share a poller: later options add to earlier ones.
        earlier = self._spec.timeout_options.get(st)
        self._spec.timeout_options[st] = options if earlier is None else options.merged_over(earlier)
        self._add_edges(st, dests, "timeout")
        return self

    def add_connector(
        self,
        name: str,
        connector: Connector,
        fn: ConnectorFn[T, S],
        *,
        parallel: int | None = None,
        error_backoff: Backoff | Duration | None = None,
        lag: Duration | None = None,
        lag_alert: Duration | None = None,
    ) -> Builder[T, S]:
        """Feed external events from `connector` to `fn(workflow, event)` (which usually triggers)."""
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError("add_connector needs a non-empty name")
        if name in self._spec.connectors:
            raise ConfigurationError(f"add_connector({name!r}, ...): connector names must be unique")
        _require_callable(fn, "add_connector")
        options = ProcessOptions.of(
            parallel=parallel, error_backoff=error_backoff, lag=lag, lag_alert=lag_alert
        )
        self._spec.connectors[name] = ConnectorSpec(name, connector, fn, options)
        return self

    def on_pause(self, fn: HookFn[T, S]) -> Builder[T, S]:
        """Call `fn(run)` at least once whenever a run is paused (by a step, the API or auto-pause)."""
        return self._hook("paused", fn)

    def on_cancel(self, fn: HookFn[T, S]) -> Builder[T, S]:
        """Call `fn(run)` at least once whenever a run is cancelled."""
        return self._hook("cancelled", fn)

    def on_complete(self, fn: HookFn[T, S]) -> Builder[T, S]:
        """Call `fn(run)` at least once whenever a run reaches a terminal status."""
        return self._hook("completed", fn)

    def build(
        self,
        streamer: EventStreamer,
        store: RecordStore,
        scheduler: RoleScheduler,
        *,
        timeout_store: TimeoutStore | None = None,
        clock: Clock | None = None,
        codec: Codec | None = None,
        logger: logging.Logger | None = None,
        defaults: ProcessOptions | None = None,
        outbox: ProcessOptions | bool | None = None,
        custom_delete: CustomDelete[T] | None = None,
        pause_retry: timedelta | None = timedelta(hours=1),
        metrics: CollectorRegistry | None = None,
        tracer: object | None = None,
        debug: bool = False,
        ids: IdSource | None = None,
        consumers: bool = True,
    ) -> Workflow[T, S]:
        """Check the whole graph and wire the infrastructure; the workflow starts with `run()`.

        `consumers=False` builds a client: `run()` starts no process (no step, relay or poller),
        so it only triggers, calls back and controls runs that workers on the same store move on.
        """
        from wfkit._workflow import Workflow, WorkflowConfig

        info = self._spec.info()
        if not info.starts:
            raise ConfigurationError(
                f"workflow {self.name!r} requires at least one starting point: add a step, callback or "
                "timeout from a status that no other transition leads to"
            )
        if self._spec.timeouts and timeout_store is None:
            raise ConfigurationError(
                f"workflow {self.name!r} has timeouts but no timeout store: "
                "pass build(..., timeout_store=...)"
            )
        if defaults is not None and not isinstance(defaults, ProcessOptions):
            raise ConfigurationError("defaults= takes wfkit.ProcessOptions.of(...)")
        config = WorkflowConfig(
            timeout_store=timeout_store,
            clock=clock,
            codec=codec,
            logger=logger,
            defaults=defaults,
            outbox=outbox,
            custom_delete=custom_delete,
            pause_retry=pause_retry,
            metrics=metrics,
            tracer=tracer,
            debug=debug,
            ids=ids,
            consumers=consumers,
        )
        return Workflow(self._spec, info, streamer, store, scheduler, config)

    # -- helpers ---------------------------------------------------------------------------------

    def _hook(self, kind: HookKind, fn: HookFn[T, S]) -> Builder[T, S]:
        _require_callable(fn, f"on_{kind}")
        self._spec.hooks[kind] = fn
        return self

    def _status(self, status: object, where: str) -> int:
        st = self._spec.status_type
        if isinstance(status, bool) or not isinstance(status, st):
            raise ConfigurationError(
                f"{where}: {status!r} is not a {st.__name__}; use the workflow's status enum"
            )
        return int(status)

    def _destinations(self, to: tuple[object, ...], where: str) -> tuple[int, ...]:
        if not to:
            raise ConfigurationError(f"{where} needs at least one destination status")
        return tuple(self._status(t, where) for t in to)

    def _label(self, status: int) -> str:
        return self._spec.status_type(status).name

    def _add_edges(self, source: int, targets: tuple[int, ...], kind: EdgeKind) -> None:
        self._spec.edges.extend(Edge(source, t, kind) for t in targets)


def _require_callable(fn: object, where: str) -> None:
    if not callable(fn):
        raise ConfigurationError(f"{where}: expected a function, got {fn!r}")
