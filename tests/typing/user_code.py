"""User-style code that must pass `mypy --strict`; lines marked `type: ignore[...]` MUST be errors.

`warn_unused_ignores` turns an ignore that is no longer needed into a failure, so each marked line
proves the type checker still rejects that mistake.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime, timedelta
from typing import assert_type

import wfkit
from wfkit.adapters import memory


class Status(enum.IntEnum):
    CREATED = 1
    PAID = 2
    DONE = 3


class Other(enum.IntEnum):
    X = 1


@dataclasses.dataclass
class Order:
    id: str
    total: float = 0.0


@dataclasses.dataclass
class Invoice:
    number: int


async def pay(run: wfkit.Run[Order, Status]) -> Status:
    run.object.total += 1
    return Status.PAID


async def finish(run: wfkit.Run[Order, Status]) -> Status | wfkit.Directive:
    if run.object.total < 0:
        return await run.pause("negative total")
    return Status.DONE


async def on_paid(run: wfkit.Run[Order, Status], payload: bytes) -> Status:
    return Status.DONE


async def expire(run: wfkit.Run[Order, Status], now: datetime) -> Status:
    return Status.DONE


def plain_step(run: wfkit.Run[Order, Status]) -> Status:
    return Status.DONE


async def wrong_status(run: wfkit.Run[Order, Status]) -> Other:
    return Other.X


async def wrong_object(run: wfkit.Run[Invoice, Status]) -> Status:
    return Status.PAID


async def main() -> None:
    b = wfkit.Builder("orders", Order, Status)
    assert_type(b, wfkit.Builder[Order, Status])
    b.add_step(Status.CREATED, pay, Status.PAID, parallel=2, pause_after_errors=3)
    b.add_step(Status.PAID, finish, Status.DONE)
    b.add_callback(Status.PAID, on_paid, Status.DONE)
    b.add_timeout(Status.PAID, wfkit.after(timedelta(hours=1)), expire, Status.DONE)

    b.add_step(Status.CREATED, wrong_status, Status.PAID)  # type: ignore[arg-type]
    b.add_step(Status.CREATED, wrong_object, Status.PAID)  # type: ignore[arg-type]
    b.add_step(Status.CREATED, pay, Other.X)  # type: ignore[arg-type]
    b.add_step(Other.X, pay, Status.PAID)  # type: ignore[arg-type]
    b.add_step(Status.PAID, plain_step, Status.DONE)

    wf = b.build(
        memory.EventStreamer(),
        memory.RecordStore(),
        memory.RoleScheduler(),
        timeout_store=memory.TimeoutStore(),
    )
    assert_type(wf, wfkit.Workflow[Order, Status])
    async with wf:
        run_id = await wf.trigger("order-1", initial=Order("1"))
        assert_type(run_id, str)
        await wf.trigger("order-2", initial=Invoice(1))  # type: ignore[arg-type]
        run = await wf.await_status("order-1", run_id, Status.DONE, timeout=5)
        assert_type(run, wfkit.Run[Order, Status])
        assert_type(run.object, Order)
        assert_type(run.status, Status)
        await wf.await_status("order-1", run_id, Other.X)  # type: ignore[arg-type]
        await wf.callback("order-1", Status.PAID, b"{}")
