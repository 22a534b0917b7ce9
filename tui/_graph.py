"""The state graph in the terminal: `wfkit._termgraph` drawings styled from the theme.

`GraphView` turns a `GraphText` (lines + role spans) into Rich `Text`; `GraphScreen` shows one
workflow's graph full screen with counts per status and, for a run, its path and current status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.widgets import Footer, Header, Static

from wfkit import Record, RecordFilter, WorkflowInfo
from wfkit._termgraph import GraphText, render_graph
from wfkit.tui._actions import WfkitScreen
from wfkit.tui._format import short_id
from wfkit.tui._keys import bindings


def role_styles(colors: Mapping[str, str]) -> dict[str, Style]:
    """How each span role looks, from theme variables (`primary`, `success`, ...)."""

    def color(name: str) -> str | None:
        return colors.get(name) or None

    return {
        "current": Style(reverse=True, bold=True, color=color("accent") or color("primary")),
        "visited": Style(bold=True, color=color("primary")),
        "start": Style(color=color("success")),
        "terminal": Style(bold=True),
        "node": Style(),
        "edge": Style(dim=True),
        "count": Style(bold=True, color=color("warning")),
    }


def styled(graph: GraphText, colors: Mapping[str, str]) -> Text:
    """The drawing as one Rich `Text`, spans applied in order (later spans win)."""
    styles = role_styles(colors)
    text = Text("\n".join(graph.lines), no_wrap=True, overflow="ignore")
    offsets = [0]
    for line in graph.lines:
        offsets.append(offsets[-1] + len(line) + 1)
    for span in graph.spans:
        start = offsets[span.line]
        text.stylize(styles[span.role], start + span.start, start + span.end)
    return text


def draw(
    info: WorkflowInfo,
    colors: Mapping[str, str],
    *,
    counts: Mapping[int, int] | None = None,
    current: int | None = None,
    path: Sequence[int] = (),
) -> Text:
    """`info`'s graph as styled text (a note instead when it has no edges)."""
    graph = render_graph(info, counts=counts, current=current, path=path)
    if not graph.lines:
        return Text(f"{info.name} has no transitions to draw")
    return styled(graph, colors)


def statuses_visited(history: Sequence[Record]) -> list[int]:
    """The statuses a run went through, in order, without repeating one it stayed at."""
    out: list[int] = []
    for record in history:
        if not out or out[-1] != record.status:
            out.append(record.status)
    return out


def legend(colors: Mapping[str, str]) -> Text:
    styles = role_styles(colors)
    return Text.assemble(
        "● start  ╔═╗ terminal  ",
        ("current", styles["current"]),
        "  ",
        ("visited", styles["visited"]),
        "  ▽ back edge",
    )


class GraphScreen(WfkitScreen):
    """A workflow's graph with runs per status; with a run, its path and current status highlighted."""

    SCOPE = "graph"
    BINDINGS = bindings("graph")
    DEFAULT_CSS = """
    GraphScreen #graph-scroll { height: 1fr; }
    GraphScreen #drawing { width: auto; padding: 0 1; }
    """

    def __init__(self, workflow: str, *, run_id: str | None = None) -> None:
        super().__init__()
        self.workflow = workflow
        self.run_id = run_id
        self.show_counts = True
        self.counts: dict[int, int] = {}
        self.path: list[int] = []
        self.current: int | None = None
        self.info: WorkflowInfo | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(id="legend", classes="bar")
        with ScrollableContainer(id="graph-scroll"):
            yield Static("loading…", id="drawing")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = f"graph » {self.workflow}" + (f" » {short_id(self.run_id)}" if self.run_id else "")
        self.query_one("#legend", Static).update(legend(self.wapp.theme_colors))
        self.load()

    @work(exclusive=True, group="graph")
    async def load(self) -> None:
        service = await self.wapp.get_service()
        if service is None:
            return
        try:
            if self.workflow not in service.infos:
                await service.workflows()
            info = service.infos.get(self.workflow)
            if info is None:
                self.query_one("#drawing", Static).update(f"no graph known for {self.workflow!r}")
                return
            counts = {}
            for status in info.nodes:
                counts[status] = await service.admin.count(
                    self.workflow, filters=RecordFilter(statuses=(status,))
                )
            if self.run_id is not None:
                detail = await service.detail(self.run_id)
                self.path = statuses_visited(detail.history)
                self.current = detail.record.status
        except Exception as exc:
            self.wapp.report(exc, "cannot draw the graph")
            return
        self.info, self.counts = info, counts
        self._draw()

    def _draw(self) -> None:
        if self.info is None:
            return
        counts = self.counts if self.show_counts else None
        drawing = draw(self.info, self.wapp.theme_colors, counts=counts, current=self.current, path=self.path)
        self.query_one("#drawing", Static).update(drawing)
        what = f"{sum(self.counts.values())} runs" if self.show_counts else "counts hidden"
        self.sub_title = what + (
            f" · run at {self.info.name_of(self.current)}" if self.current is not None else ""
        )

    def action_toggle_counts(self) -> None:
        self.show_counts = not self.show_counts
        self._draw()
