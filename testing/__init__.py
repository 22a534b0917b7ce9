"""wfkit.testing: a fake clock, luno's helpers, a ready workflow environment, the deterministic
simulator with fault injection, and the adapter contract suites."""

from __future__ import annotations

from wfkit.testing._clock import FakeClock
from wfkit.testing._env import WorkflowEnv
from wfkit.testing._faultplan import FaultPlan
from wfkit.testing._helpers import (
    await_timeout_insert,
    new_testing_run,
    require,
    trigger_callback_on,
    wait_for,
)
from wfkit.testing._oracle import Invariant, Violation
from wfkit.testing._report import Report
from wfkit.testing._simclock import SimClock
from wfkit.testing._simenv import SimEnv, SimRunner
from wfkit.testing._simloop import Deadlock, SimLoop
from wfkit.testing._simulate import simulate
from wfkit.testing._workload import Workload

__all__ = [
    "FakeClock",
    "WorkflowEnv",
    "await_timeout_insert",
    "new_testing_run",
    "require",
    "trigger_callback_on",
    "wait_for",
    "simulate",
    "FaultPlan",
    "Workload",
    "Report",
    "Violation",
    "Invariant",
    "SimClock",
    "SimEnv",
    "SimRunner",
    "SimLoop",
    "Deadlock",
]
