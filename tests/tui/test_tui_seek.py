"""Replay seek (`S`): a step number, an offset after step 1, or a time; for store runs and trace runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _tuiapp import make_app, settle
from _tuitrace import trace_lines, write
from textual.pilot import Pilot
from textual.widgets import Input, Static

from wfkit import RunState, WfkitError
from wfkit.tui._keys import help_rows
from wfkit.tui._modals import AskModal, HelpScreen
from wfkit.tui._replay import ReplayScreen
from wfkit.tui._sim import SimulationScreen, TraceView
from wfkit.tui._steps import Replay, Step

START = datetime(2024, 5, 1, 11, 0, tzinfo=UTC)


def wall_replay() -> Replay:
    """Seven steps 30 s apart from 11:00:00 UTC, as a store run's replay has them."""
    steps = tuple(
        Step(v, v, RunState.RUNNING, None, "", at=(START + timedelta(seconds=30 * (v - 1))).timestamp())
        for v in range(1, 8)
    )
    return Replay("order", steps, wall=True)


def trace_replay() -> Replay:
    steps = tuple(Step(v, v, RunState.RUNNING, None, "", at=t) for v, t in ((1, 0.5), (2, 0.75), (3, 1.25)))
    return Replay("sim-0", steps)


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("1", 0),
        (" 5 ", 4),
        ("7", 6),
        ("+0s", 0),
        ("+75s", 2),  # 11:01:15: the last step at or before it is 11:01:00
        ("+1m30s", 3),  # exactly a step
        ("+1h", 6),
        ("11:02:10", 4),
        ("11:02", 4),
        ("2024-05-01 11:02:30", 5),
        ("2024-05-01T13:02:30+02:00", 5),
    ],
)
def test_store_run_seek(text: str, index: int) -> None:
    assert wall_replay().seek(text) == index


@pytest.mark.parametrize(
    ("text", "index"),
    [("2", 1), ("t=0.5", 0), ("t=1", 1), ("t=1.25s", 2), ("t=99", 2), ("+0.3s", 1), ("+500ms", 1)],
)
def test_trace_run_seek(text: str, index: int) -> None:
    assert trace_replay().seek(text) == index


@pytest.mark.parametrize(
    ("replay", "text", "fix"),
    [
        (wall_replay(), "9", "step 9 is out of range: this run has steps 1-7"),
        (wall_replay(), "0", "step 0 is out of range"),
        (
            wall_replay(),
            "10:00",
            "no step at or before 2024-05-01 10:00:00: the first step is at 2024-05-01 11:00:00",
        ),
        (wall_replay(), "25:00", "not a time of day: use HH:MM or HH:MM:SS"),
        (wall_replay(), "t=1", "cannot seek to 't=1': use 7 (step), +5m (after step 1), 12:30:15"),
        (wall_replay(), "+5", "bad offset '+5': '5' has no unit"),
        (wall_replay(), "", "type where to go"),
        (trace_replay(), "t=0.1", "no step at or before t=0.100s: the first step is at t=0.500s"),
        (trace_replay(), "12:00", "cannot seek to '12:00': use 7 (step), +0.5s (after step 1) or t=1.25"),
        (trace_replay(), "1.25", "cannot seek to '1.25'"),  # a time needs its t=, a bare number is a step
        (Replay("none", ()), "1", "no steps"),
    ],
)
def test_a_seek_it_cannot_read_names_what_it_accepts(replay: Replay, text: str, fix: str) -> None:
    with pytest.raises(WfkitError) as caught:
        replay.seek(text)
    assert fix in str(caught.value)


def test_s_seeks_in_the_replay_help_only() -> None:
    assert ("Replay", "S", "Seek") in help_rows(("replay",), read_only=False)
    assert ("S", "Reverse sort") in {(k, t) for _, k, t in help_rows(("runs",), read_only=False)}


# -- on screen ---------------------------------------------------------------------------------


def text_of(screen: object, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())  # type: ignore[attr-defined]


async def seek(pilot: Pilot[Any], text: str) -> None:
    await pilot.press("S")
    await pilot.pause()
    modal = pilot.app.screen
    assert isinstance(modal, AskModal)
    modal.query_one(Input).value = text
    await pilot.press("enter")
    await pilot.pause()


async def test_store_run_replay_seeks_by_step_offset_and_time(fixed_store):
    app = make_app(fixed_store)
    async with app.run_test(notifications=True) as pilot:  # 80x24
        await settle(pilot)
        await pilot.press("G", "enter")  # order-0001: seven versions 30 s apart from 11:00:00
        await settle(pilot)
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        await seek(pilot, "5")
        assert app.screen is screen
        assert screen.title == "order-0001 » step 5/7"
        assert "v5 PAID" in text_of(screen, "#step")
        await seek(pilot, "+75s")
        assert screen.title == "order-0001 » step 3/7"
        await seek(pilot, "11:02:40")
        assert screen.title == "order-0001 » step 6/7"
        assert "2024-05-01 11:02:30" in text_of(screen, "#step")
        await seek(pilot, "2024-05-01 11:03")
        assert screen.title == "order-0001 » step 7/7"
        await seek(pilot, "10:59")  # before the first step: a toast, the step stays
        assert app.screen is screen
        assert screen.title == "order-0001 » step 7/7"
        messages = [n.message for n in app._notifications]
        assert any("no step at or before 2024-05-01 10:59:00" in m for m in messages)
        await pilot.press("S")
        await pilot.press("escape")  # cancelled: nothing moves
        await pilot.pause()
        assert app.screen is screen
        assert screen.title == "order-0001 » step 7/7"


async def test_the_seek_input_says_what_it_accepts(fixed_store, tmp_path):
    app = make_app(fixed_store)
    app.trace = write(tmp_path / "trace.jsonl", trace_lines())
    async with app.run_test() as pilot:
        await settle(pilot)
        app.screen.query_one(TraceView).go(2)
        await pilot.press("v", "S")
        await pilot.pause()
        hint = text_of(app.screen, "#hint")
        assert "A step number (1-3)" in hint
        assert "+90s" in hint
        assert "t=1.25" in hint
        assert (
            app.screen.query_one(Input).placeholder == "7 (step), +0.5s (after step 1) or t=1.25 (trace time)"
        )
        await pilot.press("escape", "escape", "escape")  # the input, the replay, the explorer
        await pilot.pause()
        await pilot.press("G", "enter")
        await settle(pilot)
        await pilot.press("v", "S")
        await pilot.pause()
        hint = text_of(app.screen, "#hint")
        assert "A step number (1-7)" in hint
        assert "12:30:15 (on step 1's day) or 2024-05-01 12:30:15" in hint


async def test_seek_stops_the_player_and_the_help_lists_it(fixed_store):
    app = make_app(fixed_store, play_every=3600)
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("G", "enter")
        await settle(pilot)
        await pilot.press("v", "space")
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        assert screen.playing
        await seek(pilot, "2")
        assert not screen.playing
        assert screen.title == "order-0001 » step 2/7"
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = str(app.screen.query_one("#keys", Static).render())
        assert "Seek" in keys


async def test_trace_run_replay_seeks_by_trace_time_and_returns_to_its_line(fixed_store, tmp_path):
    app = make_app(fixed_store)
    app.trace = write(tmp_path / "trace.jsonl", trace_lines())
    async with app.run_test(notifications=True) as pilot:
        await settle(pilot)
        sim = app.screen
        assert isinstance(sim, SimulationScreen)
        view = sim.query_one(TraceView)
        view.go(2)  # sim-0's first write
        await pilot.press("v")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        assert screen.title == "sim-0 » step 1/3"
        await seek(pilot, "t=1.0")
        assert screen.title == "sim-0 » step 2/3"
        assert "t=0.750s" in text_of(screen, "#step")
        await seek(pilot, "3")
        assert screen.title == "sim-0 » step 3/3"
        await seek(pilot, "+0.25s")
        assert screen.title == "sim-0 » step 2/3"
        await seek(pilot, "12:00")
        assert screen.title == "sim-0 » step 2/3"
        assert any("t=1.25 (trace time)" in n.message for n in app._notifications)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is sim
        assert view.cursor == 5  # the line of the step the seek left it on
