"""`wfkit simulate`: summaries, sweeps, replays, trace files, misuse, and a planted bug it must catch."""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from wfkit.cli._app import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "payments.py"
PAYMENTS = f"{EXAMPLE}:builder"
ENV = {"COLUMNS": "100", "FORCE_COLOR": None, "NO_COLOR": "1"}
FEW = ("--runs", "6")
STORMY = "stale_read=0.3,duplicate=0.3,window=0..60"

# A store that forgot the version compare-and-set: a writer holding an old version overwrites.
BROKEN_BACKEND = """
from wfkit.adapters import Backend, memory


class NoCompareAndSet(memory.RecordStore):
    def _commit(self, record):
        history = self._history.get(record.run_id)
        version = record.meta.version
        if history and 1 < version <= len(history):
            self._latest[record.run_id] = history[version - 2]  # pretend the writer is up to date
        return super()._commit(record)


def backend(clock):
    return Backend(
        memory.EventStreamer(clock=clock),
        NoCompareAndSet(clock=clock),
        memory.RoleScheduler(clock=clock),
        memory.TimeoutStore(clock=clock),
    )


def not_a_backend(clock):
    return {"store": "nope"}
"""

# A workflow whose step decides by an unseeded random source: replays cannot agree.
NONDETERMINISTIC = """
import enum, random
import wfkit


class S(enum.IntEnum):
    START = 1
    HEADS = 2
    TAILS = 3


def builder():
    b = wfkit.Builder("coin", dict, S)
    b.add_step(S.START, lambda run: S.HEADS if random.SystemRandom().random() < 0.5 else S.TAILS,
               S.HEADS, S.TAILS)
    return b
"""

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["simulate", *args], env=ENV, catch_exceptions=False)
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def invoke_json(*args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = invoke(*args, "--json")
    data: dict[str, Any] = json.loads(out)
    return code, data


@pytest.fixture(autouse=True)
def isolated_imports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Undo what loading `module:attr` does: the cwd on `sys.path`, user modules in `sys.modules`."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        file = getattr(sys.modules[name], "__file__", None) or ""
        if file.startswith(str(tmp_path)) or file == str(EXAMPLE):
            del sys.modules[name]


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "broken.py").write_text(BROKEN_BACKEND)
    monkeypatch.chdir(tmp_path)
    return "broken:backend"


def one_line_error(err: str, *needles: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def sha256_of(lines: list[str]) -> str:
    return hashlib.sha256("".join(line + "\n" for line in lines).encode()).hexdigest()


# -- passing runs --------------------------------------------------------------------------------


def test_help_lists_simulate() -> None:
    result = runner.invoke(app, ["--help"], env=ENV)
    assert result.exit_code == 0
    assert "simulate" in result.stdout


def test_a_passing_run_exits_0_and_shows_its_stats() -> None:
    code, out, _ = invoke(PAYMENTS, "--seed", "3", *FEW)
    assert code == 0, out
    assert "ok: every invariant held" in out
    for label in ("runs finished", "transitions", "step-function calls", "faults injected", "trace hash"):
        assert label in out
    assert "faults: default" in out
    assert "AWAITING_CONFIRMATION" in out  # the callback the CLI answers


def test_json_result_and_callbacks_answered_by_default(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    code, data = invoke_json(PAYMENTS, "--seed", "3", *FEW, "--faults", "none", "--trace", str(trace))
    assert code == 0
    assert data["ok"] is True
    assert data["violations"] == []
    assert data["stats"]["runs_triggered"] == data["stats"]["runs_finished"] == 6
    assert data["workload"]["callbacks"] == {"4": "{}"}
    assert len(data["trace_hash"]) == 64
    assert data["replay_command"].startswith(f"wfkit simulate {PAYMENTS} --seed 3 --nodes 3 --runs 6")
    kinds = [json.loads(line)["k"] for line in trace.read_text().splitlines()[1:]]
    assert kinds.count("callback") >= 6  # every payment was confirmed, none left to expire


def test_seeds_decide_the_trace() -> None:
    hashes = [invoke_json(PAYMENTS, "--seed", s, *FEW)[1]["trace_hash"] for s in ("1", "1", "2")]
    assert hashes[0] == hashes[1] != hashes[2]


def test_seeds_sweep() -> None:
    code, out, err = invoke(PAYMENTS, "--seeds", "1..5", *FEW)
    assert code == 0, out + err
    assert "seeds 1..5" in out
    assert "all 5 seeds passed" in out
    assert "totals over 5 seeds" in out
    code, data = invoke_json(PAYMENTS, "--seeds", "1..5", *FEW)
    assert code == 0
    assert (data["ok"], data["checked"], data["failed_seed"]) == (True, 5, None)
    assert sorted(data["hashes"], key=int) == ["1", "2", "3", "4", "5"]
    assert data["stats"]["runs_finished"] == 30


def test_replay_confirms_the_hash() -> None:
    code, out, _ = invoke(PAYMENTS, "--seed", "4", *FEW, "--replay")
    assert code == 0, out
    assert "replay confirmed" in out
    code, data = invoke_json(PAYMENTS, "--seed", "4", *FEW, "--replay")
    assert code == 0
    assert data["replay"]["confirmed"] is True
    assert data["replay"]["hashes"] == [data["trace_hash"]] * 2


def test_replay_exits_1_when_the_workflow_is_not_deterministic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "coin.py").write_text(NONDETERMINISTIC)
    monkeypatch.chdir(tmp_path)
    code, out, _ = invoke("coin:builder", "--runs", "30", "--faults", "none", "--replay")
    assert code == 1
    assert "replay differs" in out
    assert "first difference at trace line" in out


def test_trace_file_is_json_lines_with_a_header_and_the_hash(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    code, data = invoke_json(PAYMENTS, "--seed", "2", *FEW, "--trace", str(path))
    assert code == 0
    text = path.read_text()
    lines = text.splitlines()
    rows = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(row, dict) for row in rows)
    header = rows[0]
    assert header["k"] == "header"
    assert {"seed", "nodes", "plan", "workload", "target", "trace_hash"} <= set(header)
    assert (header["seed"], header["nodes"], header["target"]) == (2, 3, PAYMENTS)
    assert header["plan"] == data["plan"]
    assert header["workload"]["runs"] == 6
    assert header["trace_hash"] == data["trace_hash"] == sha256_of(lines[1:])
    assert header["lines"] == len(lines) - 1 == data["trace_lines"]
    assert not any("wall" in key for key in header)
    assert all({"k", "t"} <= set(row) for row in rows[1:])
    again = tmp_path / "again.jsonl"
    invoke_json(PAYMENTS, "--seed", "2", *FEW, "--trace", str(again))
    assert again.read_bytes() == path.read_bytes()  # one seed, one file


def test_a_sweep_writes_the_trace_of_its_last_seed(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    code, data = invoke_json(PAYMENTS, "--seeds", "3..4", *FEW, "--trace", str(path))
    assert code == 0
    header = json.loads(path.read_text().splitlines()[0])
    assert header["seed"] == 4
    assert header["trace_hash"] == data["hashes"]["4"]


# -- misuse: exit 2, one line ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "needle"),
    [
        ("duplicat=0.1", "duplicate"),
        ("duplicate=2", "crash"),
        ("crash=lots", "store_fail"),
        ("nonsense", "delay"),
    ],
)
def test_a_bad_fault_plan_exits_2_with_one_line_naming_the_faults(plan: str, needle: str) -> None:
    code, out, err = invoke(PAYMENTS, "--faults", plan)
    assert code == 2
    assert out == ""
    one_line_error(err, "--faults", needle)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--seeds", "5..1"), "--seeds"),
        (("--seeds", "one..two"), "--seeds"),
        (("--seeds", "1..3", "--seed", "2"), "not both"),
        (("--seeds", "1..3", "--replay"), "--replay"),
        (("--nodes", "0"), "--nodes"),
        (("--runs", "-1"), "--runs"),
        (("--trace", "/no/such/dir/t.jsonl"), "no such directory"),
        (("--backend", "nope:backend"), "--backend"),
    ],
)
def test_misuse_exits_2_with_one_line(args: tuple[str, ...], needle: str) -> None:
    code, _, err = invoke(PAYMENTS, *args)
    assert code == 2
    one_line_error(err, needle)


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("nope:builder", "no module named"),
        (f"{EXAMPLE}:Payment", "not a wfkit.Builder"),
        (f"{EXAMPLE}:CURRENCIES", "not a wfkit.Builder"),
        (f"{EXAMPLE}:missing", "has no attribute"),
        ("no-colon", "module:attr"),
    ],
)
def test_a_bad_target_exits_2_with_one_line(target: str, needle: str) -> None:
    code, _, err = invoke(target)
    assert code == 2
    one_line_error(err, needle)


def test_a_built_workflow_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "built.py").write_text(
        "import enum, wfkit\nfrom wfkit.adapters import memory\n"
        "S = enum.IntEnum('S', 'A B')\n"
        "wf = memory.backend().build(wfkit.Builder('b', dict, S).add_step(S.A, lambda run: S.B, S.B))\n"
    )
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke("built:wf")
    assert code == 2
    one_line_error(err, "built Workflow")


# -- failures: exit 1 ------------------------------------------------------------------------------


def test_a_planted_bug_exits_1_and_prints_the_replay_command(broken: str) -> None:
    args = (PAYMENTS, "--seed", "1", "--runs", "10", "--faults", STORMY, "--backend", broken)
    code, out, _ = invoke(*args)
    assert code == 1
    assert "FAILED" in out
    assert "no transition is applied twice" in out
    replay = [line for line in out.splitlines() if line.startswith("replay: wfkit simulate ")]
    assert len(replay) == 1
    command = shlex.split(replay[0].removeprefix("replay: "))
    assert command[:2] == ["wfkit", "simulate"]
    assert "--backend" in command
    assert "--seed" in command
    # The printed command replays the failure exactly.
    first = invoke_json(*args)
    second = invoke_json(*command[2:])
    assert first[0] == second[0] == 1
    assert first[1]["trace_hash"] == second[1]["trace_hash"]
    assert first[1]["violations"] == second[1]["violations"]


def test_a_sweep_stops_at_the_first_failing_seed(broken: str) -> None:
    code, out, _ = invoke(PAYMENTS, "--seeds", "1..40", "--faults", "default", "--backend", broken)
    assert code == 1
    code, data = invoke_json(PAYMENTS, "--seeds", "1..40", "--faults", "default", "--backend", broken)
    assert code == 1
    assert data["ok"] is False
    seed = data["failed_seed"]
    assert seed is not None
    assert data["checked"] == seed  # seeds 1..seed, none after it
    assert sorted(map(int, data["hashes"])) == list(range(1, seed + 1))
    assert data["report"]["seed"] == seed
    assert data["report"]["violations"]
    assert f"--seed {seed} " in data["report"]["replay_command"]
    assert f"seed {seed} failed after {seed - 1} passing seed(s)" in out
    assert "replay: wfkit simulate" in out


def test_a_simulation_that_cannot_run_is_one_line_and_exit_1(broken: str) -> None:
    code, out, err = invoke(PAYMENTS, *FEW, "--backend", "broken:not_a_backend")
    assert code == 1
    assert out == ""
    one_line_error(err, "seed 1", "not a wfkit.adapters.Backend", "replay: wfkit simulate")


def test_a_trace_file_carries_the_graph_and_objects_for_a_replay(tmp_path: Path) -> None:
    from wfkit.tui._simdata import load_trace

    path = tmp_path / "trace.jsonl"
    code, data = invoke_json(PAYMENTS, "--seed", "2", *FEW, "--faults", "none", "--trace", str(path))
    assert code == 0
    header = json.loads(path.read_text().splitlines()[0])
    assert header["graph"]["name"] == "payments"
    assert header["trace_hash"] == data["trace_hash"]  # side facts are not hashed
    trace = load_trace(path)
    run_id = next(run for run, versions in header["objects"].items() if len(versions) > 2)
    replay, _ = trace.replay(run_id)
    assert replay.info is not None
    assert [s.version for s in replay.steps] == list(range(1, len(replay.steps) + 1))
    assert all(s.object is not None for s in replay.steps)
    assert replay.steps[-1].object == header["objects"][run_id][str(len(replay.steps))].encode()
