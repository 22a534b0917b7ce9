"""Which processes a workflow runs, named and configured as luno names them."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from wfkit import _consumers, _timeouts
from wfkit._builder import Spec
from wfkit._options import ProcessOptions, Resolved, resolve
from wfkit._process import Process, Wake
from wfkit._record import topic
from wfkit._runstate import RunState
from wfkit._runtime import Runtime

if TYPE_CHECKING:
    from wfkit._workflow import Workflow, WorkflowConfig

_OUTBOX_DEFAULTS = ProcessOptions.of(
    polling_frequency=0.25, error_backoff=0.5, lag_alert=timedelta(minutes=1)
)
_HOOK_STATES: dict[str, RunState] = {
    "paused": RunState.PAUSED,
    "cancelled": RunState.CANCELLED,
    "completed": RunState.COMPLETED,
}


def role_name(*parts: object) -> str:
    """luno's role and process naming: parts joined by '-', lower-cased, spaces to '_'."""
    return "-".join(str(p) for p in parts).lower().replace(" ", "_")


def plan(wf: Workflow[Any, Any], rt: Runtime, spec: Spec, config: WorkflowConfig) -> list[Process]:
    """Every process of the workflow, in luno's launch order."""
    name = spec.name
    procs: list[Process] = []
    user = config.defaults or ProcessOptions()
    defaults = resolve(None, user)

    def add(process: str, role: str, opts: Resolved, body: Any, consumes: str | None = None) -> None:
        procs.append(Process(process, role, body, opts.error_backoff, rt.process_metrics(process), consumes))

    if config.outbox is not False:
        own = config.outbox if isinstance(config.outbox, ProcessOptions) else None
        opts = resolve(own, _OUTBOX_DEFAULTS.merged_over(user))
        add("outbox-consumer", role_name(name, "outbox-consumer"), opts, _consumers.outbox_body(rt, opts))

    for status, step in spec.steps.items():
        opts = resolve(step.options, user)
        n = opts.parallel
        label = rt.status_name(status)
        for i in range(1, n + 1):
            add(
                role_name(label, "consumer", i, "of", n),
                role_name(name, status, "consumer", i, "of", n),
                opts,
                _consumers.step_body(rt, step, opts, (i, n)),
                topic(name, status),
            )

    if rt.timeouts is not None:
        for status, specs in spec.timeouts.items():
            opts = resolve(spec.timeout_options.get(status), user)
            label = rt.status_name(status)
            rt.timeout_wakes[status] = _event()
            add(
                role_name(label, "timeout-consumer"),
                role_name(name, status, "timeout-consumer"),
                opts,
                _timeouts.poller_body(rt, status, specs, opts),
                topic(name, status),
            )
            add(
                role_name(label, "timeout-auto-inserter-consumer"),
                role_name(name, status, "timeout-auto-inserter-consumer"),
                opts,
                _timeouts.inserter_body(rt, status, specs, opts),
                topic(name, status),
            )

    for connector in spec.connectors.values():
        opts = resolve(connector.options, user)
        n = opts.parallel
        for i in range(1, n + 1):
            process = role_name(connector.name, "connector-to", name, "consumer", i, "of", n)
            add(process, process, opts, _consumers.connector_body(rt, wf, connector, opts, (i, n)))

    for kind, fn in spec.hooks.items():
        state = _HOOK_STATES[kind]
        process = role_name(state.name, "run-state-change-hook-consumer")
        add(
            process,
            role_name(name, state.name, "run-state-change-hook-consumer"),
            defaults,
            _consumers.hook_body(rt, state, fn, defaults),
        )

    add(
        "delete-consumer",
        role_name(name, "delete-consumer"),
        defaults,
        _consumers.delete_body(rt, config.custom_delete, defaults),
    )

    if config.pause_retry is not None:
        add(
            "paused-records-retry-consumer",
            role_name(name, "paused-records-retry-consumer"),
            defaults,
            _consumers.paused_retry_body(rt, config.pause_retry, defaults),
        )
    return procs


def _event() -> Wake:
    return Wake()
