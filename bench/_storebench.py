"""`throughput.py --store URL`: wfkit on a SQL store beside eventsourcing and DBOS, one table per database.

Every side (wfkit with each `--workers` count, then each peer) runs in a process of its own
(`throughput.py --run-side SIDE`), on a fresh database of its own, one side at a time, so no side
inherits another's threads, caches or rows. Each prints its result as one JSON line; this process
collects them and prints the table, the ratios and the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import os
import platform
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from _databases import Target
from _drive import Result, emit, failed
from _report import table

THROUGHPUT = Path(__file__).resolve().with_name("throughput.py")
PEERS = ("eventsourcing", "dbos")
DEFAULT_RUNS = 2000
DEFAULT_LATENCY_RUNS = 50
"""Runs timed one at a time after the loaded phase (`--latency-runs`)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("SQL stores (--store): wfkit beside eventsourcing and DBOS")
    group.add_argument(
        "--store",
        action="append",
        metavar="URL",
        help="sqlite:///file.db or postgresql://user@host:5432/db (repeatable): measure on this database",
    )
    group.add_argument("--inflight", type=int, default=200, help="runs kept in flight (default 200)")
    group.add_argument(
        "--workers", default="1,3", help="wfkit worker counts, e.g. 1,3 (1 = in-process), or none"
    )
    group.add_argument("--peers", default=",".join(PEERS), help="eventsourcing,dbos or none")
    group.add_argument("--warmup", type=int, default=50, help="uncounted runs before timing (default 50)")
    group.add_argument(
        "--poll", type=float, default=0.005, help="wfkit driver's completion poll, seconds (default 0.005)"
    )
    group.add_argument(
        "--lease", type=float, default=None, help="wfkit role lease, seconds (adapter default)"
    )
    group.add_argument("--peer-threads", type=int, default=16, help="peer threads / pool size (default 16)")
    group.add_argument("--dbos-mode", choices=("sync", "async"), default="sync", help="DBOS workflow style")
    group.add_argument("--side-timeout", type=float, default=900, help="seconds before a side is stopped")
    group.add_argument("--keep", action="store_true", help="keep each side's database afterwards")
    group.add_argument("--verbose", action="store_true", help="show each side's stderr as it runs")
    group.add_argument("--run-side", metavar="SIDE", help=argparse.SUPPRESS)


def main(args: argparse.Namespace) -> None:
    if args.run_side:
        run_side(args)
        return
    runs = args.runs or DEFAULT_RUNS
    sides = [f"wfkit:{n}" for n in _list(args.workers)] + [p for p in _list(args.peers) if p in PEERS]
    unknown = [p for p in _list(args.peers) if p not in PEERS]
    if unknown:
        raise SystemExit(f"--peers: unknown {', '.join(unknown)} (use {', '.join(PEERS)} or none)")
    try:
        for url in args.store:
            _one_database(Target.parse(url), sides, runs, args)
    except KeyboardInterrupt:
        print("interrupted: the side running was stopped and its database removed", file=sys.stderr)
        raise SystemExit(130) from None


def _one_database(target: Target, sides: list[str], runs: int, args: argparse.Namespace) -> None:
    asyncio.run(target.check())
    repeat = max(1, args.repeat or 1)
    best: dict[str, Result] = {}
    for _ in range(repeat):  # rounds of every side in turn, so a noisy neighbour hurts all alike
        for side in sides:
            result = asyncio.run(_side_process(target, side, runs, args))
            kept = best.get(side)
            if kept is None or kept.error or (not result.error and result.steps_per_s > kept.steps_per_s):
                best[side] = result
    results = [best[side] for side in sides]
    rounds = f"best of {repeat} rounds (by steps/s); " if repeat > 1 else ""
    header = (
        f"{rounds}{runs} runs x 5 steps per side, {args.inflight} in flight "
        f"after {args.warmup} warm-up runs, "
        f"then {_latency_runs(args)} one at a time; each side on a fresh database, in its own process; "
        f"python {platform.python_version()}, {os.cpu_count()} cores"
    )
    print(table(target, results, header), "\n", flush=True)


def _latency_runs(args: argparse.Namespace) -> int:
    return DEFAULT_LATENCY_RUNS if args.latency_runs is None else args.latency_runs


def _list(text: str) -> list[str]:
    return [] if text.strip().lower() == "none" else [p.strip() for p in text.split(",") if p.strip()]


def _slug(side: str) -> str:
    return side.replace(":", "")


async def _side_process(target: Target, side: str, runs: int, args: argparse.Namespace) -> Result:
    label = _label(side)
    print(f"[{target.title}] {label}: running {runs} runs ...", file=sys.stderr, flush=True)
    try:
        async with target.fresh(_slug(side), keep=args.keep) as url:
            cmd = [sys.executable, str(THROUGHPUT), "--run-side", side, "--store", url, "--runs", str(runs)]
            cmd += ["--inflight", str(args.inflight), "--warmup", str(args.warmup), "--poll", str(args.poll)]
            cmd += ["--peer-threads", str(args.peer_threads), "--dbos-mode", args.dbos_mode]
            cmd += ["--latency-runs", str(_latency_runs(args))]
            cmd += [] if args.lease is None else ["--lease", str(args.lease)]
            stderr = None if args.verbose else subprocess.PIPE
            proc = await asyncio.create_subprocess_exec(
                *cmd, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True
            )
            try:
                out, err = await asyncio.wait_for(proc.communicate(), args.side_timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGUSR1)  # its threads' and tasks' stacks, to see where it hung
                await asyncio.sleep(1)
                _kill_group(proc.pid)
                out, err = await proc.communicate()
                log = Path(tempfile.gettempdir()) / f"wfkit-bench-{_slug(side)}-timeout.log"
                log.write_bytes(err or b"")
                print(f"[{target.title}] {label} timed out; its stderr and stacks: {log}", file=sys.stderr)
                return Result(label, error=f"timed out after {args.side_timeout:g} s (stacks in {log})")
            except BaseException:  # Ctrl-C: its own session does not get the signal, so end it here
                _kill_group(proc.pid)
                raise
    except Exception as exc:  # the database could not be made or dropped
        return failed(label, exc)
    result = Result.parse(out.decode(errors="replace"))
    tail = "\n".join((err or b"").decode(errors="replace").strip().splitlines()[-15:])
    if result is None:
        result = Result(label, error=f"exited {proc.returncode} without a result: {tail or '(no output)'}")
    if result.error and tail:
        print(f"[{target.title}] {label} failed; its stderr ends:\n{tail}", file=sys.stderr, flush=True)
    return result


def _kill_group(pid: int) -> None:
    """End a side and any worker processes it started (they share its process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _label(side: str) -> str:
    if side.startswith("wfkit:"):
        n = int(side.split(":", 1)[1])
        return f"wfkit ({n} worker{'s' if n > 1 else ''})"
    return {"eventsourcing": "eventsourcing", "dbos": "DBOS"}.get(side, side)


def run_side(args: argparse.Namespace) -> None:
    """In a side's own process: measure one side on the database `--store` names, print the result."""
    side, url = args.run_side, args.store[0]
    common = {
        "runs": args.runs or DEFAULT_RUNS,
        "inflight": args.inflight,
        "warmup": args.warmup,
        "latency_runs": _latency_runs(args),
    }
    try:
        if side.startswith("wfkit:"):
            import _wfkit_sql

            workers = int(side.split(":", 1)[1])
            result = _run(
                _wfkit_sql.measure(url, workers=workers, poll=args.poll, lease=args.lease, **common)
            )
        elif side == "eventsourcing":
            from peers import eventsourcing_peer

            result = _run(eventsourcing_peer.measure(url, threads=args.peer_threads, **common))
        elif side == "dbos":
            from peers import dbos_peer

            result = _run(dbos_peer.measure(url, threads=args.peer_threads, mode=args.dbos_mode, **common))
        else:
            raise SystemExit(f"unknown side {side!r}")
    except ImportError as exc:
        emit(failed(_label(side), RuntimeError(f"{exc}: pip install -r bench/requirements.txt")))
        raise SystemExit(1) from None
    except Exception as exc:
        traceback.print_exc()
        emit(failed(_label(side), exc))
        raise SystemExit(1) from None
    emit(result)


def _run(coro: Coroutine[Any, Any, Result]) -> Result:
    """`asyncio.run(coro)`, printing every thread's and task's stack to stderr on SIGUSR1 (the parent
    sends it before it kills a side that timed out, so the report says where it hung)."""

    def dump() -> None:
        faulthandler.dump_traceback(all_threads=True)
        for task in asyncio.all_tasks():
            task.print_stack(limit=8, file=sys.stderr)
        sys.stderr.flush()

    async def main() -> Result:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump)
        return await coro

    return asyncio.run(main())
