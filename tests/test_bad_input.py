"""Misuse gets a clear, one-line `WfkitError` naming the fix, and loses nothing (DESIGN §8)."""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from _waits import eventually
from _workflows import Doc, Status

import wfkit
from wfkit.adapters import memory
from wfkit.testing import WorkflowEnv

WF = "bad-input"
MIDDLE_CONSUMER = "middle-consumer-1-of-1"


class Four(enum.IntEnum):
    START = 1
    MIDDLE = 2
    END = 3
    UNUSED = 4  # in the enum, on no edge


class Other(enum.IntEnum):
    START = 1
    MIDDLE = 2


@dataclasses.dataclass
class NeedsId:
    id: str


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert isinstance(exc, wfkit.WfkitError)
    assert text
    assert "\n" not in text, text
    return text


async def to_middle(run: wfkit.Run[Any, Any], payload: bytes) -> Any:
    return type(run.status).MIDDLE


async def to_end(run: wfkit.Run[Any, Any], payload: bytes) -> Any:
    return type(run.status).END


def waiting(status_type: type[enum.IntEnum] = Status, name: str = WF) -> wfkit.Builder[Any, Any]:
    """START -callback-> MIDDLE -callback-> END: runs stay where they are until told."""
    b: wfkit.Builder[Any, Any] = wfkit.Builder(name, Doc, status_type)
    b.add_callback(status_type.START, to_middle, status_type.MIDDLE)  # type: ignore[attr-defined]
    b.add_callback(status_type.MIDDLE, to_end, status_type.END)  # type: ignore[attr-defined]
    return b


def errors(env: WorkflowEnv, process: str) -> float | None:
    return env.registry.get_sample_value(
        "workflow_process_error_count_total", {"workflow_name": WF, "process_name": process}
    )


# -- trigger -----------------------------------------------------------------------------------


async def test_trigger_before_run_and_after_stop(wfkit_env: WorkflowEnv) -> None:
    wf = wfkit_env.build(waiting())
    with pytest.raises(wfkit.WorkflowNotRunning, match=r"trigger failed: .*await wf\.run\(\)") as exc:
        await wf.trigger("doc")
    one_line(exc.value)
    async with wf:
        await wf.trigger("doc")
    with pytest.raises(wfkit.WorkflowNotRunning):
        await wf.trigger("doc-2")
    assert [r.foreign_id for r in await wfkit_env.store.list(WF)] == ["doc"]


@pytest.mark.parametrize("foreign_id", ["", "   ", "\t\n", None, 42, b"doc"])
async def test_foreign_id_must_be_a_non_empty_string(wfkit_env: WorkflowEnv, foreign_id: Any) -> None:
    async with wfkit_env.run(waiting()) as wf:
        with pytest.raises(wfkit.ConfigurationError, match="non-empty foreign id string") as exc:
            await wf.trigger(foreign_id)
        one_line(exc.value)
        assert await wfkit_env.store.list(WF) == []


@pytest.mark.parametrize("status", [Four.UNUSED, Other.START, 1, "START"])
async def test_unknown_status_is_not_configured(wfkit_env: WorkflowEnv, status: Any) -> None:
    async with wfkit_env.run(waiting(Four)) as wf:
        with pytest.raises(wfkit.StatusNotConfigured, match="add a step, callback or timeout") as exc:
            await wf.trigger("doc", start_at=status)
        one_line(exc.value)
        assert await wfkit_env.store.list(WF) == []

        run_id = await wf.trigger("doc")
        with pytest.raises(wfkit.StatusNotConfigured):
            await wf.await_status("doc", run_id, status, timeout=1)
        with pytest.raises(wfkit.StatusNotConfigured):
            await wf.callback("doc", status, b"{}")
        assert len(await wfkit_env.store.history(run_id)) == 1


async def test_start_at_a_terminal_status(wfkit_env: WorkflowEnv) -> None:
    async with wfkit_env.run(waiting()) as wf:
        with pytest.raises(wfkit.ConfigurationError, match="terminal status END") as exc:
            await wf.trigger("doc", start_at=Status.END)
        one_line(exc.value)
        assert await wfkit_env.store.list(WF) == []
        run_id = await wf.trigger("doc", start_at=Status.MIDDLE)  # a non-terminal one is fine
        assert (await wfkit_env.store.lookup(run_id)).status == Status.MIDDLE


async def test_object_not_constructible_without_initial(wfkit_env: WorkflowEnv) -> None:
    b: wfkit.Builder[NeedsId, Status] = wfkit.Builder(WF, NeedsId, Status)
    b.add_callback(Status.START, to_end, Status.END)
    async with wfkit_env.run(b) as wf:
        with pytest.raises(wfkit.ConfigurationError, match=r"NeedsId\(\).*pass initial=") as exc:
            await wf.trigger("doc")
        one_line(exc.value)
        assert await wfkit_env.store.list(WF) == []
        await wf.trigger("doc", initial=NeedsId("x"))


@pytest.mark.parametrize(
    ("initial", "match"),
    [
        (Doc("x", {"a", "b"}), r"field 'steps' is a set"),  # type: ignore[arg-type]
        (Doc(object()), r"field 'text' holds an object"),  # type: ignore[arg-type]
        (Doc("x", [datetime(2024, 1, 1, tzinfo=UTC)]), r"field 'steps\[0\]'"),  # type: ignore[list-item]
        ({"text": "x", "steps": []}, r"is a dict but comes back as a Doc"),
    ],
)
async def test_unserialisable_initial_object(wfkit_env: WorkflowEnv, initial: Any, match: str) -> None:
    async with wfkit_env.run(waiting()) as wf:
        with pytest.raises(wfkit.CodecError, match=match) as exc:
            await wf.trigger("doc", initial=initial)
        one_line(exc.value)
        # Nothing was stored: no record, no outbox event, and the foreign id is still free.
        assert await wfkit_env.store.list(WF) == []
        assert await wfkit_env.store.list_outbox(WF) == []
        with pytest.raises(wfkit.RecordNotFound):
            await wfkit_env.store.latest(WF, "doc")
        await wf.trigger("doc", initial=Doc("fine"))


# -- records that will not decode --------------------------------------------------------------


async def test_a_record_that_will_not_decode_pauses_its_run_and_others_go_on(wfkit_env: WorkflowEnv) -> None:
    async def finish(run: wfkit.Run[Doc, Status]) -> Status:
        run.object.steps.append("finished")
        return Status.END

    b = wfkit.Builder(WF, Doc, Status)
    b.add_callback(Status.START, to_middle, Status.MIDDLE)
    b.add_step(Status.MIDDLE, finish, Status.END)
    store = wfkit_env.store
    async with wfkit_env.run(b) as wf:
        bad = await wf.trigger("bad")
        v1 = await store.lookup(bad)
        # Someone wrote a version the codec cannot read (a bad migration, another writer).
        await store.store(
            v1.replace(
                status=Status.MIDDLE,
                run_state=wfkit.RunState.RUNNING,
                object=b"not json",
                meta=dataclasses.replace(v1.meta, version=2, status_description="MIDDLE"),
            )
        )
        good = await wf.trigger("good", initial=Doc("g"))  # its event queues behind the bad one
        await wf.callback("good", Status.START, b"")
        run = await wf.await_status("good", good, Status.END, timeout=5)
        assert run.object == Doc("g", ["finished"])

        async def bad_paused() -> bool:
            return (await store.lookup(bad)).run_state is wfkit.RunState.PAUSED

        await eventually(bad_paused, "the undecodable run to be paused")
        record = await store.lookup(bad)
        assert record.meta.version == 3
        assert record.status == Status.MIDDLE
        assert record.object == b"not json"  # kept for a fix or migration, not scrubbed
        assert "does not decode" in record.meta.run_state_reason
        assert "not valid JSON" in record.meta.run_state_reason
        assert errors(wfkit_env, MIDDLE_CONSUMER) is None  # the consumer never failed
        later = await wf.trigger("later")
        await wf.callback("later", Status.START, b"")
        await wf.await_status("later", later, Status.END, timeout=5)


# -- callbacks ---------------------------------------------------------------------------------


def callback_builder(calls: list[bytes]) -> wfkit.Builder[Doc, Status]:
    async def approve(run: wfkit.Run[Doc, Status], payload: bytes) -> Status:
        calls.append(payload)
        return Status.MIDDLE

    b = wfkit.Builder(WF, Doc, Status)
    b.add_callback(Status.START, approve, Status.MIDDLE)
    b.add_callback(Status.MIDDLE, to_end, Status.END)
    return b


async def test_callback_for_another_status_or_a_paused_run_is_a_silent_no_op(
    wfkit_env: WorkflowEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="wfkit")
    calls: list[bytes] = []
    async with wfkit_env.run(callback_builder(calls), debug=True) as wf:
        run_id = await wf.trigger("doc")

        await wf.callback("doc", Status.MIDDLE, b"too early")  # the run is at START
        assert len(await wfkit_env.store.history(run_id)) == 1
        ignored = [r for r in caplog.records if r.message.startswith("callback ignored")]
        assert len(ignored) == 1
        assert ignored[0].levelno == logging.DEBUG

        await wf.pause(run_id, "under review")
        await wf.callback("doc", Status.START, b"while paused")
        assert calls == []
        history = await wfkit_env.store.history(run_id)
        assert len(history) == 2
        assert history[-1].run_state is wfkit.RunState.PAUSED
        assert len([r for r in caplog.records if r.message.startswith("callback ignored")]) == 2

        await wf.resume(run_id)
        await wf.callback("doc", Status.START, b"now")
        assert calls == [b"now"]
        assert (await wfkit_env.store.lookup(run_id)).status == Status.MIDDLE

        await wf.callback("doc", Status.MIDDLE, b"")
        await wf.callback("doc", Status.MIDDLE, b"again")  # finished: also a no-op
        assert len(await wfkit_env.store.history(run_id)) == 5


async def test_ignored_callbacks_are_not_logged_without_debug(
    wfkit_env: WorkflowEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="wfkit")
    async with wfkit_env.run(callback_builder([])) as wf:
        run_id = await wf.trigger("doc")
        await wf.callback("doc", Status.MIDDLE, b"")
        assert len(await wfkit_env.store.history(run_id)) == 1
    assert not [r for r in caplog.records if r.message.startswith("callback ignored")]


async def test_callback_for_an_unknown_foreign_id(wfkit_env: WorkflowEnv) -> None:
    async with wfkit_env.run(callback_builder([])) as wf:
        with pytest.raises(wfkit.RecordNotFound, match="foreign_id='nobody'") as exc:
            await wf.callback("nobody", Status.START, b"")
        one_line(exc.value)


async def test_callback_returning_a_status_it_may_not_reach(wfkit_env: WorkflowEnv) -> None:
    async def wrong(run: wfkit.Run[Doc, Status], payload: bytes) -> Status:
        return Status.END

    b = wfkit.Builder(WF, Doc, Status)
    b.add_callback(Status.START, wrong, Status.MIDDLE)
    b.add_step(Status.MIDDLE, lambda run: Status.END, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("doc")
        with pytest.raises(wfkit.InvalidTransition, match=r"START -> Status\.END") as exc:
            await wf.callback("doc", Status.START, b"")
        one_line(exc.value)
        assert len(await wfkit_env.store.history(run_id)) == 1


# -- steps returning something they may not ----------------------------------------------------


@pytest.mark.parametrize(
    ("result", "shown"),
    [
        pytest.param(lambda: Status.END, "START -> Status.END", id="status-not-a-destination"),
        pytest.param(lambda: None, "START -> None", id="none"),
        pytest.param(lambda: Other.MIDDLE, "START -> Other.MIDDLE", id="another-enums-member"),
        pytest.param(lambda: "MIDDLE", "START -> 'MIDDLE'", id="a-string"),
        pytest.param(lambda: True, "START -> True", id="a-bool"),
        pytest.param(lambda: 99, "START -> 99", id="an-unknown-number"),
    ],
)
async def test_a_step_returning_a_non_destination_is_never_applied_and_pauses_after_n(
    wfkit_env: WorkflowEnv, caplog: pytest.LogCaptureFixture, result: Callable[[], Any], shown: str
) -> None:
    calls = 0

    async def step(run: wfkit.Run[Doc, Status]) -> Any:
        nonlocal calls
        calls += 1
        return result()

    b = wfkit.Builder(WF, Doc, Status)
    b.add_step(Status.START, step, Status.MIDDLE, pause_after_errors=3, error_backoff=0.001)
    b.add_callback(Status.MIDDLE, to_end, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("doc")

        async def paused() -> bool:
            return (await wfkit_env.store.lookup(run_id)).run_state is wfkit.RunState.PAUSED

        await eventually(paused, "the run to be paused after 3 invalid results")
    history = await wfkit_env.store.history(run_id)
    assert [(r.status, r.run_state) for r in history] == [
        (Status.START, wfkit.RunState.INITIATED),
        (Status.START, wfkit.RunState.PAUSED),
    ]
    assert history[-1].meta.run_state_reason == wfkit.AUTO_PAUSE_REASON
    assert calls == 3
    assert errors(wfkit_env, "start-consumer-1-of-1") == 2  # the third one paused instead
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 2
    assert all("InvalidTransition" in r.getMessage() for r in failures)
    assert all(f"{shown} (allowed from START: MIDDLE)" in r.getMessage() for r in failures)


async def test_a_plain_int_destination_is_accepted(wfkit_env: WorkflowEnv) -> None:
    b = wfkit.Builder(WF, Doc, Status)
    b.add_step(Status.START, lambda run: 3, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("doc")
        run = await wf.await_status("doc", run_id, Status.END, timeout=5)
        assert run.status is Status.END


# -- the error family --------------------------------------------------------------------------

ERRORS: list[wfkit.WfkitError] = [
    wfkit.WfkitError("something went wrong"),
    wfkit.ConfigurationError("bad option"),
    wfkit.RecordNotFound(run_id="r1"),
    wfkit.RecordNotFound(workflow_name="wf", foreign_id="line one\nline two"),
    wfkit.WorkflowInProgress("wf", "doc\n1", "r1"),
    wfkit.StatusNotConfigured("wf", "A\nB"),
    wfkit.InvalidTransition("wf", "START", "END", ("MIDDLE",)),
    wfkit.InvalidTransition("wf", "START", None),
    wfkit.InvalidRunStateTransition("r1", "COMPLETED", "RUNNING"),
    wfkit.VersionConflict("r1", 2, 3),
    wfkit.WorkflowNotRunning("wf", "schedule"),
    wfkit.CodecError("cannot decode Doc", type_name="Doc"),
    wfkit.AwaitTimeout("run r1 to reach END", 5),
    wfkit.RoleLost("wf-1-consumer-1-of-1"),
    memory.ClosedError("receiver 'x'"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_every_error_is_a_wfkit_error_with_a_one_line_message(error: wfkit.WfkitError) -> None:
    assert isinstance(error, wfkit.WfkitError)
    one_line(error)


def test_every_exported_error_derives_from_wfkit_error() -> None:
    exported = [getattr(wfkit, name) for name in wfkit.__all__]
    classes = [c for c in exported if isinstance(c, type) and issubclass(c, BaseException)]
    assert len(classes) == 12
    assert all(issubclass(c, wfkit.WfkitError) for c in classes)
    assert {type(e) for e in ERRORS} >= set(classes)
    assert issubclass(wfkit.AwaitTimeout, TimeoutError)  # `except TimeoutError` still works
