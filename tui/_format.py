"""How values look on screen: run-state glyphs, relative times, short ids, the object as JSON.

Pure functions of their arguments (the time reference is passed in), so screens render the same
for a frozen clock. Colours are theme variable names, resolved by the caller against the theme.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from rich.text import Text

from wfkit import RunState

_GLYPHS: dict[RunState, tuple[str, str]] = {
    RunState.UNKNOWN: ("?", ""),
    RunState.INITIATED: ("◌", "primary"),
    RunState.RUNNING: ("▶", "primary"),
    RunState.PAUSED: ("‖", "warning"),
    RunState.CANCELLED: ("✕", "error"),
    RunState.COMPLETED: ("✓", "success"),
    RunState.DATA_DELETED: ("∅", ""),
    RunState.REQUESTED_DATA_DELETED: ("∅", "warning"),
}
SHOWN_STATES = tuple(s for s in RunState if s.valid)
"""Run states that get a chip, in lifecycle order."""


def state_word(state: RunState) -> str:
    """`running`, `data deleted`: the lower-case label."""
    return state.label.lower()


def state_glyph(state: RunState) -> str:
    return _GLYPHS[state][0]


def state_variable(state: RunState) -> str:
    """The theme variable (`success`, `warning`, ...) a state is drawn in; empty for the default."""
    return _GLYPHS[state][1]


def state_text(state: RunState, colors: dict[str, str]) -> Text:
    """Glyph and word, coloured from `colors` (theme variables): never colour alone."""
    style = colors.get(state_variable(state), "") if state_variable(state) else ""
    return Text(f"{state_glyph(state)} {state_word(state)}", style=style)


def short_id(run_id: str, n: int = 8) -> str:
    return run_id[:n]


def ago(when: datetime, now: datetime) -> str:
    """`now`, `12s ago`, `5m ago`, `3h ago`, `2d ago` (future times read `in 5m`)."""
    seconds = (now - when).total_seconds()
    text = span(abs(seconds))
    if text == "0s":
        return "now"
    return f"{text} ago" if seconds >= 0 else f"in {text}"


def span(seconds: float) -> str:
    """A length of time in its largest whole unit: `45s`, `5m`, `3h`, `2d`."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def duration(created: datetime, updated: datetime, state: RunState, now: datetime) -> str:
    """How long a run took (finished) or has taken so far (active)."""
    end = updated if state.finished else now
    delta = max(end - created, timedelta(0))
    seconds = delta.total_seconds()
    return f"{seconds:.1f}s" if seconds < 10 else span(seconds)


def stamp(when: datetime) -> str:
    """An absolute time to the second, UTC."""
    return when.strftime("%Y-%m-%d %H:%M:%S")


def object_json(data: bytes) -> str:
    """The object as indented JSON, or a note saying why it cannot be shown as JSON."""
    if not data:
        return "(empty)"
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return f"(not JSON: {len(data)} bytes) {data[:200]!r}"
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def object_value(data: bytes) -> object:
    """The object decoded from JSON, or None when it is not JSON."""
    try:
        return json.loads(data) if data else None
    except (ValueError, UnicodeDecodeError):
        return None


def diff_lines(before: bytes | None, after: bytes) -> list[tuple[str, str]]:
    """Changed top-level and nested keys between two JSON objects as (`+`/`-`/`~`, text) pairs."""
    old, new = (object_value(before) if before is not None else None), object_value(after)
    out: list[tuple[str, str]] = []
    _diff("", old, new, out)
    return out


def _diff(path: str, old: object, new: object, out: list[tuple[str, str]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(("+", f"{sub} = {json.dumps(new[key], ensure_ascii=False)}"))
            elif key not in new:
                out.append(("-", f"{sub} = {json.dumps(old[key], ensure_ascii=False)}"))
            else:
                _diff(sub, old[key], new[key], out)
    elif old != new:
        name = path or "(object)"
        dumped = json.dumps(new, ensure_ascii=False)
        out.append(("~", f"{name}: {json.dumps(old, ensure_ascii=False)} → {dumped}"))
