"""Workflows shared by the tests."""

from __future__ import annotations

import dataclasses
import enum


class Status(enum.IntEnum):
    START = 1
    MIDDLE = 2
    END = 3


@dataclasses.dataclass
class Doc:
    text: str = ""
    steps: list[str] = dataclasses.field(default_factory=list)
