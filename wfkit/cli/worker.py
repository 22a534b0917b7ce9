"""`wfkit worker module:attr --store URL`: run a workflow as a long-lived process.

Loads the builder, builds it on the store's adapters and runs every process until SIGTERM or
SIGINT, then stops gracefully (in-flight steps are cancelled and retried elsewhere, as
at-least-once delivery allows; role leases are given back) and exits 0. Prometheus metrics are
served on `/metrics`, on loopback unless `--metrics-host` says otherwise.

Once running it prints exactly one line to stdout, beginning `wfkit worker ready:`, so scripts
and supervisors can wait for it; everything else (logs, the stop message) goes to stderr.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wfkit.cli._app import usage_error
from wfkit.cli._common import DEFAULT_STORE, Store, connect_store, load_builder

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from wfkit import Builder
    from wfkit.adapters import Backend

READY = "wfkit worker ready:"
"""The start of the one line the worker prints on stdout once its workflow runs."""
METRICS_PORT = 9464
"""The default `/metrics` port (the one OpenTelemetry's Prometheus exporter uses)."""
_LOOPBACK = "127.0.0.1"
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def worker(
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:ATTR",
            help="A wfkit.Builder, or a function returning one (e.g. examples/orders.py:builder).",
            show_default=False,
        ),
    ],
    store: Store = DEFAULT_STORE,
    lease: Annotated[
        float | None,
        typer.Option(
            "--lease",
            min=0.1,
            metavar="SECONDS",
            help="Role lease: how long a crashed worker's roles stay taken (default: the adapter's, 5 s).",
            show_default=False,
        ),
    ] = None,
    metrics_port: Annotated[
        int,
        typer.Option(
            "--metrics-port", min=0, max=65535, metavar="PORT", help="Serve /metrics here; 0 = off."
        ),
    ] = METRICS_PORT,
    metrics_host: Annotated[
        str,
        typer.Option(
            "--metrics-host",
            metavar="HOST",
            help="Address /metrics listens on; anything but loopback exposes it to the network.",
        ),
    ] = _LOOPBACK,
    json_logs: Annotated[bool, typer.Option("--json-logs", help="Log one JSON object per line.")] = False,
    log_level: Annotated[
        str, typer.Option("--log-level", metavar="LEVEL", help=f"One of {', '.join(_LEVELS)}.")
    ] = "INFO",
) -> None:
    """Run a workflow until SIGTERM or Ctrl-C, with a Prometheus /metrics endpoint.

    Once running it prints one line on stdout, `wfkit worker ready: workflow=… store=… metrics=…
    pid=…`; logs go to stderr. The first signal stops it gracefully (exit 0), a second at once (130).
    """
    level = log_level.upper()
    if level not in _LEVELS:
        raise usage_error(f"unknown log level {log_level!r}: use one of {', '.join(_LEVELS)}", "--log-level")
    builder = load_builder(target)
    options: dict[str, Any] = {} if lease is None else {"lease": lease}
    backend = connect_store(store, must_exist=False, **options)
    _setup_logging(level, json_logs)
    if metrics_port and not _is_loopback(metrics_host):
        logging.getLogger("wfkit.worker").warning(
            "serving /metrics on %s: reachable from the network", metrics_host
        )
    asyncio.run(_serve(builder, backend, metrics_port, metrics_host))


async def _serve(builder: Builder[Any, Any], backend: Backend, port: int, host: str) -> None:
    """Run until the first SIGTERM/SIGINT, then stop; a second signal exits at once (130)."""
    log = logging.getLogger("wfkit.worker")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)

    def on_signal(signum: int) -> None:
        if not stop.is_set():
            log.info("%s: stopping", signal.Signals(signum).name)
            stop.set()
        else:  # asked twice: stop now, without giving leases back (they expire)
            sys.stderr.write("wfkit worker: stopped without waiting (second signal)\n")
            sys.stderr.flush()
            os._exit(130)

    wf = backend.build(builder)  # metrics on the default registry, next to the process metrics
    server = _metrics_server(port, host) if port else None  # a port in use fails before any work
    for signum in signals:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        async with backend, wf:
            where = f"http://{_host_for_url(host)}:{server.server_port}/metrics" if server else "off"
            sys.stdout.write(
                f"{READY} workflow={wf.name} store={backend.url} metrics={where} pid={os.getpid()}\n"
            )
            sys.stdout.flush()
            log.info("worker running", extra={"workflow": wf.name, "store": backend.url})
            await stop.wait()
        log.info("worker stopped", extra={"workflow": wf.name})
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        if server is not None:
            server.shutdown()
            server.server_close()


def _metrics_server(port: int, host: str) -> WSGIServer:
    """prometheus_client's threaded server on the default registry (the workflow's metrics)."""
    from prometheus_client import start_http_server

    from wfkit import WfkitError

    try:
        server, _thread = start_http_server(port, addr=host)
    except OSError as exc:
        raise WfkitError(
            f"cannot serve /metrics on {host}:{port}: {exc.strerror or exc}; pass another "
            "--metrics-port (0 turns /metrics off)"
        ) from None
    return server


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _setup_logging(level: str, json_logs: bool) -> None:
    """Logs to stderr (stdout carries only the ready line), as JSON lines with `--json-logs`."""
    from wfkit import JsonFormatter

    handler = logging.StreamHandler(sys.stderr)
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter(fmt))
    logging.basicConfig(level=level, handlers=[handler], force=True)
