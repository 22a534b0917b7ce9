"""A small simulation trace for the TUI tests: two runs, a crash and a violation, with or without
the header's graph and objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _tuiseed import orders_builder

from wfkit.cli._load import workflow_info
from wfkit.testing._trace import HEADER_GRAPH, HEADER_OBJECTS

RUN = "11111111-2222-4333-8444-555555555555"
OTHER = "99999999-2222-4333-8444-555555555555"


def orders_graph() -> dict[str, Any]:
    return workflow_info(orders_builder()).to_dict()


def trace_lines(*, graph: bool = True, objects: bool = True) -> list[dict[str, Any]]:
    header: dict[str, Any] = {"k": "header", "seed": 7, "nodes": 2, "plan": "none", "workload": {"runs": 2}}
    if graph:
        header[HEADER_GRAPH] = orders_graph()
    if objects:
        header[HEADER_OBJECTS] = {
            RUN: {
                "1": json.dumps({"id": "sim-0", "items": ["book"]}),
                "2": json.dumps({"id": "sim-0", "items": ["book"], "valid": True}),
                "3": json.dumps({"id": "sim-0", "items": ["book"], "valid": True, "due": 12.5}),
            }
        }
    return [
        header,
        {"k": "start", "n": 0, "t": 0.0, "inc": 1},  # line 1
        {"k": "trigger", "n": 0, "t": 0.5, "i": 0, "fid": "sim-0", "run": RUN},  # 2
        {"k": "write", "n": 0, "t": 0.5, "run": RUN, "v": 1, "s": 1, "rs": 1},  # 3
        {"k": "write", "n": 0, "t": 0.6, "run": OTHER, "v": 1, "s": 1, "rs": 1},  # 4
        {"k": "send", "n": 0, "t": 0.6, "run": RUN, "v": 1, "topic": "orders-1"},  # 5
        {"k": "write", "n": 1, "t": 0.75, "run": RUN, "v": 2, "s": 2, "rs": 2},  # 6
        {"k": "crash", "n": 1, "t": 0.8},  # 7
        {"k": "write", "n": 0, "t": 1.25, "run": RUN, "v": 3, "s": 3, "rs": 2},  # 8
        {"k": "violation", "t": 1.5, "invariant": "no_lost_runs", "detail": "run 11111111 never finished"},
    ]


def write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n" for line in lines))
    return path
