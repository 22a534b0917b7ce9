"""Workflows overview: per workflow, runs by run state and by status, recent throughput, stuck runs."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Header, Static

from wfkit import RunState
from wfkit.tui._actions import WfkitScreen
from wfkit.tui._format import span, state_glyph, state_text
from wfkit.tui._keys import bindings
from wfkit.tui._service import WorkflowSummary
from wfkit.tui._widgets import VimTable

ALL = "*"
_STATES = (RunState.RUNNING, RunState.PAUSED, RunState.COMPLETED, RunState.CANCELLED)


class WorkflowsScreen(WfkitScreen):
    """One row per workflow; `enter` shows its runs, `f` its graph."""

    SCOPE = "workflows"
    BINDINGS = bindings("workflows")
    DEFAULT_CSS = "WorkflowsScreen #statuses { height: auto; max-height: 8; }"

    def __init__(self) -> None:
        super().__init__()
        self.summaries: dict[str, WorkflowSummary] = {}

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield VimTable(id="workflows")
        yield Static(id="statuses", classes="bar")
        yield Footer(compact=True)

    @property
    def table(self) -> VimTable:
        return self.query_one("#workflows", VimTable)

    def on_mount(self) -> None:
        self.title = "workflows"
        table = self.table
        table.add_column("Workflow", key="name")
        table.add_column("Runs", key="runs")
        table.add_column("1h", key="recent")
        for state in _STATES:
            table.add_column(state_glyph(state), key=state.name)
        table.add_column("Stuck", key="stuck")
        config = self.wapp.config
        if config.live:
            self.set_interval(max(config.poll_interval, 5.0), self.load)
        self.load()

    @work(exclusive=True, group="workflows")
    async def load(self) -> None:
        service = await self.wapp.get_service()
        if service is None:
            return
        config = self.wapp.config
        try:
            summaries = await service.overview(config.stuck_after, config.stuck_scan)
        except Exception as exc:
            self.wapp.report(exc, "cannot count runs")
            return
        self.summaries = {s.info.name: s for s in summaries}
        self.sub_title = f"stuck = active, not updated for {span(config.stuck_after.total_seconds())}"
        table = self.table
        current = table.current_key()
        table.clear()
        colors = self.wapp.theme_colors
        total = sum(s.total for s in summaries)
        table.add_row(
            Text("(all workflows)", style="italic"), Text(str(total)), Text(""), *[Text("")] * 5, key=ALL
        )
        for s in summaries:
            stuck = Text(str(s.stuck), style=colors.get("error", "") if s.stuck else "")
            cells = [Text(str(s.by_state.get(state, 0)), justify="right") for state in _STATES]
            table.add_row(
                Text(s.info.name), Text(str(s.total)), Text(str(s.recent)), *cells, stuck, key=s.info.name
            )
        if current is not None and current in self.summaries:
            table.move_cursor(row=table.get_row_index(current), animate=False)
        elif summaries:
            table.move_cursor(row=1, animate=False)
        self._statuses(table.current_key())

    def _statuses(self, name: str | None) -> None:
        summary = self.summaries.get(name or "")
        box = self.query_one("#statuses", Static)
        if summary is None:
            box.update(Text("enter: every workflow's runs", style="italic"))
            return
        line = Text.assemble((summary.info.name, "bold"), " by status: ")
        line.append(" · ".join(f"{summary.info.name_of(k)} {n}" for k, n in summary.by_status.items()))
        line.append("\nby run state: ")
        states = [(state, n) for state, n in summary.by_state.items() if n]
        for i, (state, n) in enumerate(states):
            line.append_text(state_text(state, self.wapp.theme_colors))
            line.append(f" {n}" + (" · " if i < len(states) - 1 else ""))
        box.update(line)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._statuses(event.row_key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self._open(event.row_key.value)

    def action_open(self) -> None:
        self._open(self.table.current_key())

    def _open(self, name: str | None) -> None:
        from wfkit.tui._runs import RunsScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, RunsScreen):
                screen.set_workflow(None if name in (None, ALL) else name)
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.load()

    def action_graph(self) -> None:
        from wfkit.tui._graph import GraphScreen

        name = self.table.current_key()
        if name is None or name == ALL:
            self.notify("pick a workflow to draw", severity="warning")
            return
        self.app.push_screen(GraphScreen(name))
