"""Replay: step through a run's versions back and forth, with the graph position and object diff."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, ScrollableContainer, VerticalScroll
from textual.timer import Timer
from textual.widgets import Footer, Header, Static

from wfkit import Record
from wfkit.tui._actions import WfkitScreen
from wfkit.tui._detail import object_renderable
from wfkit.tui._format import diff_lines, span, stamp, state_text, state_word
from wfkit.tui._graph import draw, statuses_visited
from wfkit.tui._keys import bindings
from wfkit.tui._service import Detail


class ReplayScreen(WfkitScreen):
    """Version N of a run: where it was in the graph, and its object (or what changed since N-1)."""

    SCOPE = "replay"
    BINDINGS = bindings("replay")
    DEFAULT_CSS = """
    ReplayScreen #step { height: auto; }
    ReplayScreen Horizontal { height: 1fr; }
    ReplayScreen #graph-pane { width: auto; max-width: 60%; }
    ReplayScreen #graph { width: auto; }
    ReplayScreen #object-pane { width: 1fr; border-left: solid $primary; padding: 0 1; }
    """

    def __init__(self, detail: Detail, *, step: int = 0) -> None:
        super().__init__()
        self.detail = detail
        self.history: list[Record] = detail.history or [detail.record]
        self.step = max(0, min(step, len(self.history) - 1))
        self.diff = False
        self._player: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(id="step", classes="bar")
        with Horizontal():
            with ScrollableContainer(id="graph-pane"):
                yield Static(id="graph")
            with VerticalScroll(id="object-pane"):
                yield Static(id="object")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._show()

    @property
    def playing(self) -> bool:
        return self._player is not None

    def _status_name(self, record: Record) -> str:
        service = self.wapp.service
        return service.status_name(record.workflow_name, record.status) if service else str(record.status)

    def _show(self) -> None:
        history, i = self.history, self.step
        record = history[i]
        previous = history[i - 1] if i > 0 else None
        row = self.detail.row
        self.title = f"{row.foreign_id} » step {i + 1}/{len(history)}"
        self.sub_title = " · ".join(
            [*(["▶ playing"] if self.playing else []), "diff" if self.diff else "object"]
        )
        line = Text.assemble(
            (f"v{record.version} ", "bold"),
            (self._status_name(record), "bold"),
            "  ",
            state_text(record.run_state, self.wapp.theme_colors),
            f"  {stamp(record.updated_at)}",
        )
        if previous is not None:
            line.append(f"  +{span((record.updated_at - previous.updated_at).total_seconds())}")
        if record.meta.run_state_reason:
            line.append(f"\nreason: {record.meta.run_state_reason}")
        self.query_one("#step", Static).update(line)
        service = self.wapp.service
        info = service.infos.get(record.workflow_name) if service else None
        graph = self.query_one("#graph", Static)
        if info is None:
            graph.update("(graph unknown)")
        else:
            path = statuses_visited(history[: i + 1])
            graph.update(draw(info, self.wapp.theme_colors, current=record.status, path=path))
        self.query_one("#object", Static).update(
            self._diff(previous, record) if self.diff else object_renderable(record.object)
        )

    def _diff(self, previous: Record | None, record: Record) -> Text:
        colors = self.wapp.theme_colors
        out = Text()
        if previous is None:
            out.append("first version: nothing to compare\n")
            return out
        if previous.status != record.status:
            out.append(f"status {self._status_name(previous)} → {self._status_name(record)}\n", style="bold")
        if previous.run_state != record.run_state:
            out.append(
                f"run state {state_word(previous.run_state)} → {state_word(record.run_state)}\n", style="bold"
            )
        changes = diff_lines(previous.object, record.object)
        styles = {
            "+": colors.get("success", ""),
            "-": colors.get("error", ""),
            "~": colors.get("warning", ""),
        }
        for mark, text in changes:
            out.append(f"{mark} {text}\n", style=styles[mark])
        if not changes:
            out.append("object unchanged\n", style="dim")
        return out

    # -- keys ------------------------------------------------------------------------------------

    def action_step(self, delta: int) -> None:
        self._go(self.step + delta)

    def action_first(self) -> None:
        self._go(0)

    def action_last(self) -> None:
        self._go(len(self.history) - 1)

    def _go(self, step: int) -> None:
        step = max(0, min(step, len(self.history) - 1))
        if step != self.step:
            self.step = step
            self._show()

    def action_toggle_diff(self) -> None:
        self.diff = not self.diff
        self._show()

    def action_play(self) -> None:
        if self._player is not None:
            self._stop()
        else:
            if self.step == len(self.history) - 1:
                self.step = 0
            self._player = self.set_interval(self.wapp.config.play_every, self._tick)
        self._show()

    def _tick(self) -> None:
        if self.step >= len(self.history) - 1:
            self._stop()
            self._show()
            return
        self.action_step(1)

    def _stop(self) -> None:
        if self._player is not None:
            self._player.stop()
            self._player = None
