"""The home screen: a live, paged, filterable, sortable table of runs with run-state chips."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Static

from wfkit import Order, RecordFilter, SortKey
from wfkit.tui._actions import RunControl
from wfkit.tui._config import POLL_CHOICES
from wfkit.tui._format import ago, short_id, state_text
from wfkit.tui._keys import bindings
from wfkit.tui._service import FILTER_HINT, FilterError, Query, RunRow, RunsPage, has_age, parse_filter
from wfkit.tui._widgets import VimTable, chips

COLUMNS = (
    ("workflow", "Workflow"),
    ("foreign_id", "Foreign id"),
    ("run", "Run"),
    ("status", "Status"),
    ("state", "State"),
    ("version", "Ver"),
    ("updated", "Updated"),
)

SORTS: dict[SortKey, tuple[str, str | None]] = {
    SortKey.CREATED: ("created", None),
    SortKey.UPDATED: ("updated", "updated"),
    SortKey.STATUS: ("status", "status"),
    SortKey.FOREIGN_ID: ("foreign id", "foreign_id"),
    SortKey.VERSION: ("version", "version"),
}
"""Each sort, in the order `s` cycles through them: its name and the column marked with its arrow
(creation order has no column: the line above the table names it)."""


def arrow(order: Order) -> str:
    """▲ ascending, ▼ descending."""
    return "▲" if order is Order.ASC else "▼"


def column_labels(query: Query) -> tuple[str, ...]:
    """The column headers, the sorted column's marked with its direction."""
    marked = SORTS[query.sort][1]
    return tuple(f"{label} {arrow(query.order)}" if key == marked else label for key, label in COLUMNS)


class RunsScreen(RunControl):
    """Runs of every workflow (or one), newest first, one store page at a time."""

    SCOPE = "runs"
    BINDINGS = bindings("runs")
    DEFAULT_CSS = """
    RunsScreen #filter { display: none; dock: bottom; margin-bottom: 1; }
    RunsScreen #filter.open { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.query_state = Query()
        self.rows: dict[str, RunRow] = {}
        self.page: RunsPage | None = None
        self.live = True
        self.interval = 2.0
        self.refreshed = ""
        self._timer: Timer | None = None
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._labels: tuple[str, ...] = ()
        self._stale = False
        self.follow: str | None = None
        """The run `F` follows: the cursor goes back to it after every refresh."""

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(id="chips", classes="bar")
        yield Static(id="where", classes="bar muted")
        yield VimTable(id="runs")
        yield Input(placeholder=FILTER_HINT, id="filter")
        yield Footer(compact=True)

    @property
    def table(self) -> VimTable:
        return self.query_one("#runs", VimTable)

    def on_mount(self) -> None:
        config = self.wapp.config
        self.live, self.interval = config.live, config.poll_interval
        self._columns(column_labels(self.query_state))
        self.query_one("#filter", Input).cursor_blink = False
        self._timer = self.set_interval(self.interval, self._tick)
        self.app.theme_changed_signal.subscribe(self, self._retheme)
        self._header()
        self.load()

    def _retheme(self, _theme: object = None) -> None:
        """Colours come from theme variables: redraw the rows in the new theme's colours."""
        rows, self.rows = list(self.rows.values()), {}
        self._fill(rows)

    def on_screen_resume(self) -> None:
        self.load()

    # -- loading ---------------------------------------------------------------------------------

    def load(self) -> None:
        """Fetch the current page in a worker (after a key, or when the screen comes back)."""
        self._stale = True
        self._poll()

    def _tick(self) -> None:
        """A live refresh: while paused only the chips and counts change, the table stays frozen."""
        self._poll()

    @work(exclusive=True, group="poll")
    async def _poll(self) -> None:
        service = await self.wapp.get_service()
        if service is None:
            return
        query = self._aged(self.query_state)
        try:
            page = await service.page(query, self.wapp.config.page_size)
            if self.live or self._stale or not self.rows:
                self._stale = False  # a tick that replaced a key's load still shows the rows it asked for
                self._fill(page.rows, column_labels(query))
            self.page = page
            self._header()
            counts = await service.state_counts(query)  # after the table: the rows are what one waits for
        except Exception as exc:
            self.wapp.report(exc, "cannot list runs")
            self._header()
            return
        self.wapp.last_error = ""
        self.refreshed = self.wapp.clock.now().strftime("%H:%M:%S")
        self.query_one("#chips", Static).update(chips(counts, tuple(query.filters.run_states)))
        self._header()

    def _cells_of(self, row: RunRow) -> tuple[Text, ...]:
        now = self.wapp.clock.now()
        return (
            Text(row.workflow),
            Text(row.foreign_id),
            Text(short_id(row.run_id)),
            Text(row.status_name),
            state_text(row.run_state, self.wapp.theme_colors),
            Text(str(row.version), justify="right"),
            Text(ago(row.updated_at, now)),
        )

    def _columns(self, labels: tuple[str, ...]) -> None:
        """(Re)create the columns with these headers (the sort arrow moves between them)."""
        for (key, _), label in zip(COLUMNS, labels, strict=True):
            self.table.add_column(label, key=key)
        self._labels = labels

    def _fill(self, rows: list[RunRow], labels: tuple[str, ...] | None = None) -> None:
        """Update cells in place when the same runs are shown; else rebuild, keeping the cursor's run.

        New column `labels` (another sort) rebuild the columns too.
        """
        table = self.table
        keys = [r.run_id for r in rows]
        cells = {r.run_id: self._cells_of(r) for r in rows}
        relabel = labels is not None and labels != self._labels
        if keys == list(self.rows) and not relabel:
            for run_id, new in cells.items():
                old = self._cells.get(run_id, ())
                for (column, _), before, after in zip(COLUMNS, old, new, strict=True):
                    if before != after:
                        table.update_cell(run_id, column, after)
        else:
            current = table.current_key()
            table.clear(columns=relabel)
            if labels is not None and relabel:
                self._columns(labels)
            for run_id in keys:
                table.add_row(*cells[run_id], key=run_id)
            if current in cells:
                table.move_cursor(row=table.get_row_index(current), animate=False)
        self.rows = {r.run_id: r for r in rows}
        self._cells = cells
        self._stick()

    def _header(self) -> None:
        app = self.wapp
        badge = f"LIVE · {self.interval:g}s" if self.live else "PAUSED"
        parts = [app.config.store_label or app.backend.url or "store", badge]
        if self.refreshed:
            parts.append(self.refreshed)
        if app.last_error:
            parts.append("ERROR")
        self.sub_title = " · ".join(parts)
        self.title = "runs" if self.query_state.workflow is None else f"runs » {self.query_state.workflow}"
        where = self.query_one("#where", Static)
        q, page, size = self.query_state, self.page, app.config.page_size
        bits = []
        if page is not None:
            pages = max(1, -(-page.total // size))
            first = page.offset + 1 if page.rows else 0
            bits.append(f"{first}-{page.offset + len(page.rows)} of {page.total} (page {q.page + 1}/{pages})")
        bits.append(f"sort: {SORTS[q.sort][0]} {arrow(q.order)}")
        if q.text:
            bits.append(f"filter: {q.text}")
        if self.follow is not None:
            bits.append(self._follow_note())
        where.update(Text(" · ".join(bits)))

    # -- selection -------------------------------------------------------------------------------

    def selected_row(self) -> RunRow | None:
        key = self.table.current_key()
        return self.rows.get(key) if key is not None else None

    def after_action(self) -> None:
        self.load()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.open_run(event.row_key.value)

    def open_run(self, run_id: str) -> None:
        from wfkit.tui._detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(run_id))

    def set_workflow(self, workflow: str | None) -> None:
        """Show one workflow's runs (None for all), from the first page."""
        self.query_state = replace(self.query_state, workflow=workflow, page=0)
        self.load()

    # -- actions ---------------------------------------------------------------------------------

    def action_open(self) -> None:
        row = self.selected_row()
        if row is not None:
            self.open_run(row.run_id)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = self.query_state.text
        box.add_class("open")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        service = self.wapp.service
        infos = service.infos.values() if service is not None else ()
        text = event.value.strip()
        try:
            filters, workflow = parse_filter(text, infos, now=self.wapp.clock.now())
        except FilterError as exc:
            self.wapp.report(exc, "filter")
            return
        q = self.query_state
        if workflow is not None:
            workflow = None if workflow in ("", "all", "*") else workflow
        else:
            workflow = q.workflow
        self.query_state = replace(q, workflow=workflow, filters=filters, page=0, text=text)
        self._close_filter()
        self.load()

    def _aged(self, query: Query) -> Query:
        """`query` with its `age:` bounds moved to the clock's now, so a live table's window slides."""
        if not has_age(query.text):
            return query
        service = self.wapp.service
        try:
            filters, _ = parse_filter(
                query.text, service.infos.values() if service else (), now=self.wapp.clock.now()
            )
        except FilterError:  # it was read once already: keep the bounds it had
            return query
        bounds = replace(
            query.filters, created_after=filters.created_after, created_before=filters.created_before
        )
        return replace(query, filters=bounds)

    def _close_filter(self) -> None:
        self.query_one("#filter", Input).remove_class("open")
        self.table.focus()

    def action_clear_filter(self) -> None:
        if self.query_one("#filter", Input).has_class("open"):
            self._close_filter()
        elif self.query_state.text:
            self.query_state = replace(self.query_state, filters=RecordFilter(), page=0, text="")
            self.load()

    def action_cycle_sort(self) -> None:
        """Sort by the next column (created, updated, status, foreign id, version), keeping the direction."""
        sorts = list(SORTS)
        following = sorts[(sorts.index(self.query_state.sort) + 1) % len(sorts)]
        self.query_state = replace(self.query_state, sort=following, page=0)
        self.load()

    def action_toggle_order(self) -> None:
        """Reverse the sort's direction."""
        order = Order.ASC if self.query_state.order is Order.DESC else Order.DESC
        self.query_state = replace(self.query_state, order=order, page=0)
        self.load()

    def action_next_page(self) -> None:
        page, size = self.page, self.wapp.config.page_size
        if page is not None and (self.query_state.page + 1) * size < page.total:
            self.query_state = replace(self.query_state, page=self.query_state.page + 1)
            self.load()

    def action_previous_page(self) -> None:
        if self.query_state.page > 0:
            self.query_state = replace(self.query_state, page=self.query_state.page - 1)
            self.load()

    def action_toggle_live(self) -> None:
        self.live = not self.live
        self._header()
        if self.live:
            self.load()

    def action_refresh(self) -> None:
        self.load()

    def action_cycle_interval(self) -> None:
        later = [c for c in POLL_CHOICES if c > self.interval]
        self.interval = later[0] if later else POLL_CHOICES[0]
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_interval(self.interval, self._tick)
        self._header()
        self.notify(f"refreshing every {self.interval:g} s")

    def action_copy_id(self) -> None:
        row = self.selected_row()
        if row is not None:
            self.app.copy_to_clipboard(row.run_id)
            self.notify(f"copied {row.run_id}")

    def action_workflows(self) -> None:
        from wfkit.tui._workflows import WorkflowsScreen

        self.app.push_screen(WorkflowsScreen())

    def action_graph(self) -> None:
        from wfkit.tui._graph import GraphScreen

        row = self.selected_row()
        workflow = row.workflow if row is not None else self.query_state.workflow
        if workflow is None:
            self.notify("no run selected: pick a run or a workflow first", severity="warning")
            return
        self.app.push_screen(GraphScreen(workflow, run_id=row.run_id if row is not None else None))

    def action_simulation(self) -> None:
        from wfkit.tui._sim import SimulationScreen

        self.app.push_screen(SimulationScreen(self.wapp.trace))

    # -- follow, go to, pager (F, :, e) ----------------------------------------------------------

    def action_follow(self) -> None:
        """Follow the selected run (the cursor sticks to it across refreshes), or stop following."""
        if self.follow is not None:
            self.follow = None
            self.notify("stopped following")
        else:
            row = self.selected_row()
            if row is None:
                self.notify("select a run to follow", severity="warning")
                return
            self.follow = row.run_id
            self.notify(f"following {row.foreign_id} ({short_id(row.run_id)}); F again to stop")
        self._header()

    def _stick(self) -> None:
        """Put the cursor back on the followed run wherever a refresh moved it."""
        if self.follow is not None and self.follow in self.rows and self.table.current_key() != self.follow:
            self.table.move_cursor(row=self.table.get_row_index(self.follow), animate=False)

    def _follow_note(self) -> str:
        row = self.rows.get(self.follow or "")
        if row is None:
            return f"following {short_id(self.follow or '')} (not on this page)"
        return f"following {row.foreign_id} at {row.status_name}"

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Moving the cursor off the followed run by hand stops following (refreshes put it back first)."""
        key = self.table.current_key()
        if self.follow is not None and self.follow in self.rows and key is not None and key != self.follow:
            self.follow = None
            self.notify("stopped following")
            self._header()

    def action_goto(self) -> None:
        from wfkit.tui._modals import AskModal
        from wfkit.tui._runtools import GOTO_HINT

        self.app.push_screen(AskModal("Go to", GOTO_HINT, send="Go"), self.goto)

    def goto(self, text: str | None) -> None:
        """`:run ID-PREFIX` (or a foreign id) opens the run; `:runs WORKFLOW` (or `all`) filters."""
        from wfkit import WfkitError
        from wfkit.tui._runtools import parse_goto, workflow_named

        if text is None or not text.strip():
            return
        service = self.wapp.service
        try:
            verb, arg = parse_goto(text)
            if verb == "runs":
                self.set_workflow(workflow_named(arg, service.infos if service is not None else ()))
                return
        except WfkitError as exc:
            self.wapp.report(exc, "go to")
            return
        self._open_match(arg)

    @work(group="goto")
    async def _open_match(self, text: str) -> None:
        from wfkit.tui._runtools import find_run

        service = await self.wapp.get_service()
        if service is None:
            return
        try:
            run_id = await find_run(service, list(self.rows.values()), text)
        except Exception as exc:
            self.wapp.report(exc, "go to")
            return
        self.open_run(run_id)

    def action_open_object(self) -> None:
        """The selected run's object as JSON in `$PAGER` (the app is suspended meanwhile)."""
        row = self.selected_row()
        if row is None:
            self.notify("select a run first", severity="warning")
            return
        self._page_object(row.run_id)

    @work(group="pager")
    async def _page_object(self, run_id: str) -> None:
        from wfkit.tui._format import object_json
        from wfkit.tui._runtools import show_in_pager

        service = await self.wapp.get_service()
        if service is None:
            return
        try:
            record = (await service.detail(run_id)).record
        except Exception as exc:
            self.wapp.report(exc, "cannot read the object")
            return
        problem = show_in_pager(self.app, object_json(record.object) + "\n")
        if problem is not None:
            self.notify(problem, title="pager", severity="warning")
