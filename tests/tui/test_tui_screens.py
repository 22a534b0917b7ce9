"""Workflows overview, graph, replay and the simulation explorer."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from _tuiapp import make_app, settle
from _tuiseed import FROZEN, orders_builder
from textual.widgets import Input, Static

from wfkit._termgraph import render_graph
from wfkit.cli._load import workflow_info
from wfkit.testing import FakeClock
from wfkit.tui._graph import GraphScreen, styled
from wfkit.tui._replay import ReplayScreen
from wfkit.tui._runs import RunsScreen
from wfkit.tui._sim import SimulationScreen, TraceView
from wfkit.tui._widgets import VimTable


def text_of(screen: object, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())  # type: ignore[attr-defined]


async def test_workflows_overview_counts_runs_and_stuck_ones_then_filters_the_runs(fixed_store):
    # order-0003 is running and was last updated 41.5 minutes before FROZEN; a day later it is stuck.
    app = make_app(fixed_store, clock=FakeClock(FROZEN + timedelta(days=1)))
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        table = app.screen.query_one("#workflows", VimTable)
        assert table.row_count == 2
        assert table.get_cell("orders", "runs").plain == "6"
        assert table.get_cell("orders", "RUNNING").plain == "1"
        assert table.get_cell("orders", "PAUSED").plain == "1"
        assert table.get_cell("orders", "COMPLETED").plain == "3"
        assert table.get_cell("orders", "stuck").plain == "1"
        assert table.get_cell("orders", "recent").plain == "0"
        statuses = text_of(app.screen, "#statuses")
        assert "PAYMENT_PENDING 3" in statuses
        assert "FULFILLED 1" in statuses
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        assert screen.query_state.workflow == "orders"
        assert screen.title == "runs » orders"
        assert len(screen.rows) == 6


async def test_nothing_is_stuck_while_runs_move(fixed_store):
    # At FROZEN order-0003 was updated 40.5 minutes ago: not stuck when an hour is allowed.
    app = make_app(fixed_store, stuck_after=timedelta(hours=1))
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        table = app.screen.query_one("#workflows", VimTable)
        assert table.get_cell("orders", "stuck").plain == "0"
        assert table.get_cell("orders", "recent").plain == "5"  # created within the hour before FROZEN


async def test_graph_screen_draws_counts_and_the_selected_runs_position(fixed_store):
    app = make_app(fixed_store)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("G", "k", "k")  # order-0003, at PAYMENT_PENDING
        await pilot.press("f")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, GraphScreen)
        assert screen.current == 3
        assert screen.path == [1, 2, 3]
        drawing = text_of(screen, "#drawing")
        assert "PAYMENT_PENDING · 3" in drawing
        assert "FULFILLED · 1" in drawing
        assert "● CREATED · 0" in drawing
        assert screen.sub_title == "6 runs · run at PAYMENT_PENDING"
        await pilot.press("c")
        assert "PAYMENT_PENDING · " not in text_of(screen, "#drawing")


def test_graph_spans_become_styles_current_reversed_and_path_bold():
    info = workflow_info(orders_builder())
    graph = render_graph(info, current=3, path=[1, 2, 3])
    colors = {"primary": "#0000ff", "accent": "#ff00ff", "success": "#00ff00", "warning": "#ffff00"}
    text = styled(graph, colors)
    assert text.plain == "\n".join(graph.lines)
    line_starts = [0]
    for line in graph.lines:
        line_starts.append(line_starts[-1] + len(line) + 1)
    current = next(s for s in graph.spans if s.role == "current")
    visited = next(s for s in graph.spans if s.role == "visited" and s.status == 2)
    spans = {(sp.start, sp.end): sp.style for sp in text.spans}
    cur = spans[(line_starts[current.line] + current.start, line_starts[current.line] + current.end)]
    vis = spans[(line_starts[visited.line] + visited.start, line_starts[visited.line] + visited.end)]
    assert cur.reverse
    assert cur.bold
    assert vis.bold
    assert not vis.reverse


async def test_replay_steps_back_and_forth_diffs_and_plays_to_the_end(fixed_store):
    app = make_app(fixed_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("G")  # order-0001: seven versions, CREATED .. FULFILLED
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        assert screen.title == "order-0001 » step 1/7"
        await pilot.press("right_square_bracket", "l", "right")
        assert screen.title == "order-0001 » step 4/7"
        assert "PAYMENT_PENDING" in text_of(screen, "#step")
        await pilot.press("left_square_bracket")
        assert screen.title == "order-0001 » step 3/7"
        await pilot.press("G")
        assert screen.title == "order-0001 » step 7/7"
        await pilot.press("h", "d")
        diff = text_of(screen, "#object")
        assert "status PAID → FULFILLED" in diff
        assert '+ tracking = "TRK-r01a0000"' in diff
        await pilot.press("g")
        assert screen.title == "order-0001 » step 1/7"
        assert "first version" in text_of(screen, "#object")
        await pilot.press("d", "space")  # plays from step 1, one step every 0.01 s in tests
        for _ in range(200):
            if not screen.playing:
                break
            await pilot.pause(0.01)
        assert screen.title == "order-0001 » step 7/7"
        assert not screen.playing
        assert '"tracking": "TRK-r01a0000"' in text_of(screen, "#object")


TRACE = [
    {"k": "header", "seed": 7, "nodes": 2, "plan": "crash=0.1", "workload": {"runs": 2}},
    {"k": "start", "n": 0, "t": 0.0, "inc": 1},
    {"k": "trigger", "n": 0, "t": 0.5, "i": 0, "fid": "sim-0", "run": "11111111-2222-4333-8444-555555555555"},
    {"k": "write", "n": 0, "t": 0.5, "run": "11111111-2222-4333-8444-555555555555", "v": 1, "s": 1, "rs": 1},
    {"k": "write", "n": 1, "t": 0.7, "run": "11111111-2222-4333-8444-555555555555", "v": 2, "s": 2, "rs": 2},
    {"k": "crash", "n": 1, "t": 0.8},
    {"k": "violation", "t": 0.9, "invariant": "no_lost_runs", "detail": "run 11111111 never finished"},
    {"k": "clock", "t": 1.0, "jump": 5.0},
]


def write_trace(path: Path) -> Path:
    path.write_text("".join(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n" for line in TRACE))
    return path


async def test_simulation_explorer_reads_a_trace_and_jumps_to_the_violation(fixed_store, tmp_path):
    app = make_app(fixed_store)
    app.trace = write_trace(tmp_path / "trace.jsonl")
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SimulationScreen)
        summary = text_of(screen, "#summary")
        assert "seed 7 · 2 nodes · 2 runs · faults crash=0.1 · 7 lines · 1 violation" in summary
        assert "no_lost_runs: run 11111111 never finished" in summary
        view = screen.query_one(TraceView)
        assert view.cursor == 0
        await pilot.press("enter")
        await pilot.pause()
        assert view.cursor == 5
        await pilot.press("left_square_bracket", "left_square_bracket")
        await pilot.pause()
        assert view.cursor == 3
        assert "run 11111111 at status 2 v2 (run state running)" in text_of(screen, "#where")
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


async def test_simulation_explorer_runs_a_seed_of_the_loaded_workflow(fixed_store):
    app = make_app(fixed_store, builder=orders_builder())
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("x")
        screen = app.screen
        assert isinstance(screen, SimulationScreen)
        await pilot.press("n")
        app.screen.query_one(Input).value = "3"
        await pilot.press("enter")
        await settle(pilot)
        assert screen.trace is not None
        assert screen.trace.header["seed"] == 3
        assert screen.title == "simulation » seed 3"
        assert "no violations" in text_of(screen, "#summary")
        assert len(screen.trace.lines) > 20


def test_trace_lines_shorten_run_ids_only():
    from wfkit.tui._simdata import line_text

    fields = {"k": "grant", "t": 1.5, "role": "orders-paused-records-retry-consumer", "run": TRACE[2]["run"]}
    assert line_text(fields) == (
        "     1.500",
        "grant",
        "role=orders-paused-records-retry-consumer run=11111111",
    )
