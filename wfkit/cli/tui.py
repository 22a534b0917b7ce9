"""`wfkit tui [STORE_URL]`: the Textual TUI over a store, or `--serve` it to a browser.

With no URL it opens `$WFKIT_STORE`, else the store it opened last, else `./wfkit-demo.db`.
Textual is imported inside the command (it is the `tui` extra), so `wfkit --help` stays fast.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wfkit.cli._app import usage_error

if TYPE_CHECKING:
    from wfkit import Builder

STORE_ENV = "WFKIT_STORE"
DEMO_FILE = "wfkit-demo.db"


def tui(
    store: Annotated[
        str | None,
        typer.Argument(
            metavar="STORE_URL",
            help=f"sqlite:///file.db, postgresql://…, mysql://… (default: ${STORE_ENV}, the last store, "
            f"or ./{DEMO_FILE}).",
        ),
    ] = None,
    workflow: Annotated[
        str | None,
        typer.Option(
            "--workflow",
            "-w",
            metavar="MODULE:ATTR",
            help="The workflow's Builder: lets the TUI trigger runs and send callbacks (the steps "
            "are left to `wfkit worker`).",
        ),
    ] = None,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Remove every action that writes to the store.")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.2, help="Seconds between live refreshes.")
    ] = 2.0,
    trace: Annotated[
        Path | None,
        typer.Option("--trace", metavar="FILE", help="Open a `wfkit simulate --trace` file in the explorer."),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Serve the TUI to a browser (textual-serve) instead.")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="Address --serve listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port --serve listens on.")] = 8000,
) -> None:
    """Browse, control and replay runs in a terminal UI."""
    from wfkit import WfkitError
    from wfkit.adapters import mask_url

    url = resolve_store(store)
    if trace is not None and not trace.is_file():
        raise usage_error(f"no such file: {trace}", "--trace")
    builder = _builder(workflow) if workflow else None
    _check_textual()
    if serve:
        _serve(url, workflow, read_only, interval, trace, host, port)
        return
    asyncio.run(_probe(url))
    from wfkit.adapters import connect
    from wfkit.tui import TuiConfig, WfkitApp
    from wfkit.tui._config import remember_store

    remember_store(url)
    config = TuiConfig(store_label=mask_url(url), read_only=read_only, poll_interval=interval)
    app = WfkitApp(connect(url), config=config, builder=builder, trace=trace)
    app.run()
    if app.return_code:
        raise WfkitError(app.last_error or "the TUI stopped with an error")


def resolve_store(store: str | None) -> str:
    """The URL to open: the argument, `$WFKIT_STORE`, the last store, or the demo's file."""
    from wfkit import WfkitError
    from wfkit.tui._config import last_store, sqlite_path

    if store:
        return store
    if os.environ.get(STORE_ENV):
        return os.environ[STORE_ENV]
    remembered = last_store()
    if remembered is not None:
        path = sqlite_path(remembered)
        if path is None or path.is_file():
            return remembered
    if Path(DEMO_FILE).is_file():
        return f"sqlite:///{DEMO_FILE}"
    raise WfkitError(
        f"no store to open: run `wfkit demo` first (it writes ./{DEMO_FILE}) or pass a STORE_URL"
    )


async def _probe(url: str) -> None:
    """Open the store once before the UI starts, so a bad URL is one line, not an empty screen."""
    from wfkit import ConfigurationError, WfkitError
    from wfkit.adapters import connect, mask_url
    from wfkit.tui._config import sqlite_path

    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise WfkitError(f"no store at {mask_url(url)} ({path} does not exist): run `wfkit demo` first")
    try:
        backend = connect(url)
    except ConfigurationError as exc:
        raise usage_error(exc, "STORE_URL") from None
    try:
        async with backend:
            await backend.store.workflows()
    except WfkitError:
        raise
    except Exception as exc:
        raise WfkitError(f"cannot open {mask_url(url)}: {type(exc).__name__}: {exc}") from None


def _builder(target: str) -> Builder[Any, Any]:
    from wfkit import Builder
    from wfkit.cli._load import TargetError, load_workflow

    try:
        obj = load_workflow(target)
    except TargetError as exc:
        raise usage_error(exc, "--workflow") from None
    if not isinstance(obj, Builder):
        raise usage_error(
            f"{target} is a built Workflow: name its wfkit.Builder (or a function returning one)",
            "--workflow",
        )
    return obj


def _check_textual() -> None:
    from wfkit import WfkitError

    try:
        import textual  # noqa: F401
    except ImportError:
        raise WfkitError("wfkit tui needs Textual: pip install 'wfkit[tui]'") from None


def _serve(
    url: str, workflow: str | None, read_only: bool, interval: float, trace: Path | None, host: str, port: int
) -> None:
    """Serve the same app over HTTP: each browser tab runs `wfkit tui` with these options."""
    from wfkit import WfkitError

    try:
        from textual_serve.server import Server
    except ImportError:
        raise WfkitError("wfkit tui --serve needs textual-serve: pip install 'wfkit[tui]'") from None
    args = [
        sys.executable,
        "-c",
        "from wfkit.cli import main; main()",
        "tui",
        url,
        "--interval",
        str(interval),
    ]
    if workflow:
        args += ["--workflow", workflow]
    if read_only:
        args.append("--read-only")
    if trace is not None:
        args += ["--trace", str(trace.resolve())]
    typer.echo(f"serving wfkit tui on http://{host}:{port} (ctrl+c stops)")
    Server(shlex.join(args), host=host, port=port, title="wfkit").serve()
