"""The simulation explorer: a trace's summary, every line, and a jump to the violating step.

Reads a `wfkit simulate --trace` file, or runs a seed of the loaded workflow (`n`, in a thread: the
simulator owns its own event loop). The lines are drawn by a line-API view, so a trace of 100k
lines costs no more than one screenful. `space` plays the lines, `v` replays the cursor line's run
version by version (with its objects when the trace has them: always for a seed run here).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import Footer, Header, Static

from wfkit.tui._actions import WfkitScreen
from wfkit.tui._keys import bindings
from wfkit.tui._modals import AskModal
from wfkit.tui._simdata import SimTrace, from_report, line_text, load_trace, run_state_word

if TYPE_CHECKING:
    from wfkit import WorkflowInfo


class TraceView(ScrollView, can_focus=True):
    """Trace lines with a cursor; renders only the visible lines."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "move(-20)", "Page up", show=False),
        Binding("pagedown", "move(20)", "Page down", show=False),
        Binding("home,g", "move(-1000000000)", "First", show=False),
        Binding("end,G", "move(1000000000)", "Last", show=False),
    ]
    cursor: reactive[int] = reactive(0)

    class Moved(Message):
        """The cursor moved to another line."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace = SimTrace({}, [])
        self._cache: dict[int, Text] = {}

    def show(self, trace: SimTrace) -> None:
        self.trace, self._cache = trace, {}
        self.virtual_size = Size(160, len(trace.lines))
        self.cursor = 0
        self.refresh()

    def _text(self, index: int) -> Text:
        cached = self._cache.get(index)
        if cached is None:
            t, kind, rest = line_text(self.trace.fields(index))
            colors = self.app.theme_variables
            style = colors.get("error", "") if kind == "violation" else ""
            cached = Text.assemble(
                (f"{index + 1:>6} ", "dim"),
                (t, "dim"),
                " ",
                (f"{kind:<9}", style or "bold"),
                " ",
                (rest, style),
                no_wrap=True,
                overflow="ignore",
            )
            if len(self._cache) > 2000:
                self._cache.clear()
            self._cache[index] = cached
        return cached

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        width = self.size.width
        if index >= len(self.trace.lines):
            return Strip.blank(width)
        text = self._text(index)
        if index == self.cursor:
            text = text.copy()
            text.stylize(Style(reverse=True))
        segments = [s for s in text.render(self.app.console) if s.text != "\n"]
        strip = Strip(segments)
        return strip.crop_extend(scroll_x, scroll_x + width, Style(reverse=index == self.cursor) or None)

    def watch_cursor(self, old: int, new: int) -> None:
        self.post_message(self.Moved())
        self.refresh()
        height = self.size.height or 1
        top = self.scroll_offset.y
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False)

    def action_move(self, delta: int) -> None:
        self.go(self.cursor + delta)

    def go(self, index: int) -> None:
        if self.trace.lines:
            self.cursor = max(0, min(index, len(self.trace.lines) - 1))


class SimulationScreen(WfkitScreen):
    """A simulation trace: summary on top, lines below, the cursor line's run at the bottom."""

    SCOPE = "sim"
    BINDINGS = bindings("sim")
    DEFAULT_CSS = """
    SimulationScreen #summary { height: auto; }
    SimulationScreen TraceView { height: 1fr; }
    SimulationScreen #where { height: auto; }
    """

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        self.path = path
        self.trace: SimTrace | None = None
        self._player: Timer | None = None
        self._replaying: tuple[Any, dict[int, int]] | None = None  # (ReplayScreen, step -> line)
        self._graph: WorkflowInfo | None = None
        """The graph naming the shown trace's statuses (None: numbers are shown)."""

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(id="summary", classes="bar")
        yield TraceView(id="trace")
        yield Static(id="where", classes="bar muted")
        yield Footer(compact=True)

    @property
    def view(self) -> TraceView:
        return self.query_one("#trace", TraceView)

    def on_mount(self) -> None:
        self.title = "simulation"
        if self.path is not None:
            try:
                self.show(load_trace(self.path))
            except Exception as exc:
                self.wapp.report(exc, "cannot open the trace")
        else:
            hint = (
                "n: run a seed of the loaded workflow"
                if self.wapp.builder is not None
                else (
                    "open a trace with `wfkit tui --trace FILE` (from `wfkit simulate … --trace`), "
                    "or start with --workflow to run seeds here"
                )
            )
            self.query_one("#summary", Static).update(hint)
        self.view.focus()

    def show(self, trace: SimTrace) -> None:
        self._stop()
        self.trace = trace
        self._graph = trace.graph_for(self._loaded_graph())
        self.title = f"simulation » {trace.source}" if trace.source else "simulation"
        summary = Text(trace.summary(), style="bold")
        colors = self.wapp.theme_colors
        if trace.violations:
            summary.stylize(colors.get("error", ""))
            first = trace.fields(trace.violations[0])
            summary.append(f"\n{first.get('invariant', '?')}: {first.get('detail', '')}", style="")
            summary.append("  (enter: jump to it)", style="dim")
        else:
            summary.stylize(colors.get("success", ""))
        self.query_one("#summary", Static).update(summary)
        self.view.show(trace)
        self._where()

    def on_trace_view_moved(self, event: TraceView.Moved) -> None:
        self._where()

    def _where(self) -> None:
        trace, view = self.trace, self.view
        if trace is None or not trace.lines:
            return
        i = view.cursor
        fields = trace.fields(i)
        bits = [f"line {i + 1}/{len(trace.lines)}", *(["▶ playing"] if self.playing else [])]
        run = fields.get("run")
        if isinstance(run, str):
            at = trace.run_at(run, i)
            if at is not None:
                status = trace.status_name(at.get("s"), self._graph)
                state = run_state_word(at.get("rs"))
                bits.append(f"run {run[:8]} at {status} v{at.get('v')} (run state {state})")
            bits.append("v replays it")
        self.query_one("#where", Static).update(" · ".join(bits))

    def action_jump(self) -> None:
        """The next violation after the cursor (wrapping to the first)."""
        trace = self.trace
        if trace is None or not trace.violations:
            self.notify("no violations in this trace", severity="information")
            return
        later = [v for v in trace.violations if v > self.view.cursor]
        self.view.go(later[0] if later else trace.violations[0])

    def action_step(self, delta: int) -> None:
        self.view.action_move(delta)

    def action_first(self) -> None:
        self.view.go(0)

    def action_last(self) -> None:
        self.view.go(len(self.view.trace.lines) - 1)

    # -- play ------------------------------------------------------------------------------------

    @property
    def playing(self) -> bool:
        return self._player is not None

    def action_play(self) -> None:
        """Step through the lines every `play_every` seconds (from the top when at the end)."""
        if self._player is not None:
            self._stop()
        elif self.trace is not None and self.trace.lines:
            if self.view.cursor >= len(self.trace.lines) - 1:
                self.view.go(0)
            self._player = self.set_interval(self.wapp.config.play_every, self.tick)
        self._where()

    def tick(self) -> None:
        """One beat of the player: the next line, or stop at the last."""
        if self.trace is None or self.view.cursor >= len(self.trace.lines) - 1:
            self._stop()
            self._where()
            return
        self.view.go(self.view.cursor + 1)

    def _stop(self) -> None:
        if self._player is not None:
            self._player.stop()
            self._player = None

    # -- replay of one run -----------------------------------------------------------------------

    def action_replay(self) -> None:
        """Replay the cursor line's run as the trace recorded it, at the version of that line."""
        from wfkit.tui._replay import ReplayScreen

        trace = self.trace
        if trace is None or not trace.lines:
            self.notify("no trace to replay: open one or run a seed (n)", severity="warning")
            return
        cursor = self.view.cursor
        run_id = trace.run_of(cursor)
        if run_id is None:
            self.notify(
                "this line concerns no run: move to a write, send or trigger line", severity="warning"
            )
            return
        replay, lines = trace.replay(run_id, self._loaded_graph())
        if not replay.steps:
            self.notify(f"run {run_id[:8]} has no committed writes in this trace", severity="warning")
            return
        at = max((s for s, line in lines.items() if line <= cursor), default=0)
        self._stop()
        screen = ReplayScreen(replay, step=at)
        self._replaying = (screen, lines)
        self.app.push_screen(screen)

    def on_screen_resume(self) -> None:
        """Back from a replay: the cursor follows to the line of the step it ended on."""
        if self._replaying is not None:
            screen, lines = self._replaying
            self._replaying = None
            line = lines.get(screen.step)
            if line is not None:
                self.view.go(line)

    def _loaded_graph(self) -> WorkflowInfo | None:
        """The loaded workflow's graph (`--workflow`), for traces that do not record theirs."""
        service = self.wapp.service
        if service is not None and service.workflow is not None:
            return service.workflow.info
        if self.wapp.builder is not None:
            from wfkit.cli._load import workflow_info

            return workflow_info(self.wapp.builder)
        return None

    def action_run_seed(self) -> None:
        if self.wapp.builder is None:
            self.notify(
                "running a seed needs the workflow's code: start with --workflow module:attr",
                severity="warning",
            )
            return
        self.app.push_screen(AskModal("Run a simulation seed", "seed, e.g. 7"), self._seed_given)

    def _seed_given(self, value: str | None) -> None:
        if value is None:
            return
        try:
            seed = int(value.strip())
        except ValueError:
            self.notify(f"a seed is a whole number, not {value!r}", severity="error")
            return
        self.query_one("#summary", Static).update(f"simulating seed {seed}…")
        self._simulate(seed)

    @work(thread=True, exclusive=True, group="simulate")
    def _simulate(self, seed: int) -> None:
        from wfkit.testing import simulate

        builder: Any = self.wapp.builder
        try:
            report = simulate(builder, seed=seed)
        except Exception as exc:
            self.app.call_from_thread(self.wapp.report, exc, "simulation failed")
            return
        extra = dict(report.header)  # the graph and every version's object, as a trace file holds
        self.app.call_from_thread(self.show, from_report(report, extra))
