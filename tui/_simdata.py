"""Simulation traces as the explorer reads them: a `wfkit simulate --trace` file, or a fresh `Report`.

A trace file is a header line (`"k":"header"`: seed, nodes, plan, workload, and optionally the
workflow's graph and the objects written, which are never hashed) and then one JSON line per
simulated fact, exactly as hashed. Parsing is lazy: a line is decoded only when shown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfkit import RunState, WorkflowInfo
from wfkit._errors import WfkitError
from wfkit.testing._trace import HEADER_GRAPH, HEADER_OBJECTS
from wfkit.tui._steps import Replay, Step, seconds

VIOLATION = '"k":"violation"'
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_RUN_PREFIX = re.compile(r"\brun ([0-9a-f]{8})\b")
_STATUS = re.compile(r'"s":(\d+)')


@dataclass(slots=True)
class SimTrace:
    """The header (may be empty), the lines, and the indices of violation lines."""

    header: dict[str, Any]
    lines: list[str]
    violations: list[int] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        if not self.violations:
            self.violations = [i for i, line in enumerate(self.lines) if VIOLATION in line]

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        """`seed 7 · 3 nodes · 20 runs · faults default · 1234 lines · 1 violation`."""
        h = self.header
        bits = []
        if "seed" in h:
            bits.append(f"seed {h['seed']}")
        if "nodes" in h:
            bits.append(f"{h['nodes']} nodes")
        runs = (h.get("workload") or {}).get("runs")
        if runs is not None:
            bits.append(f"{runs} runs")
        if h.get("plan"):
            bits.append(f"faults {h['plan']}")
        bits.append(f"{len(self.lines)} lines")
        n = len(self.violations)
        bits.append("no violations" if not n else f"{n} violation" + ("s" if n > 1 else ""))
        return " · ".join(bits)

    def fields(self, index: int) -> dict[str, Any]:
        """Line `index` decoded (an empty dict when it is not a JSON object)."""
        try:
            value = json.loads(self.lines[index])
        except (ValueError, IndexError):
            return {}
        return value if isinstance(value, dict) else {}

    def run_at(self, run_id: str, index: int) -> dict[str, Any] | None:
        """The last write of `run_id` at or before line `index` (status `s`, version `v`, state `rs`)."""
        needle = f'"run":"{run_id}"'
        for i in range(min(index, len(self.lines) - 1), -1, -1):
            line = self.lines[i]
            if needle in line and '"k":"write"' in line:
                return self.fields(i)
        return None

    def graph(self) -> WorkflowInfo | None:
        """The workflow's graph from the header, when the trace recorded it."""
        data = self.header.get(HEADER_GRAPH)
        if not isinstance(data, dict):
            return None
        try:
            return WorkflowInfo.from_dict(data)
        except (KeyError, TypeError, ValueError):
            return None

    def graph_for(self, info: WorkflowInfo | None = None) -> WorkflowInfo | None:
        """The graph that names this trace's statuses: the header's, else `info` (the loaded
        workflow's) when every status the trace writes is one of it; None when neither."""
        graph = self.graph()
        if graph is not None or info is None:
            return graph
        written = {
            int(m.group(1)) for line in self.lines if '"k":"write"' in line for m in _STATUS.finditer(line)
        }
        return info if written <= set(info.statuses) else None

    def status_name(self, status: object, info: WorkflowInfo | None) -> str:
        """A status as `graph_for` names it (`PAYMENT_PENDING`), its number when the graph is unknown."""
        if info is not None and isinstance(status, int) and status in info.statuses:
            return info.name_of(status)
        return f"status {status}"

    def run_of(self, index: int) -> str | None:
        """The run line `index` concerns: its `run` field, else a run id (or `run 1a2b3c4d`) in its text."""
        fields = self.fields(index)
        run = fields.get("run")
        if isinstance(run, str) and run:
            return run
        line = self.lines[index] if 0 <= index < len(self.lines) else ""
        found = _UUID.search(line)
        if found:
            return found.group(0)
        prefix = _RUN_PREFIX.search(line)
        if prefix:
            needle = f'"run":"{prefix.group(1)}'
            for other in self.lines:
                at = other.find(needle)
                if at >= 0:
                    return other[at + 7 : at + 7 + 36]
        return None

    def replay(self, run_id: str, info: WorkflowInfo | None = None) -> tuple[Replay, dict[int, int]]:
        """`run_id` as the trace recorded it: a step per committed write, and each step's line index.

        `info` (the graph) is used when the header has none and every written status is one of it.
        """
        needle = f'"run":"{run_id}"'
        objects = (self.header.get(HEADER_OBJECTS) or {}).get(run_id) or {}
        steps: list[Step] = []
        lines: dict[int, int] = {}
        name = run_id[:8]
        last_t: float | None = None
        for i, line in enumerate(self.lines):
            if needle not in line:
                continue
            fields = self.fields(i)
            if fields.get("k") == "trigger" and isinstance(fields.get("fid"), str):
                name = fields["fid"]
            if fields.get("k") != "write":
                continue
            t = fields.get("t")
            t = float(t) if isinstance(t, int | float) else 0.0
            version = int(fields.get("v", 0))
            text = objects.get(str(version))
            steps.append(
                Step(
                    version,
                    int(fields.get("s", 0)),
                    _run_state(fields.get("rs")),
                    text.encode() if isinstance(text, str) else None,
                    f"t={seconds(t)}",
                    "" if last_t is None else f"+{seconds(t - last_t)}",
                    note=f"line {i + 1} · node {fields.get('n', '?')}",
                    at=t,
                )
            )
            lines[len(steps) - 1] = i
            last_t = t
        graph = self.graph()
        if graph is None and info is not None and all(s.status in info.statuses for s in steps):
            graph = info
        missing = (
            "(graph unknown: this trace does not record it; start with --workflow MODULE:ATTR to draw it)"
        )
        return Replay(name, tuple(steps), graph, missing), lines


def load_trace(path: Path) -> SimTrace:
    """Read a `wfkit simulate --trace` file; `WfkitError` naming the problem otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WfkitError(f"cannot read the trace {path}: {exc.strerror}") from None
    lines = text.splitlines()
    header: dict[str, Any] = {}
    if lines and '"k":"header"' in lines[0]:
        try:
            header = json.loads(lines[0])
        except ValueError:
            raise WfkitError(
                f"{path} does not start with a trace header: write it with `wfkit simulate --trace`"
            ) from None
        lines = lines[1:]
    elif lines and not lines[0].startswith("{"):
        raise WfkitError(
            f"{path} is not a simulation trace: write one with `wfkit simulate ... --trace FILE`"
        )
    return SimTrace(header, lines, source=str(path))


def from_report(report: Any, extra: dict[str, Any] | None = None) -> SimTrace:
    """A trace from a `wfkit.testing.Report` (violations are its violation lines); `extra` adds
    header facts (the graph, the objects)."""
    header = {
        "seed": report.seed,
        "nodes": report.nodes,
        "plan": report.plan.describe(),
        "workload": {"runs": report.workload.runs},
        **(extra or {}),
    }
    return SimTrace(header, list(report.trace), source=f"seed {report.seed}")


def run_state_word(value: object) -> str:
    """A trace's run state number as a word (`running`), the number itself when it is not one."""
    if value is None:
        return "?"
    state = _run_state(value)
    return state.label.lower() if state is not RunState.UNKNOWN or value == 0 else str(value)


def _run_state(value: object) -> RunState:
    if isinstance(value, int):
        try:
            return RunState(value)
        except ValueError:
            pass
    return RunState.UNKNOWN


def line_text(fields: dict[str, Any]) -> tuple[str, str, str]:
    """(time, kind, the other fields as `key=value`) for one decoded line."""
    t = fields.get("t")
    kind = str(fields.get("k", "?"))
    rest = " ".join(f"{k}={_short(v)}" for k, v in fields.items() if k not in ("k", "t"))
    return (f"{t:>10.3f}" if isinstance(t, int | float) else " " * 10), kind, rest


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if isinstance(value, str) and _UUID.fullmatch(text):
        return text[:8]  # a run id
    return text
