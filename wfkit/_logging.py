"""Structured logs through stdlib `logging`: wfkit logs to the `wfkit` logger with fields in `extra`."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats each record as one JSON line: time, level, logger, msg, then every extra field.

    `logging.getLogger("wfkit").handlers[0].setFormatter(wfkit.JsonFormatter())` turns wfkit's logs
    (fields such as `workflow`, `run_id`, `process_name`, `meta`) into machine-readable lines.
    """

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                out[key] = value
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, sort_keys=False)
