"""A workflow with an hourly reminder timeout, shared by the timer and simulator fast-path tests."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime, timedelta
from typing import Any

import wfkit


class Status(enum.IntEnum):
    START = 1
    WAITING = 2
    DONE = 3


@dataclasses.dataclass
class Doc:
    n: int = 0
    wait: float = 3600.0


def reminders(hours: int, timer: Any = None) -> wfkit.Builder[Doc, Status]:
    """START -> WAITING, then a timeout at WAITING (hourly by default) until `hours` have fired."""
    b = wfkit.Builder("reminders", Doc, Status)
    b.add_step(Status.START, lambda run: Status.WAITING, Status.WAITING)

    def remind(run: wfkit.Run[Doc, Status], now: datetime) -> Status:
        run.object.n += 1
        return Status.DONE if run.object.n >= hours else Status.WAITING

    timer = wfkit.after(timedelta(hours=1)) if timer is None else timer
    b.add_timeout(Status.WAITING, timer, remind, Status.WAITING, Status.DONE)
    return b
