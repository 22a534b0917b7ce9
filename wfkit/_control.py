"""Run control (pause, resume, retry, cancel, delete data) as pure record writes.

Shared by `Workflow` and `Admin`: both only need a store and a clock, so the CLI and TUI can
control runs without the workflow's code.
"""

from __future__ import annotations

import enum
from datetime import datetime

from wfkit._errors import InvalidRunStateTransition
from wfkit._ports import RecordStore
from wfkit._record import Meta, Record
from wfkit._runstate import RunState

AUTO_PAUSE_REASON = "max error retry threshold hit - automatically paused"


class Action(enum.StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    RETRY = "retry"
    CANCEL = "cancel"
    DELETE_DATA = "delete_data"


_TARGET = {
    Action.PAUSE: RunState.PAUSED,
    Action.RESUME: RunState.RUNNING,
    Action.RETRY: RunState.RUNNING,
    Action.CANCEL: RunState.CANCELLED,
    Action.DELETE_DATA: RunState.REQUESTED_DATA_DELETED,
}


def next_version(
    record: Record,
    now: datetime,
    *,
    status: int | None = None,
    status_description: str | None = None,
    run_state: RunState | None = None,
    obj: bytes | None = None,
    reason: str = "",
) -> Record:
    """The record's next version: version + 1, `updated_at = now`, the given fields changed."""
    meta = record.meta
    return Record(
        record.workflow_name,
        record.foreign_id,
        record.run_id,
        record.run_state if run_state is None else run_state,
        record.status if status is None else status,
        record.object if obj is None else obj,
        record.created_at,
        now,
        Meta(
            meta.version + 1,
            reason,
            meta.status_description if status_description is None else status_description,
            meta.trace_origin,
            meta.traceparent,
        ),
    )


def controlled(record: Record, action: Action, now: datetime, reason: str = "") -> Record:
    """The version run control writes, or `InvalidRunStateTransition` if the action is not allowed.

    An INITIATED run is treated as RUNNING (as a step sees it), so a just-triggered run can be
    cancelled; retry re-publishes the current status of any unfinished run.
    """
    current = record.run_state
    target = _TARGET[action]
    effective = RunState.RUNNING if current is RunState.INITIATED else current
    if action is Action.RETRY:
        allowed = not current.finished
    elif action is Action.RESUME:
        allowed = current is RunState.PAUSED
    else:
        allowed = effective.can_become(target)
    if not allowed:
        raise InvalidRunStateTransition(record.run_id, current.name, target.name)
    return next_version(record, now, run_state=target, reason=reason)


async def control(store: RecordStore, run_id: str, action: Action, now: datetime, reason: str = "") -> Record:
    """Look the run up, apply `action`, store the new version (compare-and-set) and return it."""
    record = await store.lookup(run_id)
    new = controlled(record, action, now, reason)
    await store.store(new)
    return new
