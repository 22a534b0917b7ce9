"""Simulation traces as the explorer reads them: a `wfkit simulate --trace` file, or a fresh `Report`.

A trace file is a header line (`"k":"header"`: seed, nodes, plan, workload) and then one JSON line
per simulated fact, exactly as hashed. Parsing is lazy: a line is decoded only when shown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfkit._errors import WfkitError

VIOLATION = '"k":"violation"'
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


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


def from_report(report: Any) -> SimTrace:
    """A trace from a `wfkit.testing.Report` (violations are its violation lines)."""
    header = {
        "seed": report.seed,
        "nodes": report.nodes,
        "plan": report.plan.describe(),
        "workload": {"runs": report.workload.runs},
    }
    return SimTrace(header, list(report.trace), source=f"seed {report.seed}")


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
