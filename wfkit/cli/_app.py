"""The Typer app: global options, command registration and one-line error reporting.

Command modules import only typer and the standard library at module level; engines, adapters,
Rich widgets and graphviz are imported inside the command, so `wfkit --help` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

import wfkit


def _exception_class(name: str) -> type[Exception]:
    """click's `UsageError` / `ClickException`, vendored in recent typer, imported from click before."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


_UsageError = _exception_class("UsageError")
_ClickException = _exception_class("ClickException")


def one_line(message: object) -> str:
    """A message on one line (multi-line errors joined with spaces)."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def fail(message: object) -> None:
    """Print `message` as one red line on stderr."""
    typer.secho(f"error: {one_line(message)}", fg="red", err=True)


class WfkitGroup(TyperGroup):
    """Runs commands and turns every expected failure into one line and an exit code.

    Misuse (unknown command or option, invalid value) exits 2; a `wfkit.WfkitError` exits 1 with
    a red line; nothing expected ever shows a traceback.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        code = self._run(args, prog_name, complete_var, windows_expand_args, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(
        self,
        args: Sequence[str] | None,
        prog_name: str | None,
        complete_var: str | None,
        windows_expand_args: bool,
        **extra: Any,
    ) -> int:
        try:
            rv = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except _UsageError as exc:
            ctx = getattr(exc, "ctx", None)
            path = ctx.command_path if ctx is not None else "wfkit"
            typer.echo(f"Error: {one_line(_message(exc))} (see '{path} --help')", err=True)
            return int(getattr(exc, "exit_code", 2))
        except _ClickException as exc:
            typer.echo(f"Error: {one_line(_message(exc))}", err=True)
            return int(getattr(exc, "exit_code", 1))
        except wfkit.WfkitError as exc:
            fail(exc)
            return 1
        except typer.Abort:
            typer.echo("Aborted.", err=True)
            return 1
        except KeyboardInterrupt:
            return 130
        return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0


def _message(exc: Exception) -> str:
    fmt = getattr(exc, "format_message", None)
    return str(fmt()) if callable(fmt) else str(exc)


def usage_error(message: object, param: str) -> typer.BadParameter:
    """A `BadParameter` for `param` (exit 2, one line): `raise usage_error(exc, "TARGET") from None`."""
    return typer.BadParameter(one_line(message), param_hint=f"'{param}'")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wfkit {wfkit.__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=WfkitGroup,
    name="wfkit",
    help="Type-safe, event-driven workflow state machines for asyncio.",
    add_completion=True,  # shell detection runs only for --install/--show-completion
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_show_locals=False,
)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Type-safe, event-driven workflow state machines for asyncio."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit()


def _register() -> None:
    from wfkit.cli import bench, control, db, demo, graph, runs, simulate, tui, worker

    app.command("demo")(demo.demo)
    app.command("graph")(graph.graph)
    app.command("simulate")(simulate.simulate)
    app.command("tui")(tui.tui)
    app.add_typer(runs.runs_app, name="runs", rich_help_panel="Runs")
    for name in ("pause", "resume", "retry", "cancel", "delete"):
        app.command(name, rich_help_panel="Runs")(getattr(control, name))
    for name in ("trigger", "callback"):
        app.command(name, rich_help_panel="Workers and stores")(getattr(control, name))
    app.command("worker", rich_help_panel="Workers and stores")(worker.worker)
    app.add_typer(db.db_app, name="db", rich_help_panel="Workers and stores")
    app.command("bench", rich_help_panel="Workers and stores")(bench.bench)


_register()
