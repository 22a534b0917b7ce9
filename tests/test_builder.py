"""Build-time validation, the status graph, and how process options resolve.

luno 43-49 re-expressed: luno panics where wfkit raises `ConfigurationError` (with a message naming
the fix), and wfkit merges `defaults=` with the built-in defaults instead of replacing them.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import timedelta
from typing import Any

import pytest
from _workflows import Doc, Status

import wfkit
from wfkit._options import BUILT_IN_DEFAULTS, resolve
from wfkit.adapters import memory
from wfkit.testing import WorkflowEnv


class Other(enum.IntEnum):
    START = 1
    ELSEWHERE = 2


class Four(enum.IntEnum):
    A = 1
    B = 2
    C = 3
    D = 4


async def step(run: wfkit.Run[Any, Any]) -> Any:
    return run.skip()


async def callback(run: wfkit.Run[Any, Any], payload: bytes) -> Any:
    return run.skip()


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


# -- build-time validation ---------------------------------------------------------------------


def test_duplicate_step_fails_at_add_step_and_names_the_fix() -> None:
    b = wfkit.Builder("dup", Doc, Status)
    b.add_step(Status.START, step, Status.MIDDLE)
    with pytest.raises(wfkit.ConfigurationError, match=r"add_step\(START, \.\.\.\) already exists") as exc:
        b.add_step(Status.START, step, Status.END)
    assert "only one step may consume a status" in one_line(exc)


def test_status_zero_is_reserved() -> None:
    class WithZero(enum.IntEnum):
        UNKNOWN = 0
        DONE = 1

    with pytest.raises(wfkit.ConfigurationError, match=r"WithZero\.UNKNOWN = 0") as exc:
        wfkit.Builder("zero", Doc, WithZero)
    assert "must be positive" in one_line(exc)


def test_negative_status_is_refused() -> None:
    class Negative(enum.IntEnum):
        SKIP = -1
        DONE = 1

    with pytest.raises(wfkit.ConfigurationError, match="must be positive"):
        wfkit.Builder("neg", Doc, Negative)


@pytest.mark.parametrize("status_type", [enum.Enum("Plain", "A B"), int, "Status", Status.START])
def test_statuses_must_be_an_int_enum_class(status_type: Any) -> None:
    with pytest.raises(wfkit.ConfigurationError, match=r"enum\.IntEnum class") as exc:
        wfkit.Builder("bad", Doc, status_type)
    assert "class Status(enum.IntEnum)" in one_line(exc)


@pytest.mark.parametrize("name", ["", "   ", None, 7])
def test_workflow_name_must_be_a_non_empty_string(name: Any) -> None:
    with pytest.raises(wfkit.ConfigurationError, match="non-empty name"):
        wfkit.Builder(name, Doc, Status)


@pytest.mark.parametrize(
    ("add", "where"),
    [
        (lambda b: b.add_step(Other.START, step, Status.END), "add_step"),
        (lambda b: b.add_step(Status.START, step, Other.ELSEWHERE), "add_step"),
        (lambda b: b.add_step(1, step, Status.END), "add_step"),
        (lambda b: b.add_step(Status.START, step, True), "add_step"),
        (lambda b: b.add_callback(Other.START, callback, Status.END), "add_callback"),
        (lambda b: b.add_timeout(Status.START, wfkit.after(1), callback, Other.ELSEWHERE), "add_timeout"),
    ],
)
def test_a_status_of_another_enum_is_refused(add: Any, where: str) -> None:
    b = wfkit.Builder("mixed", Doc, Status)
    with pytest.raises(wfkit.ConfigurationError, match=rf"^{where}.*is not a Status") as exc:
        add(b)
    assert "use the workflow's status enum" in one_line(exc)


@pytest.mark.parametrize(
    "add",
    [
        lambda b: b.add_step(Status.START, step),
        lambda b: b.add_callback(Status.START, callback),
        lambda b: b.add_timeout(Status.START, wfkit.after(1), callback),
    ],
)
def test_every_transition_needs_a_destination(add: Any) -> None:
    b = wfkit.Builder("nodest", Doc, Status)
    with pytest.raises(wfkit.ConfigurationError, match="needs at least one destination status"):
        add(b)


def test_functions_must_be_callable() -> None:
    b = wfkit.Builder("notfn", Doc, Status)
    with pytest.raises(wfkit.ConfigurationError, match="expected a function"):
        b.add_step(Status.START, "pay", Status.END)  # type: ignore[arg-type]


def test_an_empty_builder_has_no_start(wfkit_env: WorkflowEnv) -> None:
    b = wfkit.Builder("empty", Doc, Status)
    with pytest.raises(wfkit.ConfigurationError, match="requires at least one starting point") as exc:
        wfkit_env.build(b)
    assert "add a step, callback or timeout" in one_line(exc)


def test_a_cycle_through_every_status_has_no_start(wfkit_env: WorkflowEnv) -> None:
    b = wfkit.Builder("cycle", Doc, Status)
    b.add_step(Status.START, step, Status.MIDDLE)
    b.add_step(Status.MIDDLE, step, Status.START)
    with pytest.raises(wfkit.ConfigurationError, match="requires at least one starting point"):
        wfkit_env.build(b)


def test_timeouts_need_a_timeout_store(wfkit_env: WorkflowEnv) -> None:
    b = wfkit.Builder("timeouts", Doc, Status)
    b.add_timeout(Status.START, wfkit.after(timedelta(hours=1)), callback, Status.END)
    with pytest.raises(wfkit.ConfigurationError, match="no timeout store") as exc:
        b.build(wfkit_env.streamer, wfkit_env.store, wfkit_env.roles)
    assert "timeout_store=" in one_line(exc)
    # With one it builds.
    assert (
        b.build(
            wfkit_env.streamer, wfkit_env.store, wfkit_env.roles, timeout_store=memory.TimeoutStore()
        ).name
        == "timeouts"
    )


def test_duplicate_connector_name() -> None:
    b = wfkit.Builder("conn", Doc, Status)
    b.add_step(Status.START, step, Status.END)

    async def feed(wf: Any, event: wfkit.ConnectorEvent) -> None:
        return None

    b.add_connector("orders", memory.Connector([]), feed)
    with pytest.raises(wfkit.ConfigurationError, match=r"add_connector\('orders', \.\.\.\)") as exc:
        b.add_connector("orders", memory.Connector([]), feed)
    assert "unique" in one_line(exc)
    with pytest.raises(wfkit.ConfigurationError, match="non-empty name"):
        b.add_connector(" ", memory.Connector([]), feed)


def test_defaults_must_be_process_options(wfkit_env: WorkflowEnv) -> None:
    b = wfkit.Builder("defaults", Doc, Status)
    b.add_step(Status.START, step, Status.END)
    with pytest.raises(wfkit.ConfigurationError, match=r"ProcessOptions\.of"):
        wfkit_env.build(b, defaults={"parallel": 2})


# -- the graph ---------------------------------------------------------------------------------


def test_graph_of_a_step_and_a_callback(wfkit_env: WorkflowEnv) -> None:
    b = wfkit.Builder("graph", Doc, Status)
    b.add_step(Status.START, step, Status.MIDDLE)
    b.add_callback(Status.MIDDLE, callback, Status.END)
    info = wfkit_env.build(b).info
    assert info.name == "graph"
    assert info.starts == (Status.START,)
    assert info.terminals == (Status.END,)
    assert info.nodes == (Status.START, Status.MIDDLE, Status.END)
    assert info.transitions(Status.START) == (Status.MIDDLE,)
    assert info.transitions(Status.MIDDLE) == (Status.END,)
    assert info.transitions(Status.END) == ()
    assert info.edges == (
        wfkit.Edge(Status.START, Status.MIDDLE, "step"),
        wfkit.Edge(Status.MIDDLE, Status.END, "callback"),
    )
    assert info.statuses == {1: "START", 2: "MIDDLE", 3: "END"}
    assert info.is_terminal(Status.END)
    assert not info.is_terminal(Status.MIDDLE)


def test_transitions_keep_declaration_order_and_callbacks_accumulate(wfkit_env: WorkflowEnv) -> None:
    b = wfkit.Builder("order", Doc, Four)
    b.add_step(Four.A, step, Four.D, Four.B)
    b.add_callback(Four.B, callback, Four.C)
    b.add_callback(Four.B, callback, Four.D, Four.C)
    info = wfkit_env.build(b).info
    assert info.transitions(Four.A) == (Four.D, Four.B)
    assert info.transitions(Four.B) == (Four.C, Four.D)  # no repeats
    assert info.terminals == (Four.D, Four.C)
    assert [e.kind for e in info.edges if e.source == Four.B] == ["callback"] * 3


async def test_default_start_is_the_first_start_in_insertion_order(wfkit_env: WorkflowEnv) -> None:
    b = wfkit.Builder("starts", Doc, Four)
    b.add_callback(Four.C, callback, Four.D)  # declared first, though its number is higher
    b.add_callback(Four.A, callback, Four.B)
    async with wfkit_env.run(b) as wf:
        assert wf.info.starts == (Four.C, Four.A)
        run_id = await wf.trigger("doc")
        assert (await wf.store.lookup(run_id)).status == Four.C
        await wf.cancel(run_id)
        other = await wf.trigger("doc", start_at=Four.A)  # any other start is allowed too
        assert (await wf.store.lookup(other)).status == Four.A


async def test_a_self_loop_is_allowed_and_not_terminal(wfkit_env: WorkflowEnv) -> None:
    async def start(run: wfkit.Run[Doc, Status]) -> Status:
        return Status.MIDDLE

    async def again(run: wfkit.Run[Doc, Status]) -> Status:
        run.object.steps.append("again")
        return Status.MIDDLE if len(run.object.steps) < 3 else Status.END

    b = wfkit.Builder("loop", Doc, Status)
    b.add_step(Status.START, start, Status.MIDDLE)
    b.add_step(Status.MIDDLE, again, Status.MIDDLE, Status.END)
    async with wfkit_env.run(b) as wf:
        assert wf.info.terminals == (Status.END,)
        assert wf.info.transitions(Status.MIDDLE) == (Status.MIDDLE, Status.END)
        run_id = await wf.trigger("doc")
        run = await wf.await_status("doc", run_id, Status.END, timeout=5)
        assert run.object.steps == ["again"] * 3
        history = await wf.store.history(run_id)
        assert [r.status for r in history] == [
            Status.START,
            Status.MIDDLE,
            Status.MIDDLE,
            Status.MIDDLE,
            Status.END,
        ]


# -- option resolution -------------------------------------------------------------------------


def test_step_values_override_the_defaults() -> None:
    own = wfkit.ProcessOptions.of(
        parallel=100, polling_frequency=60, error_backoff=5, lag=timedelta(hours=9), pause_after_errors=3
    )
    defaults = wfkit.ProcessOptions.of(
        parallel=1, polling_frequency=3600, error_backoff=1, lag=timedelta(minutes=1), pause_after_errors=7
    )
    got = resolve(own, defaults)
    assert got.parallel == 100
    assert got.polling_frequency == 60
    assert got.error_backoff == wfkit.Backoff.fixed(5)
    assert got.lag == timedelta(hours=9)
    assert got.pause_after_errors == 3


def test_unset_step_values_come_from_the_defaults() -> None:
    defaults = wfkit.ProcessOptions.of(parallel=4, polling_frequency=3600, time_limit=2)
    got = resolve(wfkit.ProcessOptions.of(error_backoff=3), defaults)
    assert (got.parallel, got.polling_frequency, got.time_limit) == (4, 3600, 2)
    assert got.error_backoff == wfkit.Backoff.fixed(3)


def test_defaults_are_merged_with_the_built_in_defaults() -> None:
    # luno's WithDefaultOptions replaces every default (unset fields become 0); wfkit merges.
    got = resolve(None, wfkit.ProcessOptions.of(error_backoff=5))
    assert got.error_backoff == wfkit.Backoff.fixed(5)
    assert got.polling_frequency == 0.5
    assert got.lag == timedelta(0)
    assert got.lag_alert == timedelta(minutes=30)
    assert got.parallel == 1
    assert got.pause_after_errors == 0
    assert got.time_limit is None
    built_in = dataclasses.astuple(BUILT_IN_DEFAULTS)
    assert dataclasses.astuple(resolve(None, wfkit.ProcessOptions())) == built_in


def test_built_in_defaults_are_lunos() -> None:
    assert BUILT_IN_DEFAULTS.polling_frequency == 0.5
    assert BUILT_IN_DEFAULTS.error_backoff == wfkit.Backoff.fixed(1.0)
    assert BUILT_IN_DEFAULTS.lag_alert == timedelta(minutes=30)
    assert BUILT_IN_DEFAULTS.pause_after_errors == 0


@pytest.mark.parametrize(
    ("own", "defaults", "alert"),
    [
        ({}, {}, timedelta(minutes=30)),
        ({"lag_alert": timedelta(hours=9)}, {}, timedelta(hours=9)),
        ({"lag": timedelta(hours=1)}, {}, timedelta(minutes=90)),
        ({"lag": timedelta(hours=1), "lag_alert": timedelta(hours=9)}, {}, timedelta(hours=9)),
        ({"lag": 3600}, {}, timedelta(minutes=90)),
        ({}, {"lag": timedelta(hours=2)}, timedelta(minutes=150)),
        ({}, {"lag": timedelta(hours=2), "lag_alert": timedelta(hours=9)}, timedelta(hours=9)),
        ({"lag_alert": 60}, {"lag": timedelta(hours=2)}, timedelta(minutes=1)),
    ],
)
def test_lag_alert_is_30_minutes_past_the_lag_unless_given(
    own: dict[str, Any], defaults: dict[str, Any], alert: timedelta
) -> None:
    got = resolve(wfkit.ProcessOptions.of(**own), wfkit.ProcessOptions.of(**defaults))
    assert got.lag_alert == alert


def test_durations_take_timedeltas_or_seconds() -> None:
    a = wfkit.ProcessOptions.of(polling_frequency=timedelta(milliseconds=250), lag=90, time_limit=0.5)
    assert a.polling_frequency == 0.25
    assert a.lag == timedelta(seconds=90)
    assert a.time_limit == 0.5
    assert wfkit.ProcessOptions.of(error_backoff=timedelta(seconds=2)).error_backoff == wfkit.Backoff.fixed(2)


def test_backoff_grows_by_factor_up_to_the_cap() -> None:
    b = wfkit.Backoff(initial=1, factor=2, maximum=10)
    never = lambda: pytest.fail("no jitter: random must not be needed")  # noqa: E731
    assert [b.delay(n, never) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert b.delay(0, never) == 1  # attempts count from 1; 0 is treated as the first
    fixed = wfkit.Backoff.fixed(0.25)
    assert [fixed.delay(n, never) for n in (1, 2, 50)] == [0.25, 0.25, 0.25]


def test_backoff_jitter_stays_within_its_fraction() -> None:
    b = wfkit.Backoff(initial=4, factor=2, maximum=60, jitter=0.25)
    assert b.delay(1, lambda: 0.0) == 3.0  # 4 * (1 - 0.25)
    assert b.delay(1, lambda: 0.5) == 4.0
    assert b.delay(1, lambda: 1.0) == 5.0  # 4 * (1 + 0.25)
    assert b.delay(10, lambda: 1.0) == 75.0  # the cap applies before the jitter
    rng = wfkit.RandomIds(1)
    delays = [b.delay(2, rng.random) for _ in range(500)]
    assert all(6.0 <= d <= 10.0 for d in delays)
    assert max(delays) - min(delays) > 3  # actually spread, not constant


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": -1},
        {"factor": 0.5},
        {"maximum": -1},
        {"jitter": -0.1},
        {"jitter": 1.5},
    ],
)
def test_bad_backoff_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(wfkit.ConfigurationError, match="invalid Backoff"):
        wfkit.Backoff(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"parallel": 0}, "parallel must be an int >= 1"),
        ({"parallel": -2}, "parallel must be an int >= 1"),
        ({"parallel": 1.5}, "parallel must be an int >= 1"),
        ({"parallel": True}, "parallel must be an int >= 1"),
        ({"pause_after_errors": -1}, "pause_after_errors must be an int >= 0"),
        ({"pause_after_errors": "3"}, "pause_after_errors must be an int >= 0"),
        ({"polling_frequency": 0}, "polling_frequency must be positive"),
        ({"polling_frequency": timedelta(seconds=-1)}, "polling_frequency must be positive"),
        ({"error_backoff": -1}, "error_backoff must not be negative"),
        ({"lag": -5}, "lag must not be negative"),
        ({"lag_alert": timedelta(minutes=-1)}, "lag_alert must not be negative"),
        ({"time_limit": 0}, "time_limit must be positive"),
        ({"lag": "1h"}, "expected a timedelta or a number of seconds"),
        ({"error_backoff": None, "polling_frequency": True}, "expected a timedelta or a number of seconds"),
    ],
)
def test_bad_option_values(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(wfkit.ConfigurationError, match=match):
        wfkit.ProcessOptions.of(**kwargs)
    # The builder refuses them at add_step, before anything is built.
    b = wfkit.Builder("opts", Doc, Status)
    with pytest.raises(wfkit.ConfigurationError, match=match):
        b.add_step(Status.START, step, Status.END, **kwargs)
    b.add_step(Status.START, step, Status.END)  # nothing was half-added by the failed call


def test_timeout_and_connector_options_are_validated_too(wfkit_env: WorkflowEnv) -> None:
    b = wfkit.Builder("opts", Doc, Status)
    with pytest.raises(wfkit.ConfigurationError, match="polling_frequency must be positive"):
        b.add_timeout(Status.START, wfkit.after(1), callback, Status.END, polling_frequency=0)
    with pytest.raises(wfkit.ConfigurationError, match="parallel must be an int >= 1"):
        b.add_connector("c", memory.Connector([]), step, parallel=0)
    # The refused timeout left nothing behind: no timeout store is needed, no timeout process runs.
    b.add_step(Status.START, step, Status.END)
    wf = b.build(wfkit_env.streamer, wfkit_env.store, wfkit_env.roles)
    assert wf.info.edges == (wfkit.Edge(Status.START, Status.END, "step"),)
