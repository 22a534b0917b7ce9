"""A card payment: check, reserve funds, ask the customer to confirm, capture, send a receipt.

Five steps, one callback (the bank's confirmation) and one timeout (no confirmation in time). Its
default object is a valid payment, and the callback accepts `{}` as a plain confirmation, so the
simulator can drive it with no setup at all:

    wfkit simulate examples/payments.py:builder --seed 1 --nodes 3 --runs 50
    wfkit simulate examples/payments.py:builder --seeds 1..200 --faults default
    python examples/payments.py          # the same, from Python

    RECEIVED -check-> CHECKED -reserve-> RESERVED -ask-> AWAITING_CONFIRMATION
    AWAITING_CONFIRMATION -(callback)-> CONFIRMED -capture-> CAPTURED -receipt-> COMPLETED
    AWAITING_CONFIRMATION -(callback: declined)-> DECLINED
    AWAITING_CONFIRMATION -(timeout)-> EXPIRED;   RECEIVED -check-> REJECTED
"""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import datetime, timedelta

import wfkit


class Status(enum.IntEnum):
    RECEIVED = 1
    CHECKED = 2
    RESERVED = 3
    AWAITING_CONFIRMATION = 4
    CONFIRMED = 5
    CAPTURED = 6
    COMPLETED = 7
    REJECTED = 8
    DECLINED = 9
    EXPIRED = 10


@dataclasses.dataclass
class Payment:
    """A payment; the defaults are a valid one (what the simulator triggers with no initial value)."""

    amount_cents: int = 1250
    currency: str = "EUR"
    reservation: str = ""
    confirmation: str = ""
    capture: str = ""
    receipt: str = ""
    problem: str = ""


PaymentRun = wfkit.Run[Payment, Status]

CURRENCIES = ("EUR", "GBP", "USD", "ZAR")


# Every external call below passes run.idempotency_key: step functions run at least once (a worker
# can crash after the call but before the transition is stored), the transition exactly once.


async def check(run: PaymentRun) -> Status:
    payment = run.object
    if payment.amount_cents <= 0 or payment.currency not in CURRENCIES:
        payment.problem = f"cannot take {payment.amount_cents} {payment.currency}"
        return Status.REJECTED
    return Status.CHECKED


async def reserve(run: PaymentRun) -> Status:
    run.object.reservation = f"rsv-{run.idempotency_key}"
    return Status.RESERVED


async def ask_for_confirmation(run: PaymentRun) -> Status:
    # A real step would start a 3-D Secure challenge here; the bank calls back when it is done.
    return Status.AWAITING_CONFIRMATION


async def confirmation(run: PaymentRun, payload: bytes) -> Status | wfkit.Directive:
    """The bank's callback: `{}` or `{"ref": ...}` confirms, `{"declined": true}` declines."""
    try:
        answer = json.loads(payload or b"{}")
    except ValueError:
        return run.skip()  # not a JSON answer: keep waiting for a proper one
    if not isinstance(answer, dict):
        return run.skip()
    if answer.get("declined"):
        run.object.problem = "declined by the bank"
        return Status.DECLINED
    run.object.confirmation = str(answer.get("ref", "confirmed"))
    return Status.CONFIRMED


async def expire(run: PaymentRun, now: datetime) -> Status:
    run.object.problem = f"not confirmed by {now:%Y-%m-%d %H:%M:%S}"
    return Status.EXPIRED


async def capture(run: PaymentRun) -> Status:
    run.object.capture = f"cap-{run.idempotency_key}"
    return Status.CAPTURED


async def send_receipt(run: PaymentRun) -> Status:
    run.object.receipt = f"receipt-{run.idempotency_key}"
    return Status.COMPLETED


def builder(confirmation_window: timedelta = timedelta(minutes=15)) -> wfkit.Builder[Payment, Status]:
    """The payment workflow; unconfirmed payments expire `confirmation_window` after the request."""
    b = wfkit.Builder("payments", Payment, Status)
    b.add_step(Status.RECEIVED, check, Status.CHECKED, Status.REJECTED)
    b.add_step(Status.CHECKED, reserve, Status.RESERVED)
    b.add_step(Status.RESERVED, ask_for_confirmation, Status.AWAITING_CONFIRMATION)
    b.add_callback(Status.AWAITING_CONFIRMATION, confirmation, Status.CONFIRMED, Status.DECLINED)
    b.add_timeout(Status.AWAITING_CONFIRMATION, wfkit.after(confirmation_window), expire, Status.EXPIRED)
    b.add_step(Status.CONFIRMED, capture, Status.CAPTURED)
    b.add_step(Status.CAPTURED, send_receipt, Status.COMPLETED)
    return b


def captured_only_when_confirmed(run: PaymentRun) -> bool:
    """A user invariant: money is never captured without the customer's confirmation."""
    return not run.object.capture or bool(run.object.confirmation)


def main() -> None:
    from wfkit.testing import FaultPlan, Workload, simulate

    workload = Workload(runs=50, spacing=0.5, callbacks={Status.AWAITING_CONFIRMATION: b"{}"})
    for seed in range(1, 6):
        report = simulate(
            builder,
            seed=seed,
            nodes=3,
            workload=workload,
            faults=FaultPlan.default(),
            invariants=[captured_only_when_confirmed],
        )
        assert report.ok, report.explain()
        stats = report.stats
        print(
            f"seed {seed}: {stats['runs_finished']}/{stats['runs_triggered']} payments finished, "
            f"{stats['faults_injected']} faults injected, trace {report.trace_hash[:12]}"
        )


if __name__ == "__main__":
    main()
