"""What a `WfkitApp` is told at start (`TuiConfig`), and the one fact kept between runs: the last store.

Tests build a frozen, deterministic app from a config and a clock (TUI.md pitfall 10), so nothing
here reads the environment except `state_dir`, which the CLI calls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from wfkit.adapters import mask_url

POLL_CHOICES = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Live-refresh intervals `ctrl+l` cycles through, in seconds (k9s 2 s, luno 2-30 s)."""


@dataclass(frozen=True, slots=True)
class TuiConfig:
    """How the app behaves: read-only, polling, paging, and what counts as stuck."""

    store_label: str = ""
    """What the header calls the store (a URL with its password masked)."""
    read_only: bool = False
    """Remove every action that writes to the store (trigger, pause, resume, retry, cancel, delete)."""
    poll_interval: float = 2.0
    """Seconds between live refreshes of the visible screen."""
    live: bool = True
    """Start polling (False starts paused, as tests and snapshots want)."""
    page_size: int = 200
    """Runs per page: the runs table never holds more."""
    stuck_after: timedelta = timedelta(minutes=5)
    """A running run not updated for this long counts as stuck in the workflows overview."""
    stuck_scan: int = 1000
    """At most this many active runs per workflow are looked at to count stuck ones."""
    play_every: float = 0.8
    """Seconds between steps while a replay plays."""
    dark: bool = True
    """Start with the dark theme (`ctrl+t` toggles)."""


def state_dir() -> Path:
    """Where wfkit keeps small state: `$XDG_STATE_HOME/wfkit`, else `~/.local/state/wfkit`."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "wfkit"


def _state_file(directory: Path | None) -> Path:
    return (directory or state_dir()) / "last-store"


def last_store(directory: Path | None = None) -> str | None:
    """The store URL `remember_store` wrote last, if any."""
    try:
        text = _state_file(directory).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def remember_store(url: str, directory: Path | None = None) -> bool:
    """Keep `url` for the next `wfkit tui` without a URL; False when not kept.

    A URL holding a password is never written to disk, and a relative SQLite path is made absolute
    so it still names the same file from another directory.
    """
    if mask_url(url) != url:
        return False
    url = absolute_sqlite_url(url)
    path = _state_file(directory)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(url + "\n", encoding="utf-8")
    except OSError:
        return False
    return True


def sqlite_path(url: str) -> Path | None:
    """The file a `sqlite:///relative.db` or `sqlite:////absolute.db` URL names (None for other URLs)."""
    if not url.lower().startswith("sqlite:///"):
        return None
    rest = url[len("sqlite:///") :].split("?", 1)[0]
    return Path(rest)


def absolute_sqlite_url(url: str) -> str:
    """`url` with a relative SQLite path made absolute; other URLs unchanged."""
    path = sqlite_path(url)
    if path is None or path.is_absolute():
        return url
    return f"sqlite:///{(Path.cwd() / path).resolve()}"
