"""SVG snapshots of the main screens at 80x24, over fixed records and a frozen clock.

Regenerate after a deliberate change (or a Textual upgrade) with
`pytest tests/tui/test_tui_snapshots.py --snapshot-update`, and review the SVGs in the diff.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from _tuiapp import make_app, settle
from _tuitrace import trace_lines, write
from textual.pilot import Pilot


def keys(*pressed: str) -> Callable[[Pilot[Any]], Any]:
    """A `run_before` that waits for the first load, presses keys, and waits for the store again."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in pressed:
            await pilot.press(key)
            await settle(pilot)

    return run_before


class TestTUILooks:
    def test_runs_screen(self, snap_compare: Any, fixed_store: str) -> None:
        assert snap_compare(make_app(fixed_store), run_before=keys())

    def test_runs_screen_filtered(self, snap_compare: Any, fixed_store: str) -> None:
        assert snap_compare(make_app(fixed_store), run_before=keys("slash", *"state:paused,running", "enter"))

    def test_runs_screen_sorted_by_status(self, snap_compare: Any, fixed_store: str) -> None:
        assert snap_compare(make_app(fixed_store), run_before=keys("s", "s", "S"))

    def test_run_detail(self, snap_compare: Any, fixed_store: str) -> None:
        assert snap_compare(make_app(fixed_store), run_before=keys("j", "j", "enter"))

    def test_run_detail_object_tab(self, snap_compare: Any, fixed_store: str) -> None:
        assert snap_compare(make_app(fixed_store), run_before=keys("G", "enter", "2"))

    def test_replay_at_step_5_with_diff(self, snap_compare: Any, fixed_store: str) -> None:
        run_before = keys("G", "enter", "v", *"]]]]", "d")
        assert snap_compare(make_app(fixed_store), run_before=run_before)

    def test_replay_seek_input(self, snap_compare: Any, fixed_store: str) -> None:
        assert snap_compare(make_app(fixed_store), run_before=keys("G", "enter", "v", "S"))

    def test_trace_replay_at_step_3_with_diff(
        self, snap_compare: Any, fixed_store: str, tmp_path: Path
    ) -> None:
        app = make_app(fixed_store)
        app.trace = write(tmp_path / "trace.jsonl", trace_lines())
        assert snap_compare(app, run_before=keys(*"jjjjj", "v", "right_square_bracket", "d"))

    def test_graph_of_a_run(self, snap_compare: Any, fixed_store: str) -> None:
        assert snap_compare(make_app(fixed_store), run_before=keys("G", "k", "k", "f"))

    def test_workflows(self, snap_compare: Any, fixed_store: str) -> None:
        assert snap_compare(make_app(fixed_store), run_before=keys("w"))

    def test_help(self, snap_compare: Any, fixed_store: str) -> None:
        assert snap_compare(make_app(fixed_store), run_before=keys("question_mark"))

    def test_confirm_cancel(self, snap_compare: Any, fixed_store: str) -> None:
        assert snap_compare(make_app(fixed_store), run_before=keys("j", "j", "c"))

    def test_light_theme(self, snap_compare: Any, fixed_store: str) -> None:
        assert snap_compare(make_app(fixed_store, dark=False), run_before=keys())
