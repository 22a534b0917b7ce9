"""The crash test's workflow: five idempotent steps, S1 -> S2 -> S3 -> S4 -> S5 -> DONE.

Each step only appends its own name to the object and returns the next status, so running a step
again on the same version writes the same next version: a transition applied twice would show as
a repeated status in the run's history (or a doubled name in its object), never as a silent change.
`builder` is the `wfkit worker` target (`tests/crash/workflow.py:builder`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import itertools

import wfkit

NAME = "crash"


class Status(enum.IntEnum):
    S1 = 1
    S2 = 2
    S3 = 3
    S4 = 4
    S5 = 5
    DONE = 6


@dataclasses.dataclass
class Job:
    steps: list[str] = dataclasses.field(default_factory=list)


STEPS = 5
"""Transitions of a completed run: its history holds versions 1 (the trigger) to STEPS + 1."""


def builder(delay: float = 0.0) -> wfkit.Builder[Job, Status]:
    """The five-step workflow; each step first sleeps `delay` seconds (to keep runs in flight)."""
    b = wfkit.Builder(NAME, Job, Status)
    for here, there in itertools.pairwise(Status):

        async def step(run: wfkit.Run[Job, Status], here: Status = here, there: Status = there) -> Status:
            if delay:
                await asyncio.sleep(delay)
            run.object.steps.append(here.name)
            return there

        b.add_step(here, step, there)
    return b
