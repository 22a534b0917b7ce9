"""The bodies of the event-driven processes: steps, hooks, data deletion, auto-resume, connectors."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from wfkit._builder import ConnectorSpec, StepSpec
from wfkit._control import AUTO_PAUSE_REASON, next_version
from wfkit._errors import CodecError, RecordNotFound, WfkitError
from wfkit._ids import stable_shard
from wfkit._options import Resolved
from wfkit._process import Process, consume
from wfkit._record import Event, Header, Record, delete_topic, run_state_change_topic, topic
from wfkit._runstate import STOPPED, RunState
from wfkit._runtime import Runtime, as_async, call

if TYPE_CHECKING:
    from wfkit._workflow import Workflow

DELETED_MARKER = b'{"result":"deleted"}'
_H_VERSION = Header.RECORD_VERSION.value  # a plain str: an enum member is slower to look up


class StaleRecord(WfkitError):
    """The store returned an older version than the event announces (a lagging replica): retry."""

    def __init__(self, run_id: str, stored: int, event: int) -> None:
        super().__init__(
            f"stale record lookup: run {run_id} is at version {stored}, the event announces {event}"
        )


async def announced(rt: Runtime, event: Event) -> Record:
    """The record version an event announces (from history once the run has moved on)."""
    record = await rt.store.lookup(event.key)
    version = int(event.headers.get(Header.RECORD_VERSION, 0))
    if version and record.meta.version > version:
        for old in await rt.store.history(event.key):
            if old.meta.version == version:
                return old
    return record


async def current_record(rt: Runtime, proc: Process, event: Event, status: int | None) -> Record | None:
    """The record an event is about, or None when the event is stale, duplicate or not for us."""
    try:
        record = await rt.store.lookup(event.key)
    except RecordNotFound:
        proc.metrics.skip("record not found")
        return None
    announced = int(event.headers.get(_H_VERSION, 0))
    if record.meta.version > announced:
        proc.metrics.skip("event record version lower than latest record version")
        return None
    if record.meta.version < announced:
        raise StaleRecord(record.run_id, record.meta.version, announced)
    if record.run_state in STOPPED:
        proc.metrics.skip("record stopped")
        rt.debug_log("Skipping consumption of stopped workflow record", run_id=record.run_id)
        return None
    if status is not None and record.status != status:
        proc.metrics.skip("record status not in expected state")
        return None
    return record


def step_body(rt: Runtime, step: StepSpec, opts: Resolved, shard: tuple[int, int]) -> Any:
    """The body of `<status>-consumer-i-of-n`: run the step for each event of its status."""
    limit = opts.pause_after_errors
    time_limit = opts.time_limit
    fn = as_async(step.fn)

    async def body(proc: Process) -> None:
        async def advance(record: Record) -> None:
            proceed, new = await rt.attempt(proc, record, fn, step.to, limit, time_limit)
            if proceed:
                await rt.apply(record, new, proc.metrics)

        async def handle(event: Event) -> None:
            record = await current_record(rt, proc, event, step.status)
            if record is not None:
                await advance(record)

        await consume(
            rt,
            proc,
            topic(rt.name, step.status),
            handle,
            poll=opts.polling_frequency,
            lag=opts.lag,
            lag_alert=opts.lag_alert,
            shard=shard,
            concurrency=opts.concurrency,
            ahead=(step.status, advance),
        )

    return body


def hook_body(rt: Runtime, state: RunState, fn: Any, opts: Resolved) -> Any:
    """The body of `<state>-run-state-change-hook-consumer`: call the hook for each such change.

    The hook sees the run as it was at the change (the version the event announces, from
    history), not whatever it has become since.
    """
    wanted = str(int(state))

    async def body(proc: Process) -> None:
        async def handle(event: Event) -> None:
            try:
                record = await announced(rt, event)
            except RecordNotFound:
                proc.metrics.skip("record not found")
                return
            try:
                obj = rt.decode(record)
            except CodecError:
                proc.metrics.skip("unable to unmarshal object")
                return
            await call(fn, rt.make_run(record, obj))

        await consume(
            rt,
            proc,
            run_state_change_topic(rt.name),
            handle,
            poll=opts.polling_frequency,
            lag=timedelta(0),
            lag_alert=opts.lag_alert,
            accept=lambda e: e.headers.get(Header.RUN_STATE) == wanted,
        )

    return body


def delete_body(rt: Runtime, custom_delete: Any, opts: Resolved) -> Any:
    """The body of `delete-consumer`: scrub the object of runs whose data deletion was requested."""

    async def body(proc: Process) -> None:
        async def handle(event: Event) -> None:
            try:
                record = await rt.store.lookup(event.key)
            except RecordNotFound:
                proc.metrics.skip("record not found")
                return
            if record.run_state is not RunState.REQUESTED_DATA_DELETED:
                proc.metrics.skip("record status not in expected state")
                return
            scrubbed = DELETED_MARKER
            if custom_delete is not None:
                try:
                    obj = rt.decode(record)
                except CodecError:
                    pass  # an object that will not decode cannot be scrubbed field by field: replace it
                else:
                    await call(custom_delete, obj)
                    scrubbed = rt.codec.encode(obj)
            new = next_version(
                record,
                rt.clock.now(),
                run_state=RunState.DATA_DELETED,
                obj=scrubbed,
                reason=record.meta.run_state_reason,
            )
            await rt.apply(record, new, proc.metrics)

        await consume(
            rt,
            proc,
            delete_topic(rt.name),
            handle,
            poll=opts.polling_frequency,
            lag=timedelta(0),
            lag_alert=opts.lag_alert,
        )

    return body


def paused_retry_body(rt: Runtime, resume_after: timedelta, opts: Resolved) -> Any:
    """The body of `paused-records-retry-consumer`: resume auto-paused runs `resume_after` later.

    The wait is timed from the pause itself (the record's `updated_at`, business time), and holds
    the stream like luno's consumer lag: pauses are resumed in the order they happened.
    """
    paused = str(int(RunState.PAUSED))

    def auto_paused(record: Record) -> bool:
        return record.run_state is RunState.PAUSED and record.meta.run_state_reason == AUTO_PAUSE_REASON

    alert = (
        3 * resume_after if 3 * resume_after >= timedelta(minutes=1) else resume_after + timedelta(minutes=5)
    )

    async def body(proc: Process) -> None:
        async def handle(event: Event) -> None:
            try:
                record = await rt.store.lookup(event.key)
                if auto_paused(record):
                    await rt.clock.sleep_until(record.updated_at + resume_after)
                    record = await rt.store.lookup(event.key)
            except RecordNotFound:
                proc.metrics.skip("record not found")
                return
            if not auto_paused(record) or record.updated_at > rt.clock.now() - resume_after:
                proc.metrics.skip("record status not in expected state")
                return
            new = next_version(record, rt.clock.now(), run_state=RunState.RUNNING)
            if await rt.apply(record, new, proc.metrics):
                rt.nudge(topic(rt.name, record.status))

        await consume(
            rt,
            proc,
            run_state_change_topic(rt.name),
            handle,
            poll=opts.polling_frequency,
            lag=timedelta(0),
            lag_alert=alert,
            accept=lambda e: e.headers.get(Header.RUN_STATE) == paused,
        )

    return body


def outbox_body(rt: Runtime, opts: Resolved, limit: int = 1000) -> Any:
    """The body of `outbox-consumer`: publish committed outbox events, then delete them."""
    alert = opts.lag_alert.total_seconds()

    async def body(proc: Process) -> None:
        senders: dict[str, Any] = {}
        store, streamer, wake = rt.store, rt.streamer, rt.outbox_wake
        loop = asyncio.get_running_loop()
        try:
            while True:
                wake.clear()
                events = await store.list_outbox(rt.name, limit)
                if not events:
                    await wake.poll(rt.idle_poll(opts.polling_frequency), loop)
                    continue
                now = rt.clock.now()
                behind = (now - events[0].created_at).total_seconds()
                proc.metrics.lag = behind
                if alert > 0:
                    proc.metrics.lag_alert = 1 if behind > alert else 0
                for ev in events:
                    sender = senders.get(ev.topic)
                    if sender is None:
                        sender = senders[ev.topic] = await streamer.sender(ev.topic)
                    await sender.send(ev.key, ev.type, ev.headers)
                    await store.delete_outbox(ev.id)
                proc.ok()
                if len(events) < limit and rt._store_notifies and not wake.is_set():
                    # The listing was not cut short and the feed saw no write since: nothing is
                    # left to publish, so sleep now instead of listing an empty outbox first.
                    await wake.poll(rt.idle_poll(opts.polling_frequency), loop)
        finally:
            for sender in senders.values():
                await sender.close()

    return body


def connector_body(
    rt: Runtime, wf: Workflow[Any, Any], spec: ConnectorSpec, opts: Resolved, shard: tuple[int, int]
) -> Any:
    """The body of `<name>-connector-to-<workflow>-consumer-i-of-n`: feed external events to `fn`."""
    index, count = shard
    lag = opts.lag

    async def body(proc: Process) -> None:
        consumer = await spec.connector.consumer(proc.role)
        try:
            while True:
                event = await consumer.recv()
                if lag and event.created_at is not None:
                    await rt.clock.sleep_until(event.created_at + lag)
                if count > 1 and stable_shard(event.id, count) != index - 1:
                    proc.metrics.skip("filtered out")
                else:
                    await call(spec.fn, wf, event)
                await consumer.ack(event)
                proc.ok()
        finally:
            await consumer.close()

    return body
