"""How `wfkit simulate` shows a result: Rich tables, JSON, and the trace file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from wfkit.cli._app import usage_error

if TYPE_CHECKING:
    from rich.console import Console

    from wfkit.cli.simulate import _Setup
    from wfkit.testing import FaultPlan, Report

CALLBACK_PAYLOAD = b"{}"
"""What the simulated clients send to every callback of the workflow."""

CHECKS = (
    "transitions on the graph",
    "versions +1 with no gaps",
    "no transition applied twice",
    "one active run per foreign id",
    "no outbox event lost",
    "timeouts not early",
    "one holder per role",
    "paused runs untouched",
    "every run finishes after the faults (liveness)",
)
"""The simulator's built-in invariants, as the summary lists them."""

_STATS = (
    ("runs_triggered", "runs triggered"),
    ("runs_finished", "runs finished"),
    ("runs_stopped", "runs stopped"),
    ("transitions", "transitions (store writes)"),
    ("step_calls", "step-function calls"),
    ("deliveries", "events delivered"),
    ("duplicates_suppressed", "duplicates suppressed"),
    ("faults_injected", "faults injected"),
    ("simulated_seconds", "simulated seconds"),
    ("wall_seconds", "wall seconds"),
)


def print_replay(console: Console, first: Report, again: Report) -> None:
    if again.trace_hash == first.trace_hash:
        console.print(
            f"[green]replay confirmed[/]: seed {first.seed} ran twice with the same trace "
            f"({len(first.trace)} lines, hash {first.trace_hash[:16]})"
        )
        return
    console.print(
        f"[red]replay differs[/]: seed {first.seed} gave hash {first.trace_hash[:16]}, "
        f"then {again.trace_hash[:16]}: something outside the seed decides behaviour "
        "(wall time, unseeded randomness, set order, threads, state kept between runs)"
    )
    for i, (a, b) in enumerate(zip(first.trace, again.trace, strict=False)):
        if a != b:
            console.print(f"first difference at trace line {i + 1}:", markup=False)
            console.print(f"  first:  {a}", markup=False)
            console.print(f"  second: {b}", markup=False)
            return
    console.print(f"the traces agree for {min(len(first.trace), len(again.trace))} lines, then one ends")


# -- a range of seeds ----------------------------------------------------------------------------


def add_stats(totals: dict[str, Any], stats: dict[str, Any]) -> None:
    for name, value in stats.items():
        if isinstance(value, dict):
            inner = totals.setdefault(name, {})
            for key, count in value.items():
                inner[key] = inner.get(key, 0) + count
        elif isinstance(value, int | float):
            totals[name] = round(totals.get(name, 0) + value, 3)


# -- output --------------------------------------------------------------------------------------


def plan_text(plan: FaultPlan) -> str:
    """The plan in `--faults` syntax: `default` for the default plan, else only what is set."""
    from wfkit.testing import FaultPlan

    return "default" if plan == FaultPlan.default() else plan.describe()


def setting(setup: _Setup) -> str:
    answered = ", ".join(setup.callback_names) or "none"
    plan = plan_text(setup.plan)
    return (
        f"  {setup.nodes} nodes, {setup.workload.describe()}, callbacks answered with "
        f"{CALLBACK_PAYLOAD.decode()}: {answered}\n  faults: {plan}"
    )


def print_report(console: Console, setup: _Setup, report: Report, *, header: bool = True) -> None:
    if header:
        console.print(f"[bold]wfkit simulate[/] {setup.target}, seed {report.seed}")
        console.print(setting(setup), markup=False, soft_wrap=True)
    if report.ok:
        console.print(f"[green]ok[/]: every invariant held\n  checked: {', '.join(CHECKS)}")
    else:
        console.print(f"[red]FAILED[/]: {len(report.violations)} violation(s)")
    console.print(stats_table(report.stats, title=f"seed {report.seed}"))
    if report.stats.get("faults"):
        console.print(faults_table(report.stats["faults"]))
    console.print(f"trace hash {report.trace_hash} ({len(report.trace)} lines)")
    if not report.ok:
        console.print(setup.explain(report), markup=False, soft_wrap=True)


def stats_table(stats: dict[str, Any], *, title: str) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("stat")
    table.add_column("value", justify="right")
    for key, label in _STATS:
        if key in stats:
            table.add_row(label, _number(stats[key]))
    wall = float(stats.get("wall_seconds") or 0.0)
    if wall > 0:
        table.add_section()
        steps = stats.get("step_calls", 0) + stats.get("transitions", 0)
        table.add_row("simulated steps / wall s", _number(round(steps / wall)))
        table.add_row("simulated s / wall s", _number(round(stats.get("simulated_seconds", 0) / wall)))
    return table


def faults_table(counts: dict[str, int]) -> Any:
    from rich.table import Table

    from wfkit.testing._faultplan import FAULT_DESCRIPTIONS

    table = Table(title="faults injected", title_justify="left")
    table.add_column("fault")
    table.add_column("count", justify="right")
    table.add_column("what happened")
    for name in sorted(counts):
        table.add_row(name, _number(counts[name]), FAULT_DESCRIPTIONS.get(name, ""))
    if not counts:
        table.add_row("none", "0", "")
    return table


def _number(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.3f}"
    return f"{int(value):,}" if isinstance(value, int | float) else str(value)


def report_json(setup: _Setup, report: Report) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "target": setup.target,
        "backend": setup.backend_target,
        "seed": report.seed,
        "nodes": setup.nodes,
        "plan": setup.plan.describe(),
        "workload": setup.workload_json(),
        "violations": [{"invariant": v.invariant, "at": v.at, "detail": v.detail} for v in report.violations],
        "stats": report.stats,
        "trace_hash": report.trace_hash,
        "trace_lines": len(report.trace),
        "replay_command": setup.replay_command(report.seed),
    }


def print_json(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, sort_keys=True))


def write_trace(path: Path, setup: _Setup, report: Report) -> None:
    """The header line, then the trace lines exactly as they were hashed."""
    header = json.dumps(setup.header(report), sort_keys=True, separators=(",", ":"))
    try:
        with path.open("w", encoding="utf-8", newline="\n") as out:
            out.write(header + "\n")
            for line in report.trace:
                out.write(line + "\n")
    except OSError as exc:
        raise usage_error(f"cannot write {path}: {exc.strerror}", "--trace") from None


# -- parsing and loading -------------------------------------------------------------------------
