"""Helpers for the store-facing CLI tests: a SQLite store seeded by running the orders example for real,
and `invoke` for the Typer app with a clean environment."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from wfkit.cli._app import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "orders.py"
TARGET = f"{EXAMPLE}:builder"
ENV = {"COLUMNS": "120", "FORCE_COLOR": None, "NO_COLOR": "1", "WFKIT_STORE": None}
FINAL = {"o1": "FULFILLED", "o2": "EXPIRED", "o3": "REJECTED"}
"""The seeded runs: o1 is paid, o2 never paid (its 0.2 s window expires), o3 has no items."""

_runner = CliRunner()


def invoke(*args: str, env: Mapping[str, str | None] | None = None) -> tuple[int, str, str]:
    result = _runner.invoke(app, list(args), env={**ENV, **(env or {})}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def invoke_json(*args: str) -> Any:
    code, out, err = invoke(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def assert_one_line_error(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


def isolate_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo what loading `examples/orders.py:builder` does to `sys.path` and `sys.modules`."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if getattr(sys.modules[name], "__file__", None) == str(EXAMPLE):
            del sys.modules[name]


def seed(path: Path) -> str:
    """A SQLite store at `path` holding the three finished runs of `FINAL`; returns its URL."""
    url = f"sqlite:///{path}"
    asyncio.run(_seed(url))
    return url


async def _seed(url: str) -> None:
    from wfkit.adapters import connect
    from wfkit.cli._load import load_object

    make = load_object(TARGET)
    module = sys.modules[make.__module__]  # one import: the builder's Order is this Order
    orders, status = module.Order, module.Status
    builder = make(payment_window=timedelta(seconds=0.2))
    async with connect(url) as backend, backend.build(builder, metrics=CollectorRegistry()) as wf:
        ids = {
            "o1": await wf.trigger("o1", initial=orders("o1", ["book"], 12.5)),
            "o2": await wf.trigger("o2", initial=orders("o2", ["lamp"], 30.0)),
            "o3": await wf.trigger("o3", initial=orders("o3", [], 0.0)),
        }
        await wf.await_status("o1", ids["o1"], status.PAYMENT_PENDING, timeout=10)
        await wf.callback("o1", status.PAYMENT_PENDING, json.dumps({"amount": 12.5}).encode())
        for foreign_id, run_id in ids.items():
            await wf.await_status(foreign_id, run_id, status[FINAL[foreign_id]], timeout=10)
