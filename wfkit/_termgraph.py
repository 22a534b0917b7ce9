"""The status graph drawn with box-drawing characters, for `wfkit graph --format text` and the TUI.

A pure function of `WorkflowInfo` (plus optional counts, the current status and a run's path): the
layout comes from `wfkit._layout`; this module turns it into lines of text and styled spans, so the
TUI can colour the same picture the CLI prints. No third-party imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from wfkit._graph import WorkflowInfo
from wfkit._layout import BOX_HEIGHT, Box, Layout, Point, layout

Role = Literal["current", "visited", "start", "terminal", "node", "edge", "count"]

START_MARK = "●"
ARROW = "▼"  # where an edge arrives
BACK_ARROW = "▽"  # ... an edge back to an earlier status (a retry, a loop)
PORT = "┬"  # where an edge leaves a box
_ROUNDED = "╭─╮│╰─╯"
_DOUBLE = "╔═╗║╚═╝"  # terminal statuses

_N, _E, _S, _W = 1, 2, 4, 8
_LINES = {
    _N | _S: "│",
    _E | _W: "─",
    _S | _E: "┌",
    _S | _W: "┐",
    _N | _E: "└",
    _N | _W: "┘",
    _N | _S | _E: "├",
    _N | _S | _W: "┤",
    _E | _W | _S: "┬",
    _E | _W | _N: "┴",
    _N | _E | _S | _W: "┼",
    _N: "│",
    _S: "│",
    _E: "─",
    _W: "─",
}


@dataclass(frozen=True, slots=True)
class Span:
    """A styled stretch of one line, `start` to `end` (exclusive) in characters.

    Spans are listed edges first, then boxes, then counts: where two overlap, the later one wins.
    """

    line: int
    start: int
    end: int
    role: Role
    status: int | None = None  # the status a box (or its count) belongs to


@dataclass(frozen=True, slots=True)
class GraphText:
    """A drawn graph: `lines` all `width` characters long, and the spans to style them."""

    lines: tuple[str, ...]
    spans: tuple[Span, ...]
    width: int
    height: int

    def plain(self) -> str:
        """The drawing as text, trailing spaces stripped from each line."""
        return "\n".join(line.rstrip() for line in self.lines)

    def node_at(self, line: int, column: int) -> int | None:
        """The status whose box covers the cell (for mouse clicks), else None."""
        for span in self.spans:
            if span.status is not None and span.line == line and span.start <= column < span.end:
                return span.status
        return None


def render_graph(
    info: WorkflowInfo,
    *,
    counts: Mapping[int, int] | None = None,
    current: int | None = None,
    path: Sequence[int] = (),
    direction: Literal["TB", "LR"] = "TB",
) -> GraphText:
    """Draw `info`'s status graph top to bottom.

    `counts` adds a count to every box (`Paid · 12`, 0 when missing); `current` gets role "current";
    `path` is the statuses a run went through, in order: its boxes and the edges between consecutive
    statuses get role "visited". Start statuses are marked `●`, terminal ones have a double border,
    edges back to an earlier status arrive with `▽`. `direction="LR"` is drawn top to bottom too.
    """
    del direction  # left-to-right is not implemented: the layered TB drawing serves both
    if not info.nodes:
        return GraphText((), (), 0, 0)
    starts, terminals = set(info.starts), set(info.terminals)
    labels = {n: _label(info.name_of(n), n in starts, counts, n) for n in info.nodes}
    widths = {n: len(label) + 4 for n, label in labels.items()}  # "│ " + label + " │"
    plan = layout(info.nodes, tuple((e.source, e.target) for e in info.edges), widths)
    traced = [_trace(route.points) for route in plan.routes]
    lines = _draw(plan, traced, labels, terminals)

    visited_edges = set(pairwise(path))
    spans: list[Span] = []
    for visited in (False, True):  # visited edges last, so they win where two edges cross
        for route, cells in zip(plan.routes, traced, strict=True):
            if ((route.source, route.target) in visited_edges) == visited:
                spans += _runs(cells, "visited" if visited else "edge")
    for box in plan.boxes:
        role = _box_role(box.node, current, set(path), starts, terminals)
        spans += [Span(box.y + i, box.x, box.x + box.width, role, box.node) for i in range(BOX_HEIGHT)]
    if counts is not None:
        for box in plan.boxes:
            label = labels[box.node]
            dot = box.x + (box.width - len(label)) // 2 + label.rindex(" · ") + 1
            spans.append(Span(box.y + 1, dot, box.x + (box.width + len(label)) // 2, "count", box.node))
    return GraphText(lines, tuple(spans), plan.width, plan.height)


def _draw(
    plan: Layout, traced: list[dict[Point, int]], labels: dict[int, str], terminals: set[int]
) -> tuple[str, ...]:
    grid = [[" "] * plan.width for _ in range(plan.height)]
    directions: dict[Point, int] = {}
    for cells in traced:
        for cell, bits in cells.items():
            directions[cell] = directions.get(cell, 0) | bits
    for (x, y), bits in directions.items():
        grid[y][x] = _LINES[bits]
    for box in plan.boxes:
        _draw_box(grid, box, labels[box.node], box.node in terminals)
    for route in plan.routes:
        (px, py), (ax, ay) = route.points[0], route.points[-1]
        grid[py][px] = PORT
        grid[ay][ax] = ARROW if route.kind == "forward" else BACK_ARROW
    return tuple("".join(row) for row in grid)


def _label(name: str, start: bool, counts: Mapping[int, int] | None, status: int) -> str:
    label = f"{START_MARK} {name}" if start else name
    return label if counts is None else f"{label} · {counts.get(status, 0)}"


def _box_role(status: int, current: int | None, visited: set[int], starts: set[int], ends: set[int]) -> Role:
    if status == current:
        return "current"
    if status in visited:
        return "visited"
    if status in starts:
        return "start"
    return "terminal" if status in ends else "node"


def _draw_box(grid: list[list[str]], box: Box, label: str, terminal: bool) -> None:
    tl, h, tr, v, bl, _, br = tuple(_DOUBLE if terminal else _ROUNDED)
    inner = box.width - 2
    pad = inner - len(label)
    rows = (
        tl + h * inner + tr,
        v + " " * (pad // 2) + label + " " * (pad - pad // 2) + v,
        bl + h * inner + br,
    )
    for i, text in enumerate(rows):
        grid[box.y + i][box.x : box.x + box.width] = text


def _trace(points: Sequence[Point]) -> dict[Point, int]:
    """The cells a polyline passes through, each with the directions the line leaves it in."""
    cells: dict[Point, int] = {}
    for (x0, y0), (x1, y1) in pairwise(points):
        if (x0, y0) == (x1, y1):
            continue
        dx, dy = (x1 > x0) - (x1 < x0), (y1 > y0) - (y1 < y0)
        forward = _E if dx > 0 else _W if dx < 0 else _S if dy > 0 else _N
        backward = {_E: _W, _W: _E, _S: _N, _N: _S}[forward]
        x, y = x0, y0
        while (x, y) != (x1, y1):
            cells[(x, y)] = cells.get((x, y), 0) | forward
            x, y = x + dx, y + dy
            cells[(x, y)] = cells.get((x, y), 0) | backward
    return cells


def _runs(cells: Iterable[Point], role: Role) -> list[Span]:
    """Spans covering `cells`, one per run of neighbouring cells on a line."""
    spans: list[Span] = []
    for x, y in sorted(cells, key=lambda c: (c[1], c[0])):
        last = spans[-1] if spans else None
        if last is not None and last.line == y and last.end == x:
            spans[-1] = Span(y, last.start, x + 1, role)
        else:
            spans.append(Span(y, x, x + 1, role))
    return spans
