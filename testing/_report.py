"""`Report`: what a simulation checked, what it found, and how to replay it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wfkit.testing._faultplan import FaultPlan
from wfkit.testing._oracle import Violation
from wfkit.testing._workload import Workload


@dataclass
class Report:
    """The outcome of one seed: `ok`, the violations, stats, the trace and its hash."""

    seed: int
    nodes: int
    workload: Workload
    plan: FaultPlan
    violations: list[Violation]
    stats: dict[str, Any]
    trace: list[str] = field(repr=False)
    trace_hash: str = ""
    target: str = "MODULE:ATTR"
    header: dict[str, Any] = field(default_factory=dict, repr=False)
    """Side facts for a trace file's header (the graph, each version's object), never hashed."""

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def replay_command(self) -> str:
        """The `wfkit simulate` command that replays this seed (the workload's runs and spacing;
        callbacks, invariants and a custom backend are the caller's to pass again)."""
        spacing = "" if self.workload.spacing == 1.0 else f" --spacing {self.workload.spacing!r}"
        return (
            f"wfkit simulate {self.target} --seed {self.seed} --nodes {self.nodes} "
            f"--runs {self.workload.runs}{spacing} --faults '{self.plan.describe()}'"
        )

    def explain(self, lines: int = 20) -> str:
        """Violations, seed, plan, the replay command and the last trace lines, for a failure message."""
        head = "simulation passed" if self.ok else f"simulation found {len(self.violations)} violation(s)"
        out = [
            f"{head}: seed {self.seed}, {self.nodes} nodes, {self.workload.describe()}",
            f"faults: {self.plan.describe()}",
        ]
        out += [f"  {v}" for v in self.violations[:10]]
        out.append(f"replay: {self.replay_command}")
        if self.trace:
            # The lines leading up to the first violation say more than the shutdown that follows.
            end = next((i for i, line in enumerate(self.trace) if '"k":"violation"' in line), None)
            end = len(self.trace) if end is None else end + 1
            shown = self.trace[max(0, end - lines) : end]
            out.append(f"trace lines {end - len(shown) + 1}..{end} of {len(self.trace)}:")
            out += [f"  {line}" for line in shown]
        return "\n".join(out)
