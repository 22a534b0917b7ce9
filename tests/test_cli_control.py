"""`wfkit pause|resume|retry|cancel|delete`, `trigger` and `callback`: what each writes to the store,
their JSON output, and one-line errors with exit codes (1 for a WfkitError, 2 for misuse)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _cli_store import TARGET, assert_one_line_error, invoke, invoke_json, isolate_imports, seed

import wfkit

ORDER = json.dumps({"id": "o9", "items": ["book"], "total": 12.5})


@pytest.fixture(autouse=True)
def _isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from isolate_imports(monkeypatch)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(seed(tmp_path_factory.mktemp("seeded") / "orders.db").removeprefix("sqlite:///"))


@pytest.fixture
def store(seeded: Path, tmp_path: Path) -> str:
    """A copy of the seeded store (three finished runs) for one test to change."""
    path = tmp_path / "orders.db"
    shutil.copyfile(seeded, path)
    return f"sqlite:///{path}"


def trigger(store: str, foreign_id: str = "o9", *args: str) -> dict[str, Any]:
    run: dict[str, Any] = invoke_json("trigger", TARGET, foreign_id, "--store", store, *args)
    return run


def latest(store: str, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = invoke_json("runs", "show", run_id, "--store", store)
    return run


def finished(store: str, foreign_id: str) -> str:
    runs = invoke_json("runs", "list", "--store", store, "--foreign-id", foreign_id)
    run_id: str = runs[0]["run_id"]
    return run_id


# -- trigger -------------------------------------------------------------------------------------


def test_trigger_writes_the_run_and_leaves_the_steps_to_workers(store: str) -> None:
    run = trigger(store, "o9", "--object", ORDER)
    assert (run["foreign_id"], run["status_name"], run["run_state"]) == ("o9", "CREATED", "INITIATED")
    assert {k: run["object"][k] for k in ("id", "items", "total")} == json.loads(ORDER)
    assert [v["version"] for v in invoke_json("runs", "history", run["run_id"], "--store", store)] == [1]
    # The run's event is committed with it (SQLite appends it to the event table in the same
    # transaction) and no role was ever taken: a worker does the steps.
    db = sqlite3.connect(store.removeprefix("sqlite:///"))
    try:
        events = db.execute("SELECT key FROM wfkit_events WHERE key = ?", (run["run_id"],)).fetchall()
        assert events == [(run["run_id"],)]
        assert db.execute("SELECT COUNT(*) FROM wfkit_leases").fetchone() == (0,)
    finally:
        db.close()


def test_trigger_prints_the_run_id_and_can_start_at_a_status(store: str) -> None:
    code, out, err = invoke("trigger", TARGET, "o8", "--status", "payment_pending", "--store", store)
    assert code == 0, err
    assert out.startswith("triggered run ")
    assert out.strip().endswith("(orders 'o8') at PAYMENT_PENDING")
    run_id = out.split()[2]
    assert latest(store, run_id)["status_name"] == "PAYMENT_PENDING"


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--object", "{items: [1]}"], ["--object", "not valid JSON", "quote the whole value"]),
        (["--object", '{"total": "lots"}'], ["--object", "Order", "total"]),
        (["--status", "SHIPPED"], ["--status", "SHIPPED", "PAYMENT_PENDING"]),
    ],
)
def test_trigger_misuse_is_one_line_and_exit_2(store: str, args: list[str], needles: list[str]) -> None:
    code, out, err = invoke("trigger", TARGET, "o9", "--store", store, *args)
    assert (code, out) == (2, "")
    assert_one_line_error(err, *needles)


def test_trigger_needs_a_builder(store: str, tmp_path: Path) -> None:
    code, _, err = invoke("trigger", f"{TARGET.removesuffix(':builder')}:Order", "o9", "--store", store)
    assert code == 2
    assert_one_line_error(err, "MODULE:ATTR", "Order")


def test_a_second_active_run_for_a_foreign_id_is_exit_1(store: str) -> None:
    trigger(store, "o9")
    code, _, err = invoke("trigger", TARGET, "o9", "--store", store)
    assert code == 1
    assert_one_line_error(err, "already has an active run", "o9")


def test_trigger_creates_a_missing_store_file(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'new.db'}"
    assert trigger(store, "o1")["status_name"] == "CREATED"


# -- pause, resume, retry, cancel, delete -------------------------------------------------------


def test_a_paused_run_resumes(store: str) -> None:
    run_id = trigger(store, "o9", "--object", ORDER)["run_id"]
    code, out, err = invoke("pause", run_id, "--reason", "checking stock", "--store", store)
    assert code == 0, err
    assert out.startswith(f"paused run {run_id}")
    paused = latest(store, run_id)
    assert (paused["run_state"], paused["run_state_reason"]) == ("PAUSED", "checking stock")
    resumed = invoke_json("resume", run_id, "--store", store)
    assert (resumed["run_state"], resumed["status_name"], resumed["version"]) == ("RUNNING", "CREATED", 3)
    assert latest(store, run_id)["run_state"] == "RUNNING"


def test_retry_resumes_a_paused_run(store: str) -> None:
    run_id = trigger(store)["run_id"]
    invoke_json("pause", run_id, "--store", store)
    assert invoke_json("retry", run_id, "--store", store)["run_state"] == "RUNNING"


def test_cancel_keeps_the_reason_and_is_final(store: str) -> None:
    run_id = trigger(store)["run_id"]
    cancelled = invoke_json("cancel", run_id, "-r", "customer called", "--store", store)
    assert (cancelled["run_state"], cancelled["run_state_reason"]) == ("CANCELLED", "customer called")
    code, _, err = invoke("pause", run_id, "--store", store)
    assert code == 1
    assert_one_line_error(err, run_id, "CANCELLED", "PAUSED")


def test_delete_asks_for_a_finished_runs_data_to_be_deleted(store: str) -> None:
    run_id = finished(store, "o1")
    code, out, err = invoke("delete", run_id, "--reason", "gdpr", "--store", store)
    assert code == 0, err
    assert out.startswith(f"asked to delete the data of run {run_id}")
    history = invoke_json("runs", "history", run_id, "--store", store)
    assert [(v["run_state"], v["run_state_reason"]) for v in history[-2:]] == [
        ("COMPLETED", ""),
        ("REQUESTED_DATA_DELETED", "gdpr"),
    ]


@pytest.mark.parametrize("command", ["pause", "resume", "retry", "cancel", "delete"])
def test_an_unknown_run_id_is_exit_1(store: str, command: str) -> None:
    code, out, err = invoke(command, "no-such-run", "--store", store)
    assert (code, out) == (1, "")
    assert_one_line_error(err, "no-such-run", "wfkit runs list")


def test_resume_of_a_running_run_is_exit_1(store: str) -> None:
    run_id = trigger(store)["run_id"]
    code, _, err = invoke("resume", run_id, "--store", store)
    assert code == 1
    assert_one_line_error(err, run_id, "cannot move run state from INITIATED to RUNNING")


def test_a_lost_race_is_exit_1(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = trigger(store)["run_id"]

    async def conflict(self: wfkit.Admin, run_id: str, reason: str = "") -> wfkit.Record:
        raise wfkit.VersionConflict(run_id, 1, 2)

    monkeypatch.setattr(wfkit.Admin, "pause", conflict)
    code, _, err = invoke("pause", run_id, "--store", store)
    assert code == 1
    assert_one_line_error(err, "modified since it was loaded", run_id)


# -- callback ------------------------------------------------------------------------------------


def waiting(store: str, foreign_id: str = "o9") -> str:
    """A run waiting for its payment callback (started there: no worker runs in these tests)."""
    run_id: str = trigger(store, foreign_id, "--object", ORDER, "--status", "PAYMENT_PENDING")["run_id"]
    return run_id


def test_callback_moves_the_run_on(store: str) -> None:
    run_id = waiting(store)
    code, out, err = invoke(
        "callback", TARGET, "o9", "payment_pending", "-p", '{"amount": 12.5}', "--store", store
    )
    assert code == 0, err
    assert out.strip() == f"callback delivered: run {run_id} ('o9') PAYMENT_PENDING -> PAID"
    assert latest(store, run_id)["status_name"] == "PAID"


def test_callback_by_run_id_with_json_output(store: str) -> None:
    run_id = waiting(store)
    result = invoke_json("callback", TARGET, run_id, "3", "--payload", '{"amount": 12.5}', "--store", store)
    assert (result["delivered"], result["moved"]) == (True, True)
    assert (result["run"]["run_id"], result["run"]["status_name"]) == (run_id, "PAID")


def test_a_callback_the_workflow_skips_leaves_the_run_waiting(store: str) -> None:
    run_id = waiting(store)
    code, out, err = invoke(
        "callback", TARGET, "o9", "PAYMENT_PENDING", "-p", '{"amount": 1}', "--store", store
    )
    assert code == 0, err
    assert "skipped it" in out
    assert latest(store, run_id)["status_name"] == "PAYMENT_PENDING"


def test_a_callback_for_a_run_not_waiting_is_exit_1(store: str) -> None:
    run_id = waiting(store)
    invoke_json("pause", run_id, "--store", store)
    code, _, err = invoke(
        "callback", TARGET, "o9", "PAYMENT_PENDING", "-p", '{"amount": 12.5}', "--store", store
    )
    assert code == 1
    assert_one_line_error(err, "not waiting at PAYMENT_PENDING", "resume it first")
    code, _, err = invoke(
        "callback", TARGET, "o1", "PAYMENT_PENDING", "-p", '{"amount": 12.5}', "--store", store
    )
    assert code == 1
    assert_one_line_error(err, "is at FULFILLED", "nothing delivered")


def test_a_callback_that_raises_is_one_line_exit_1(store: str) -> None:
    waiting(store)
    code, _, err = invoke(
        "callback", TARGET, "o9", "PAYMENT_PENDING", "-p", '{"paid": true}', "--store", store
    )
    assert code == 1
    assert_one_line_error(err, "PAYMENT_PENDING callback", "KeyError", "--payload")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["o9", "PAYMENT_PENDING", "-p", "amount=12.5"], ["--payload", "not valid JSON"]),
        (["o9", "PAID"], ["STATUS", "no callback at PAID"]),
        (["o9", "LOST"], ["STATUS", "LOST", "PAYMENT_PENDING"]),
    ],
)
def test_callback_misuse_is_one_line_and_exit_2(store: str, args: list[str], needles: list[str]) -> None:
    waiting(store)
    code, out, err = invoke("callback", TARGET, *args, "--store", store)
    assert (code, out) == (2, "")
    assert_one_line_error(err, *needles)


def test_a_callback_for_an_unknown_run_is_exit_1(store: str) -> None:
    code, _, err = invoke("callback", TARGET, "o404", "PAYMENT_PENDING", "--store", store)
    assert code == 1
    assert_one_line_error(err, "o404", "wfkit runs list")
