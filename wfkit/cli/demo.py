"""`wfkit demo`: an order workflow on the embedded SQLite store, with a live view and a summary.

The runs land in `wfkit-demo.db` in the working directory (`--store` picks another URL, e.g.
`memory://`), so a later `wfkit demo`, or any tool opening that file, sees them.

Orders arrive over about a second; most are paid by a payment-provider callback a moment after
they reach PAYMENT_PENDING, some are never paid and expire after a real 1.5 s timeout, a few are
invalid and rejected. `--seed` decides which is which, so a seed always tells the same story.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from wfkit.cli import _orders
from wfkit.cli._orders import Order, Status, payment_payload

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from rich.table import Table

    from wfkit import Workflow
    from wfkit.adapters import Backend

DEMO_STORE = "sqlite:///wfkit-demo.db"
"""The demo's default store: a SQLite file in the working directory."""
PAYMENT_WINDOW = 1.5
"""Seconds an order may stay unpaid in PAYMENT_PENDING before its timeout expires it."""
ARRIVALS = 1.0
"""Orders arrive spread over this many seconds."""
PAY_DELAY = (0.05, 0.6)
"""A paid order's callback comes this long (seconds) after it reached PAYMENT_PENDING."""

Fate = Literal["paid", "unpaid", "invalid"]
_CATALOGUE = {"book": 12.5, "lamp": 30.0, "mug": 8.25, "plant": 19.0, "poster": 6.75}
_STYLE = {"FULFILLED": "green", "EXPIRED": "yellow", "REJECTED": "red"}


@dataclass(frozen=True, slots=True)
class Planned:
    """One order of the demo and what the seed decided for it."""

    foreign_id: str
    items: tuple[str, ...]
    total: float
    fate: Fate
    arrive: float
    pay_delay: float


@dataclass(slots=True)
class Outcome:
    counts: dict[str, int]
    runs: int
    transitions: int
    elapsed: float
    hooked: set[str] = field(default_factory=set)


def demo(
    runs: Annotated[
        int, typer.Option("--runs", "-n", min=1, max=5000, help="How many orders to trigger.")
    ] = 20,
    seed: Annotated[
        int, typer.Option("--seed", "-s", help="Decides which orders are invalid or unpaid.")
    ] = 1,
    store: Annotated[
        str, typer.Option("--store", help="Where the runs go: a store URL (sqlite:///…, memory://).")
    ] = DEMO_STORE,
) -> None:
    """Run an order workflow: trigger orders, pay most of them, let some expire."""
    from rich.console import Console

    from wfkit.adapters import connect, mask_url

    console = Console(highlight=False)
    plan = make_plan(runs, seed)
    backend = connect(store)  # a bad URL fails here, before anything runs
    console.print(
        f"[bold]wfkit demo[/]: {runs} orders in {mask_url(store)} (seed {seed}), "
        f"unpaid orders expire after {PAYMENT_WINDOW:g} s"
    )
    outcome = asyncio.run(_drive(plan, console, backend))
    console.print(summary(outcome, seed))
    if store == DEMO_STORE:
        console.print("runs kept in [bold]wfkit-demo.db[/] (in this directory)")


def make_plan(runs: int, seed: int) -> list[Planned]:
    """The orders of a demo: the seed alone decides items, fates and timings."""
    rng = random.Random(seed)
    plan = []
    for i in range(1, runs + 1):
        roll = rng.random()
        fate: Fate = "invalid" if roll < 0.1 else "unpaid" if roll < 0.3 else "paid"
        items = () if fate == "invalid" else tuple(rng.sample(sorted(_CATALOGUE), rng.randint(1, 3)))
        total = round(float(sum(_CATALOGUE[item] for item in items)), 2)
        arrive = ARRIVALS * (i - 1) / runs
        plan.append(Planned(f"order-{i:04d}", items, total, fate, arrive, rng.uniform(*PAY_DELAY)))
    return plan


async def _drive(plan: list[Planned], console: Console, backend: Backend) -> Outcome:
    from prometheus_client import CollectorRegistry
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from wfkit import WfkitError

    hooked: set[str] = set()
    run_ids: list[str] = []  # this demo's runs (the store may hold earlier demos' too)

    async def on_complete(run: _orders.OrderRun) -> None:
        hooked.add(run.run_id)

    builder = _orders.builder(timedelta(seconds=PAYMENT_WINDOW), on_complete=on_complete)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console)
    tasks = {"finished": progress.add_task(f"[bold]{'finished':>16}[/]", total=len(plan))}
    for s in Status:
        tasks[s.name] = progress.add_task(_styled(f"{s.name:>16}", s.name), total=len(plan))
    loop = asyncio.get_running_loop()
    deadline = 8.0 + len(plan) / 100
    async with backend, backend.build(builder, metrics=CollectorRegistry()) as wf:
        started = loop.time()
        orders = asyncio.gather(*(_order(wf, p, deadline, run_ids) for p in plan))
        try:
            with progress:
                async with asyncio.timeout(deadline):
                    while not await _update(wf, run_ids, progress, tasks, len(plan)) or len(hooked) < len(
                        plan
                    ):
                        if orders.done():
                            orders.result()  # raise what went wrong, if anything
                        await asyncio.sleep(0.05)
            await orders
        except WfkitError:
            raise
        except TimeoutError:
            raise WfkitError(f"the demo did not finish within {deadline:g} s") from None
        finally:
            if not orders.done():
                orders.cancel()
                await asyncio.wait([orders])
        elapsed = loop.time() - started
        records = [await wf.store.lookup(run_id) for run_id in run_ids]
        transitions = 0
        for record in records:
            history = await wf.store.history(record.run_id)
            transitions += sum(a.status != b.status for a, b in itertools.pairwise(history))
    counts = {s.name: 0 for s in Status}
    for record in records:
        counts[Status(record.status).name] += 1
    return Outcome(counts, len(records), transitions, elapsed, hooked)


async def _order(wf: Workflow[Order, Status], p: Planned, timeout: float, run_ids: list[str]) -> None:
    """One customer and their payment provider: place the order, then pay it (or not)."""
    await asyncio.sleep(p.arrive)
    order = Order(p.foreign_id, list(p.items), p.total)
    run_id = await wf.trigger(p.foreign_id, initial=order)
    run_ids.append(run_id)
    if p.fate != "paid":
        return
    run = await wf.await_status(p.foreign_id, run_id, Status.PAYMENT_PENDING, timeout=timeout)
    await asyncio.sleep(p.pay_delay)
    await wf.callback(p.foreign_id, Status.PAYMENT_PENDING, payment_payload(run.object))


async def _update(
    wf: Workflow[Order, Status], run_ids: list[str], progress: Progress, tasks: dict[str, TaskID], total: int
) -> bool:
    """Show how many orders are at each status now; True once every order has finished."""
    records = [await wf.store.lookup(run_id) for run_id in list(run_ids)]
    counts = dict.fromkeys(tasks, 0)
    for record in records:
        counts[Status(record.status).name] += 1
        counts["finished"] += record.run_state.finished
    for name, task in tasks.items():
        progress.update(task, completed=counts[name])
    return counts["finished"] == total


def summary(outcome: Outcome, seed: int) -> Table:
    """Orders per status, then the run totals and throughput."""
    from rich.table import Table

    table = Table(title=f"demo summary (seed {seed})", title_justify="left")
    table.add_column("status")
    table.add_column("orders", justify="right")
    for name, count in outcome.counts.items():
        if count:
            table.add_row(_styled(name, name), str(count))
    table.add_section()
    per_second = outcome.transitions / outcome.elapsed if outcome.elapsed > 0 else 0.0
    table.add_row("total runs", str(outcome.runs))
    table.add_row("transitions", str(outcome.transitions))
    table.add_row("transitions/s", f"{per_second:.1f}")
    table.add_row("elapsed", f"{outcome.elapsed:.2f} s")
    table.add_row("on_complete hooks", str(len(outcome.hooked)))
    return table


def _styled(text: str, status: str) -> str:
    style = _STYLE.get(status)
    return f"[{style}]{text}[/]" if style else text
