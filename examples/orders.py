"""An order workflow: validate, ask for payment, wait for the payment callback or time out, fulfil.

Run it with `python examples/orders.py`; `wfkit graph examples/orders.py:builder` draws it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
from datetime import datetime, timedelta

import wfkit
from wfkit.adapters import memory


class Status(enum.IntEnum):
    CREATED = 1
    VALIDATED = 2
    PAYMENT_PENDING = 3
    PAID = 4
    FULFILLED = 5
    EXPIRED = 6
    REJECTED = 7


@dataclasses.dataclass
class Order:
    id: str = ""
    items: list[str] = dataclasses.field(default_factory=list)
    total: float = 0.0
    tracking: str = ""


async def validate(run: wfkit.Run[Order, Status]) -> Status:
    return Status.VALIDATED if run.object.items and run.object.total > 0 else Status.REJECTED


async def request_payment(run: wfkit.Run[Order, Status]) -> Status:
    # Steps run at least once: pass run.idempotency_key to the payment provider.
    return Status.PAYMENT_PENDING


async def payment_received(run: wfkit.Run[Order, Status], payload: bytes) -> Status | wfkit.Directive:
    paid = json.loads(payload)["amount"]
    return Status.PAID if paid == run.object.total else run.skip()  # a wrong amount: keep waiting


async def expire(run: wfkit.Run[Order, Status], now: datetime) -> Status:
    return Status.EXPIRED


async def fulfil(run: wfkit.Run[Order, Status]) -> Status:
    run.object.tracking = f"TRK-{run.run_id[:8]}"
    return Status.FULFILLED


async def notify(run: wfkit.Run[Order, Status]) -> None:
    print(f"  (on_complete: {run.foreign_id} finished as {run.status.name})")


def builder(payment_window: timedelta = timedelta(minutes=30)) -> wfkit.Builder[Order, Status]:
    b = wfkit.Builder("orders", Order, Status)
    b.add_step(Status.CREATED, validate, Status.VALIDATED, Status.REJECTED)
    b.add_step(Status.VALIDATED, request_payment, Status.PAYMENT_PENDING)
    b.add_callback(Status.PAYMENT_PENDING, payment_received, Status.PAID)
    b.add_timeout(Status.PAYMENT_PENDING, wfkit.after(payment_window), expire, Status.EXPIRED)
    b.add_step(Status.PAID, fulfil, Status.FULFILLED)
    b.on_complete(notify)
    return b


async def main() -> None:
    # In-memory adapters (streamer, store, roles, timeouts): nothing to set up.
    wf = memory.backend().build(builder(payment_window=timedelta(seconds=1)))
    async with wf:
        paid = await wf.trigger("order-1", initial=Order("order-1", ["book"], 12.5))
        unpaid = await wf.trigger("order-2", initial=Order("order-2", ["lamp"], 30.0))
        empty = await wf.trigger("order-3", initial=Order("order-3", [], 0.0))

        await wf.await_status("order-1", paid, Status.PAYMENT_PENDING, timeout=5)
        await wf.callback("order-1", Status.PAYMENT_PENDING, json.dumps({"amount": 12.5}).encode())

        for foreign_id, run_id, final in [
            ("order-1", paid, Status.FULFILLED),
            ("order-2", unpaid, Status.EXPIRED),  # nobody pays: the timeout fires after 1 s
            ("order-3", empty, Status.REJECTED),
        ]:
            run = await wf.await_status(foreign_id, run_id, final, timeout=5)
            print(f"{foreign_id}: {run.status.name} {run.object}")


if __name__ == "__main__":
    asyncio.run(main())
