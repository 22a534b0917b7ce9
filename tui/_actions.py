"""Run control from any screen that has a selected run: confirm, act in a worker, notify, refresh."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, ClassVar, cast

from textual import work
from textual.screen import Screen

from wfkit.tui._format import short_id, state_word
from wfkit.tui._keys import is_mutating
from wfkit.tui._modals import AskModal, ConfirmModal, TriggerModal

if TYPE_CHECKING:
    from wfkit.tui._app import WfkitApp
    from wfkit.tui._service import RunRow

# action: (question, button, asks for a reason, past tense)
_ASK = {
    "pause": ("Pause", "Pause", True, "paused"),
    "resume": ("Resume", "Resume", False, "resumed"),
    "retry": ("Retry", "Retry", False, "retried"),
    "cancel": ("Cancel", "Cancel run", True, "cancelled"),
    "delete_data": ("Delete the data of", "Delete data", True, "deleted the data of"),
}


class WfkitScreen(Screen[None]):
    """A screen of the app: knows its key scope and hides mutating keys when read-only."""

    SCOPE: ClassVar[str] = ""

    @property
    def wapp(self) -> WfkitApp:
        return cast("WfkitApp", self.app)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (is_mutating(action) and self.wapp.config.read_only)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()


class RunControl(WfkitScreen):
    """Pause, resume, retry, cancel, delete data and callback on `selected_row()`; trigger too."""

    def selected_row(self) -> RunRow | None:
        return None

    def after_action(self) -> None:
        """Called once an action has changed the store (screens refresh)."""

    def _ask(self, action: str) -> None:
        row = self.selected_row()
        if row is None:
            self.notify("select a run first", severity="warning")
            return
        question, button, reason, _ = _ASK[action]
        body = f"{row.workflow} run {short_id(row.run_id)} at {row.status_name}, {state_word(row.run_state)}"
        modal = ConfirmModal(f"{question} {row.foreign_id}?", body, button, ask_reason=reason)
        self.app.push_screen(modal, partial(self._confirmed, action, row))

    def _confirmed(self, action: str, row: RunRow, reason: str | None) -> None:
        if reason is not None:
            self._act(action, row, reason)

    @work(group="act")
    async def _act(self, action: str, row: RunRow, reason: str) -> None:
        service = await self.wapp.get_service()
        if service is None:
            return
        try:
            record = await service.act(action, row.run_id, reason)
        except Exception as exc:
            self.wapp.report(exc, f"{action.replace('_', ' ')} failed")
            return
        self.notify(f"{_ASK[action][3]} {row.foreign_id}: now {state_word(record.run_state)}")
        self.after_action()

    def action_pause(self) -> None:
        self._ask("pause")

    def action_resume(self) -> None:
        self._ask("resume")

    def action_retry(self) -> None:
        self._ask("retry")

    def action_cancel(self) -> None:
        self._ask("cancel")

    def action_delete_data(self) -> None:
        self._ask("delete_data")

    def action_trigger(self) -> None:
        service = self.wapp.service
        if service is None or service.workflow is None:
            self.notify(
                "trigger needs the workflow's code: start with --workflow module:attr", severity="warning"
            )
            return
        modal = TriggerModal(service.workflow.name, service.parse_object)
        self.app.push_screen(modal, self._triggered)

    def _triggered(self, answer: tuple[str, str] | None) -> None:
        if answer is not None:
            self._trigger(*answer)

    @work(group="act")
    async def _trigger(self, foreign_id: str, text: str) -> None:
        service = await self.wapp.get_service()
        if service is None:
            return
        try:
            run_id = await service.trigger(foreign_id, text)
        except Exception as exc:
            self.wapp.report(exc, "trigger failed")
            return
        self.notify(f"triggered {foreign_id}: run {short_id(run_id)}")
        self.after_action()

    def action_callback(self) -> None:
        row, service = self.selected_row(), self.wapp.service
        if row is None:
            self.notify("select a run first", severity="warning")
            return
        if service is None or service.workflow is None:
            self.notify(
                "callback needs the workflow's code: start with --workflow module:attr", severity="warning"
            )
            return
        title = f"Callback to {row.foreign_id} at {row.status_name}"
        self.app.push_screen(AskModal(title, 'payload, e.g. {"amount": 12.5}'), partial(self._send, row))

    def _send(self, row: RunRow, payload: str | None) -> None:
        if payload is not None:
            self._callback(row, payload)

    @work(group="act")
    async def _callback(self, row: RunRow, payload: str) -> None:
        service = await self.wapp.get_service()
        if service is None:
            return
        try:
            await service.callback(row, payload)
        except Exception as exc:
            self.wapp.report(exc, "callback failed")
            return
        self.notify(f"callback sent to {row.foreign_id}")
        self.after_action()
