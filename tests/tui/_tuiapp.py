"""Build apps for the tests: a store URL, a frozen clock, a quiet config."""

from __future__ import annotations

from typing import Any

from _tuiseed import FROZEN
from textual.pilot import Pilot

from wfkit import Builder, Clock
from wfkit.adapters import connect
from wfkit.testing import FakeClock
from wfkit.tui import TuiConfig, WfkitApp


def make_app(
    url: str,
    *,
    clock: Clock | None = None,
    builder: Builder[Any, Any] | None = None,
    **config: Any,
) -> WfkitApp:
    """An app that does not poll (tests refresh explicitly) and shows a fixed store name."""
    options: dict[str, Any] = {"store_label": "sqlite:///orders.db", "live": False, "play_every": 0.01}
    options.update(config)
    return WfkitApp(
        connect(url), config=TuiConfig(**options), clock=clock or FakeClock(FROZEN), builder=builder
    )


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for every worker (store calls) and the messages they post."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
