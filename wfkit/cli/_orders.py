"""The order workflow `wfkit demo` runs (a user-style copy lives in `examples/orders.py`).

CREATED -> VALIDATED -> PAYMENT_PENDING; the payment provider's callback moves a pending order
to PAID and then FULFILLED; a timeout on PAYMENT_PENDING expires unpaid orders (EXPIRED);
invalid orders are REJECTED. An `on_complete` hook sees every finished order.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import wfkit


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
    payment_ref: str = ""
    tracking: str = ""
    problem: str = ""


OrderRun = wfkit.Run[Order, Status]
Hook = Callable[[OrderRun], Awaitable[None]]

log = logging.getLogger("wfkit.demo.orders")


async def validate(run: OrderRun) -> Status:
    order = run.object
    if not order.items or order.total <= 0:
        order.problem = "an order needs items and a positive total"
        return Status.REJECTED
    return Status.VALIDATED


async def request_payment(run: OrderRun) -> Status:
    # A real step would ask the payment provider for a payment here, passing
    # run.idempotency_key so that a retried step does not ask twice.
    run.object.payment_ref = f"pay-{run.idempotency_key}"
    return Status.PAYMENT_PENDING


async def payment_received(run: OrderRun, payload: bytes) -> Status | wfkit.Directive:
    """Callback from the payment provider: `{"ref": ..., "amount": ...}`."""
    payment = json.loads(payload)
    if payment.get("ref") != run.object.payment_ref or payment.get("amount") != run.object.total:
        return run.skip()  # not this order's payment: keep waiting
    return Status.PAID


async def expire(run: OrderRun, now: datetime) -> Status:
    run.object.problem = f"no payment by {now:%H:%M:%S}"
    return Status.EXPIRED


async def fulfil(run: OrderRun) -> Status:
    run.object.tracking = f"TRK-{run.run_id[:8].upper()}"
    return Status.FULFILLED


async def log_completion(run: OrderRun) -> None:
    log.info("order %s finished as %s", run.foreign_id, run.status.name)


def builder(
    payment_window: timedelta = timedelta(minutes=30), on_complete: Hook = log_completion
) -> wfkit.Builder[Order, Status]:
    """The order workflow; unpaid orders expire `payment_window` after payment was requested."""
    b = wfkit.Builder("orders", Order, Status)
    b.add_step(Status.CREATED, validate, Status.VALIDATED, Status.REJECTED)
    b.add_step(Status.VALIDATED, request_payment, Status.PAYMENT_PENDING)
    b.add_callback(Status.PAYMENT_PENDING, payment_received, Status.PAID)
    b.add_timeout(Status.PAYMENT_PENDING, wfkit.after(payment_window), expire, Status.EXPIRED)
    b.add_step(Status.PAID, fulfil, Status.FULFILLED)
    b.on_complete(on_complete)
    return b


def payment_payload(order: Order) -> bytes:
    """What the payment provider sends back for `order` once it is paid."""
    return json.dumps({"ref": order.payment_ref, "amount": order.total}).encode()
