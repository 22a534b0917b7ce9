"""The one key table: footer bindings, `?` help and the command palette are all generated from it.

Each screen's `BINDINGS` comes from `bindings(scope)`; mutating keys are marked so `--read-only`
removes them everywhere at once (screens' `check_action` asks `is_mutating`).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True, slots=True)
class Key:
    """One binding: Textual key names, the action, what it does, where it applies."""

    keys: str
    action: str
    description: str
    scope: str
    mutating: bool = False
    show: bool = True
    display: str | None = None


SCOPES = {
    "app": "Everywhere",
    "table": "Tables",
    "runs": "Runs",
    "detail": "Run detail",
    "replay": "Replay",
    "workflows": "Workflows",
    "graph": "Graph",
    "sim": "Simulation",
}

_RUN_ACTIONS = (
    Key("p", "pause", "Pause", "run", mutating=True),
    Key("r", "resume", "Resume", "run", mutating=True, show=False),
    Key("c", "cancel", "Cancel", "run", mutating=True),
    Key("ctrl+r", "retry", "Retry", "run", mutating=True, show=False),
    Key("D", "delete_data", "Delete data", "run", mutating=True, show=False),
    Key("b", "callback", "Callback", "run", mutating=True, show=False),
)


def _run_actions(scope: str) -> tuple[Key, ...]:
    return tuple(
        Key(k.keys, k.action, k.description, scope, k.mutating, k.show, k.display) for k in _RUN_ACTIONS
    )


KEYS: tuple[Key, ...] = (
    Key("q", "quit", "Quit", "app"),
    Key("question_mark,f1", "help", "Help", "app", display="?"),
    Key("ctrl+p", "command_palette", "Commands", "app", show=False, display="^p"),
    Key("ctrl+t", "toggle_dark", "Light/dark theme", "app", show=False, display="^t"),
    Key("j", "cursor_down", "Down", "table", show=False),
    Key("k", "cursor_up", "Up", "table", show=False),
    Key("g", "scroll_top", "First row", "table", show=False),
    Key("G", "scroll_bottom", "Last row", "table", show=False),
    Key("enter", "open", "Open", "runs"),
    Key("slash", "filter", "Filter", "runs", display="/"),
    Key("escape", "clear_filter", "Clear filter", "runs", show=False, display="esc"),
    Key("w", "workflows", "Workflows", "runs"),
    Key("f", "graph", "Graph", "runs", show=False),
    Key("t", "trigger", "Trigger", "runs", mutating=True, show=False),
    *_run_actions("runs"),
    Key("s", "cycle_sort", "Sort by next column", "runs", show=False),
    Key("S", "toggle_order", "Reverse sort", "runs", show=False),
    Key("right_square_bracket", "next_page", "Next page", "runs", show=False, display="]"),
    Key("left_square_bracket", "previous_page", "Previous page", "runs", show=False, display="["),
    Key("P", "toggle_live", "Live/paused", "runs"),
    Key("R", "refresh", "Refresh now", "runs", show=False),
    Key("ctrl+l", "cycle_interval", "Poll interval", "runs", show=False, display="^l"),
    Key("y", "copy_id", "Copy run id", "runs", show=False),
    Key("F", "follow", "Follow run", "runs", show=False),
    Key("colon", "goto", "Go to (:run ID, :runs WF)", "runs", show=False, display=":"),
    Key("e", "open_object", "Object in $PAGER", "runs", show=False),
    Key("x", "simulation", "Simulation", "runs", show=False),
    Key("escape", "back", "Back", "detail", display="esc"),
    Key("v", "replay", "Replay", "detail"),
    Key("f", "graph", "Graph", "detail"),
    Key("1", "tab('history')", "History tab", "detail", show=False),
    Key("2", "tab('object')", "Object tab", "detail", show=False),
    Key("3", "tab('path')", "Path tab", "detail", show=False),
    Key("4", "tab('events')", "Events tab", "detail", show=False),
    Key("R", "refresh", "Refresh", "detail", show=False),
    Key("y", "copy_id", "Copy run id", "detail", show=False),
    *_run_actions("detail"),
    Key("escape", "back", "Back", "replay", display="esc"),
    Key("left_square_bracket,h,left", "step(-1)", "Prev", "replay", display="["),
    Key("right_square_bracket,l,right", "step(1)", "Next", "replay", display="]"),
    Key("g,home", "first", "First step", "replay", show=False),
    Key("G,end", "last", "Last step", "replay", show=False),
    Key("S", "seek", "Seek", "replay"),
    Key("space", "play", "Play", "replay"),
    Key("d", "toggle_diff", "Diff", "replay"),
    Key("escape", "back", "Back", "workflows", display="esc"),
    Key("enter", "open", "Show runs", "workflows"),
    Key("f", "graph", "Graph", "workflows"),
    Key("R", "refresh", "Refresh", "workflows", show=False),
    Key("escape", "back", "Back", "graph", display="esc"),
    Key("c", "toggle_counts", "Counts on/off", "graph"),
    Key("escape", "back", "Back", "sim", display="esc"),
    Key("enter", "jump", "Jump to violation", "sim"),
    Key("left_square_bracket", "step(-1)", "Previous line", "sim", show=False, display="["),
    Key("right_square_bracket", "step(1)", "Next line", "sim", show=False, display="]"),
    Key("n", "run_seed", "Run a seed", "sim"),
    Key("v", "replay", "Replay", "sim"),
    Key("space", "play", "Play lines", "sim", show=False),
    Key("g,home", "first", "First line", "sim", show=False),
    Key("G,end", "last", "Last line", "sim", show=False),
)

MUTATING = frozenset(k.action for k in KEYS if k.mutating)


def is_mutating(action: str) -> bool:
    return action in MUTATING


def keys_for(scope: str) -> tuple[Key, ...]:
    return tuple(k for k in KEYS if k.scope == scope)


def bindings(scope: str) -> list[BindingType]:
    """Textual bindings for one scope, in table order."""
    return [
        Binding(k.keys, k.action, k.description, show=k.show, key_display=k.display, priority=False)
        for k in keys_for(scope)
    ]


def key_label(key: Key) -> str:
    """How the help shows a key: its display, or its names joined with `/`."""
    if key.display:
        return key.display
    names = {"question_mark": "?", "slash": "/", "escape": "esc", "ctrl+r": "^r", "ctrl+l": "^l"}
    return "/".join(names.get(part, part) for part in key.keys.split(","))


def help_rows(scopes: tuple[str, ...], read_only: bool) -> list[tuple[str, str, str]]:
    """(section, keys, description) rows for the help screen, without mutating keys when read-only."""
    return [
        (SCOPES[k.scope], key_label(k), k.description)
        for scope in scopes
        for k in keys_for(scope)
        if not (read_only and k.mutating)
    ]
