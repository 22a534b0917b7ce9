"""`WfkitApp`: the Textual app behind `wfkit tui`; owns the store connection and the screens.

It takes a `Backend` (opened in a worker, closed on exit), a `TuiConfig` and a `Clock`, so a test
can build a frozen, deterministic app over any store. With a builder it holds that workflow as a
client (`consumers=False`): it can trigger runs and send callbacks, and workers do the steps.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import BindingType

from wfkit import Builder, Clock, SystemClock, WfkitError
from wfkit.tui._config import TuiConfig
from wfkit.tui._keys import bindings, help_rows
from wfkit.tui._modals import HelpScreen
from wfkit.tui._palette import WfkitCommands
from wfkit.tui._service import Service

if TYPE_CHECKING:
    from wfkit.adapters import Backend

DARK, LIGHT = "textual-dark", "textual-light"


class WfkitApp(App[None]):
    """Runs, run detail, replay, workflows, graph and simulation screens over one store."""

    TITLE = "wfkit"
    CSS = """
    Screen { layout: vertical; }
    .bar { height: auto; padding: 0 1; background: $boost; }
    .muted { color: $text-muted; }
    DataTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = bindings("app")
    COMMANDS = App.COMMANDS | {WfkitCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        backend: Backend,
        *,
        config: TuiConfig | None = None,
        clock: Clock | None = None,
        builder: Builder[Any, Any] | None = None,
        trace: Path | None = None,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.config = config or TuiConfig()
        self.clock: Clock = clock or SystemClock()
        self.builder = builder
        self.trace = trace
        self.service: Service | None = None
        self.ready = asyncio.Event()
        self.last_error = ""
        self._stack = AsyncExitStack()

    # -- lifecycle -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        from wfkit.tui._runs import RunsScreen

        self.theme = DARK if self.config.dark else LIGHT
        self.push_screen(RunsScreen())
        if self.trace is not None:
            from wfkit.tui._sim import SimulationScreen

            self.push_screen(SimulationScreen(self.trace))
        self._open()

    @work(exclusive=True, group="open")
    async def _open(self) -> None:
        try:
            await self._stack.enter_async_context(self.backend)
            workflow = None
            if self.builder is not None:
                from prometheus_client import CollectorRegistry

                workflow = self.backend.build(
                    self.builder, clock=self.clock, metrics=CollectorRegistry(), consumers=False
                )
                await self._stack.enter_async_context(workflow)
            self.service = Service(self.backend.store, self.clock, workflow)
            await self.service.workflows()
        except Exception as exc:
            self.report(exc, "cannot open the store")
        finally:
            self.ready.set()

    async def on_unmount(self) -> None:
        try:
            await self._stack.aclose()
        except Exception as exc:  # closing must not turn a clean quit into a traceback
            self.last_error = str(exc)

    async def get_service(self) -> Service | None:
        """The service once the store is open (None if opening failed)."""
        await self.ready.wait()
        return self.service

    # -- shared behaviour ------------------------------------------------------------------------

    @property
    def theme_colors(self) -> dict[str, str]:
        """Theme variables (`success`, `warning`, ...) as Rich colours, for Rich `Text` cells."""
        return self.theme_variables

    def report(self, exc: BaseException, what: str = "") -> None:
        """Show an error as a toast (never a traceback) and remember it for the header badge."""
        message = str(exc) if isinstance(exc, WfkitError) else f"{type(exc).__name__}: {exc}"
        self.last_error = message
        self.notify(message, title=what or "error", severity="error", timeout=8)

    def action_help(self) -> None:
        scope = getattr(self.screen, "SCOPE", "runs")
        scopes = (scope, "table", "app") if scope in ("runs", "workflows", "sim") else (scope, "app")
        self.push_screen(HelpScreen(help_rows(scopes, self.config.read_only)))

    def action_toggle_dark(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK
