"""wfkit: type-safe, event-driven workflow state machines for asyncio.

Declare statuses as an `IntEnum` and an object type, wire steps, callbacks, timeouts and
connectors on a `Builder`, and `build()` on the infrastructure of your choice.
"""

from __future__ import annotations

from contextlib import suppress as _suppress

from wfkit._admin import Admin
from wfkit._builder import Builder
from wfkit._clock import Clock, SystemClock
from wfkit._codec import Codec, JsonCodec
from wfkit._control import AUTO_PAUSE_REASON
from wfkit._errors import (
    AwaitTimeout,
    CodecError,
    ConfigurationError,
    InvalidRunStateTransition,
    InvalidTransition,
    RecordNotFound,
    RoleLost,
    StatusNotConfigured,
    VersionConflict,
    WfkitError,
    WorkflowInProgress,
    WorkflowNotRunning,
)
from wfkit._graph import Edge, WorkflowInfo
from wfkit._ids import IdSource, RandomIds, stable_shard
from wfkit._logging import JsonFormatter
from wfkit._options import Backoff, ProcessOptions
from wfkit._ports import (
    ChangeFeed,
    Connector,
    ConnectorConsumer,
    EventReceiver,
    EventSender,
    EventStreamer,
    RecordStore,
    RoleScheduler,
    TimeoutStore,
)
from wfkit._process import ProcessState
from wfkit._query import Order, RecordFilter, SortKey
from wfkit._record import (
    ConnectorEvent,
    Event,
    Header,
    Meta,
    OutboxEvent,
    Record,
    TimeoutRecord,
    delete_topic,
    outbox_event_for,
    run_state_change_topic,
    topic,
)
from wfkit._roles import RoleScope
from wfkit._run import Cancel, Directive, Pause, Run, SaveAndRepeat, Skip
from wfkit._runstate import RunState
from wfkit._timeouts import after, at
from wfkit._workflow import Workflow

__version__ = "0.1.0"

__all__ = [
    # building and running
    "Builder",
    "Workflow",
    "Run",
    "RunState",
    "ProcessState",
    "ProcessOptions",
    "Backoff",
    "after",
    "at",
    "Admin",
    # directives
    "Directive",
    "Skip",
    "SaveAndRepeat",
    "Pause",
    "Cancel",
    "AUTO_PAUSE_REASON",
    # data
    "Record",
    "Meta",
    "Event",
    "OutboxEvent",
    "TimeoutRecord",
    "ConnectorEvent",
    "Header",
    "WorkflowInfo",
    "Edge",
    "Order",
    "SortKey",
    "RecordFilter",
    "topic",
    "run_state_change_topic",
    "delete_topic",
    "outbox_event_for",
    # ports
    "RecordStore",
    "ChangeFeed",
    "EventStreamer",
    "EventSender",
    "EventReceiver",
    "TimeoutStore",
    "RoleScheduler",
    "Connector",
    "ConnectorConsumer",
    "Clock",
    "SystemClock",
    "Codec",
    "JsonCodec",
    "IdSource",
    "JsonFormatter",
    "RandomIds",
    "RoleScope",
    "stable_shard",
    # errors
    "WfkitError",
    "ConfigurationError",
    "RecordNotFound",
    "WorkflowInProgress",
    "StatusNotConfigured",
    "InvalidTransition",
    "InvalidRunStateTransition",
    "VersionConflict",
    "WorkflowNotRunning",
    "CodecError",
    "AwaitTimeout",
    "RoleLost",
    "__version__",
]

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("wfkit._"):
        with _suppress(AttributeError, TypeError):
            _obj.__module__ = "wfkit"
del _name, _obj, _suppress
