"""Small widgets shared by screens: a DataTable with vim keys, and the run-state chips."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.content import Content
from textual.widgets import DataTable

from wfkit import RunState
from wfkit.tui._format import SHOWN_STATES, state_glyph, state_variable, state_word
from wfkit.tui._keys import bindings


class VimTable(DataTable[Text]):
    """A row-cursor DataTable that also moves with j/k and g/G."""

    BINDINGS = bindings("table")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)

    def current_key(self) -> str | None:
        """The RowKey value under the cursor, if any."""
        if not self.row_count or self.cursor_row < 0:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None


def chips(counts: Mapping[RunState, int], selected: tuple[RunState, ...] = ()) -> Content:
    """`all 42  ▶ running 3  ‖ paused 1 …`: non-zero states only; selected states reversed."""
    total = sum(counts.values())
    parts: list[str | tuple[str, str]] = [("all", "bold"), f" {total}"]
    for state in SHOWN_STATES:
        n = counts.get(state, 0)
        if not n and state not in selected:
            continue
        var = state_variable(state)
        style = f"${var}" if var else ""
        if state in selected:
            style = f"{style} reverse".strip()
        parts += ["  ", (f"{state_glyph(state)} {state_word(state)}", style), f" {n}"]
    return Content.assemble(*parts)
