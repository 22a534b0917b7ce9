"""The Runs screen's extra keys: `F` follow a run, `:` go to a run or workflow, `e` the object in a pager."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import pytest
from _tuiapp import make_app, settle
from textual.widgets import Input, Static

from wfkit.tui._detail import RunDetailScreen
from wfkit.tui._modals import AskModal
from wfkit.tui._runs import RunsScreen
from wfkit.tui._runtools import pager_command, parse_goto, workflow_named
from wfkit.tui._widgets import VimTable

ORDER_3 = "r03c0002-0000-4000-8000-000000000000"


def runs(app: object) -> RunsScreen:
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, RunsScreen)
    return screen


def read_json(path: Path) -> object:
    return json.loads(path.read_text())


def where(screen: RunsScreen) -> str:
    return str(screen.query_one("#where", Static).render())


def messages(app: object) -> list[str]:
    return [n.message for n in app._notifications]  # type: ignore[attr-defined]


async def test_follow_keeps_the_cursor_on_the_run_while_it_leaves_and_comes_back(fixed_store):
    app = make_app(fixed_store)
    async with app.run_test(notifications=True) as pilot:
        await settle(pilot)
        screen = runs(app)
        table = screen.query_one("#runs", VimTable)
        await pilot.press("j", "j", "j")  # newest first: order-0003
        assert table.current_key() == ORDER_3
        await pilot.press("F")
        assert screen.follow == ORDER_3
        assert "following order-0003 at PAYMENT_PENDING" in where(screen)
        await pilot.press("slash", *"state:completed", "enter")  # order-0003 is not on this page now
        await settle(pilot)
        assert ORDER_3 not in screen.rows
        assert screen.follow == ORDER_3
        assert "following r03c0002 (not on this page)" in where(screen)
        await pilot.press("escape")  # the filter cleared: the cursor finds it again
        await settle(pilot)
        assert table.current_key() == ORDER_3
        screen.action_toggle_order()  # oldest first: the run moves from row 3 to row 2
        await settle(pilot)
        assert table.cursor_row == 2
        assert table.current_key() == ORDER_3
        await pilot.press("j")  # moving off it by hand stops following
        await pilot.pause()
        assert screen.follow is None
        assert "following" not in where(screen)
        assert "stopped following" in messages(app)


async def test_follow_again_stops_and_needs_a_run(fixed_store):
    app = make_app(fixed_store)
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = runs(app)
        await pilot.press("F")
        assert screen.follow is not None
        await pilot.press("F")
        assert screen.follow is None


async def goto(pilot, text: str) -> None:
    await pilot.press("colon")
    await pilot.pause()
    modal = pilot.app.screen
    assert isinstance(modal, AskModal)
    modal.query_one(Input).value = text
    await pilot.press("enter")
    await settle(pilot)


@pytest.mark.parametrize("text", [":run r03c", "run R03C0002", ":run order-0003", f":run {ORDER_3}"])
async def test_goto_run_opens_it_by_prefix_foreign_id_or_full_id(fixed_store, text):
    app = make_app(fixed_store)
    async with app.run_test() as pilot:
        await settle(pilot)
        await goto(pilot, text)
        screen = app.screen
        assert isinstance(screen, RunDetailScreen)
        assert screen.run_id == ORDER_3


async def test_goto_a_foreign_id_not_on_the_page_asks_the_store(fixed_store):
    app = make_app(fixed_store)
    async with app.run_test() as pilot:
        await settle(pilot)
        runs(app).rows.clear()  # as if on another page
        await goto(pilot, ":run order-0003")
        assert isinstance(app.screen, RunDetailScreen)


async def test_goto_runs_filters_by_workflow_and_all_clears(fixed_store):
    app = make_app(fixed_store)
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = runs(app)
        await goto(pilot, ":runs ORDERS")
        assert screen.query_state.workflow == "orders"
        assert screen.title == "runs » orders"
        await goto(pilot, ":runs all")
        assert screen.query_state.workflow is None


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (":run r0", "matches 6 runs on this page"),
        (":run nothing-like-it", "no run 'nothing-like-it'"),
        (":runs nope", "no workflow 'nope'"),
        (":open x", "use :run"),
    ],
)
async def test_goto_mistakes_are_notifications(fixed_store, text, said):
    app = make_app(fixed_store)
    async with app.run_test(notifications=True) as pilot:
        await settle(pilot)
        await goto(pilot, text)
        assert isinstance(app.screen, RunsScreen)
        assert any(said in m for m in messages(app)), messages(app)


def test_goto_parsing():
    assert parse_goto(":run  01hx ") == ("run", "01hx")
    assert parse_goto("RUNS") == ("runs", "")
    assert workflow_named("Orders", ["orders"]) == "orders"
    assert workflow_named("*", ["orders"]) is None


def test_the_pager_is_dollar_pager_else_less_or_more_else_none(tmp_path):
    assert pager_command({"PAGER": "less -R"}) == ["less", "-R"]
    (tmp_path / "more").write_text("#!/bin/sh\n")
    (tmp_path / "more").chmod(0o755)
    assert pager_command({"PAGER": "", "PATH": str(tmp_path)}) == [str(tmp_path / "more")]
    assert pager_command({"PATH": str(tmp_path / "empty")}) is None


async def test_e_pages_the_selected_runs_object(fixed_store, tmp_path, monkeypatch):
    out = tmp_path / "paged.json"
    script = tmp_path / "pager.py"
    script.write_text(f"import sys\nopen({str(out)!r}, 'w').write(sys.stdin.read())\n")
    monkeypatch.setenv("PAGER", f"{sys.executable} {script}")
    app = make_app(fixed_store)
    suspended: list[bool] = []

    @contextlib.contextmanager
    def suspend():  # a headless app cannot give its terminal away: pretend it did
        suspended.append(True)
        yield

    monkeypatch.setattr(app, "suspend", suspend)
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "j", "e")
        await settle(pilot)
    assert suspended == [True]
    assert read_json(out) == {"id": "order-0003", "items": ["lamp", "mug"], "total": 38.25}


async def test_e_without_a_pager_or_a_terminal_says_so(fixed_store, monkeypatch, tmp_path):
    monkeypatch.setenv("PAGER", "")
    monkeypatch.setenv("PATH", str(tmp_path))
    app = make_app(fixed_store)
    async with app.run_test(notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert any("no pager found: set $PAGER" in m for m in messages(app))
        monkeypatch.setenv("PAGER", "cat")
        await pilot.press("e")  # the headless driver cannot suspend
        await settle(pilot)
        assert any("cannot be handed to a pager" in m for m in messages(app))
