from __future__ import annotations

import json
import logging

import wfkit


def test_json_formatter_writes_one_line_with_extra_fields() -> None:
    record = logging.LogRecord("wfkit", logging.INFO, __file__, 1, "paused %s", ("run-1",), None)
    record.workflow = "orders"
    record.run_id = "run-1"
    line = wfkit.JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["msg"] == "paused run-1"
    assert data["level"] == "INFO"
    assert data["workflow"] == "orders"
    assert data["run_id"] == "run-1"
