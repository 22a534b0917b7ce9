"""`wfkit graph module:attr`: draw a workflow's status graph as Mermaid, DOT, SVG, PNG or terminal text."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from wfkit.cli._app import usage_error

_GRAPHVIZ_HINT = "apt-get install graphviz (the 'dot' binary) and pip install 'wfkit[graphviz]'"


class Format(enum.StrEnum):
    MERMAID = "mermaid"
    DOT = "dot"
    SVG = "svg"
    PNG = "png"
    TEXT = "text"


_SUFFIXES = {".mmd": Format.MERMAID, ".mermaid": Format.MERMAID, ".dot": Format.DOT, ".gv": Format.DOT}
_SUFFIXES |= {".svg": Format.SVG, ".png": Format.PNG, ".txt": Format.TEXT}


def graph(
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:ATTR",
            help="A wfkit.Builder or Workflow, or a function returning one (e.g. orders:builder).",
            show_default=False,
        ),
    ],
    format_: Annotated[
        Format | None,
        typer.Option("--format", "-f", help="Output format (default: from --output's suffix, else mermaid)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to FILE instead of standard output.", dir_okay=False),
    ] = None,
) -> None:
    """Draw a workflow's status graph."""
    from wfkit import _visualise
    from wfkit.cli._load import TargetError, load_workflow, workflow_info

    fmt = format_ or (_SUFFIXES.get(output.suffix.lower()) if output else None) or Format.MERMAID
    if fmt is Format.PNG and output is None:
        raise usage_error("png is binary: pass --output FILE", "--format")
    try:
        info = workflow_info(load_workflow(target))
    except TargetError as exc:
        raise usage_error(exc, "MODULE:ATTR") from None

    if fmt is Format.MERMAID:
        data = _visualise.mermaid(info).encode()
    elif fmt is Format.TEXT:
        from wfkit._termgraph import render_graph

        data = (render_graph(info).plain() + "\n").encode()
    else:
        data = _visualise.dot(info).encode()
        if fmt is not Format.DOT:
            data = _render(data.decode(), fmt.value)

    if output is None:
        typer.echo(data.decode(), nl=False)
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise typer.BadParameter(f"cannot write {output}: {exc.strerror}", param_hint="'--output'") from None
    typer.echo(f"wrote {output} ({fmt.value})", err=True)


def _render(source: str, fmt: str) -> bytes:
    """Render DOT source with Graphviz; a missing package or `dot` binary is one clear error."""
    from wfkit import ConfigurationError

    try:
        import graphviz
    except ImportError:
        raise ConfigurationError(f"{fmt} output needs Graphviz: {_GRAPHVIZ_HINT}") from None
    try:
        data: bytes = graphviz.Source(source).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise ConfigurationError(f"{fmt} output needs Graphviz's 'dot' on PATH: {_GRAPHVIZ_HINT}") from None
    except graphviz.CalledProcessError as exc:
        raise ConfigurationError(f"graphviz failed to render {fmt}: {exc}") from None
    return data
