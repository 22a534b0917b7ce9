"""`wfkit simulate module:attr`: run a workflow on simulated nodes under faults, from one seed.

The same engine, on a virtual clock and a seeded event loop, several nodes sharing in-memory
adapters through fault injectors (`wfkit.testing.simulate`). A seed decides every interleaving and
every fault, so a failing seed replays exactly: the summary ends with the command that does it.
`wfkit.testing` and Rich are imported inside the command, so `wfkit --help` stays fast.
"""

from __future__ import annotations

import inspect
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wfkit.cli._app import fail, one_line, usage_error
from wfkit.cli._simulate_output import (
    CALLBACK_PAYLOAD,
    CHECKS,
    add_stats,
    faults_table,
    plan_text,
    print_json,
    print_replay,
    print_report,
    report_json,
    setting,
    stats_table,
    write_trace,
)

if TYPE_CHECKING:
    from rich.console import Console

    from wfkit import Builder
    from wfkit.adapters import Backend
    from wfkit.testing import FaultPlan, Report, SimClock, Workload


_DEFAULT_SPACING = 1.0
_PLAN_HELP = (
    "Fault plan: 'default', 'none', or name=rate pairs like 'duplicate=0.1,crash=0.01,window=0..60' "
    "('default,crash=0.1' changes the default plan)."
)


@dataclass
class _Setup:
    """Everything a seed needs, parsed and loaded once."""

    target: str
    make: Callable[[], Builder[Any, Any]]
    nodes: int
    workload: Workload
    plan: FaultPlan
    spacing: float
    backend_target: str | None = None
    backend: Callable[[SimClock], Backend] | None = None
    callbacks: dict[int, bytes] = field(default_factory=dict)
    callback_names: list[str] = field(default_factory=list)

    def run(self, seed: int, *, keep_trace: bool = True) -> Report:
        from wfkit.testing import simulate

        try:
            return simulate(
                self.make,
                seed=seed,
                nodes=self.nodes,
                workload=self.workload,
                faults=self.plan,
                backend=self.backend,
                keep_trace=keep_trace,
                target=self.target,
            )
        except Exception as exc:
            raise _Crashed(seed, exc, self.replay_command(seed)) from None

    def replay_command(self, seed: int) -> str:
        parts = [
            "wfkit simulate",
            shlex.quote(self.target),
            f"--seed {seed}",
            f"--nodes {self.nodes}",
            f"--runs {self.workload.runs}",
            f"--faults {shlex.quote(plan_text(self.plan))}",
        ]
        if self.spacing != _DEFAULT_SPACING:
            parts.append(f"--spacing {self.spacing!r}")
        if self.backend_target:
            parts.append(f"--backend {shlex.quote(self.backend_target)}")
        return " ".join(parts)

    def explain(self, report: Report) -> str:
        """The report's explanation, with a replay command that has every option this run used."""
        return report.explain().replace(
            f"replay: {report.replay_command}", f"replay: {self.replay_command(report.seed)}"
        )

    def header(self, report: Report) -> dict[str, Any]:
        """The first line of a trace file: what produced it (simulated facts only)."""
        return {
            "k": "header",
            "format": "wfkit-simulation-trace/1",
            "target": self.target,
            "backend": self.backend_target,
            "seed": report.seed,
            "nodes": self.nodes,
            "plan": self.plan.describe(),
            "workload": self.workload_json(),
            "trace_hash": report.trace_hash,
            "lines": len(report.trace),
            **report.header,
        }

    def workload_json(self) -> dict[str, Any]:
        return {
            "runs": self.workload.runs,
            "spacing": self.workload.spacing,
            "callbacks": {str(s): p.decode() for s, p in self.callbacks.items()},
        }


class _Crashed(Exception):
    """The simulation itself stopped with an exception (a deadlock, a broken adapter...)."""

    def __init__(self, seed: int, error: Exception, replay: str) -> None:
        super().__init__(f"seed {seed}: the simulation stopped: {type(error).__name__}: {error}")
        self.seed = seed
        self.replay = replay


def simulate(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:ATTR",
            help="A wfkit.Builder, or a function returning one (e.g. examples/payments.py:builder).",
            show_default=False,
        ),
    ],
    seed: Annotated[
        int, typer.Option("--seed", "-s", help="Decides every interleaving and fault: it replays exactly.")
    ] = 1,
    nodes: Annotated[int, typer.Option("--nodes", "-n", min=1, max=64, help="Simulated worker nodes.")] = 3,
    runs: Annotated[int, typer.Option("--runs", "-r", min=0, help="Runs to trigger.")] = 20,
    faults: Annotated[str, typer.Option("--faults", "-f", metavar="PLAN", help=_PLAN_HELP)] = "default",
    spacing: Annotated[
        float, typer.Option("--spacing", min=0.0, help="Simulated seconds between two triggers.")
    ] = _DEFAULT_SPACING,
    seeds: Annotated[
        str | None,
        typer.Option(
            "--seeds",
            metavar="A..B",
            help="Sweep seeds A to B (inclusive); stop at the first failing seed.",
            show_default=False,
        ),
    ] = None,
    replay: Annotated[
        bool, typer.Option("--replay", help="Run the seed twice and confirm the trace hash is the same.")
    ] = False,
    trace: Annotated[
        Path | None,
        typer.Option(
            "--trace",
            metavar="FILE",
            dir_okay=False,
            help="Write the trace as JSON lines (a header line first). With --seeds: the failing "
            "seed's, else the last one's.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable result.")] = False,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            metavar="MODULE:ATTR",
            help="A function (clock) -> wfkit.adapters.Backend for the shared adapters "
            "(default: the memory adapters).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Simulate a workflow on several nodes under injected faults, checking its guarantees.

    Exit status: 0 when every invariant held, 1 on a violation (or a replay that differs), 2 on
    misuse.
    """
    from wfkit import ConfigurationError
    from wfkit.testing import FaultPlan, Workload

    try:
        plan = FaultPlan.parse(faults)
    except ConfigurationError as exc:
        raise usage_error(_plan_error(exc), "--faults") from None
    sweep = _parse_seeds(seeds) if seeds is not None else None
    if sweep is not None and replay:
        raise usage_error("--replay re-runs one seed: use it with --seed, not --seeds", "--replay")
    if sweep is not None and _given(ctx, "seed"):
        raise usage_error("give one seed (--seed N) or a range (--seeds A..B), not both", "--seeds")
    if trace is not None and not trace.parent.is_dir():
        raise usage_error(f"no such directory: {trace.parent}", "--trace")

    make, first = _builder_factory(target)
    callbacks = {int(status): CALLBACK_PAYLOAD for status in sorted(first._spec.callbacks)}
    try:
        workload = Workload(runs=runs, spacing=spacing, callbacks=callbacks)
    except ConfigurationError as exc:
        raise usage_error(exc, "--runs") from None
    status_type = first._spec.status_type
    names = [status_type(s).name for s in callbacks]
    setup = _Setup(target, make, nodes, workload, plan, spacing, callbacks=callbacks, callback_names=names)
    if backend is not None:
        setup.backend_target = backend
        setup.backend = _backend_factory(backend)

    from rich.console import Console

    console = Console(highlight=False)
    try:
        if sweep is not None:
            code = _sweep(setup, *sweep, console=console, trace=trace, as_json=as_json)
        else:
            code = _single(setup, seed, console=console, trace=trace, as_json=as_json, replay=replay)
    except _Crashed as exc:
        if as_json:
            print_json({"ok": False, "seed": exc.seed, "error": one_line(exc), "replay_command": exc.replay})
        fail(f"{exc} (replay: {exc.replay})")
        code = 1
    if code:
        raise typer.Exit(code)


# -- one seed ------------------------------------------------------------------------------------


def _single(
    setup: _Setup, seed: int, *, console: Console, trace: Path | None, as_json: bool, replay: bool
) -> int:
    report = setup.run(seed)
    again = setup.run(seed) if replay else None
    same = again is None or again.trace_hash == report.trace_hash
    if trace is not None:
        write_trace(trace, setup, report)
    if as_json:
        out = report_json(setup, report)
        if again is not None:
            out["replay"] = {"confirmed": same, "hashes": [report.trace_hash, again.trace_hash]}
        print_json(out)
    else:
        print_report(console, setup, report)
        if again is not None:
            print_replay(console, report, again)
        if trace is not None:
            console.print(f"wrote {trace} ({len(report.trace) + 1} lines)")
    return 0 if report.ok and same else 1


def _sweep(
    setup: _Setup, start: int, end: int, *, console: Console, trace: Path | None, as_json: bool
) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    hashes: dict[int, str] = {}
    totals: dict[str, Any] = {}
    failed: Report | None = None
    last: Report | None = None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        auto_refresh=False,  # no refresh thread next to the simulator: refreshed after each seed
        disable=as_json,
    )
    with progress:
        task = progress.add_task(f"seeds {start}..{end}", total=end - start + 1)
        for seed in range(start, end + 1):
            report = setup.run(seed, keep_trace=trace is not None)
            hashes[seed] = report.trace_hash
            add_stats(totals, report.stats)
            last = report
            progress.update(task, advance=1, description=f"seed {seed}")
            progress.refresh()
            if not report.ok:
                failed = report
                break
    assert last is not None
    shown = failed or last
    if failed is not None and not failed.trace:
        shown = setup.run(failed.seed)  # again, keeping its trace this time (and it must match)
    same = shown.trace_hash == hashes[shown.seed]
    if trace is not None:
        write_trace(trace, setup, shown)
    if as_json:
        print_json(
            {
                "ok": failed is None and same,
                "target": setup.target,
                "seeds": [start, end],
                "checked": len(hashes),
                "failed_seed": None if failed is None else failed.seed,
                "hashes": {str(s): h for s, h in hashes.items()},
                "stats": totals,
                "report": None if failed is None else report_json(setup, shown),
            }
        )
        return 0 if failed is None and same else 1
    console.print(f"[bold]wfkit simulate[/] {setup.target}, seeds {start}..{end}")
    console.print(setting(setup), markup=False, soft_wrap=True)
    if failed is None:
        console.print(f"[green]ok[/]: all {len(hashes)} seeds passed\n  checked: {', '.join(CHECKS)}")
        console.print(stats_table(totals, title=f"totals over {len(hashes)} seeds"))
        console.print(faults_table(totals.get("faults", {})))
    else:
        console.print(f"[red]seed {failed.seed} failed[/] after {len(hashes) - 1} passing seed(s)")
        print_report(console, setup, shown, header=False)
    if not same:
        console.print(
            f"[red]replay differs[/]: seed {shown.seed} gave hash {hashes[shown.seed][:16]}, "
            f"then {shown.trace_hash[:16]}"
        )
    if trace is not None:
        console.print(f"wrote {trace} (seed {shown.seed}, {len(shown.trace) + 1} lines)")
    return 0 if failed is None and same else 1


def _plan_error(exc: Exception) -> str:
    from wfkit.testing._faultplan import FAULT_NAMES

    message = one_line(exc)
    if "names from" not in message:
        message += f" (faults: {', '.join(FAULT_NAMES)}; window=START..END; presets: default, none)"
    return message


def _parse_seeds(text: str) -> tuple[int, int]:
    start, sep, end = text.partition("..")
    try:
        first, last = int(start), int(end if sep else start)
    except ValueError:
        raise usage_error(f"expected a range of seeds like 1..100, got {text!r}", "--seeds") from None
    if first > last:
        raise usage_error(f"the range {text!r} is empty: A..B needs A <= B", "--seeds")
    return first, last


def _given(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def _builder_factory(target: str) -> tuple[Callable[[], Builder[Any, Any]], Builder[Any, Any]]:
    """A function making the target's builder (a fresh one per seed when the target is a factory)."""
    from wfkit import Builder, ConfigurationError, Workflow
    from wfkit.cli._load import TargetError, load_object

    try:
        obj = load_object(target)
    except TargetError as exc:
        raise usage_error(exc, "MODULE:ATTR") from None
    if isinstance(obj, Builder):
        builder: Builder[Any, Any] = obj
        return (lambda: builder), builder
    if isinstance(obj, Workflow):
        raise usage_error(
            f"{target} is a built Workflow, bound to its adapters: simulate needs the wfkit.Builder "
            "or a function returning one",
            "MODULE:ATTR",
        )
    if not callable(obj) or isinstance(obj, type):
        what = f"the class {obj.__name__}" if isinstance(obj, type) else f"a {type(obj).__name__}"
        raise usage_error(
            f"{target} is {what}, not a wfkit.Builder or a function returning one", "MODULE:ATTR"
        )
    factory: Callable[[], Any] = obj

    def make() -> Builder[Any, Any]:
        try:
            made = factory()
        except ConfigurationError:
            raise
        except Exception as exc:
            raise TargetError(f"{target}() raised {type(exc).__name__}: {exc}") from None
        if not isinstance(made, Builder):
            raise TargetError(f"{target}() returned a {type(made).__name__}, not a wfkit.Builder")
        return made

    try:
        first = make()
    except ConfigurationError as exc:
        raise usage_error(exc, "MODULE:ATTR") from None
    return make, first


def _backend_factory(target: str) -> Callable[[SimClock], Backend]:
    from wfkit.cli._load import TargetError, load_object

    try:
        obj = load_object(target)
    except TargetError as exc:
        raise usage_error(exc, "--backend") from None
    if not callable(obj) or isinstance(obj, type):
        raise usage_error(
            f"{target} is a {type(obj).__name__}, not a function (clock) -> wfkit.adapters.Backend",
            "--backend",
        )
    factory: Callable[[SimClock], Any] = obj

    def make(clock: SimClock) -> Backend:
        from wfkit import ConfigurationError
        from wfkit.adapters import Backend

        made = factory(clock)
        if not isinstance(made, Backend):
            if inspect.iscoroutine(made):
                made.close()  # an async function by mistake: no "never awaited" warning
            raise ConfigurationError(
                f"--backend {target} returned a {type(made).__name__}, not a wfkit.adapters.Backend"
            )
        return made

    return make
