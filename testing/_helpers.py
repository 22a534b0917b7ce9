"""luno's testing helpers for asyncio: wait for a run to get somewhere, then assert on it."""

from __future__ import annotations

import asyncio
import enum
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from wfkit import (
    AwaitTimeout,
    ConfigurationError,
    Record,
    RecordNotFound,
    Run,
    StatusNotConfigured,
    TimeoutRecord,
    Workflow,
)
from wfkit._run import ControlFn

T = TypeVar("T")
S = TypeVar("S", bound=enum.IntEnum)
R = TypeVar("R")

DEFAULT_TIMEOUT = 10.0


async def _until(
    wf: Workflow[Any, Any], check: Callable[[], Awaitable[R | None]], what: str, timeout: float
) -> R:
    """Re-check after every change the workflow makes until `check` returns something."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                found = await check()
                if found is not None:
                    return found
                await wf.wait_for_change()
    except TimeoutError:
        raise AwaitTimeout(what, timeout) from None


def _node(wf: Workflow[Any, S], status: S) -> int:
    if not isinstance(status, wf.status_type) or int(status) not in wf.info.nodes:
        raise StatusNotConfigured(wf.name, status)
    return int(status)


async def _history_of_latest(wf: Workflow[Any, Any], foreign_id: str) -> list[Record]:
    try:
        latest = await wf.store.latest(wf.name, foreign_id)
    except RecordNotFound:
        return []
    return await wf.store.history(latest.run_id)


async def require(
    wf: Workflow[T, S], foreign_id: str, status: S, expected: T, *, timeout: float = DEFAULT_TIMEOUT
) -> None:
    """Wait until the latest run of `foreign_id` has been at `status`, then assert its object there.

    The run may have moved on: the last version at `status` from its history is compared, after a
    codec round trip of `expected` (so custom encodings compare as stored).
    """
    st = _node(wf, status)
    codec = wf._rt.codec

    async def at_status() -> Record | None:
        for record in reversed(await _history_of_latest(wf, foreign_id)):
            if record.status == st:
                return record
        return None

    record = await _until(wf, at_status, f"{foreign_id!r} to reach {status!r}", timeout)
    actual = codec.decode(record.object, wf.object_type)
    wanted = codec.decode(codec.encode(expected), wf.object_type)
    if actual != wanted:
        raise AssertionError(
            f"{foreign_id!r} at {status!r} (version {record.meta.version}):\n"
            f"  expected {wanted!r}\n  actual   {actual!r}"
        )


async def wait_for(
    wf: Workflow[T, S],
    foreign_id: str,
    predicate: Callable[[Run[T, S]], bool | Awaitable[bool]],
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> Run[T, S]:
    """Wait until some version of the latest run of `foreign_id` satisfies `predicate`; return it."""
    rt = wf._rt

    async def matching() -> Run[T, S] | None:
        for record in await _history_of_latest(wf, foreign_id):
            run: Run[T, S] = rt.make_run(record, rt.decode(record))
            ok = predicate(run)
            if inspect.isawaitable(ok):
                ok = await ok
            if ok:
                return run
        return None

    return await _until(wf, matching, f"{foreign_id!r} to satisfy {predicate!r}", timeout)


async def trigger_callback_on(
    wf: Workflow[T, S],
    foreign_id: str,
    run_id: str,
    status: S,
    payload: Any,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Wait until the run is at `status`, then send the callback (payload JSON-encoded unless bytes)."""
    st = _node(wf, status)

    async def at_status() -> Record | None:
        try:
            record = await wf.store.lookup(run_id)
        except RecordNotFound:
            return None
        return record if record.status == st else None

    await _until(wf, at_status, f"run {run_id} to reach {status!r}", timeout)
    data = payload if isinstance(payload, bytes) else json.dumps(_jsonable(payload)).encode()
    await wf.callback(foreign_id, status, data)


async def await_timeout_insert(
    wf: Workflow[Any, S], foreign_id: str, run_id: str, status: S, *, timeout: float = DEFAULT_TIMEOUT
) -> TimeoutRecord:
    """Wait until a timeout for the run at `status` is scheduled; return it."""
    st = _node(wf, status)
    store = wf.timeout_store
    if store is None or not any(e.source == st and e.kind == "timeout" for e in wf.info.edges):
        raise ConfigurationError(
            f"await_timeout_insert: workflow {wf.name!r} has no timeout at {status!r}, so none will "
            f"ever be inserted; add_timeout({status!r}, ...) and build with a timeout_store"
        )

    async def inserted() -> TimeoutRecord | None:
        for row in await store.list(wf.name):
            if row.run_id == run_id and row.foreign_id == foreign_id and row.status == st:
                return row
        return None

    return await _until(wf, inserted, f"a timeout for run {run_id} at {status!r}", timeout)


def new_testing_run(
    record: Record,
    obj: T,
    *,
    status: S | None = None,
    pause: ControlFn | None = None,
    cancel: ControlFn | None = None,
    resume: ControlFn | None = None,
    delete_data: ControlFn | None = None,
    save_and_repeat: ControlFn | None = None,
) -> Run[T, S]:
    """A `Run` for unit-testing a step function; the control functions are called by `run.pause()`…"""
    controls = {
        k: v
        for k, v in {
            "pause": pause,
            "cancel": cancel,
            "resume": resume,
            "delete_data": delete_data,
            "save_and_repeat": save_and_repeat,
        }.items()
        if v is not None
    }
    return Run(record, status if status is not None else record.status, obj, controls)  # type: ignore[arg-type]


def _jsonable(payload: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(payload) and not isinstance(payload, type):
        return dataclasses.asdict(payload)
    return payload
