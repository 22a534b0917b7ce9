"""`wf.mermaid()` (inventory §5, item 34).

wfkit departs from luno on purpose: luno writes a file with numeric node ids and `<<choice>>`
branch states; wfkit returns a `stateDiagram-v2` text with one line per edge written with enum
names, `[*] -->` for each start and `--> [*]` for each terminal.
"""

from __future__ import annotations

import dataclasses
import enum
import re

import wfkit
from wfkit.testing import WorkflowEnv

EDGE = re.compile(r"^\s*(\w+) --> (\w+)(?:\s*:\s*\w+)?$")


class Status(enum.IntEnum):
    START = 9
    MIDDLE = 10
    END = 11
    APPROVAL = 12
    REJECTED = 13


@dataclasses.dataclass
class Doc:
    text: str = ""


def edges(diagram: str) -> list[tuple[str, str]]:
    return [(m[1], m[2]) for line in diagram.splitlines() if (m := EDGE.match(line))]


def test_mermaid_diagram_of_luno_example(wfkit_env: WorkflowEnv) -> None:
    b = wfkit.Builder("example", Doc, Status)
    b.add_step(Status.START, lambda run: Status.MIDDLE, Status.MIDDLE, Status.END)
    b.add_step(Status.MIDDLE, lambda run: Status.END, Status.END)
    diagram = wfkit_env.build(b).mermaid()
    lines = [line.strip() for line in diagram.splitlines()]
    assert "stateDiagram-v2" in lines
    assert lines.index("stateDiagram-v2") < lines.index("START --> MIDDLE")
    assert edges(diagram) == [("START", "MIDDLE"), ("START", "END"), ("MIDDLE", "END")]
    assert lines.count("[*] --> START") == 1
    assert lines.count("END --> [*]") == 1
    assert not any(line.startswith("[*] --> ") and line != "[*] --> START" for line in lines)
    assert not any(line.endswith(" --> [*]") and line != "END --> [*]" for line in lines)
    assert "example" in diagram


def test_mermaid_marks_every_start_and_terminal(wfkit_env: WorkflowEnv) -> None:
    b = wfkit.Builder("approvals", Doc, Status)
    b.add_step(Status.START, lambda run: Status.MIDDLE, Status.MIDDLE)
    b.add_callback(Status.MIDDLE, lambda run, payload: Status.END, Status.END, Status.REJECTED)
    b.add_timeout(Status.MIDDLE, wfkit.after(60), lambda run, now: Status.REJECTED, Status.REJECTED)
    b.add_callback(Status.APPROVAL, lambda run, payload: Status.MIDDLE, Status.MIDDLE)
    diagram = wfkit_env.build(b).mermaid()
    lines = [line.strip() for line in diagram.splitlines()]
    # Every declared transition once, whatever drives it (a step, a callback or a timeout).
    assert sorted(edges(diagram)) == sorted(
        [
            ("START", "MIDDLE"),
            ("MIDDLE", "END"),
            ("MIDDLE", "REJECTED"),
            ("APPROVAL", "MIDDLE"),
        ]
    )
    assert {line for line in lines if line.startswith("[*] -->")} == {"[*] --> START", "[*] --> APPROVAL"}
    assert {line for line in lines if line.endswith("--> [*]")} == {"END --> [*]", "REJECTED --> [*]"}
