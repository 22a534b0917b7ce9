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


async def test_a_tracer_gets_a_span_around_each_step(wfkit_env) -> None:  # type: ignore[no-untyped-def]
    import contextlib

    from _workflows import Doc, Status

    spans: list[tuple[str, dict[str, object]]] = []

    class Tracer:
        @contextlib.contextmanager
        def start_as_current_span(self, name: str, attributes: dict[str, object]):  # type: ignore[no-untyped-def]
            spans.append((name, attributes))
            yield None

    b = wfkit.Builder("traced", Doc, Status)
    b.add_step(Status.START, lambda run: Status.END, Status.END)
    async with wfkit_env.run(b, tracer=Tracer()) as wf:
        run_id = await wf.trigger("doc")
        await wf.await_status("doc", run_id, Status.END, timeout=5)
    assert [name for name, _ in spans] == ["traced start-consumer-1-of-1"]
    assert spans[0][1]["wfkit.run_id"] == run_id
    assert str(spans[0][1]["wfkit.traceparent"]).startswith("00-")
