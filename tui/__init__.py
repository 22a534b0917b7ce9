"""wfkit.tui: the Textual terminal UI behind `wfkit tui` (needs the `tui` extra).

`WfkitApp(backend, config=TuiConfig(...), clock=...)` is the app; tests build it with a frozen
clock and a seeded store.
"""

from wfkit.tui._app import WfkitApp
from wfkit.tui._config import TuiConfig

__all__ = ["TuiConfig", "WfkitApp"]
