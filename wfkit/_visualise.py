"""Diagrams of the status graph: Mermaid text and Graphviz DOT, pure functions of `WorkflowInfo`."""

from __future__ import annotations

from typing import Any

from wfkit._errors import ConfigurationError
from wfkit._graph import WorkflowInfo


def mermaid(info: WorkflowInfo, direction: str = "LR") -> str:
    """A Mermaid `stateDiagram-v2`: `[*] -->` each start, one line per edge, `--> [*]` each terminal."""
    name = info.name_of
    lines = ["---", f"title: {info.name}", "---", "stateDiagram-v2", f"    direction {direction}"]
    lines += [f"    [*] --> {name(s)}" for s in info.starts]
    seen: set[tuple[int, int]] = set()
    for e in info.edges:
        if (e.source, e.target) in seen:
            continue
        seen.add((e.source, e.target))
        lines.append(f"    {name(e.source)} --> {name(e.target)}")
    lines += [f"    {name(s)} --> [*]" for s in info.terminals]
    return "\n".join(lines) + "\n"


def dot(info: WorkflowInfo) -> str:
    """Graphviz DOT source: starts marked by an arrow from a point, terminals double-circled."""
    name = info.name_of
    out = [
        f'digraph "{info.name}" {{',
        "    rankdir=LR;",
        "    node [shape=box, style=rounded];",
        '    __start [shape=point, label=""];',
    ]
    for s in info.nodes:
        shape = ", shape=doublecircle" if s in info.terminals else ""
        out.append(f'    "{name(s)}" [label="{name(s)}"{shape}];')
    out += [f'    __start -> "{name(s)}";' for s in info.starts]
    seen: set[tuple[int, int]] = set()
    for e in info.edges:
        if (e.source, e.target) in seen:
            continue
        seen.add((e.source, e.target))
        style = "" if e.kind == "step" else f' [label="{e.kind}", style=dashed]'
        out.append(f'    "{name(e.source)}" -> "{name(e.target)}"{style};')
    out.append("}")
    return "\n".join(out) + "\n"


def digraph(info: WorkflowInfo) -> Any:
    """The graph as a `graphviz.Source` (render to svg/png with Graphviz installed)."""
    try:
        import graphviz
    except ImportError as exc:
        raise ConfigurationError("graph() needs the graphviz package: pip install 'wfkit[graphviz]'") from exc
    return graphviz.Source(dot(info))
