"""`Workflow.schedule`: trigger a run for a foreign id at every slot of a cron spec."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from wfkit._cron import CronSchedule
from wfkit._errors import RecordNotFound, WorkflowInProgress
from wfkit._options import Resolved
from wfkit._plan import role_name
from wfkit._process import Process
from wfkit._runtime import Runtime, call


def schedule_process(
    rt: Runtime,
    trigger: Callable[[], Awaitable[None]],
    foreign_id: str,
    spec: str,
    allow: Callable[[], Awaitable[bool] | bool] | None,
    opts: Resolved,
) -> Process:
    """The process `<foreign id>-scheduler-<spec>`.

    The first slot is the one after the foreign id's latest run was created (or after now), so a
    restarted scheduler catches up at most one missed slot. A slot where a run is still active,
    or where `allow()` says no, is skipped.
    """
    cron = CronSchedule.parse(spec)

    # Kept across restarts of the body, so a slot whose filter or trigger failed is retried after
    # the error backoff instead of being skipped.
    last: datetime | None = None

    async def body(proc: Process) -> None:
        nonlocal last
        while True:
            if last is None:
                try:
                    last = (await rt.store.latest(rt.name, foreign_id)).created_at
                except RecordNotFound:
                    last = rt.clock.now()
            await rt.clock.sleep_until(cron.next_after(last))
            allowed = True if allow is None else bool(await call(allow))
            if allowed:
                try:
                    await trigger()
                except WorkflowInProgress:
                    rt.debug_log("scheduled slot skipped: run still active", foreign_id=foreign_id)
            last = rt.clock.now()
            proc.ok()

    process = role_name(foreign_id, "scheduler", spec)
    return Process(
        process,
        role_name(rt.name, foreign_id, "scheduler", spec),
        body,
        opts.error_backoff,
        rt.process_metrics(process),
    )
