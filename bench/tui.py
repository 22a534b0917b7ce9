"""How fast the TUI opens and filters, and how much memory it takes, over a large SQLite store.

    python bench/tui.py [--runs 100000] [--db PATH] [--repeat 3]

It seeds a SQLite store with `--runs` runs of the order workflow (examples/orders.py; fulfilled,
rejected, expired, waiting for payment, paused and cancelled, each with its full version history),
reusing the file when it already holds that many runs. Then it drives `WfkitApp` headlessly
(`App.run_test(size=(120, 40))`, the config `wfkit tui` uses) in `--repeat` fresh processes and
measures, polling the app's widgets under a deadline:

- launch: from building the app to the runs table showing its first page (imports done);
- cold launch: from starting a new Python process to the same (interpreter and imports included);
- filter: from pressing enter in the `/` box to the table showing the filtered page, for a rare run
  state, a status and a foreign id; and back to all runs with `esc`;
- sort: from pressing `s` (next sort column) or `S` (reverse) to the table showing the first page
  sorted by updated, status, foreign id and version, descending and ascending (sorted by the store);
- peak RSS of the process that ran the apps (`VmHWM`, else `ru_maxrss`).

Times are medians over the repetitions. Targets are issue 5's: interactive in under 1 s, a filter
or a re-sort under 200 ms, memory under 200 MB, with 100,000 runs.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ORDERS = f"{ROOT / 'examples' / 'orders.py'}:builder"
WORKFLOW = "orders"
SIZE = (120, 40)
DEADLINE = 30.0
"""Seconds a wait may take before the measure counts as failed."""

# (share of runs, [(status, run state), ...] one per version, reason of the last version)
# Statuses of examples/orders.py: 1 CREATED, 2 VALIDATED, 3 PAYMENT_PENDING, 4 PAID, 5 FULFILLED,
# 6 EXPIRED, 7 REJECTED. Run states: 1 initiated, 2 running, 3 paused, 4 cancelled, 5 completed.
MIX: list[tuple[float, list[tuple[int, int]], str]] = [
    (0.60, [(1, 1), (1, 2), (2, 2), (3, 2), (4, 2), (5, 2), (5, 5)], ""),
    (0.10, [(1, 1), (1, 2), (7, 2), (7, 5)], ""),
    (0.10, [(1, 1), (1, 2), (2, 2), (3, 2), (6, 2), (6, 5)], ""),
    (0.15, [(1, 1), (1, 2), (2, 2), (3, 2)], ""),
    (0.03, [(1, 1), (1, 2), (2, 2), (3, 2), (3, 3)], "waiting for the warehouse"),
    (0.02, [(1, 1), (1, 2), (2, 2), (3, 2), (3, 4)], "customer changed their mind"),
]
ITEMS = ["book", "lamp", "mug", "plant", "poster", "desk", "chair"]


def foreign_id(i: int) -> str:
    return f"order-{i:07d}"


def filters(runs: int) -> list[tuple[str, str, str, tuple[Any, ...]]]:
    """The filters measured: (name, text typed after `/`, SQL condition, its parameters)."""
    fid = foreign_id(runs // 2)
    return [
        ("filter state:paused", "state:paused", "run_state = ?", (3,)),
        ("filter status:EXPIRED", "status:EXPIRED", "status = ?", (6,)),
        (f"filter id:{fid}", f"id:{fid}", "foreign_id = ?", (fid,)),
    ]


SORTS: list[tuple[str, str, str, str | None]] = [
    ("sort updated desc", "s", "updated_at DESC, seq DESC", "Updated ▼"),
    ("sort status desc", "s", "status DESC, seq DESC", "Status ▼"),
    ("sort foreign id desc", "s", "foreign_id DESC, seq DESC", "Foreign id ▼"),
    ("sort version desc", "s", "version DESC, seq DESC", "Ver ▼"),
    ("sort created desc", "s", "seq DESC", None),
    ("sort created asc", "S", "seq ASC", None),
    ("sort updated asc", "s", "updated_at ASC, seq ASC", "Updated ▲"),
    ("sort status asc", "s", "status ASC, seq ASC", "Status ▲"),
    ("sort foreign id asc", "s", "foreign_id ASC, seq ASC", "Foreign id ▲"),
    ("sort version asc", "s", "version ASC, seq ASC", "Ver ▲"),
]
"""The re-sorts measured, pressed in this order from the newest-first table: (name, key (`s` the
next column, `S` the other direction), the first page's `ORDER BY`, the header with the arrow).

The header matters: the seeded runs were updated in creation order, so a page sorted by `updated`
holds the same runs as the newest-first one, and only the arrow says the sorted page has arrived."""


# -- seeding ----------------------------------------------------------------------------------------


def stored_runs(path: Path) -> int | None:
    """How many runs the file holds (None when it is not a seeded store)."""
    if not path.is_file():
        return None
    try:
        with sqlite3.connect(path) as conn:
            known = conn.execute("SELECT COUNT(*) FROM wfkit_workflows WHERE name = ?", (WORKFLOW,))
            if known.fetchone()[0] != 1:
                return None
            return int(conn.execute("SELECT COUNT(*) FROM wfkit_runs").fetchone()[0])
    except sqlite3.Error:
        return None


def remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def versions(runs: int) -> Iterator[list[Any]]:
    """Per run, the `wfkit.Record` of each of its versions, oldest first."""
    from wfkit import Meta, Record, RunState

    rng = random.Random(5)
    weights = [share for share, _, _ in MIX]
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(seconds=20 * runs + 3600)
    for i in range(1, runs + 1):
        _, steps, reason = rng.choices(MIX, weights)[0]
        fid = foreign_id(i)
        run_id = f"{rng.getrandbits(128):032x}"
        run_id = f"{run_id[:8]}-{run_id[8:12]}-4{run_id[13:16]}-8{run_id[17:20]}-{run_id[20:]}"
        created = first + timedelta(seconds=20 * i)
        rejected = steps[-1][0] == 7  # an empty order
        items = [] if rejected else rng.sample(ITEMS, rng.randint(1, 3))
        obj: dict[str, Any] = {
            "id": fid,
            "items": items,
            "total": 0.0 if rejected else rng.randint(500, 9000) / 100,
        }
        out = []
        for version, (status, state) in enumerate(steps, start=1):
            if status == 5:
                obj["tracking"] = f"TRK-{run_id[:8]}"
            updated = created + timedelta(seconds=2 * (version - 1))
            why = reason if version == len(steps) else ""
            data = json.dumps(obj, sort_keys=True).encode()
            meta = Meta(version=version, run_state_reason=why)
            out.append(Record(WORKFLOW, fid, run_id, RunState(state), status, data, created, updated, meta))
        yield out


def seed(path: Path, runs: int) -> None:
    """`runs` runs with every version in the history table, in one transaction.

    The schema and the workflow's catalogue entry go through the adapter (`connect()` migrates,
    `store.register(info)`); rows are built with the adapter's `record_row` from real `Record`s and
    inserted with its `COLUMNS`, which is what `RecordStore.store` writes, without one commit each.
    """
    from wfkit.adapters import connect
    from wfkit.adapters._sqlrows import COLUMNS, record_row
    from wfkit.cli._load import load_object, workflow_info

    info = workflow_info(load_object(ORDERS)())

    async def schema() -> None:
        async with connect(f"sqlite:///{path}") as backend:
            await backend.store.register(info)

    remove(path)
    asyncio.run(schema())
    marks = ", ".join("?" * len(COLUMNS.split(",")))
    runs_ = versions(runs)
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN IMMEDIATE")
        while chunk := list(itertools.islice(runs_, 20_000)):  # 20k runs at a time: bounded memory
            latest = [record_row(run[-1]) for run in chunk]
            history = [record_row(record) for run in chunk for record in run]
            conn.executemany(f"INSERT INTO wfkit_runs ({COLUMNS}) VALUES ({marks})", latest)
            conn.executemany(f"INSERT INTO wfkit_records ({COLUMNS}) VALUES ({marks})", history)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


# -- measuring (in a child process, so its memory is the app's alone) -----------------------------


def expected_page(
    path: Path, where: str, params: tuple[Any, ...], size: int, order: str = "seq DESC"
) -> list[str]:
    """The run ids the table must show (newest first unless `order` says otherwise)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            f"SELECT run_id FROM wfkit_runs WHERE {where} ORDER BY {order} LIMIT ?", (*params, size)
        ).fetchall()
    conn.close()
    return [r[0] for r in rows]


async def until(app: Any, check: Callable[[], bool], what: str) -> None:
    """Return as soon as `check()` holds (polling the app's state) and the screen is painted.

    Fails after `DEADLINE`. The paint is the frame Textual would draw next, forced at once (headless,
    nothing is written out, but layout and rendering of the new rows still happen).
    """
    end = time.perf_counter() + DEADLINE
    while not check():
        if time.perf_counter() > end:
            raise TimeoutError(f"{what} not seen within {DEADLINE:g} s")
        await asyncio.sleep(0.001)
    paint = getattr(app.screen, "_on_timer_update", None)
    if paint is not None:
        paint()


def send_key(app: Any, key: str, char: str | None) -> None:
    """Deliver one key as the terminal driver does, without the pilot's wait for an idle CPU."""
    from textual import events

    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)


async def drive(path: Path, runs: int, spawned_at: float | None) -> dict[str, float]:
    """One app: launch, then every filter and back; seconds per measure."""
    from textual.widgets import DataTable

    from wfkit.adapters import connect
    from wfkit.tui import TuiConfig, WfkitApp
    from wfkit.tui._runs import RunsScreen

    config = TuiConfig(store_label=f"sqlite:///{path}")
    size = config.page_size
    prepared = time.perf_counter()
    everything = expected_page(path, "1 = 1", (), size)
    wanted = {name: expected_page(path, where, params, size) for name, _, where, params in filters(runs)}
    wanted |= {name: expected_page(path, "1 = 1", (), size, order) for name, _, order, _ in SORTS}
    out: dict[str, float] = {}

    started = time.perf_counter()
    prepared = started - prepared  # the checker's own queries, not part of a cold launch
    app = WfkitApp(connect(f"sqlite:///{path}"), config=config)

    def shows(keys: list[str]) -> Callable[[], bool]:
        def check() -> bool:
            screen = app.screen
            return (
                isinstance(screen, RunsScreen)
                and screen.table.row_count == len(keys)
                and list(screen.rows) == keys
            )

        return check

    def sorted_by(keys: list[str], marked: str | None) -> Callable[[], bool]:
        """The page `keys`, under headers where only `marked` (if any) carries the sort's arrow."""
        page = shows(keys)

        def check() -> bool:
            if not page():
                return False
            labels = [column.label.plain for column in app.screen.query_one(DataTable).columns.values()]
            return [label for label in labels if label.endswith(("▲", "▼"))] == ([marked] if marked else [])

        return check

    def counted() -> bool:
        screen = app.screen
        return isinstance(screen, RunsScreen) and bool(screen.refreshed)

    async with app.run_test(size=SIZE) as pilot:
        await until(app, shows(everything), "the first page")
        out["launch"] = time.perf_counter() - started
        if spawned_at is not None:
            out["cold launch"] = time.time() - spawned_at - prepared
        await until(app, counted, "the run-state counts")
        out["launch counts"] = time.perf_counter() - started
        for name, text, _, _ in filters(runs):
            await pilot.press("slash", *text)
            t0 = time.perf_counter()
            send_key(app, "enter", "\r")
            await until(app, shows(wanted[name]), name)
            out[name] = time.perf_counter() - t0
            t0 = time.perf_counter()
            send_key(app, "escape", "\x1b")
            await until(app, shows(everything), "all runs again")
            out[f"{name} clear"] = time.perf_counter() - t0
        for name, key, _, header in SORTS:
            t0 = time.perf_counter()
            send_key(app, key, key)
            await until(app, sorted_by(wanted[name], header), name)
            out[name] = time.perf_counter() - t0
        await pilot.press("q")
    return out


def child(args: argparse.Namespace) -> None:
    """Run `--apps` apps one after another and print their measures and the peak RSS as JSON."""
    measures: list[dict[str, float]] = []
    for n in range(args.apps):
        measures.append(asyncio.run(drive(args.db, args.runs, args.spawned_at if n == 0 else None)))
    print(json.dumps({"measures": measures, "rss": peak_rss()}))


def peak_rss() -> int:
    """Peak resident memory of this process in bytes.

    `VmHWM` where there is /proc: `ru_maxrss` survives `exec`, so a child forked from a parent
    that just seeded 100k runs would report the parent's peak, not its own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


# -- report -----------------------------------------------------------------------------------------


def spawn(args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--db", str(args.db)]
    command += ["--runs", str(args.runs), "--apps", str(args.apps), "--spawned-at", repr(time.time())]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the measuring process failed (exit status {done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=100_000, help="runs in the store (default 100000)")
    parser.add_argument(
        "--db", type=Path, default=None, help="SQLite file to seed or reuse (default: in the temp directory)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes to measure in (default 3)")
    parser.add_argument("--apps", type=int, default=2, help="apps launched one after another per process")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--spawned-at", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.db is None:
        args.db = Path(tempfile.gettempdir()) / f"wfkit-bench-tui-{args.runs}.db"
    args.db = args.db.resolve()
    if args.child:
        child(args)
        return

    if stored_runs(args.db) == args.runs:
        print(f"reusing {args.db} ({args.runs:,} runs)")
    else:
        t0 = time.perf_counter()
        seed(args.db, args.runs)
        print(f"seeded {args.db} with {args.runs:,} runs in {time.perf_counter() - t0:.1f} s")
    with sqlite3.connect(args.db) as conn:
        versions = conn.execute("SELECT COUNT(*) FROM wfkit_records").fetchone()[0]
    conn.close()
    mb = sum(Path(f"{args.db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{args.db}{s}").exists())
    print(f"{versions:,} versions in the history table, {mb / 1e6:.0f} MB on disk")

    measures: dict[str, list[float]] = {}
    peaks: list[int] = []
    for n in range(args.repeat):
        result = spawn(args)
        peaks.append(result["rss"])
        for app in result["measures"]:
            for name, seconds in app.items():
                measures.setdefault(name, []).append(seconds)
        print(f"  process {n + 1}/{args.repeat}: done")

    ms = 1000.0
    rows: list[tuple[str, str, str, str]] = []

    def timed(name: str, label: str, target: float | None) -> None:
        values = measures.get(name, [])
        if not values:
            return
        median = statistics.median(values)
        spread = f" ({min(values) * ms:.0f}-{max(values) * ms:.0f}, n={len(values)})"
        if target is None:
            rows.append((label, f"{median * ms:.0f} ms{spread}", "-", "info"))
        else:
            ok = "ok" if median < target else "MISSED"
            rows.append((label, f"{median * ms:.0f} ms{spread}", f"< {target * ms:.0f} ms", ok))

    timed("launch", "launch -> first page shown (in process)", 1.0)
    timed("cold launch", "cold launch: new python process -> first page", 1.0)
    timed("launch counts", "launch -> run-state counts shown", None)
    for name, _, _, _ in filters(args.runs):
        timed(name, f"{name} -> table updated", 0.2)
        timed(f"{name} clear", "  esc (all runs again) -> table updated", 0.2)
    for name, key, _, _ in SORTS:
        timed(name, f"{key}: {name} -> first page shown", 0.2)
    peak = max(peaks)
    rows.append(
        (
            "peak RSS of the app's process",
            f"{peak / 2**20:.0f} MB",
            "< 200 MB",
            "ok" if peak < 200 * 2**20 else "MISSED",
        )
    )

    print(f"\nwfkit tui over {args.runs:,} runs in SQLite, {SIZE[0]}x{SIZE[1]} headless, median (min-max, n)")
    header = ("measure", "measured", "target", "result")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if any(r[3] == "MISSED" for r in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
