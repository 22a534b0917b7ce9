"""The terminal drawing of a status graph (`wfkit._termgraph.render_graph`, `wfkit graph --format text`).

Pictures are compared with text snapshots in tests/snapshots/graph/; after a deliberate change to
the drawing, rewrite them with `WFKIT_UPDATE_SNAPSHOTS=1 pytest tests/test_termgraph.py` and review
the diff. A normal run only compares, and fails on any difference or missing snapshot.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wfkit._graph import Edge, EdgeKind, WorkflowInfo
from wfkit._termgraph import GraphText, Span, render_graph
from wfkit.cli._app import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "orders.py"
SNAPSHOTS = Path(__file__).parent / "snapshots" / "graph"
UPDATE = os.environ.get("WFKIT_UPDATE_SNAPSHOTS") == "1"
ARROWS = "▼▽"


def graph(*edges: tuple[str, str] | tuple[str, str, EdgeKind], name: str = "g") -> WorkflowInfo:
    """A WorkflowInfo from named edges; statuses are numbered in order of first appearance."""
    ids: dict[str, int] = {}
    for edge in edges:
        for status in edge[:2]:
            ids.setdefault(status, len(ids) + 1)
    built = tuple(Edge(ids[e[0]], ids[e[1]], e[2] if len(e) == 3 else "step") for e in edges)
    return WorkflowInfo.from_edges(name, {number: s for s, number in ids.items()}, built)


def status(info: WorkflowInfo, name: str) -> int:
    return next(number for number, n in info.statuses.items() if n == name)


LUNO = graph(
    ("Created", "PaymentPending"),
    ("PaymentPending", "PaymentFailed"),
    ("PaymentPending", "Cancelled"),
    ("PaymentPending", "Paid"),
    ("PaymentFailed", "PaymentPending"),
    ("Paid", "Shipped"),
    ("Paid", "Refunded"),
    ("Shipped", "Delivered"),
    ("Shipped", "Returned"),
    ("Returned", "Refunded"),
    name="orders",
)
GRAPHS = {
    "linear": graph(("Created", "Validated"), ("Validated", "Shipped"), ("Shipped", "Done")),
    "fan_out": graph(("Start", "Email"), ("Start", "Sms"), ("Start", "Push"), ("Start", "Letter")),
    "join": graph(("Start", "Left"), ("Start", "Right"), ("Left", "Done"), ("Right", "Done")),
    "retry": graph(
        ("Created", "Trying"),
        ("Trying", "Failed"),
        ("Failed", "Trying"),
        ("Trying", "Done"),
        ("Failed", "GaveUp"),
    ),
    "self_loop": graph(("Start", "Polling"), ("Polling", "Polling"), ("Polling", "Done")),
    "long_names": graph(
        ("AWAITING_CUSTOMER_IDENTITY_VERIFICATION_DOCUMENTS", "VERIFIED"),
        ("AWAITING_CUSTOMER_IDENTITY_VERIFICATION_DOCUMENTS", "REJECTED_BY_THE_COMPLIANCE_TEAM_AFTER_REVIEW"),
        ("VERIFIED", "ACCOUNT_OPENED"),
    ),
    "luno_orders": LUNO,
}


def random_graph(seed: int, count: int, edges: int) -> WorkflowInfo:
    """A tangled graph: mostly forward edges, some back edges, self-loops and repeats."""
    rng = random.Random(seed)
    statuses = {n: f"S{n}_{'x' * rng.randint(0, 12)}" for n in range(1, count + 1)}
    pairs = []
    for _ in range(edges):
        s, t = rng.randint(1, count), rng.randint(1, count)
        pairs.append((min(s, t), max(s, t)) if rng.random() < 0.7 else (s, t))
    return WorkflowInfo.from_edges("tangle", statuses, tuple(Edge(s, t, "step") for s, t in pairs))


def assert_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    assert path.exists(), f"no snapshot {path}: write it with WFKIT_UPDATE_SNAPSHOTS=1 and review it"
    assert text + "\n" == path.read_text(encoding="utf-8")


def box_spans(text: GraphText, status: int) -> list[Span]:
    return [s for s in text.spans if s.status == status and s.role != "count"]


def covered(text: GraphText, line: int, column: int, role: str) -> bool:
    return any(s.role == role and s.line == line and s.start <= column < s.end for s in text.spans)


# -- the pictures -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_snapshot(name: str) -> None:
    assert_snapshot(name, render_graph(GRAPHS[name]).plain())


def test_snapshot_with_counts() -> None:
    counts = {status(LUNO, "PaymentPending"): 3, status(LUNO, "Paid"): 12, status(LUNO, "Delivered"): 1040}
    assert_snapshot("luno_orders_counts", render_graph(LUNO, counts=counts).plain())


def test_spike_luno_graph_reads_as_expected() -> None:
    text = render_graph(LUNO).plain()
    assert "│ ● Created │" in text  # the start is marked
    for terminal in ("Cancelled", "Delivered", "Refunded"):
        assert f"║ {terminal} ║" in text  # terminals have a double border
    for node in ("PaymentPending", "PaymentFailed", "Paid", "Shipped", "Returned"):
        assert f"│ {node} │" in text
    assert text.count("▽") == 1  # the one retry arrives with the loop arrowhead


# -- layout invariants --------------------------------------------------------------------------

ALL = [*GRAPHS.values(), random_graph(7, 30, 40), random_graph(11, 12, 20)]


@pytest.mark.parametrize("info", ALL, ids=[*GRAPHS, "random_30_40", "random_12_20"])
def test_every_edge_is_drawn_once_and_boxes_never_overlap(info: WorkflowInfo) -> None:
    text = render_graph(info)
    distinct = {(e.source, e.target) for e in info.edges}
    assert len(text.lines) == text.height
    assert all(len(line) == text.width for line in text.lines)
    # Every edge leaves through its own port and arrives at its own arrowhead right above its target.
    assert sum(line.count("┬") for line in text.lines) == len(distinct)
    arrows = [(y, x) for y, line in enumerate(text.lines) for x, ch in enumerate(line) if ch in ARROWS]
    assert len(arrows) == len(distinct)
    incoming = {n: sum(1 for _, t in distinct if t == n) for n in info.nodes}
    for node in info.nodes:
        top = min(box_spans(text, node), key=lambda s: s.line)
        above = [(y, x) for y, x in arrows if y == top.line - 1 and top.start < x < top.end - 1]
        assert len(above) == incoming[node], info.name_of(node)
    # Lines only cross (┼) or turn: a three-way junction would hide where an edge goes.
    assert not any(ch in line for line in text.lines for ch in "├┤┴")
    # Boxes: three lines each, no two share a cell, each shows its name.
    cells: set[tuple[int, int]] = set()
    for node in info.nodes:
        spans = box_spans(text, node)
        assert len(spans) == 3
        box = {(s.line, x) for s in spans for x in range(s.start, s.end)}
        assert not box & cells
        cells |= box
        assert info.name_of(node) in text.lines[spans[1].line]


def test_start_and_terminal_statuses_are_marked() -> None:
    info = GRAPHS["join"]
    text = render_graph(info)
    for node in info.nodes:
        top = min(box_spans(text, node), key=lambda s: s.line)
        corner = text.lines[top.line][top.start]
        assert corner == ("╔" if node in info.terminals else "╭")
        assert ("●" in text.lines[top.line + 1][top.start : top.end]) == (node in info.starts)


def test_repeated_edges_are_drawn_once() -> None:
    info = graph(
        ("Waiting", "Paid", "callback"), ("Waiting", "Expired", "timeout"), ("Waiting", "Paid", "step")
    )
    text = render_graph(info)
    assert sum(line.count("▼") for line in text.lines) == 2


def test_a_graph_without_edges_draws_nothing() -> None:
    text = render_graph(WorkflowInfo.from_edges("empty", {1: "ONLY"}, ()))
    assert (text.lines, text.spans, text.width, text.height, text.plain()) == ((), (), 0, 0, "")


def test_same_input_same_drawing() -> None:
    for info in ALL:
        first = render_graph(info, counts={n: n for n in info.nodes}, current=info.nodes[-1], path=info.nodes)
        again = render_graph(info, counts={n: n for n in info.nodes}, current=info.nodes[-1], path=info.nodes)
        assert first == again


# -- spans for the TUI --------------------------------------------------------------------------


def test_current_status_span_covers_its_box() -> None:
    paid = status(LUNO, "Paid")
    text = render_graph(LUNO, current=paid)
    spans = [s for s in text.spans if s.role == "current"]
    assert {s.status for s in spans} == {paid}
    assert [text.lines[s.line][s.start : s.end] for s in spans] == ["╭──────╮", "│ Paid │", "╰─┬──┬─╯"]
    assert all(s.role != "current" for s in text.spans if s.status != paid)


def test_visited_path_marks_its_edges_and_boxes() -> None:
    names = ["Created", "PaymentPending", "PaymentFailed", "PaymentPending", "Paid"]
    path = [status(LUNO, n) for n in names]
    text = render_graph(LUNO, current=path[-1], path=path)
    roles = {LUNO.name_of(s.status): s.role for s in text.spans if s.status is not None}
    assert roles == {
        "Created": "visited",
        "PaymentPending": "visited",
        "PaymentFailed": "visited",
        "Paid": "current",
        "Cancelled": "terminal",
        "Shipped": "node",
        "Delivered": "terminal",
        "Returned": "node",
        "Refunded": "terminal",
    }
    # The arrowhead of each edge on the path is visited; the others are plain edges.
    visited_into = {"PaymentPending", "PaymentFailed", "Paid"}
    for node in LUNO.nodes:
        top = min(box_spans(text, node), key=lambda s: s.line)
        for x, ch in enumerate(text.lines[top.line - 1] if top.line else ""):
            if ch in ARROWS and top.start < x < top.end - 1:
                assert covered(text, top.line - 1, x, "edge") or covered(text, top.line - 1, x, "visited")
                assert covered(text, top.line - 1, x, "visited") == (LUNO.name_of(node) in visited_into)
    # Every visited cell is part of a line, never blank.
    for span in text.spans:
        if span.role == "visited" and span.status is None:
            assert " " not in text.lines[span.line][span.start : span.end]


def test_the_loop_back_is_visited_only_when_the_run_took_it() -> None:
    retry = GRAPHS["retry"]
    straight = [status(retry, n) for n in ("Created", "Trying", "Done")]
    looped = [status(retry, n) for n in ("Created", "Trying", "Failed", "Trying", "Done")]
    loop_arrow = next((y, line.index("▽")) for y, line in enumerate(render_graph(retry).lines) if "▽" in line)
    assert not covered(render_graph(retry, path=straight), *loop_arrow, "visited")
    assert covered(render_graph(retry, path=looped), *loop_arrow, "visited")


def test_counts_are_in_the_labels_with_their_own_span() -> None:
    paid = status(LUNO, "Paid")
    text = render_graph(LUNO, counts={paid: 12})
    assert "│ Paid · 12 │" in text.plain()
    assert "│ Shipped · 0 │" in text.plain()  # a status without runs shows 0
    (span,) = [s for s in text.spans if s.role == "count" and s.status == paid]
    assert text.lines[span.line][span.start : span.end] == "· 12"


def test_node_at_finds_the_box_under_a_cell() -> None:
    text = render_graph(LUNO)
    for node in LUNO.nodes:
        label = box_spans(text, node)[1]
        for column in range(label.start, label.end):
            assert text.node_at(label.line, column) == node
    assert text.node_at(0, 0) is None  # blank
    arrow_line = next(y for y, line in enumerate(text.lines) if "▼" in line)
    assert text.node_at(arrow_line, text.lines[arrow_line].index("▼")) is None  # an edge, not a box
    assert text.node_at(text.height + 5, 0) is None


# -- wfkit graph --format text ------------------------------------------------------------------


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo what loading `examples/orders.py` does: its module in `sys.modules`."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if getattr(sys.modules[name], "__file__", None) == str(EXAMPLE):
            del sys.modules[name]


@pytest.mark.usefixtures("isolated_imports")
def test_cli_prints_the_text_drawing(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"COLUMNS": "100", "NO_COLOR": "1"}
    printed = runner.invoke(app, ["graph", f"{EXAMPLE}:builder", "--format", "text"], env=env)
    assert printed.exit_code == 0, printed.stderr
    assert_snapshot("orders_example", printed.stdout.rstrip("\n"))
    out = tmp_path / "orders.txt"  # the format also follows a .txt output file
    written = runner.invoke(app, ["graph", f"{EXAMPLE}:builder", "-o", str(out)], env=env)
    assert written.exit_code == 0, written.stderr
    assert out.read_text(encoding="utf-8") == printed.stdout
