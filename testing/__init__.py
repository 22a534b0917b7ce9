"""wfkit.testing: a fake clock, luno's helpers, a ready workflow environment and contract suites."""

from __future__ import annotations

from wfkit.testing._clock import FakeClock
from wfkit.testing._env import WorkflowEnv
from wfkit.testing._helpers import (
    await_timeout_insert,
    new_testing_run,
    require,
    trigger_callback_on,
    wait_for,
)

__all__ = [
    "FakeClock",
    "WorkflowEnv",
    "await_timeout_insert",
    "new_testing_run",
    "require",
    "trigger_callback_on",
    "wait_for",
]
