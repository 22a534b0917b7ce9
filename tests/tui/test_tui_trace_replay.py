"""Replaying a run recorded in a simulation trace, and playing the trace lines in the explorer."""

from __future__ import annotations

from _tuiapp import make_app, settle
from _tuiseed import orders_builder
from _tuitrace import RUN, orders_graph, trace_lines, write
from textual.widgets import Input, Static

from wfkit.cli._load import workflow_info
from wfkit.testing._trace import HEADER_GRAPH, HEADER_OBJECTS, Trace
from wfkit.tui._replay import ReplayScreen
from wfkit.tui._sim import SimulationScreen, TraceView
from wfkit.tui._simdata import SimTrace, load_trace


def text_of(screen: object, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())  # type: ignore[attr-defined]


def test_a_runs_steps_come_from_its_writes_with_objects_graph_and_lines(tmp_path):
    trace = load_trace(write(tmp_path / "t.jsonl", trace_lines()))
    assert trace.run_of(4) == RUN  # a send line
    assert trace.run_of(6) is None  # a crash concerns no run
    assert trace.run_of(8) == RUN  # `run 11111111` in a violation's detail
    replay, lines = trace.replay(RUN)
    assert replay.name == "sim-0"
    assert [(s.version, s.status) for s in replay.steps] == [(1, 1), (2, 2), (3, 3)]
    assert lines == {0: 2, 1: 5, 2: 7}
    assert replay.info is not None
    assert replay.status_name(3) == "PAYMENT_PENDING"
    assert replay.path(2) == [1, 2, 3]
    second = replay.steps[1]
    assert second.when == "t=0.750s"
    assert second.delta == "+0.250s"
    assert second.note == "line 6 · node 1"
    assert second.object is not None
    assert b'"valid": true' in second.object


def test_without_graph_or_objects_the_loaded_workflows_graph_is_used_if_it_fits(tmp_path):
    trace = load_trace(write(tmp_path / "t.jsonl", trace_lines(graph=False, objects=False)))
    replay, _ = trace.replay(RUN)
    assert replay.info is None
    assert all(s.object is None for s in replay.steps)
    info = workflow_info(orders_builder())
    assert trace.replay(RUN, info)[0].info is info
    lines = trace_lines(graph=False)
    lines[-2]["s"] = 42  # a status the loaded workflow does not have: not this workflow's trace
    assert load_trace(write(tmp_path / "u.jsonl", lines)).replay(RUN, info)[0].info is None


def test_header_facts_never_change_the_trace_hash():
    plain, noted = Trace(lambda: 1.0), Trace(lambda: 1.0)
    noted.note(HEADER_GRAPH, orders_graph())
    for trace in (plain, noted):
        trace.add("write", n=0, run=RUN, v=1, s=1, rs=1)
    noted.keep_object(RUN, 1, b'{"a":1}')
    assert plain.hash == noted.hash
    assert plain.lines == noted.lines
    assert noted.header[HEADER_OBJECTS] == {RUN: {"1": '{"a":1}'}}
    quiet = Trace(lambda: 1.0, keep=False)
    quiet.keep_object(RUN, 1, b"{}")
    assert HEADER_OBJECTS not in quiet.header


async def test_trace_replay_steps_back_and_forth_diffs_and_returns_to_its_line(fixed_store, tmp_path):
    app = make_app(fixed_store)
    app.trace = write(tmp_path / "trace.jsonl", trace_lines())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        sim = app.screen
        assert isinstance(sim, SimulationScreen)
        view = sim.query_one(TraceView)
        view.go(5)  # the second write of sim-0
        await pilot.press("v")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        assert screen.title == "sim-0 » step 2/3"
        assert "v2 VALIDATED" in text_of(screen, "#step")
        assert "t=0.750s  +0.250s  · line 6 · node 1" in text_of(screen, "#step")
        assert "VALIDATED" in text_of(screen, "#graph")
        assert '"valid": true' in text_of(screen, "#object")
        await pilot.press("right_square_bracket", "d")
        assert screen.title == "sim-0 » step 3/3"
        diff = text_of(screen, "#object")
        assert "status VALIDATED → PAYMENT_PENDING" in diff
        assert "+ due = 12.5" in diff
        await pilot.press("g")
        assert screen.title == "sim-0 » step 1/3"
        assert "first version" in text_of(screen, "#object")
        await pilot.press("l", "escape")
        await pilot.pause()
        assert app.screen is sim
        assert view.cursor == 5  # the line of the step the replay ended on


async def test_trace_replay_without_objects_says_so(fixed_store, tmp_path):
    app = make_app(fixed_store)
    app.trace = write(tmp_path / "trace.jsonl", trace_lines(graph=False, objects=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.screen.query_one(TraceView).go(7)
        await pilot.press("v")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        assert screen.title == "sim-0 » step 3/3"
        assert "v3 3" in text_of(screen, "#step")
        assert "graph unknown" in text_of(screen, "#graph")
        assert "not recorded" in text_of(screen, "#object")
        await pilot.press("d")
        assert "objects not recorded" in text_of(screen, "#object")


async def test_replay_on_a_line_without_a_run_notifies(fixed_store, tmp_path):
    app = make_app(fixed_store)
    app.trace = write(tmp_path / "trace.jsonl", trace_lines())
    async with app.run_test(notifications=True) as pilot:
        await settle(pilot)
        sim = app.screen
        sim.query_one(TraceView).go(6)  # crash
        await pilot.press("v")
        await pilot.pause()
        assert app.screen is sim
        assert any("concerns no run" in n.message for n in app._notifications)


async def test_trace_replay_plays_on_its_timer_and_pauses(fixed_store, tmp_path):
    app = make_app(fixed_store, play_every=3600)  # the timer never fires by itself: ticks are driven
    app.trace = write(tmp_path / "trace.jsonl", trace_lines())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.screen.query_one(TraceView).go(2)
        await pilot.press("v")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        await pilot.press("space")
        assert screen.playing
        assert screen.sub_title.startswith("▶ playing")
        screen.tick()
        assert screen.title == "sim-0 » step 2/3"
        await pilot.press("space")
        assert not screen.playing
        await pilot.press("space")
        screen.tick()
        assert screen.title == "sim-0 » step 3/3"
        screen.tick()  # at the last step the player stops itself
        assert not screen.playing
        await pilot.press("space")  # from the end, play starts over
        assert screen.title == "sim-0 » step 1/3"
        assert screen.playing


async def test_explorer_plays_lines_and_goes_first_and_last(fixed_store, tmp_path):
    app = make_app(fixed_store, play_every=3600)
    app.trace = write(tmp_path / "trace.jsonl", trace_lines())
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SimulationScreen)
        view = screen.query_one(TraceView)
        await pilot.press("G")
        assert view.cursor == 8
        await pilot.press("g")
        assert view.cursor == 0
        screen.action_last()
        assert view.cursor == 8
        screen.action_first()
        await pilot.press("space")
        assert screen.playing
        await pilot.pause()
        assert "▶ playing" in text_of(screen, "#where")
        screen.tick()
        screen.tick()
        assert view.cursor == 2
        await pilot.press("space")
        assert not screen.playing
        view.go(8)
        await pilot.press("space")  # at the end: starts from the first line
        assert view.cursor == 0
        for _ in range(8):
            screen.tick()
        assert view.cursor == 8
        screen.tick()
        assert not screen.playing


async def test_explorer_plays_on_the_real_timer(fixed_store, tmp_path):
    app = make_app(fixed_store)  # play_every 0.01 s in tests
    app.trace = write(tmp_path / "trace.jsonl", trace_lines())
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SimulationScreen)
        await pilot.press("space")
        for _ in range(1000):  # the player stops itself at the last line (9 beats of 0.01 s)
            if not screen.playing:
                break
            await pilot.pause(0.01)
        assert not screen.playing
        assert screen.query_one(TraceView).cursor == 8


async def test_a_seed_run_here_replays_with_objects_and_graph(fixed_store):
    app = make_app(fixed_store, builder=orders_builder())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.push_screen(SimulationScreen())  # whichever key opens it on the Runs screen
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SimulationScreen)
        await pilot.press("n")
        app.screen.query_one(Input).value = "3"
        await pilot.press("enter")
        await settle(pilot)
        trace = screen.trace
        assert isinstance(trace, SimTrace)
        assert trace.graph() is not None
        first_write = next(i for i, line in enumerate(trace.lines) if '"k":"write"' in line)
        screen.query_one(TraceView).go(first_write)
        await pilot.press("v")
        await pilot.pause()
        replay = app.screen
        assert isinstance(replay, ReplayScreen)
        assert replay.step == 0
        assert all(s.object is not None for s in replay.steps)
        assert "CREATED" in text_of(replay, "#step")
        assert "graph unknown" not in text_of(replay, "#graph")


# -- status names in the explorer's status line ------------------------------------------------


def test_the_graph_that_names_a_traces_statuses(tmp_path):
    info = workflow_info(orders_builder())
    with_graph = load_trace(write(tmp_path / "g.jsonl", trace_lines()))
    assert with_graph.graph_for() is not None
    assert with_graph.status_name(2, with_graph.graph_for()) == "VALIDATED"
    bare = load_trace(write(tmp_path / "b.jsonl", trace_lines(graph=False)))
    assert bare.graph_for() is None
    assert bare.status_name(2, None) == "status 2"
    assert bare.graph_for(info) is info
    lines = trace_lines(graph=False)
    lines[4]["s"] = 42  # the other run writes a status the loaded workflow does not have
    assert load_trace(write(tmp_path / "u.jsonl", lines)).graph_for(info) is None


async def test_explorer_names_statuses_from_the_traces_graph(fixed_store, tmp_path):
    app = make_app(fixed_store)
    app.trace = write(tmp_path / "trace.jsonl", trace_lines())
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SimulationScreen)
        screen.query_one(TraceView).go(5)
        await pilot.pause()
        assert "run 11111111 at VALIDATED v2 (run state running)" in text_of(screen, "#where")
        screen.query_one(TraceView).go(7)
        await pilot.pause()
        assert "at PAYMENT_PENDING v3" in text_of(screen, "#where")


async def test_explorer_names_statuses_from_the_loaded_workflow_else_numbers(fixed_store, tmp_path):
    path = write(tmp_path / "trace.jsonl", trace_lines(graph=False))
    for builder, expected in ((orders_builder(), "at VALIDATED v2"), (None, "at status 2 v2")):
        app = make_app(fixed_store, builder=builder)
        app.trace = path
        async with app.run_test() as pilot:
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, SimulationScreen)
            screen.query_one(TraceView).go(5)
            await pilot.pause()
            assert expected in text_of(screen, "#where")
