"""The store benchmark's table per database, the ratios to the peers and the issue's targets."""

from __future__ import annotations

from collections.abc import Sequence

from _databases import Target
from _drive import Result

from wfkit.adapters import mask_url

TARGET_VS_BEST = 2.0
"""wfkit's steps/s must be at least this multiple of the best peer's, on every database."""
TARGET_VS_DBOS_SQLITE = 10.0
"""... and at least this multiple of DBOS's on SQLite."""
TARGET_P50_PG_MS = 50.0
"""p50 trigger-to-complete on PostgreSQL with one worker must be under this."""


def table(target: Target, results: Sequence[Result], header: str) -> str:
    lines = [f"== {target.title} ({mask_url(target.url)}) ==", header, ""]
    lines.append(
        f"{'side':24}{'steps/s':>10}{'runs/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'idle p50':>10}{'idle p99':>10}  durability"
    )
    for r in results:
        if r.error:
            lines.append(f"{r.side:24}{'failed':>10}{'':>47}  {r.error[:300]}")
            continue
        numbers = f"{r.steps_per_s:>10,.0f}{r.runs_per_s:>9,.1f}{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}"
        idle = f"{r.idle_p50_ms:>10.1f}{r.idle_p99_ms:>10.1f}" if r.idle_runs else f"{'-':>10}{'-':>10}"
        lines.append(f"{r.side:24}{numbers}{idle}  {r.settings}")
    lines += [
        "",
        "p50/p99: trigger-to-complete (ms) with the runs in flight (mostly queueing: ~ in-flight / runs/s);",
        "idle p50/p99: the same, one run at a time after the loaded phase.",
    ]
    notes = [f"  {r.side}: {r.note}" for r in results if r.note and not r.error]
    if notes:
        lines += ["notes:", *notes]
    lines += ["", *verdicts(target, results)]
    return "\n".join(lines)


def verdicts(target: Target, results: Sequence[Result]) -> list[str]:
    ours = [r for r in results if r.side.startswith("wfkit") and not r.error]
    peers = [r for r in results if not r.side.startswith("wfkit") and not r.error]
    dbos = next((r for r in peers if r.side.lower().startswith("dbos")), None)
    best = max(peers, key=lambda r: r.steps_per_s, default=None)
    out: list[str] = []
    if not ours:
        return ["no wfkit result: nothing to compare"]
    if best is not None:
        out.append(f"ratios (steps/s); best peer: {best.side}, {best.steps_per_s:,.0f} steps/s")
        for r in ours:
            parts = [f"{r.steps_per_s / best.steps_per_s:.2f}x best peer"]
            if dbos is not None:
                parts.append(f"{r.steps_per_s / dbos.steps_per_s:.2f}x DBOS")
            out.append(f"  {r.side}: " + ", ".join(parts))
    out.append("targets:")
    if best is not None:
        out.append(f"  >= {TARGET_VS_BEST:g}x the best peer's steps/s ({best.side}):")
        out += [_mark(r, r.steps_per_s / best.steps_per_s, TARGET_VS_BEST, "x") for r in ours]
    else:
        out.append("  >= 2x the best peer's steps/s: no peer measured")
    if target.kind == "sqlite":
        if dbos is not None:
            out.append(f"  >= {TARGET_VS_DBOS_SQLITE:g}x DBOS's steps/s on SQLite:")
            out += [_mark(r, r.steps_per_s / dbos.steps_per_s, TARGET_VS_DBOS_SQLITE, "x") for r in ours]
        else:
            out.append("  >= 10x DBOS on SQLite: DBOS not measured")
    if target.kind == "postgresql":
        one = next((r for r in ours if r.side == "wfkit (1 worker)"), None)
        if one is None:
            out.append(f"  p50 < {TARGET_P50_PG_MS:g} ms with one worker: one worker not measured")
        else:
            out.append(f"  p50 < {TARGET_P50_PG_MS:g} ms with one worker:")
            out.append(
                f"    with the runs in flight: {one.p50_ms:.1f} ms {_ok(one.p50_ms < TARGET_P50_PG_MS)}"
            )
            if one.idle_runs:
                ok = one.idle_p50_ms < TARGET_P50_PG_MS
                out.append(f"    one run at a time: {one.idle_p50_ms:.1f} ms {_ok(ok)}")
    return out


def _mark(r: Result, value: float, goal: float, unit: str) -> str:
    return f"    {r.side}: {value:.2f}{unit} {_ok(value >= goal)}"


def _ok(ok: bool) -> str:
    return "ok" if ok else "MISSED"
