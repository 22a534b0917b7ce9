"""Modal screens: confirm an action, trigger a run, send a callback, and the generated help."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from wfkit._errors import WfkitError

_MODAL_CSS = """
ModalScreen { align: center middle; }
ModalScreen > Vertical {
    width: 70; max-width: 95%; height: auto; max-height: 90%;
    border: thick $primary; background: $surface; padding: 0 1;
}
ModalScreen .title { text-style: bold; margin-bottom: 1; }
ModalScreen .error { color: $error; height: auto; }
ModalScreen .buttons { height: auto; align-horizontal: right; margin-top: 1; }
ModalScreen Button { margin-left: 1; }
ModalScreen TextArea { height: 8; }
"""


class ConfirmModal(ModalScreen[str | None]):
    """Ask before an action; dismisses with the reason typed (maybe empty), or None to keep things."""

    DEFAULT_CSS = _MODAL_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Keep", show=False)]

    def __init__(self, title: str, body: str, confirm: str, *, ask_reason: bool = False) -> None:
        super().__init__()
        self._title, self._body, self._confirm, self._ask_reason = title, body, confirm, ask_reason

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title")
            yield Static(self._body)
            if self._ask_reason:
                yield Input(placeholder="reason (optional)", id="reason")
            with Horizontal(classes="buttons"):
                yield Button("Keep", id="keep")
                yield Button(self._confirm, id="confirm", variant="warning")

    def on_mount(self) -> None:
        if self._ask_reason:
            self.query_one("#reason", Input).cursor_blink = False
            self.query_one("#reason", Input).focus()
        else:
            self.query_one("#confirm", Button).focus()

    def _reason(self) -> str:
        return self.query_one("#reason", Input).value.strip() if self._ask_reason else ""

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(self._reason())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self._reason() if event.button.id == "confirm" else None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class TriggerModal(ModalScreen[tuple[str, str] | None]):
    """A foreign id and an initial object as JSON, checked before the modal closes."""

    DEFAULT_CSS = _MODAL_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Cancel", show=False),
        Binding("ctrl+s", "submit", "Trigger", show=False),
    ]

    def __init__(self, workflow: str, check: Callable[[str], object]) -> None:
        super().__init__()
        self._workflow, self._check = workflow, check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Trigger a {self._workflow} run", classes="title")
            yield Input(placeholder="foreign id", id="foreign-id")
            yield Label("initial object (JSON; empty for the default), ctrl+s to trigger")
            yield TextArea("", id="object", language=None, soft_wrap=True)
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="keep")
                yield Button("Trigger", id="confirm", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#foreign-id", Input).cursor_blink = False
        self.query_one("#object", TextArea).cursor_blink = False
        self.query_one("#foreign-id", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#object", TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_submit(self) -> None:
        foreign_id = self.query_one("#foreign-id", Input).value.strip()
        text = self.query_one("#object", TextArea).text
        error = self.query_one("#error", Static)
        if not foreign_id:
            error.update("a foreign id is needed: the business key of the run, like order-42")
            return
        try:
            self._check(text)
        except WfkitError as exc:
            error.update(str(exc))
            return
        self.dismiss((foreign_id, text))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class AskModal(ModalScreen[str | None]):
    """One line of input (a callback payload, a seed, a replay seek); None when dismissed.

    `hint`, when given, is a line under the title saying what the input accepts.
    """

    DEFAULT_CSS = _MODAL_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Cancel", show=False)]

    def __init__(self, title: str, placeholder: str = "", send: str = "Send", *, hint: str = "") -> None:
        super().__init__()
        self._title, self._placeholder, self._send, self._hint = title, placeholder, send, hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title")
            if self._hint:
                yield Static(self._hint, id="hint", classes="muted")
            yield Input(placeholder=self._placeholder, id="payload")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="keep")
                yield Button(self._send, id="confirm", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#payload", Input).cursor_blink = False
        self.query_one("#payload", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self.query_one("#payload", Input).value if event.button.id == "confirm" else None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Every key of the current screen and the global ones, from the key table."""

    DEFAULT_CSS = _MODAL_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss_none", "Close", show=False)
    ]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self._rows = rows

    def compose(self) -> ComposeResult:
        parts: list[str | tuple[str, str]] = []
        section = ""
        for name, key, description in self._rows:
            if name != section:
                parts += ["\n" if parts else "", (name, "bold"), "\n"]
                section = name
            parts += ["  ", (f"{key:<14}", "$accent"), f" {description}\n"]
        with Vertical():
            yield Label("Keys (esc closes)", classes="title")
            with VerticalScroll():
                yield Static(Content.assemble(*parts), id="keys")

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
