"""Hypothesis strategies for the simulator: fault plans, workloads and seeds that shrink well.

```python
from hypothesis import given, settings
from wfkit.testing import simulate
from wfkit.testing.strategies import fault_plans, seeds, workloads

@settings(max_examples=50, deadline=None)
@given(plan=fault_plans(), workload=workloads(max_runs=10), seed=seeds())
def test_my_workflow_survives_faults(plan, workload, seed):
    report = simulate(make_builder, seed=seed, workload=workload, faults=plan)
    assert report.ok, report.explain()
```

A failing example shrinks toward the smallest counter-example Hypothesis can find: every fault
rate toward 0 (so the shrunk plan names only the faults the failure needs), the fault window
toward a short one, the number of runs toward 1 and the seed toward 0. `report.explain()` then
prints the seed, the shrunk plan and the command that replays it.

Needs `hypothesis` (`pip install 'wfkit[dev]'`); nothing else in `wfkit.testing` imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hypothesis import strategies as st

from wfkit import ConfigurationError
from wfkit.testing._faultplan import FAULT_NAMES, FaultPlan
from wfkit.testing._workload import Payload, Workload

__all__ = ["fault_plans", "rates", "seeds", "workloads"]

MAX_SEED = 2**32 - 1


def rates(max_rate: float = 0.2) -> st.SearchStrategy[float]:
    """A fault rate: often exactly 0 (that fault off), else a float in `(0, max_rate]`.

    Rates are rounded to 4 decimals so a plan reads well in `FaultPlan.describe()` and on the
    `--faults` command line; they shrink toward 0.
    """
    if not 0.0 <= max_rate <= 1.0:
        raise ConfigurationError(f"max_rate must be between 0 and 1, got {max_rate!r}")
    if max_rate == 0.0:
        return st.just(0.0)
    on = st.floats(min_value=0.0, max_value=max_rate, allow_nan=False, allow_infinity=False)
    # `one_of` shrinks toward its first branch: a rate shrinks to "off" before it shrinks in value.
    return st.one_of(st.just(0.0), on.map(lambda r: min(round(r, 4), max_rate)))


def fault_plans(
    max_rate: float = 0.2,
    *,
    faults: Iterable[str] | None = None,
    max_rates: Mapping[str, float] | None = None,
    window: bool | None = True,
    max_window: float = 120.0,
) -> st.SearchStrategy[FaultPlan]:
    """`FaultPlan`s with each rate 0 or a float up to `max_rate`.

    `faults` limits which faults may be switched on (names as in `FaultPlan`, default: all);
    `max_rates` caps single faults below or above `max_rate` (e.g. `{"crash": 0.05}`).
    `window=True` (the default) always bounds faults to a window `(start, end)` with
    `end <= max_window` simulated seconds, so liveness is checked once faults stop; `False` never
    sets one (faults last the whole simulation); `None` lets Hypothesis choose. Windows shrink
    toward `(0, 1)`, rates toward 0.
    """
    names = tuple(FAULT_NAMES if faults is None else faults)
    unknown = sorted(set(names) - set(FAULT_NAMES)) + sorted(set(max_rates or {}) - set(FAULT_NAMES))
    if unknown:
        raise ConfigurationError(
            f"unknown fault name(s) {', '.join(unknown)}: use names from {', '.join(FAULT_NAMES)}"
        )
    if max_window < 1.0:
        raise ConfigurationError(f"max_window must be at least 1 simulated second, got {max_window!r}")
    caps = dict(max_rates or {})
    chosen: dict[str, st.SearchStrategy[Any]] = {
        name: rates(caps.get(name, max_rate)) for name in FAULT_NAMES if name in names
    }
    windows = _windows(max_window)
    if window is True:
        chosen["window"] = windows
    elif window is None:
        chosen["window"] = st.one_of(windows, st.none())
    return st.fixed_dictionaries(chosen).map(lambda kwargs: FaultPlan(**kwargs))


def _windows(max_window: float) -> st.SearchStrategy[tuple[float, float]]:
    top = int(max_window)

    def window(start: int, length: int) -> tuple[float, float]:
        start = min(start, top - 1)
        return (float(start), float(min(start + length, top)))

    # Start and length shrink toward 0 and 1: faults from the beginning, for as short as possible.
    return st.builds(window, st.integers(0, top - 1), st.integers(1, top))


def workloads(
    max_runs: int = 30,
    *,
    min_runs: int = 1,
    max_spacing: float = 5.0,
    foreign_ids: bool = True,
    callbacks: Mapping[int, Payload] | None = None,
    callback_every: float = 1.0,
    initial: Callable[[int], Any] | None = None,
    max_time: float | None = None,
) -> st.SearchStrategy[Workload]:
    """`Workload`s of `min_runs..max_runs` runs triggered `0..max_spacing` seconds apart.

    With `foreign_ids=True` some workloads share foreign ids among runs (so runs compete for
    them and "at most one active run per foreign id" is exercised); `callbacks`, `callback_every`,
    `initial` and `max_time` pass through to every `Workload` (a strategy cannot guess the
    workflow's statuses). Runs shrink toward `min_runs`, spacing toward 0, shared foreign ids
    toward none.
    """
    if not 0 <= min_runs <= max_runs:
        raise ConfigurationError(f"need 0 <= min_runs <= max_runs, got {min_runs} and {max_runs}")
    if max_spacing < 0:
        raise ConfigurationError(f"max_spacing must not be negative, got {max_spacing!r}")
    spacing = st.floats(min_value=0.0, max_value=max_spacing, allow_nan=False, allow_infinity=False).map(
        lambda s: min(round(s, 3), max_spacing)
    )

    @st.composite
    def build(draw: st.DrawFn) -> Workload:
        runs = draw(st.integers(min_runs, max_runs))
        shared: int | None = None
        if foreign_ids and runs > 1:
            shared = draw(st.one_of(st.none(), st.integers(1, runs - 1)))
        return Workload(
            runs=runs,
            spacing=draw(spacing),
            foreign_ids=shared,
            callbacks=dict(callbacks or {}),
            callback_every=callback_every,
            initial=initial,
            max_time=max_time,
        )

    return build()


def seeds(max_seed: int = MAX_SEED) -> st.SearchStrategy[int]:
    """Simulation seeds: integers in `0..max_seed`, shrinking toward 0."""
    if max_seed < 0:
        raise ConfigurationError(f"max_seed must not be negative, got {max_seed!r}")
    return st.integers(min_value=0, max_value=max_seed)
