"""The crash driver: worker processes on one database, SIGKILLed at random, and not a run lost.

`crash_test(url, ...)` starts `workers` worker processes (`wfkit worker tests/crash/workflow.py:builder
--store URL --lease L`), triggers `runs` runs of the five-step workflow from this process, and
every `kill_every` seconds SIGKILLs a worker chosen by a seeded RNG and starts a new one in its
place. Once every run has completed it stops killing, waits for the outbox to drain, stops the
workers with SIGTERM, and checks every run's history. What it saw comes back as a `CrashReport`;
the caller asserts on it (`report.problems` lists every broken promise).

    python tests/crash/driver.py --store sqlite:////tmp/crash.db [--runs 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from prometheus_client import CollectorRegistry

import wfkit
from wfkit.adapters import Backend, connect

HERE = Path(__file__).resolve().parent
if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))  # run as a script: make `crash` importable as under pytest
from crash.workflow import NAME, STEPS, Status, builder  # noqa: E402

TARGET = f"{HERE / 'workflow.py'}:builder"
READY = "wfkit worker ready:"


def wfkit_worker_command() -> list[str]:
    """`wfkit worker` from the environment this Python runs in."""
    script = Path(sys.executable).with_name("wfkit")
    return [str(script) if script.exists() else "wfkit", "worker"]


@dataclass
class CrashReport:
    """What one crash test saw; `problems` is empty when every promise held."""

    runs: int
    completed: int = 0
    kills: int = 0
    starts: int = 0
    trigger_seconds: float = 0.0
    complete_seconds: float = 0.0
    drain_seconds: float = 0.0
    ready_seconds: list[float] = field(default_factory=list)
    exit_codes: list[int | None] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    logs: Path | None = None

    def summary(self) -> str:
        ready = max(self.ready_seconds, default=0.0)
        return (
            f"{self.completed}/{self.runs} runs completed; {self.kills} SIGKILLs, "
            f"{self.starts} worker starts "
            f"(slowest start-to-ready {ready:.2f} s); triggered in {self.trigger_seconds:.1f} s, all "
            f"completed after {self.complete_seconds:.1f} s, outbox drained after {self.drain_seconds:.1f} s"
        )

    def explain(self) -> str:
        lines = [self.summary(), *self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"... and {len(self.problems) - 20} more problems")
        if self.logs is not None:
            lines.append(f"worker logs: {self.logs}")
            lines.extend(_tails(self.logs))
        return "\n".join(lines)


def _tails(logs: Path, lines: int = 15) -> list[str]:
    out: list[str] = []
    for log in sorted(logs.glob("worker-*.log"))[-3:]:
        text = log.read_text(errors="replace").splitlines()[-lines:]
        out.extend([f"--- {log.name}", *text])
    return out


def _log_file(path: Path) -> IO[bytes]:
    """A worker's log (stderr, and stdout lines prefixed): small, sequential writes."""
    return path.open("wb")


class Workers:
    """`count` worker processes kept running: start, SIGKILL one, restart it, SIGTERM them all."""

    def __init__(self, command: Sequence[str], logs: Path, report: CrashReport) -> None:
        self._command = list(command)
        self._logs = logs
        self._report = report
        self._procs: dict[int, asyncio.subprocess.Process] = {}
        self._ready: dict[int, asyncio.Event] = {}
        self._readers: set[asyncio.Task[None]] = set()
        self._files: list[IO[bytes]] = []

    async def start(self, slot: int) -> None:
        """Start a worker in `slot` (not waiting for it to be ready)."""
        self._report.starts += 1
        log = _log_file(self._logs / f"worker-{self._report.starts:04d}-slot{slot}.log")
        self._files.append(log)
        proc = await asyncio.create_subprocess_exec(
            *self._command,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            stdin=asyncio.subprocess.DEVNULL,
            cwd=self._logs,  # never the checkout: its wfkit/ folder would shadow the installed package
        )
        ready = asyncio.Event()
        self._procs[slot], self._ready[slot] = proc, ready
        reader = asyncio.ensure_future(self._read(proc, ready, log, time.monotonic()))
        self._readers.add(reader)
        reader.add_done_callback(self._readers.discard)

    async def _read(
        self, proc: asyncio.subprocess.Process, ready: asyncio.Event, log: IO[bytes], started: float
    ) -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:  # drained to the end, so a chatty worker never blocks
            log.write(b"[stdout] " + line)
            if not ready.is_set() and line.decode(errors="replace").startswith(READY):
                self._report.ready_seconds.append(time.monotonic() - started)
                ready.set()

    async def wait_ready(self, timeout: float) -> None:
        """Until every slot's current worker has said it is ready."""
        async with asyncio.timeout(timeout):
            for slot, event in self._ready.items():
                proc = self._procs[slot]
                waiter = asyncio.ensure_future(event.wait())
                exited = asyncio.ensure_future(proc.wait())
                await asyncio.wait((waiter, exited), return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                exited.cancel()
                if not event.is_set():
                    raise RuntimeError(f"worker in slot {slot} exited with {proc.returncode} before ready")

    async def kill_and_restart(self, slot: int) -> None:
        proc = self._procs[slot]
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()
        self._report.kills += 1
        await self.start(slot)

    async def terminate(self, timeout: float) -> list[int | None]:
        """SIGTERM every worker and wait for it to exit; the exit codes (None: killed at timeout)."""
        codes: list[int | None] = []
        for proc in self._procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self._procs.values():
            try:
                async with asyncio.timeout(timeout):
                    codes.append(await proc.wait())
            except TimeoutError:
                codes.append(None)
        return codes

    async def close(self) -> None:
        for proc in self._procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
            await proc.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)
        for log in self._files:
            log.close()


async def _killer(workers: Workers, slots: int, every: float, rng: random.Random) -> None:
    tick = time.monotonic()
    while True:
        tick += every
        await asyncio.sleep(max(tick - time.monotonic(), 0))
        await workers.kill_and_restart(rng.randrange(slots))


async def _until(what: str, deadline: float, check: Any, interval: float = 0.2) -> None:
    """Poll `await check()` until it is true; `TimeoutError` naming `what` at `deadline`."""
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def _trigger_only(url: str) -> AsyncIterator[tuple[wfkit.Workflow[Any, Status], Backend]]:
    async with connect(url) as backend:
        # A client: it only triggers, so the worker processes do every step and relay every event.
        wf = backend.build(builder(), metrics=CollectorRegistry(), consumers=False)
        async with wf:
            yield wf, backend


async def _trigger(wf: wfkit.Workflow[Any, Status], runs: int, concurrency: int = 32) -> list[str]:
    ids: list[str] = []
    for start in range(0, runs, concurrency):
        batch = range(start, min(start + concurrency, runs))
        ids.extend(await asyncio.gather(*(wf.trigger(f"job-{i}") for i in batch)))
    return ids


async def history_problems(store: wfkit.RecordStore, run_ids: Sequence[str]) -> list[str]:
    """Every run: versions 1..STEPS+1 in order, each status once, completed, each step applied once."""
    problems: list[str] = []
    want_statuses = [int(s) for s in Status]
    want_steps = [s.name for s in Status][:STEPS]
    for run_id in run_ids:
        history = await store.history(run_id)
        versions = [r.meta.version for r in history]
        statuses = [r.status for r in history]
        if versions != list(range(1, len(history) + 1)):
            problems.append(f"run {run_id}: versions {versions} are not consecutive from 1")
        if statuses != want_statuses:
            problems.append(f"run {run_id}: statuses {statuses}, expected each of {want_statuses} once")
        last = history[-1]
        if last.run_state is not wfkit.RunState.COMPLETED:
            problems.append(f"run {run_id}: ends {last.run_state.name} at status {last.status}")
        steps = json.loads(last.object).get("steps")
        if steps != want_steps:
            problems.append(f"run {run_id}: steps applied {steps}, expected {want_steps}")
    return problems


async def crash_test(
    url: str,
    *,
    runs: int = 2000,
    workers: int = 3,
    seed: int = 1,
    kill_every: float = 1.0,
    lease: float = 1.0,
    timeout: float = 300.0,
    command: Sequence[str] | None = None,
    logs: Path | None = None,
) -> CrashReport:
    """Run the crash test on `url` (an empty database); the report says what held and what did not."""
    report = CrashReport(runs=runs)
    logs = report.logs = logs if logs is not None else Path(tempfile.mkdtemp(prefix="wfkit-crash-"))
    worker = [*(command or wfkit_worker_command()), TARGET, "--store", url, "--lease", f"{lease:g}"]
    worker += ["--metrics-port", "0"]  # three workers on one machine: no port to share
    rng = random.Random(seed)
    deadline = time.monotonic() + timeout
    pool = Workers(worker, logs, report)
    try:
        for slot in range(workers):
            await pool.start(slot)
        async with _trigger_only(url) as (wf, backend):
            await pool.wait_ready(timeout)
            store = backend.store
            completed = wfkit.RecordFilter(run_states=(wfkit.RunState.COMPLETED,))
            started = time.monotonic()
            killer = asyncio.ensure_future(_killer(pool, workers, kill_every, rng))
            try:
                run_ids = await _trigger(wf, runs)
                report.trigger_seconds = time.monotonic() - started

                async def all_completed() -> bool:
                    report.completed = await store.count(NAME, filters=completed)
                    return report.completed >= runs

                await _until(f"all {runs} runs to complete", deadline, all_completed)
                report.complete_seconds = time.monotonic() - started
            finally:
                killer.cancel()
                await asyncio.gather(killer, return_exceptions=True)

            async def outbox_empty() -> bool:
                return not await store.list_outbox(NAME, 1)

            await pool.wait_ready(max(deadline - time.monotonic(), 1))
            await _until("the outbox to drain", deadline, outbox_empty)
            report.drain_seconds = time.monotonic() - started
            report.exit_codes = await pool.terminate(timeout=30)
            if await store.count(NAME) != runs:
                report.problems.append(f"{await store.count(NAME)} runs stored, {runs} triggered")
            report.problems += await history_problems(store, run_ids)
    except (TimeoutError, RuntimeError) as exc:  # gave up waiting, or a worker died on its own
        report.problems.append(f"{exc} ({report.completed}/{runs} completed)")
    finally:
        await pool.close()
    if any(code != 0 for code in report.exit_codes):
        report.problems.append(f"workers did not exit 0 on SIGTERM: exit codes {report.exit_codes}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--store", required=True, help="URL of an empty database")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kill-every", type=float, default=1.0)
    parser.add_argument("--lease", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--command", help="the worker command (default: wfkit worker)")
    args = parser.parse_args(argv)
    report = asyncio.run(
        crash_test(
            args.store,
            runs=args.runs,
            workers=args.workers,
            seed=args.seed,
            kill_every=args.kill_every,
            lease=args.lease,
            timeout=args.timeout,
            command=args.command.split() if args.command else None,
        )
    )
    print(report.explain() if report.problems else report.summary())
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
