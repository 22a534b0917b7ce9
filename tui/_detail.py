"""Run detail: the run's fields, its object as highlighted JSON, its version history and the event
each version published."""

from __future__ import annotations

from rich.json import JSON
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from wfkit import Header as EventHeader
from wfkit import Record, outbox_event_for
from wfkit.tui._actions import RunControl
from wfkit.tui._format import ago, duration, object_json, short_id, span, stamp, state_text
from wfkit.tui._keys import bindings
from wfkit.tui._service import Detail, RunRow
from wfkit.tui._widgets import VimTable


def object_renderable(data: bytes) -> JSON | Text:
    """Highlighted JSON, or plain text when the object is not JSON."""
    text = object_json(data)
    return JSON(text) if text.startswith(("{", "[", '"')) or text[:1].isdigit() else Text(text)


# Shown in the fields above or in the row itself: the headers column keeps the informative ones.
_OBVIOUS_HEADERS = {EventHeader.WORKFLOW_NAME, EventHeader.FOREIGN_ID, EventHeader.RUN_ID, EventHeader.TOPIC}


class RunDetailScreen(RunControl):
    """One run: fields on top, then tabs `1` history, `2` object, `3` path through the graph,
    `4` events (each version's event: its topic, type and headers, as consumers received it)."""

    SCOPE = "detail"
    BINDINGS = bindings("detail")
    DEFAULT_CSS = """
    RunDetailScreen #metrics { height: auto; }
    RunDetailScreen TabbedContent { height: 1fr; }
    RunDetailScreen TabPane { padding: 0; }
    """

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.detail: Detail | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static("loading…", id="metrics", classes="bar")
        with TabbedContent(initial="history"):
            with TabPane("1 History", id="history"):
                yield VimTable(id="versions")
            with TabPane("2 Object", id="object"), VerticalScroll():
                yield Static(id="object-json")
            with TabPane("3 Path", id="path"), VerticalScroll():
                yield Static(id="path-text")
            with TabPane("4 Events", id="events"):
                yield VimTable(id="events-table")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = f"runs » {short_id(self.run_id)}"
        table = self.query_one("#versions", VimTable)
        for key, label in (
            ("v", "Ver"),
            ("status", "Status"),
            ("state", "State"),
            ("at", "At"),
            ("d", "+"),
            ("why", "Reason"),
        ):
            table.add_column(label, key=key)
        events = self.query_one("#events-table", VimTable)
        for key, label in (("v", "Ver"), ("topic", "Topic"), ("type", "Type"), ("headers", "Headers")):
            events.add_column(label, key=key)
        config = self.wapp.config
        if config.live:
            self.set_interval(config.poll_interval, self.load)
        self.load()

    @work(exclusive=True, group="detail")
    async def load(self) -> None:
        service = await self.wapp.get_service()
        if service is None:
            return
        try:
            detail = await service.detail(self.run_id)
        except Exception as exc:
            self.wapp.report(exc, "cannot load the run")
            return
        if self.detail is not None and detail.record.version == self.detail.record.version:
            self.detail = detail
            self._metrics(detail.row)  # relative times move on
            return
        self.detail = detail
        self._show(detail)

    def _metrics(self, row: RunRow) -> None:
        now = self.wapp.clock.now()
        line = Text.assemble(
            (row.status_name, "bold"),
            "  ",
            state_text(row.run_state, self.wapp.theme_colors),
            f"  v{row.version}  {row.workflow}  {row.foreign_id}\n",
            f"run {row.run_id}\n",
            f"created {stamp(row.created_at)} · updated {ago(row.updated_at, now)} · ",
            f"took {duration(row.created_at, row.updated_at, row.run_state, now)}",
        )
        if row.reason:
            line.append(f"\nreason: {row.reason}", style=self.wapp.theme_colors.get("warning", ""))
        self.query_one("#metrics", Static).update(line)
        self.title = f"runs » {row.foreign_id} ({short_id(row.run_id)})"
        self.sub_title = f"{row.workflow} · v{row.version}"

    def _show(self, detail: Detail) -> None:
        self._metrics(detail.row)
        table = self.query_one("#versions", VimTable)
        service = self.wapp.service
        table.clear()
        previous: Record | None = None
        for record in detail.history:
            name = service.status_name(record.workflow_name, record.status) if service else str(record.status)
            delta = (
                ""
                if previous is None
                else f"+{span((record.updated_at - previous.updated_at).total_seconds())}"
            )
            table.add_row(
                Text(str(record.version), justify="right"),
                Text(name),
                state_text(record.run_state, self.wapp.theme_colors),
                Text(stamp(record.updated_at)),
                Text(delta),
                Text(record.meta.run_state_reason),
                key=str(record.version),
            )
            previous = record
        table.move_cursor(row=max(0, table.row_count - 1), animate=False)
        self._events(detail)
        self.query_one("#object-json", Static).update(object_renderable(detail.record.object))
        self.query_one("#path-text", Static).update(self._path(detail))

    def _events(self, detail: Detail) -> None:
        """The event each version published (what the store wrote with it, as `outbox_event_for`)."""
        table = self.query_one("#events-table", VimTable)
        service = self.wapp.service
        table.clear()
        for record in detail.history:
            event = outbox_event_for(record)
            name = service.status_name(record.workflow_name, event.type) if service else str(event.type)
            shown = {k: v for k, v in event.headers.items() if k not in _OBVIOUS_HEADERS}
            table.add_row(
                Text(str(record.version), justify="right"),
                Text(event.topic),
                Text(name),
                Text(" ".join(f"{k}={v}" for k, v in shown.items()), overflow="ellipsis", no_wrap=True),
                key=str(record.version),
            )

    def _path(self, detail: Detail) -> Text:
        service = self.wapp.service
        names: list[str] = []
        last: int | None = None
        for r in detail.history:
            if r.status != last:
                names.append(service.status_name(r.workflow_name, r.status) if service else str(r.status))
                last = r.status
        return Text(" → ".join(names) + "\n\n(f: the state graph with this path)")

    # -- keys ------------------------------------------------------------------------------------

    def selected_row(self) -> RunRow | None:
        return self.detail.row if self.detail is not None else None

    def after_action(self) -> None:
        self.load()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_refresh(self) -> None:
        self.load()

    def action_copy_id(self) -> None:
        self.app.copy_to_clipboard(self.run_id)
        self.notify(f"copied {self.run_id}")

    def action_replay(self) -> None:
        from wfkit.tui._replay import ReplayScreen

        if self.detail is not None:
            self.app.push_screen(ReplayScreen(self.detail))

    def action_graph(self) -> None:
        from wfkit.tui._graph import GraphScreen

        if self.detail is not None:
            self.app.push_screen(GraphScreen(self.detail.row.workflow, run_id=self.run_id))
