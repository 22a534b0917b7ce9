"""Replay: step through a run's versions back and forth, with the graph position and object diff.

The screen walks a `Replay` (see `_steps`): a store run's history, or a run as a simulation trace
recorded it; both get the same keys, graph pane and object/diff pane.
"""

from __future__ import annotations

from rich.json import JSON
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, ScrollableContainer, VerticalScroll
from textual.timer import Timer
from textual.widgets import Footer, Header, Static

from wfkit._errors import WfkitError
from wfkit.tui._actions import WfkitScreen
from wfkit.tui._detail import object_renderable
from wfkit.tui._format import diff_lines, state_text, state_word
from wfkit.tui._graph import draw
from wfkit.tui._keys import bindings
from wfkit.tui._service import Detail
from wfkit.tui._steps import Replay, Step, replay_of_records


class ReplayScreen(WfkitScreen):
    """Step N of a run: where it was in the graph, and its object (or what changed since N-1)."""

    SCOPE = "replay"
    BINDINGS = bindings("replay")
    DEFAULT_CSS = """
    ReplayScreen #step { height: auto; }
    ReplayScreen Horizontal { height: 1fr; }
    ReplayScreen #graph-pane { width: auto; max-width: 60%; }
    ReplayScreen #graph { width: auto; }
    ReplayScreen #object-pane { width: 1fr; border-left: solid $primary; padding: 0 1; }
    """

    def __init__(self, source: Detail | Replay, *, step: int = 0) -> None:
        super().__init__()
        self.source = source
        self.replay = source if isinstance(source, Replay) else Replay("", ())
        self.step = step
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
        if isinstance(self.source, Detail):  # the graph is the service's: known once the store is open
            detail, service = self.source, self.wapp.service
            info = service.infos.get(detail.record.workflow_name) if service else None
            self.replay = replay_of_records(detail.row.foreign_id, detail.history or [detail.record], info)
        self.step = max(0, min(self.step, len(self.replay.steps) - 1))
        self._show()

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.replay.steps

    @property
    def playing(self) -> bool:
        return self._player is not None

    def _show(self) -> None:
        replay, i = self.replay, self.step
        if not replay.steps:
            self.title = f"{replay.name} » no steps"
            self.query_one("#step", Static).update("nothing to replay: no versions recorded")
            return
        step = replay.steps[i]
        previous = replay.steps[i - 1] if i > 0 else None
        self.title = f"{replay.name} » step {i + 1}/{len(replay.steps)}"
        self.sub_title = " · ".join(
            [*(["▶ playing"] if self.playing else []), "diff" if self.diff else "object"]
        )
        line = Text.assemble(
            (f"v{step.version} ", "bold"),
            (replay.status_name(step.status), "bold"),
            "  ",
            state_text(step.run_state, self.wapp.theme_colors),
            f"  {step.when}",
        )
        if step.delta:
            line.append(f"  {step.delta}")
        if step.note:
            line.append(f"  · {step.note}", style="dim")
        if step.reason:
            line.append(f"\nreason: {step.reason}")
        self.query_one("#step", Static).update(line)
        graph = self.query_one("#graph", Static)
        if replay.info is None:
            graph.update(replay.missing_graph)
        else:
            graph.update(draw(replay.info, self.wapp.theme_colors, current=step.status, path=replay.path(i)))
        if self.diff:
            shown: JSON | Text = self._diff(previous, step)
        elif step.object is None:
            shown = Text("(the object of this version was not recorded)", style="dim")
        else:
            shown = object_renderable(step.object)
        self.query_one("#object", Static).update(shown)

    def _diff(self, previous: Step | None, step: Step) -> Text:
        colors, name = self.wapp.theme_colors, self.replay.status_name
        out = Text()
        if previous is None:
            out.append("first version: nothing to compare\n")
            return out
        if previous.status != step.status:
            out.append(f"status {name(previous.status)} → {name(step.status)}\n", style="bold")
        if previous.run_state != step.run_state:
            out.append(
                f"run state {state_word(previous.run_state)} → {state_word(step.run_state)}\n", style="bold"
            )
        if previous.object is None or step.object is None:
            out.append("objects not recorded: no object diff\n", style="dim")
            return out
        changes = diff_lines(previous.object, step.object)
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
        self._go(len(self.steps) - 1)

    def _go(self, step: int) -> None:
        step = max(0, min(step, len(self.steps) - 1))
        if step != self.step:
            self.step = step
            self._show()

    def action_seek(self) -> None:
        """Ask where to go: a step number, or a time (the last step at or before it)."""
        from wfkit.tui._modals import AskModal

        if not self.steps:
            self.notify("nothing to seek: this replay has no steps", severity="warning")
            return
        self._stop()
        self._show()
        ask = AskModal("Seek to step or time", self.replay.seek_hint, send="Go", hint=self.replay.seek_help)
        self.app.push_screen(ask, self.seek)

    def seek(self, text: str | None) -> None:
        """Go to the step `text` names (see `Replay.seek`); a toast says what is accepted otherwise."""
        if text is None or not text.strip():
            return
        try:
            step = self.replay.seek(text)
        except WfkitError as exc:
            self.wapp.report(exc, "seek")
            return
        self._go(step)

    def action_toggle_diff(self) -> None:
        self.diff = not self.diff
        self._show()

    def action_play(self) -> None:
        if self._player is not None:
            self._stop()
        else:
            if self.step == len(self.steps) - 1:
                self.step = 0
            self._player = self.set_interval(self.wapp.config.play_every, self.tick)
        self._show()

    def tick(self) -> None:
        """One beat of the player: the next step, or stop at the last."""
        if self.step >= len(self.steps) - 1:
            self._stop()
            self._show()
            return
        self.action_step(1)

    def _stop(self) -> None:
        if self._player is not None:
            self._player.stop()
            self._player = None
