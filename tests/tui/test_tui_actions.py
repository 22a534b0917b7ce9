"""Run detail and run control: fields, object, history; confirm, act, notify; trigger and callback."""

from __future__ import annotations

from typing import Any

from _tuiapp import make_app, settle
from _tuiseed import orders_builder
from textual.pilot import Pilot
from textual.widgets import Input, Static, TabbedContent, TextArea

from wfkit import RecordFilter, RunState, SystemClock
from wfkit.tui._detail import RunDetailScreen
from wfkit.tui._modals import AskModal, ConfirmModal, TriggerModal
from wfkit.tui._runs import RunsScreen
from wfkit.tui._widgets import VimTable


async def select(pilot: Pilot[Any], foreign_id: str) -> RunsScreen:
    """Move the runs table's cursor to the run of `foreign_id`."""
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    table = screen.query_one("#runs", VimTable)
    run_id = next(r.run_id for r in screen.rows.values() if r.foreign_id == foreign_id)
    table.move_cursor(row=table.get_row_index(run_id))
    await pilot.pause()
    return screen


async def state_of(pilot: Pilot[Any], run_id: str) -> RunState:
    service = pilot.app.service  # type: ignore[attr-defined]
    return (await service.admin.lookup(run_id)).run_state  # type: ignore[no-any-return]


def messages(app: Any) -> list[str]:
    return [n.message for n in app._notifications]


async def test_detail_shows_fields_reason_object_and_history(real_store):
    url, ids = real_store
    app = make_app(url)
    async with app.run_test(size=(100, 30)) as pilot:
        await select(pilot, "order-4")
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunDetailScreen)
        metrics = str(screen.query_one("#metrics", Static).render())
        assert "PAYMENT_PENDING" in metrics
        assert "‖ paused" in metrics
        assert ids["order-4"] in metrics
        assert "reason: waiting for the warehouse" in metrics
        versions = screen.query_one("#versions", VimTable)
        history = await app.service.admin.history(ids["order-4"])
        assert versions.row_count == len(history) == 4
        assert versions.get_cell("4", "state").plain == "‖ paused"
        assert versions.get_cell("1", "status").plain == "CREATED"
        await pilot.press("2")
        assert screen.query_one(TabbedContent).active == "object"
        assert '"lamp"' in str(screen.query_one("#object-json", Static).render())
        await pilot.press("3")
        assert "CREATED → VALIDATED → PAYMENT_PENDING" in str(screen.query_one("#path-text", Static).render())
        await pilot.press("4")
        assert screen.query_one(TabbedContent).active == "events"
        events = screen.query_one("#events-table", VimTable)
        assert events.row_count == 4  # one event per version
        assert events.get_cell("1", "topic").plain == "orders-1"  # a new run is announced on CREATED's topic
        assert events.get_cell("4", "topic").plain == "orders-run-state-change"  # the pause
        assert "run_state=3 record_version=4" in events.get_cell("4", "headers").plain  # 3: paused


async def test_pause_asks_for_a_reason_then_pauses_and_notifies(real_store):
    url, ids = real_store
    app = make_app(url, clock=SystemClock())
    async with app.run_test(notifications=True) as pilot:
        screen = await select(pilot, "order-3")
        await pilot.press("p")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press(*"stock check", "enter")
        await settle(pilot)
        assert app.screen is screen
        record = await app.service.admin.lookup(ids["order-3"])
        assert record.run_state is RunState.PAUSED
        assert record.meta.run_state_reason == "stock check"
        assert "paused order-3: now paused" in messages(app)
        assert screen.rows[ids["order-3"]].run_state is RunState.PAUSED  # the table refreshed


async def test_escape_in_the_confirm_modal_changes_nothing(real_store):
    url, ids = real_store
    app = make_app(url)
    async with app.run_test() as pilot:
        await select(pilot, "order-3")
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("escape")
        await settle(pilot)
        assert await state_of(pilot, ids["order-3"]) is RunState.RUNNING


async def test_resume_cancel_and_delete_data_from_the_detail_screen(real_store):
    url, ids = real_store
    app = make_app(url, clock=SystemClock())
    async with app.run_test(notifications=True) as pilot:
        await select(pilot, "order-4")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("r")
        await pilot.click("#confirm")
        await settle(pilot)
        assert await state_of(pilot, ids["order-4"]) is RunState.RUNNING
        assert "resumed order-4: now running" in messages(app)
        await pilot.press("c", *"gone", "enter")
        await settle(pilot)
        assert await state_of(pilot, ids["order-4"]) is RunState.CANCELLED
        await pilot.press("D", "enter")
        await settle(pilot)
        assert await state_of(pilot, ids["order-4"]) is RunState.REQUESTED_DATA_DELETED
        metrics = str(app.screen.query_one("#metrics", Static).render())
        assert "∅ requested data deleted" in metrics


async def test_an_action_the_run_state_forbids_is_an_error_notification(real_store):
    url, ids = real_store
    app = make_app(url)
    async with app.run_test(notifications=True) as pilot:
        await select(pilot, "order-1")  # completed
        await pilot.press("r")
        await pilot.click("#confirm")
        await settle(pilot)
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors
        assert errors[-1].title == "resume failed"
        assert await state_of(pilot, ids["order-1"]) is RunState.COMPLETED


async def test_read_only_removes_every_mutating_key(real_store):
    url, ids = real_store
    app = make_app(url, read_only=True)
    async with app.run_test() as pilot:
        screen = await select(pilot, "order-3")
        for key in ("p", "c", "r", "D", "t", "b", "ctrl+r"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is screen, key
        for action in ("pause", "resume", "retry", "cancel", "delete_data", "trigger", "callback"):
            assert screen.check_action(action, ()) is False
        assert await state_of(pilot, ids["order-3"]) is RunState.RUNNING


async def test_trigger_without_the_workflow_says_how_to_load_it(real_store):
    url, _ = real_store
    app = make_app(url)
    async with app.run_test(notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("t")
        assert not isinstance(app.screen, TriggerModal)
        assert any("--workflow module:attr" in m for m in messages(app))


async def test_trigger_validates_the_json_object_then_starts_a_run(real_store):
    url, _ = real_store
    app = make_app(url, clock=SystemClock(), builder=orders_builder())
    async with app.run_test(notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("t")
        modal = app.screen
        assert isinstance(modal, TriggerModal)
        await pilot.press(*"order-77")
        modal.query_one("#object", TextArea).text = '{"items": ["mug"], "total": "free"'
        await pilot.press("ctrl+s")
        assert app.screen is modal
        assert "not valid JSON" in str(modal.query_one("#error", Static).render())
        modal.query_one("#object", TextArea).text = '{"id": "order-77", "items": ["mug"], "total": "free"}'
        await pilot.press("ctrl+s")
        assert app.screen is modal
        assert "total" in str(modal.query_one("#error", Static).render())
        modal.query_one("#object", TextArea).text = '{"id": "order-77", "items": ["mug"], "total": 8.25}'
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen)
        runs = await app.service.admin.list("orders", filters=RecordFilter(foreign_ids=("order-77",)))
        assert len(runs) == 1
        assert any(m.startswith("triggered order-77: run ") for m in messages(app))


async def test_callback_sends_the_payload_to_a_waiting_run(real_store):
    url, ids = real_store
    app = make_app(url, clock=SystemClock(), builder=orders_builder())
    async with app.run_test(notifications=True) as pilot:
        await select(pilot, "order-3")  # waiting at PAYMENT_PENDING for 30.0
        await pilot.press("b")
        assert isinstance(app.screen, AskModal)
        app.screen.query_one("#payload", Input).value = '{"amount": 30.0}'
        await pilot.press("enter")
        await settle(pilot)
        assert "callback sent to order-3" in messages(app)
        # The callback's own transition is written at once; the steps after it are a worker's.
        record = await app.service.admin.lookup(ids["order-3"])
        assert record.status == 4  # PAID


async def test_callback_to_a_status_without_one_is_refused(real_store):
    url, _ = real_store
    app = make_app(url, builder=orders_builder())
    async with app.run_test(notifications=True) as pilot:
        await select(pilot, "order-1")  # FULFILLED
        await pilot.press("b")
        await pilot.press(*"x", "enter")
        await settle(pilot)
        assert any("takes no callback" in m for m in messages(app))
