"""`/` filter by age (`age:<1h`, `age:>2d`, `age:1h..2d`): parsing, and the store queried against the
app's clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from _tuiapp import make_app, settle
from _tuiseed import FROZEN
from textual.widgets import Input, Static

from wfkit import RecordFilter, RunState
from wfkit.testing import FakeClock
from wfkit.tui._runs import RunsScreen
from wfkit.tui._service import FilterError, has_age, parse_age, parse_duration, parse_filter

NOW = FROZEN


def test_durations_take_every_unit_and_combine() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("5m") == timedelta(minutes=5)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration("1w") == timedelta(weeks=1)
    assert parse_duration("0.25s") == timedelta(milliseconds=250)
    assert parse_duration("500ms") == timedelta(milliseconds=500)
    assert parse_duration("2H") == timedelta(hours=2)


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("5", "'5' has no unit: write 5s, 5m, 5h or 5d"),
        ("5y", "is not a duration: write it like 90s, 5m, 1h30m, 2d or 1w"),
        ("", "is not a duration"),
        ("-1h", "is not a duration"),
        ("1h and", "is not a duration"),
    ],
)
def test_a_bad_duration_names_the_fix(text: str, fix: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_duration(text)
    assert fix in str(caught.value)


def test_age_reads_newer_older_and_ranges() -> None:
    hour, day = timedelta(hours=1), timedelta(days=1)
    assert parse_age("<1h") == (hour, None)
    assert parse_age("1h") == (hour, None)  # a bare age means "within"
    assert parse_age(">1d") == (None, day)
    assert parse_age("<=1h") == (hour, None)
    assert parse_age("1h..1d") == (day, hour)
    assert parse_age("1d..1h") == (day, hour)  # either order
    assert parse_age("1h..") == (None, hour)
    assert parse_age("..1d") == (day, None)


def test_age_bounds_the_creation_time_against_now() -> None:
    filters, workflow = parse_filter("age:<1h", [], now=NOW)
    assert filters == RecordFilter(created_after=NOW - timedelta(hours=1))
    assert workflow is None
    filters, _ = parse_filter("age:>2d", [], now=NOW)
    assert filters == RecordFilter(created_before=NOW - timedelta(days=2))
    filters, _ = parse_filter("age:1h..1d state:paused", [], now=NOW)
    assert filters.created_after == NOW - timedelta(days=1)
    assert filters.created_before == NOW - timedelta(hours=1)
    assert tuple(filters.run_states) == (RunState.PAUSED,)
    filters, _ = parse_filter("age:<2d age:<1h age:>5m", [], now=NOW)  # several narrow each other
    assert filters.created_after == NOW - timedelta(hours=1)
    assert filters.created_before == NOW - timedelta(minutes=5)


def test_without_age_no_clock_is_needed_and_with_it_one_is() -> None:
    assert parse_filter("state:paused order-7", []) == (
        RecordFilter(foreign_ids=("order-7",), run_states=(RunState.PAUSED,)),
        None,
    )
    with pytest.raises(ValueError, match="now="):
        parse_filter("age:<1h", [])


@pytest.mark.parametrize("value", ["<1x", "<", "1h..x", "..", "soon"])
def test_a_bad_age_is_a_filter_error_that_names_the_syntax(value: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(f"age:{value}", [], now=NOW)
    message = str(caught.value)
    assert message.startswith(f"bad age {value!r}")
    assert "age:<1h (newer than), age:>2d (older than) or age:1h..2d (between)" in message


def test_unknown_keys_now_list_age() -> None:
    with pytest.raises(FilterError, match=r"use status:, state:, id:, wf: or age:"):
        parse_filter("colour:red", [], now=NOW)


def test_has_age_spots_the_key_only() -> None:
    assert has_age("state:paused age:<1h")
    assert has_age("AGE=>2d")
    assert not has_age("state:paused order-age")
    assert not has_age("")


# -- on the runs screen: fixed runs created 60, 53, 46, 39, 32 and 25 minutes before the frozen clock


def runs_screen(app: object) -> RunsScreen:
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, RunsScreen)
    return screen


def foreign_ids(screen: RunsScreen) -> list[str]:
    return [row.foreign_id for row in screen.rows.values()]


async def filter_with(pilot: object, text: str) -> None:
    await pilot.press("slash", "ctrl+u", *text, "enter")  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]


async def test_age_filters_are_pushed_to_the_store_against_the_apps_clock(fixed_store):
    app = make_app(fixed_store)
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = runs_screen(app)
        await filter_with(pilot, "age:<40m")
        assert foreign_ids(screen) == ["order-0006", "order-0005", "order-0004"]
        assert screen.query_state.filters.created_after == FROZEN - timedelta(minutes=40)
        where = str(screen.query_one("#where", Static).render())
        assert "1-3 of 3" in where
        assert "filter: age:<40m" in where
        assert "all 3" in str(screen.query_one("#chips", Static).render())  # chips count under the filter
        await filter_with(pilot, "age:>50m")
        assert foreign_ids(screen) == ["order-0002", "order-0001"]
        await filter_with(pilot, "age:30m..50m state:paused,running")
        assert foreign_ids(screen) == ["order-0004", "order-0003"]
        await pilot.press("escape")
        await settle(pilot)
        assert len(screen.rows) == 6


async def test_a_live_age_window_slides_with_the_clock(fixed_store):
    clock = FakeClock(FROZEN)
    app = make_app(fixed_store, clock=clock)
    async with app.run_test() as pilot:
        await settle(pilot)
        screen = runs_screen(app)
        await filter_with(pilot, "age:<40m")
        assert len(screen.rows) == 3
        clock.step(timedelta(minutes=5))  # order-0004 (39 minutes old) is now 44 minutes old
        await pilot.press("R")
        await settle(pilot)
        assert foreign_ids(screen) == ["order-0006", "order-0005"]


async def test_a_bad_age_is_a_notification_and_keeps_the_table(fixed_store):
    app = make_app(fixed_store)
    async with app.run_test(notifications=True) as pilot:
        await settle(pilot)
        screen = runs_screen(app)
        await filter_with(pilot, "age:<5")
        messages = [n.message for n in app._notifications]
        assert any("bad age '<5'" in m and "write 5s, 5m, 5h or 5d" in m for m in messages)
        assert len(screen.rows) == 6
        assert screen.query_one("#filter", Input).has_class("open")  # left open to fix it


async def test_the_filter_box_shows_every_key_at_80_columns(fixed_store):
    app = make_app(fixed_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        box = runs_screen(app).query_one("#filter", Input)
        assert "age:<1h" in box.placeholder
        assert len(box.placeholder) <= box.content_region.width
