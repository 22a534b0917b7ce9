"""`wfkit worker` as a real process: ready line, runs triggered from another process complete,
`/metrics` on loopback, exit 0 on SIGTERM or Ctrl-C; and its one-line errors."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from _cli_store import TARGET, assert_one_line_error, invoke, invoke_json, isolate_imports

READY = "wfkit worker ready:"
DEADLINE = 20.0


@pytest.fixture(autouse=True)
def _isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from isolate_imports(monkeypatch)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Worker:
    """`wfkit worker` in a subprocess, its stdout read line by line on a thread."""

    def __init__(self, cwd: Path, *args: str) -> None:
        command = [sys.executable, "-c", "from wfkit.cli import main; main()", "worker", TARGET, *args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("WFKIT_STORE", None)
        self.proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.lines.put), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr.append), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _read(stream: IO[str], put: Callable[[str], None]) -> None:
        for line in stream:
            put(line)

    def ready_line(self) -> str:
        deadline = time.monotonic() + DEADLINE
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line.startswith(READY):
                return line.strip()
        self.close()
        raise AssertionError(f"no ready line within {DEADLINE} s; stderr: {''.join(self.stderr)}")

    def stop(self, signum: int) -> int:
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=DEADLINE)
        self._drain()
        return code

    def close(self) -> None:
        """Kill the worker if it still runs (a failed test), then close its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._drain()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def _drain(self) -> None:
        for thread in self._threads:
            thread.join(timeout=DEADLINE)


def wait_for(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def run_at(store: str, run_id: str, status: str, run_state: str) -> Callable[[], bool]:
    def check() -> bool:
        run = invoke_json("runs", "show", run_id, "--store", store)
        return bool(run["status_name"] == status and run["run_state"] == run_state)

    return check


def test_a_worker_runs_what_other_processes_trigger_and_stops_on_sigterm(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'orders.db'}"
    port = free_port()
    worker = Worker(tmp_path, "--store", store, "--lease", "1", "--metrics-port", str(port))
    try:
        line = worker.ready_line()
        assert f"workflow=orders store={store} metrics=http://127.0.0.1:{port}/metrics" in line

        order = '{"id": "o1", "items": ["book"], "total": 12.5}'
        paid = invoke_json("trigger", TARGET, "o1", "--object", order, "--store", store)["run_id"]
        empty = invoke_json("trigger", TARGET, "o2", "--store", store)["run_id"]
        wait_for("o1 to wait for payment", run_at(store, paid, "PAYMENT_PENDING", "RUNNING"))
        wait_for("o2 to be rejected", run_at(store, empty, "REJECTED", "COMPLETED"))
        code, _, err = invoke(
            "callback", TARGET, "o1", "PAYMENT_PENDING", "-p", '{"amount": 12.5}', "--store", store
        )
        assert code == 0, err
        wait_for("o1 to be fulfilled", run_at(store, paid, "FULFILLED", "COMPLETED"))

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=DEADLINE) as response:
            metrics = response.read().decode()
        assert 'workflow_process_states{process_name="outbox-consumer",workflow_name="orders"} ' in metrics
        assert "workflow_run_state_changes_total{" in metrics
        assert "process_cpu_seconds_total" in metrics  # the default registry: process metrics too

        assert worker.stop(signal.SIGTERM) == 0
        assert "worker stopped" in "".join(worker.stderr)
        rest = [worker.lines.get_nowait() for _ in range(worker.lines.qsize())]
        assert all(line.startswith("  (on_complete: ") for line in rest), rest  # the example's prints
    finally:
        worker.close()


def test_ctrl_c_stops_a_worker_without_metrics_cleanly(tmp_path: Path) -> None:
    worker = Worker(tmp_path, "--store", "sqlite:///w.db", "--metrics-port", "0")
    try:
        assert worker.ready_line().endswith(f"metrics=off pid={worker.proc.pid}")
        assert worker.stop(signal.SIGINT) == 0
        assert (tmp_path / "w.db").is_file()  # a relative URL is relative to the working directory
    finally:
        worker.close()


def test_a_metrics_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = Worker(tmp_path, "--store", "sqlite:///w.db", "--metrics-port", str(port))
        try:
            assert worker.proc.wait(timeout=DEADLINE) == 1
        finally:
            worker.close()
    assert worker.lines.empty()
    assert_one_line_error("".join(worker.stderr), f"127.0.0.1:{port}", "--metrics-port")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["examples/nope.py:builder"], ["MODULE:ATTR", "no such file"]),
        ([TARGET, "--store", "memory://"], ["--store", "memory://"]),
        ([TARGET, "--lease", "0"], ["--lease"]),
        ([TARGET, "--log-level", "LOUD"], ["--log-level", "LOUD"]),
    ],
)
def test_worker_misuse_is_one_line_and_exit_2(args: list[str], needles: list[str]) -> None:
    code, out, err = invoke("worker", *args)
    assert (code, out) == (2, "")
    assert_one_line_error(err, *needles)
