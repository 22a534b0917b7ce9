"""Plain, wire-compatible data the ports exchange: records, events, outbox events, timeouts.

These are values: nobody mutates one after creating it (use `Record.replace` for a changed copy),
so stores may keep the objects they are given. They are not frozen dataclasses only because
frozen construction costs three times as much, and several are built per transition.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wfkit._runstate import RunState


@dataclass(slots=True)
class Meta:
    """Bookkeeping a store keeps with each record version."""

    version: int = 0
    run_state_reason: str = ""
    status_description: str = ""
    trace_origin: str = ""
    traceparent: str = ""


@dataclass(slots=True)
class Record:
    """One version of a run as stored: the object is the codec's bytes."""

    workflow_name: str
    foreign_id: str
    run_id: str
    run_state: RunState
    status: int
    object: bytes
    created_at: datetime
    updated_at: datetime
    meta: Meta = field(default_factory=Meta)

    @property
    def version(self) -> int:
        return self.meta.version

    def replace(self, **changes: Any) -> Record:
        """A copy with fields changed (records are immutable)."""
        return dataclasses.replace(self, **changes)


class Header(enum.StrEnum):
    """Header keys every workflow event carries."""

    WORKFLOW_NAME = "workflow_name"
    FOREIGN_ID = "foreign_id"
    TOPIC = "topic"
    RUN_ID = "run_id"
    RUN_STATE = "run_state"
    RECORD_VERSION = "record_version"
    TRACEPARENT = "traceparent"
    CONNECTOR_DATA = "connector_data"


@dataclass(slots=True)
class Event:
    """An event as a receiver delivers it: `key` is the run id, `type` the status number."""

    id: int
    key: str
    type: int
    headers: Mapping[str, str]
    created_at: datetime


@dataclass(slots=True)
class OutboxEvent:
    """An event written atomically with a record version, waiting for the relay to publish it."""

    id: str
    workflow_name: str
    topic: str
    key: str
    type: int
    headers: Mapping[str, str]
    created_at: datetime


@dataclass(slots=True)
class TimeoutRecord:
    """A scheduled timeout of a run at a status, valid only for the record version it was made for."""

    id: int
    workflow_name: str
    foreign_id: str
    run_id: str
    status: int
    expire_at: datetime
    created_at: datetime
    completed: bool = False
    version: int = 0


@dataclass(frozen=True, slots=True)
class ConnectorEvent:
    """An event from outside the workflow, fed in through a connector."""

    id: str
    foreign_id: str
    type: str
    headers: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime | None = None


_TOPICS: dict[tuple[str, int], str] = {}


def topic(workflow_name: str, status: int) -> str:
    """The topic of a status: `<workflow>-<status number>`."""
    found = _TOPICS.get((workflow_name, status))
    if found is None:
        found = _TOPICS[workflow_name, status] = f"{workflow_name.replace(' ', '_')}-{status}"
    return found


def run_state_change_topic(workflow_name: str) -> str:
    """The topic of paused, cancelled, completed and data-deleted runs."""
    return f"{workflow_name.replace(' ', '_')}-run-state-change"


def delete_topic(workflow_name: str) -> str:
    """The topic of runs whose data deletion was requested."""
    return f"{workflow_name.replace(' ', '_')}-delete"


_RUN_STATE_TEXT = {state: str(int(state)) for state in RunState}
_STATUS_TOPIC_STATES = frozenset({RunState.INITIATED, RunState.RUNNING})
_H_WORKFLOW, _H_FOREIGN_ID, _H_TOPIC = Header.WORKFLOW_NAME.value, Header.FOREIGN_ID.value, Header.TOPIC.value
_H_RUN_ID, _H_RUN_STATE, _H_VERSION = Header.RUN_ID.value, Header.RUN_STATE.value, Header.RECORD_VERSION.value
_H_TRACEPARENT = Header.TRACEPARENT.value


def topic_for(record: Record) -> str:
    """Route a record version's event by run state, as luno does."""
    state = record.run_state
    if state in _STATUS_TOPIC_STATES:
        return topic(record.workflow_name, record.status)
    if state is RunState.REQUESTED_DATA_DELETED:
        return delete_topic(record.workflow_name)
    return run_state_change_topic(record.workflow_name)


def outbox_event_for(record: Record) -> OutboxEvent:
    """The one outbox event a store writes with `record`; its id is unique per run version."""
    t = topic_for(record)
    meta = record.meta
    headers = {
        _H_WORKFLOW: record.workflow_name,
        _H_FOREIGN_ID: record.foreign_id,
        _H_TOPIC: t,
        _H_RUN_ID: record.run_id,
        _H_RUN_STATE: _RUN_STATE_TEXT[record.run_state],
        _H_VERSION: str(meta.version),
    }
    if meta.traceparent:
        headers[_H_TRACEPARENT] = meta.traceparent
    return OutboxEvent(
        f"outbox-id-{record.run_id}-{meta.version}",
        record.workflow_name,
        t,
        record.run_id,
        record.status,
        headers,
        record.updated_at,
    )
