"""Stores for the TUI tests: one seeded by running the real orders example, one of fixed records."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from wfkit import Admin, Builder, Meta, Record, RunState
from wfkit.adapters import connect
from wfkit.cli._load import load_object, workflow_info

ROOT = Path(__file__).resolve().parents[2]
ORDERS = f"{ROOT / 'examples' / 'orders.py'}:builder"
FROZEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
"""The frozen clock's time in snapshot tests."""


def orders_module() -> Any:
    """examples/orders.py, imported once (each `load_object` of a file path imports it afresh)."""
    factory = load_object(ORDERS) if "orders" not in sys.modules else sys.modules["orders"].builder
    return sys.modules[factory.__module__]


def orders_builder() -> Builder[Any, Any]:
    builder: Builder[Any, Any] = orders_module().builder()
    return builder


def seed_real(path: Path) -> dict[str, str]:
    """Run examples/orders.py on a SQLite file: fulfilled, rejected, waiting, paused and cancelled orders.

    Returns run ids by foreign id.
    """
    return asyncio.run(_seed_real(f"sqlite:///{path}"))


async def _seed_real(url: str) -> dict[str, str]:
    module = orders_module()
    order, status = module.Order, module.Status
    ids: dict[str, str] = {}
    async with connect(url) as backend, backend.build(orders_builder(), metrics=CollectorRegistry()) as wf:
        ids["order-1"] = await wf.trigger("order-1", initial=order("order-1", ["book"], 12.5))
        ids["order-2"] = await wf.trigger("order-2", initial=order("order-2", [], 0.0))
        for n in (3, 4, 5):
            ids[f"order-{n}"] = await wf.trigger(f"order-{n}", initial=order(f"order-{n}", ["lamp"], 30.0))
        for fid in ("order-1", "order-3", "order-4", "order-5"):
            await wf.await_status(fid, ids[fid], status.PAYMENT_PENDING, timeout=10)
        await wf.callback("order-1", status.PAYMENT_PENDING, json.dumps({"amount": 12.5}).encode())
        await wf.await_status("order-1", ids["order-1"], status.FULFILLED, timeout=10)
        await wf.await_status("order-2", ids["order-2"], status.REJECTED, timeout=10)
        admin = Admin(backend.store)
        await admin.pause(ids["order-4"], "waiting for the warehouse")
        await admin.cancel(ids["order-5"], "customer changed their mind")
    return ids


# -- fixed records, for snapshots --------------------------------------------------------------

_FIXED: list[tuple[str, str, list[tuple[int, RunState]], dict[str, Any], str]] = [
    (
        "order-0001",
        "r01a",
        [
            (1, RunState.INITIATED),
            (1, RunState.RUNNING),
            (2, RunState.RUNNING),
            (3, RunState.RUNNING),
            (4, RunState.RUNNING),
            (5, RunState.RUNNING),
            (5, RunState.COMPLETED),
        ],
        {"id": "order-0001", "items": ["book"], "total": 12.5},
        "",
    ),
    (
        "order-0002",
        "r02b",
        [(1, RunState.INITIATED), (1, RunState.RUNNING), (7, RunState.RUNNING), (7, RunState.COMPLETED)],
        {"id": "order-0002", "items": [], "total": 0.0},
        "",
    ),
    (
        "order-0003",
        "r03c",
        [(1, RunState.INITIATED), (1, RunState.RUNNING), (2, RunState.RUNNING), (3, RunState.RUNNING)],
        {"id": "order-0003", "items": ["lamp", "mug"], "total": 38.25},
        "",
    ),
    (
        "order-0004",
        "r04d",
        [
            (1, RunState.INITIATED),
            (1, RunState.RUNNING),
            (2, RunState.RUNNING),
            (3, RunState.RUNNING),
            (3, RunState.PAUSED),
        ],
        {"id": "order-0004", "items": ["plant"], "total": 19.0},
        "waiting for the warehouse",
    ),
    (
        "order-0005",
        "r05e",
        [
            (1, RunState.INITIATED),
            (1, RunState.RUNNING),
            (2, RunState.RUNNING),
            (3, RunState.RUNNING),
            (3, RunState.CANCELLED),
        ],
        {"id": "order-0005", "items": ["poster"], "total": 6.75},
        "customer changed their mind",
    ),
    (
        "order-0006",
        "r06f",
        [
            (1, RunState.INITIATED),
            (1, RunState.RUNNING),
            (2, RunState.RUNNING),
            (3, RunState.RUNNING),
            (6, RunState.RUNNING),
            (6, RunState.COMPLETED),
        ],
        {"id": "order-0006", "items": ["mug"], "total": 8.25},
        "",
    ),
]


def seed_fixed(path: Path) -> None:
    """Six orders with fixed run ids and times (minutes before `FROZEN`): same screen every time."""
    asyncio.run(_seed_fixed(f"sqlite:///{path}"))


async def _seed_fixed(url: str) -> None:
    info = workflow_info(orders_builder())
    async with connect(url) as backend:
        store = backend.store
        await store.register(info)
        for i, (fid, rid, steps, obj, reason) in enumerate(_FIXED):
            run_id = f"{rid}{i:04d}-0000-4000-8000-000000000000"
            created = FROZEN - timedelta(minutes=60 - 7 * i)
            for version, (status, state) in enumerate(steps, start=1):
                o = dict(obj)
                if status == 5:
                    o["tracking"] = f"TRK-{run_id[:8]}"
                last = version == len(steps)
                record = Record(
                    "orders",
                    fid,
                    run_id,
                    state,
                    status,
                    json.dumps(o, sort_keys=True).encode(),
                    created,
                    created + timedelta(seconds=30 * (version - 1)),
                    Meta(version=version, run_state_reason=reason if last and state.stopped else ""),
                )
                await store.store(record)
