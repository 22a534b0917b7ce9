"""The runs screen (home): listing, chips, filters pushed to the store, paging, cursor, live badge, help."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from _tuiapp import make_app, settle
from _tuiseed import FROZEN
from textual.widgets import Input, Static

from wfkit import Meta, Record, RunState
from wfkit.tui._modals import HelpScreen
from wfkit.tui._runs import RunsScreen
from wfkit.tui._widgets import VimTable


def runs_screen(app: object) -> RunsScreen:
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, RunsScreen)
    return screen


def foreign_ids(screen: RunsScreen) -> list[str]:
    return [row.foreign_id for row in screen.rows.values()]


def cell(screen: RunsScreen, run_id: str, column: str) -> str:
    table = screen.query_one("#runs", VimTable)
    return table.get_cell(run_id, column).plain


async def test_lists_every_run_newest_first_with_status_and_run_state(real_store):
    url, ids = real_store
    app = make_app(url)
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = runs_screen(app)
        assert foreign_ids(screen) == ["order-5", "order-4", "order-3", "order-2", "order-1"]
        assert cell(screen, ids["order-4"], "state") == "‖ paused"
        assert cell(screen, ids["order-5"], "state") == "✕ cancelled"
        assert cell(screen, ids["order-1"], "status") == "FULFILLED"
        assert cell(screen, ids["order-1"], "run") == ids["order-1"][:8]
        chips = str(screen.query_one("#chips", Static).render())
        assert "all 5" in chips
        assert "▶ running 1" in chips
        assert "‖ paused 1" in chips
        assert "✓ completed 2" in chips
        assert "sqlite:///orders.db" in screen.sub_title


async def test_filter_by_run_state_and_status_then_escape_clears_it(real_store):
    url, _ = real_store
    app = make_app(url)
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = runs_screen(app)
        await pilot.press("slash")
        assert app.focused is screen.query_one("#filter", Input)
        await pilot.press(*"state:paused,cancelled", "enter")
        await settle(pilot)
        assert foreign_ids(screen) == ["order-5", "order-4"]
        assert "filter: state:paused,cancelled" in str(screen.query_one("#where", Static).render())
        await pilot.press("slash", "ctrl+u", *"status:payment_pending", "enter")
        await settle(pilot)
        assert foreign_ids(screen) == ["order-5", "order-4", "order-3"]
        await pilot.press("slash", "ctrl+u", *"order-2", "enter")
        await settle(pilot)
        assert foreign_ids(screen) == ["order-2"]
        await pilot.press("escape")
        await settle(pilot)
        assert len(screen.rows) == 5


async def test_an_unreadable_filter_is_a_notification_and_keeps_the_table(real_store):
    url, _ = real_store
    app = make_app(url)
    async with app.run_test(notifications=True) as pilot:
        await settle(pilot)
        screen = runs_screen(app)
        await pilot.press("slash", *"status:SHIPPED", "enter")
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert any("unknown status 'SHIPPED'" in m and "FULFILLED" in m for m in messages)
        assert len(screen.rows) == 5


async def test_pages_through_the_store_a_page_at_a_time(real_store):
    url, _ = real_store
    app = make_app(url, page_size=2)
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = runs_screen(app)
        assert foreign_ids(screen) == ["order-5", "order-4"]
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert foreign_ids(screen) == ["order-3", "order-2"]
        assert "3-4 of 5 (page 2/3)" in str(screen.query_one("#where", Static).render())
        await pilot.press("right_square_bracket", "right_square_bracket")
        await settle(pilot)
        assert foreign_ids(screen) == ["order-1"]
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert foreign_ids(screen) == ["order-3", "order-2"]
        await pilot.press("S")  # oldest first, from page 1
        await settle(pilot)
        assert foreign_ids(screen) == ["order-1", "order-2"]


async def test_the_cursor_stays_on_its_run_when_a_new_run_arrives(real_store):
    url, ids = real_store
    app = make_app(url)
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = runs_screen(app)
        await pilot.press("j", "j")  # order-3
        assert screen.selected_row().foreign_id == "order-3"
        now = FROZEN + timedelta(days=1000)
        record = Record(
            "orders", "order-9", "new-run", RunState.INITIATED, 1, b"{}", now, now, Meta(version=1)
        )
        assert app.service is not None
        await app.service.admin.store.store(record)
        await pilot.press("R")
        await settle(pilot)
        assert foreign_ids(screen)[0] == "order-9"
        assert screen.selected_row().run_id == ids["order-3"]
        assert screen.query_one("#runs", VimTable).cursor_row == 3


async def test_vim_keys_move_and_enter_opens_the_run(real_store):
    url, ids = real_store
    app = make_app(url)
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = runs_screen(app)
        await pilot.press("G")
        assert screen.selected_row().foreign_id == "order-1"
        await pilot.press("k")
        assert screen.selected_row().foreign_id == "order-2"
        await pilot.press("g")
        assert screen.selected_row().foreign_id == "order-5"
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "RunDetailScreen"
        assert app.screen.run_id == ids["order-5"]  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert app.screen is screen


async def test_live_badge_toggles_with_shift_p_and_interval_cycles(real_store):
    url, _ = real_store
    app = make_app(url, live=True)
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = runs_screen(app)
        assert "LIVE · 2s" in screen.sub_title
        await pilot.press("P")
        assert "PAUSED" in screen.sub_title
        await pilot.press("P", "ctrl+l")
        assert "LIVE · 5s" in screen.sub_title


async def test_help_lists_the_key_table_and_read_only_hides_mutating_keys(real_store):
    url, _ = real_store
    for read_only, pause_shown in ((False, True), (True, False)):
        app = make_app(url, read_only=read_only)
        async with app.run_test() as pilot:
            await settle(pilot)
            footer = {b.binding.action for b in app.active_bindings.values() if b.binding.show}
            assert ("pause" in footer) is pause_shown
            assert {"filter", "workflows", "toggle_live", "help", "quit"} <= footer
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            text = str(app.screen.query_one("#keys", Static).render())
            assert "Filter" in text
            assert "Live/paused" in text
            assert ("Pause" in text) is pause_shown
            assert ("Trigger" in text) is pause_shown
            await pilot.press("escape")
            assert isinstance(app.screen, RunsScreen)


async def test_q_quits(real_store):
    url, _ = real_store
    app = make_app(url)
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_a_store_that_cannot_be_opened_is_a_notification_not_a_traceback(tmp_path):
    garbage = tmp_path / "x.db"
    garbage.write_bytes(b"this is not a SQLite database" * 100)
    app = make_app(f"sqlite:///{garbage}")
    async with app.run_test(notifications=True) as pilot:
        await settle(pilot)
        assert app.service is None
        assert any(n.severity == "error" for n in app._notifications)
        assert isinstance(app.screen, RunsScreen)


async def test_paused_polling_freezes_the_table_but_keeps_the_counts_fresh(real_store):
    url, _ = real_store
    app = make_app(url, live=True, poll_interval=3600)  # ticks are driven by the test
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = runs_screen(app)
        await pilot.press("P")
        now = FROZEN + timedelta(days=1000)
        record = Record("orders", "order-9", "new-run", RunState.RUNNING, 1, b"{}", now, now, Meta(version=1))
        assert app.service is not None
        await app.service.admin.store.store(record)
        screen._tick()
        await settle(pilot)
        assert "order-9" not in foreign_ids(screen)
        assert "all 6" in str(screen.query_one("#chips", Static).render())
        await pilot.press("P")
        await settle(pilot)
        assert foreign_ids(screen)[0] == "order-9"


async def test_ctrl_t_switches_to_the_light_theme_and_recolours_the_run_states(real_store):
    url, ids = real_store
    app = make_app(url)
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = runs_screen(app)
        dark = screen.query_one("#runs", VimTable).get_cell(ids["order-3"], "state").style  # running
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme == "textual-light"
        light = screen.query_one("#runs", VimTable).get_cell(ids["order-3"], "state").style
        assert light == app.theme_variables["primary"]
        assert light != dark


def where(screen: RunsScreen) -> str:
    return str(screen.query_one("#where", Static).render())


def headers(screen: RunsScreen) -> list[str]:
    return [column.label.plain for column in screen.query_one("#runs", VimTable).columns.values()]


async def _later_version(app: object, foreign_id: str, **changes: object) -> None:
    """Write the run's next version, stamped at the frozen clock (later than every fixed record)."""
    service = app.service  # type: ignore[attr-defined]
    store = service.admin.store
    run = next(r for r in await store.list(limit=100) if r.foreign_id == foreign_id)
    meta = replace(run.meta, version=run.meta.version + 1)
    await store.store(replace(run, meta=meta, updated_at=FROZEN, **changes))


async def test_s_cycles_the_sort_column_and_shift_s_reverses_it(fixed_store):
    app = make_app(fixed_store)
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = runs_screen(app)
        await _later_version(app, "order-0003", run_state=RunState.PAUSED)  # now version 5, updated last
        await pilot.press("R")
        await settle(pilot)
        short = [f"order-000{n}" for n in (6, 5, 4, 3, 2, 1)]
        assert foreign_ids(screen) == short
        assert "sort: created ▼" in where(screen)
        assert headers(screen) == ["Workflow", "Foreign id", "Run", "Status", "State", "Ver", "Updated"]

        expected = [
            ("updated ▼", "Updated ▼", [3, 6, 5, 4, 2, 1]),
            ("status ▼", "Status ▼", [2, 6, 1, 5, 4, 3]),  # REJECTED 7, EXPIRED 6, FULFILLED 5, then 3s
            ("foreign id ▼", "Foreign id ▼", [6, 5, 4, 3, 2, 1]),
            ("version ▼", "Ver ▼", [1, 6, 5, 4, 3, 2]),  # 7, 6, then 5 5 5 newest first, then 4
        ]
        for name, header, order in expected:
            await pilot.press("s")
            await settle(pilot)
            assert foreign_ids(screen) == [f"order-000{n}" for n in order], name
            assert f"sort: {name}" in where(screen)
            assert header in headers(screen)
            assert sum("▲" in h or "▼" in h for h in headers(screen)) == 1

        await pilot.press("S")  # version, ascending: ties in creation order
        await settle(pilot)
        assert foreign_ids(screen) == [f"order-000{n}" for n in (2, 3, 4, 5, 6, 1)]
        assert "Ver ▲" in headers(screen)
        assert "sort: version ▲" in where(screen)
        await pilot.press("s")  # back to creation order, still ascending
        await settle(pilot)
        assert foreign_ids(screen) == short[::-1]
        assert "sort: created ▲" in where(screen)
        assert not any("▲" in h or "▼" in h for h in headers(screen))


async def test_paging_and_filters_keep_the_sort(fixed_store):
    app = make_app(fixed_store, page_size=2)
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = runs_screen(app)
        await pilot.press("s", "s")  # status, descending
        await settle(pilot)
        assert foreign_ids(screen) == ["order-0002", "order-0006"]
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert foreign_ids(screen) == ["order-0001", "order-0005"]
        assert "3-4 of 6 (page 2/3)" in where(screen)
        await pilot.press("S")  # reversing starts from the first page again
        await settle(pilot)
        assert foreign_ids(screen) == ["order-0003", "order-0004"]
        assert "1-2 of 6 (page 1/3)" in where(screen)
        await pilot.press("slash", *"state:paused,cancelled,completed", "enter")
        await settle(pilot)
        assert foreign_ids(screen) == ["order-0004", "order-0005"]  # status 3, 3, then 5, 6, 7
        assert "sort: status ▲" in where(screen)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert foreign_ids(screen) == ["order-0001", "order-0006"]
        await pilot.press("escape")
        await settle(pilot)
        assert foreign_ids(screen) == ["order-0003", "order-0004"]
        assert "sort: status ▲" in where(screen)


async def test_the_cursor_stays_on_its_run_when_the_sort_changes(fixed_store):
    app = make_app(fixed_store)
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = runs_screen(app)
        await pilot.press("j")  # order-0005
        await pilot.press("s", "s")  # status: order-0005 moves to the fourth row
        await settle(pilot)
        assert screen.selected_row().foreign_id == "order-0005"
        assert screen.query_one("#runs", VimTable).cursor_row == 3


def test_help_names_the_sort_keys_and_x_for_the_simulation() -> None:
    from wfkit.tui._keys import help_rows

    rows = {(keys, text) for _, keys, text in help_rows(("runs",), read_only=False)}
    assert ("s", "Sort by next column") in rows
    assert ("S", "Reverse sort") in rows
    assert ("x", "Simulation") in rows
