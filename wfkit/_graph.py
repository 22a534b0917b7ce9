"""The status graph of a workflow as plain data: the builder fills it, renderers and stores read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

EdgeKind = Literal["step", "callback", "timeout"]


@dataclass(frozen=True, slots=True)
class Edge:
    """A declared transition `source -> target` and what drives it."""

    source: int
    target: int
    kind: EdgeKind


@dataclass(frozen=True, slots=True)
class WorkflowInfo:
    """Everything needed to name statuses and draw a workflow without its code.

    `statuses` maps every status number of the enum to its name, in definition order; `nodes` are
    the statuses that appear on an edge, in order of first appearance (luno's rules follow from it).
    """

    name: str
    statuses: dict[int, str]
    edges: tuple[Edge, ...]
    nodes: tuple[int, ...] = field(default=())

    @classmethod
    def from_edges(cls, name: str, statuses: dict[int, str], edges: tuple[Edge, ...]) -> WorkflowInfo:
        nodes: dict[int, None] = {}
        for e in edges:
            nodes.setdefault(e.source)
            nodes.setdefault(e.target)
        return cls(name, statuses, edges, tuple(nodes))

    @property
    def starts(self) -> tuple[int, ...]:
        """Nodes that are never a destination, in order of appearance; the first is the default start."""
        targets = {e.target for e in self.edges}
        return tuple(n for n in self.nodes if n not in targets)

    @property
    def terminals(self) -> tuple[int, ...]:
        """Nodes that are a destination and never a source."""
        sources = {e.source for e in self.edges}
        return tuple(n for n in self.nodes if n not in sources)

    def is_terminal(self, status: int) -> bool:
        return status in self.nodes and all(e.source != status for e in self.edges)

    def transitions(self, source: int) -> tuple[int, ...]:
        """Destinations of `source` in declaration order, without repeats."""
        return tuple(dict.fromkeys(e.target for e in self.edges if e.source == source))

    def name_of(self, status: int) -> str:
        return self.statuses.get(status, str(status))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for stores that persist the catalogue."""
        return {
            "name": self.name,
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "edges": [[e.source, e.target, e.kind] for e in self.edges],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkflowInfo:
        statuses = {int(k): str(v) for k, v in data["statuses"].items()}
        edges = tuple(Edge(int(s), int(t), k) for s, t, k in data["edges"])
        return cls.from_edges(str(data["name"]), statuses, edges)
