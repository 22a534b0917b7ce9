"""`wfkit bench`: the table and the JSON document on memory:// and a SQLite file, and misuse.

Small N keeps these fast; nothing here asserts how fast anything is, only that the numbers are
sane (positive, p50 <= p99, every run counted) and that errors are one line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from wfkit.cli._app import app
from wfkit.cli.bench import IDLE_RUNS

ENV = {"COLUMNS": "120", "FORCE_COLOR": None, "NO_COLOR": "1", "WFKIT_STORE": None}
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["bench", *args], env=ENV, catch_exceptions=False)
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def bench_json(*args: str) -> dict[str, Any]:
    code, out, err = invoke(*args, "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


def assert_sane(doc: dict[str, Any], *, runs: int, steps: int, inflight: int) -> None:
    assert (doc["runs"], doc["steps"], doc["inflight"]) == (runs, steps, inflight)
    assert doc["idle_runs"] == IDLE_RUNS
    assert doc["seconds"] > 0
    assert doc["runs_per_s"] > 0
    assert doc["steps_per_s"] == pytest.approx(doc["runs_per_s"] * steps, rel=0.01)
    for key in ("latency_ms", "idle_latency_ms"):
        assert 0 < doc[key]["p50"] <= doc[key]["p99"], doc[key]
    assert re.fullmatch(r"wfkit-bench-[0-9a-f]{8}", doc["workflow"])


def test_memory_json_counts_every_run() -> None:
    doc = bench_json("--runs", "40", "--inflight", "8", "--steps", "3")
    assert_sane(doc, runs=40, steps=3, inflight=8)
    assert doc["store"] == "memory://"
    assert doc["durability"] == {}  # nothing to report for memory


def test_memory_table_and_no_progress_on_stdout() -> None:
    code, out, err = invoke("--runs", "30", "--inflight", "10")
    assert code == 0, err
    for label in ("steps/s", "runs/s", "trigger-to-complete p50 / p99 (10 in flight)", "idle p50 / p99"):
        assert label in out
    assert "30 runs x 5 steps" in out
    assert "workflow" not in out.split("completion:")[0]  # a memory store's runs vanish with it
    assert err == ""  # no progress bar outside a terminal


def test_sqlite_file_reports_durability_and_keeps_runs_apart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    first = bench_json("--store", url, "--runs", "20", "--inflight", "5")
    assert_sane(first, runs=20, steps=5, inflight=5)
    assert first["durability"] == {"synchronous": "FULL", "journal_mode": "WAL"}
    second = bench_json("--store", url, "--runs", "10", "--inflight", "5", "--steps", "2")
    assert_sane(second, runs=10, steps=2, inflight=5)
    assert second["workflow"] != first["workflow"]  # a second run never mixes with the first's


def test_sqlite_table_names_the_workflow(tmp_path: Path) -> None:
    code, out, err = invoke("--store", f"sqlite:///{tmp_path / 'bench.db'}", "--runs", "10")
    assert code == 0, err
    for label in ("synchronous", "journal_mode", "wfkit-bench-"):
        assert label in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--runs", "0"), "'--runs'"),
        (("--inflight", "0"), "'--inflight'"),
        (("--steps", "many"), "'--steps'"),
        (("--store", "redis-ish://x"), "unsupported store URL"),
        (("--store", "sqlite:////no/such/dir/bench.db"), "create it first"),
    ],
)
def test_misuse_exits_2_with_one_line(args: tuple[str, ...], needle: str) -> None:
    code, out, err = invoke(*args)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert needle in lines[0]
    assert out == ""
