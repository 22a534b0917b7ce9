"""A layered layout of a directed graph on a character grid, for the terminal renderer.

Sugiyama-style and pure: DFS cycle breaking, longest-path layers, dummy items for edges that span
several layers, barycentre sweeps to order each layer, then x placement that puts a child's port
under its parent's port. Every edge leaves its box through its own port on the bottom border and
arrives through its own arrow cell above the target. Between two layers is a channel in which each
edge that has to move sideways gets a track row of its own; edges back to an earlier layer run up a
lane right of everything, and a self-loop up a lane just right of its box. Deterministic: ties are
broken by declaration order, never by set or hash order.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

BOX_HEIGHT = 3  # top border, label, bottom border
_BOX_GAP = 3  # blank columns between two boxes of a layer
_LINE_GAP = 2  # ... and next to an edge passing through a layer
_EAR = 2  # columns right of a box for its self-loop lane
_LANE_GAP = 2  # columns between the widest layer and the first lane, and between lanes
_ORDER_SWEEPS = 6  # barycentre sweeps, alternately down and up
_PLACE_SWEEPS = 5  # x placement sweeps: an odd number, so the last goes down
_HARD = 1000  # cost of an order that would draw two edges on top of each other

Point = tuple[int, int]  # (x, y): column, line
EdgeKind = Literal["forward", "back", "self"]


@dataclass(frozen=True, slots=True)
class Box:
    """Where a node's box goes: left column `x`, top line `y`, always `BOX_HEIGHT` lines tall."""

    node: int
    x: int
    y: int
    width: int


@dataclass(frozen=True, slots=True)
class Route:
    """One edge as a polyline of corners, from its port on the source's bottom border to the arrow
    cell right above the target's top border."""

    source: int
    target: int
    kind: EdgeKind
    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class Layout:
    boxes: tuple[Box, ...]  # in node order
    routes: tuple[Route, ...]  # in edge order, repeats dropped
    width: int
    height: int


@dataclass(slots=True)
class _Piece:
    """One edge's stretch through one channel: vertical lines going up into the layer above at
    `ups`, down into the layer below at `downs`, joined by a horizontal track on `row`.

    `step` orders an edge's pieces along it; `part` 1 is the lower half of a piece split in two
    (a dogleg) where no single track can avoid drawing over another edge.
    """

    edge: int
    step: int
    ups: tuple[int, ...] = ()
    downs: tuple[int, ...] = ()
    part: int = 0
    row: int = -1

    @property
    def lo(self) -> int:
        return min(self.ups + self.downs)

    @property
    def hi(self) -> int:
        return max(self.ups + self.downs)


def layout(nodes: tuple[int, ...], edges: tuple[tuple[int, int], ...], widths: dict[int, int]) -> Layout:
    """Place `nodes` (boxes at least `widths[node]` wide) and route `edges` between them."""
    return _Layouter(nodes, tuple(dict.fromkeys(edges)), widths).run()


def port_offsets(width: int, count: int) -> list[int]:
    """Columns (from the box's left) of `count` ports spread around the middle of a border."""
    if count <= 1:
        return [(width - 1) // 2] * count
    step = max(2, min(4, (width - 3) // (count - 1)))
    if step > 2 and count % 2 == 0 and (width - 1 - (count - 1) * step) % 2:
        step -= 1  # an odd step keeps the ports symmetric about the middle of the border
    first = (width - 1 - (count - 1) * step) // 2
    return [first + i * step for i in range(count)]


class _Layouter:
    """One layout run; items are the nodes (by index) followed by the dummies of long edges."""

    def __init__(self, nodes: tuple[int, ...], edges: tuple[tuple[int, int], ...], widths: dict[int, int]):
        self.nodes = nodes
        index = {n: i for i, n in enumerate(nodes)}
        self.ends = [(index[s], index[t]) for s, t in edges]
        self.kinds: list[EdgeKind] = _classify(len(nodes), self.ends)
        self.layer: list[int] = _longest_path(len(nodes), self.ends, self.kinds)
        self.ear = [False] * len(nodes)
        for (s, _), kind in zip(self.ends, self.kinds, strict=True):
            self.ear[s] |= kind == "self"
        self.item_layer = list(self.layer)
        self.chains: dict[int, list[int]] = {}
        for k, ((s, t), kind) in enumerate(zip(self.ends, self.kinds, strict=True)):
            if kind == "forward":
                chain = [s]
                for lay in range(self.layer[s] + 1, self.layer[t]):
                    self.item_layer.append(lay)
                    chain.append(len(self.item_layer) - 1)
                self.chains[k] = [*chain, t]
        self.depth = max(self.layer, default=-1) + 1
        backs = [k for k, kind in enumerate(self.kinds) if kind == "back"]
        backs.sort(key=lambda k: (self.layer[self.ends[k][0]] - self.layer[self.ends[k][1]], k))
        self.lane = {k: i for i, k in enumerate(backs)}  # 0 is the innermost lane
        self.outs: list[list[int]] = [[] for _ in self.item_layer]  # edges leaving each item
        self.ins: list[list[int]] = [[] for _ in self.item_layer]
        self.succ: list[list[int]] = [[] for _ in self.item_layer]
        self.pred: list[list[int]] = [[] for _ in self.item_layer]
        for k, (s, t) in enumerate(self.ends):
            for a, b in pairwise(self.chains.get(k, [s, t])):
                self.outs[a].append(k)
                self.ins[b].append(k)
                if k in self.chains:
                    self.succ[a].append(b)
                    self.pred[b].append(a)
        self.width = [1] * len(self.item_layer)
        for i, n in enumerate(nodes):
            ports = max(len(self.outs[i]), len(self.ins[i]))
            self.width[i] = max(widths[n], 2 * ports + 1, 3)
        self.x = [0] * len(self.item_layer)
        self.out_off: list[dict[int, int]] = [{} for _ in self.item_layer]
        self.in_off: list[dict[int, int]] = [{} for _ in self.item_layer]

    def run(self) -> Layout:
        self.rows = self._order()
        self._place()
        return self._route()

    # -- ordering -------------------------------------------------------------------------------

    def _order(self) -> list[list[int]]:
        rows: list[list[int]] = [[] for _ in range(self.depth)]
        for lay in range(self.depth):
            items = [i for i, item_lay in enumerate(self.item_layer) if item_lay == lay]
            if lay:
                pos = {item: p for p, item in enumerate(rows[lay - 1])}
                items.sort(key=lambda i: _mean([pos[p] for p in self.pred[i]], len(pos)))
            rows[lay] = items
        best, best_crossings = [list(r) for r in rows], self._crossings(rows)
        for sweep in range(_ORDER_SWEEPS):
            down = sweep % 2 == 0
            span = range(1, self.depth) if down else range(self.depth - 2, -1, -1)
            for lay in span:
                ref = rows[lay - 1] if down else rows[lay + 1]
                pos = {item: p for p, item in enumerate(ref)}
                here = {item: p for p, item in enumerate(rows[lay])}
                links = self.pred if down else self.succ
                rows[lay].sort(key=lambda i: _mean([pos[j] for j in links[i]], here[i]))
            crossings = self._crossings(rows)
            if crossings < best_crossings:
                best, best_crossings = [list(r) for r in rows], crossings
        return best

    def _crossings(self, rows: list[list[int]]) -> int:
        total = 0
        for upper, lower in pairwise(rows):
            pos = {item: p for p, item in enumerate(lower)}
            links = [(a, pos[b]) for a, item in enumerate(upper) for b in self.succ[item]]
            total += sum(1 for a1, b1 in links for a2, b2 in links if a1 < a2 and b1 > b2)
        return total

    # -- x placement ----------------------------------------------------------------------------

    def _extent(self, item: int) -> int:
        return self.width[item] + (_EAR if item < len(self.nodes) and self.ear[item] else 0)

    def _gap(self, a: int, b: int) -> int:
        boxes = a < len(self.nodes) and b < len(self.nodes)
        return _BOX_GAP if boxes else _LINE_GAP

    def _place(self) -> None:
        for row in self.rows:
            x = 0
            for n, item in enumerate(row):
                x += self._extent(row[n - 1]) + self._gap(row[n - 1], item) if n else 0
                self.x[item] = x
        for sweep in range(_PLACE_SWEEPS):
            self._ports()
            down = sweep % 2 == 0
            span = range(1, self.depth) if down else range(self.depth - 2, -1, -1)
            for lay in span:
                self._align(self.rows[lay], down)
        self._ports()
        left = min((self.x[i] for row in self.rows for i in row), default=0)
        self.x = [x - left for x in self.x]

    def _ports(self) -> None:
        """Order each item's ports by where the other end of the edge is, loops last."""

        def centre(item: int) -> float:
            return self.x[item] + self.width[item] / 2

        for i in range(len(self.item_layer)):
            for ports, offsets, other in ((self.outs, self.out_off, 1), (self.ins, self.in_off, -1)):

                def key(k: int, i: int = i, other: int = other) -> tuple[int, float, int]:
                    if k in self.chains:
                        chain = self.chains[k]
                        return (0, centre(chain[chain.index(i) + other]), k)
                    if self.kinds[k] == "back":
                        return (1, -self.lane[k], k)
                    return (2, 0, k)

                ordered = sorted(ports[i], key=key)
                offsets[i] = dict(zip(ordered, port_offsets(self.width[i], len(ordered)), strict=True))

    def _align(self, row: list[int], down: bool) -> None:
        """Move one layer's items towards their neighbours' ports, keeping order and gaps.

        Boxes that lead on are placed first, then terminal boxes, then edges passing through, then
        items with no neighbour on that side: each class as close to where it wants to be as the
        classes before it allow, so that the main line runs straight and side branches bend.
        """
        wanted: list[float] = []
        rank: list[int] = []
        for i in row:
            if down:
                goals = [self.x[p] + self.out_off[p][k] - self.in_off[i][k] for p, k in self._links(i, -1)]
            else:
                goals = [self.x[s] + self.in_off[s][k] - self.out_off[i][k] for s, k in self._links(i, 1)]
            wanted.append(sum(goals) / len(goals) if goals else self.x[i])
            rank.append(0 if not goals else 1 if i >= len(self.nodes) else 2 if not self.outs[i] else 3)
        offsets = [0]
        for a, b in pairwise(row):
            offsets.append(offsets[-1] + self._extent(a) + self._gap(a, b))
        # In y = x - offset the gaps are kept exactly when y never decreases along the layer.
        y: list[int | None] = [None] * len(row)
        for level in (3, 2, 1, 0):
            members = [n for n in range(len(row)) if rank[n] == level]
            fit = _isotonic([wanted[n] - offsets[n] for n in members])
            for n, value in zip(members, fit, strict=True):
                before = [v for v in y[:n] if v is not None]
                after = [v for v in y[n + 1 :] if v is not None]
                y[n] = min([max([value, *before]), *after])
        for i, placed, offset in zip(row, y, offsets, strict=True):
            self.x[i] = (placed or 0) + offset

    def _links(self, item: int, step: int) -> list[tuple[int, int]]:
        """(neighbour item, edge) for the forward edges into (`step` -1) or out of (+1) `item`."""
        out = []
        for k in self.ins[item] if step < 0 else self.outs[item]:
            if k in self.chains:
                chain = self.chains[k]
                out.append((chain[chain.index(item) + step], k))
        return out

    # -- channels and routes --------------------------------------------------------------------

    def _route(self) -> Layout:
        right = max((self.x[i] + self._extent(i) for row in self.rows for i in row), default=0)
        lane_x = {k: right + _LANE_GAP + _LANE_GAP * lane for k, lane in self.lane.items()}
        channels: dict[int, list[_Piece]] = {c: [] for c in range(-1, self.depth)}
        for k, (s, t) in enumerate(self.ends):
            if k in self.chains:
                for step, (a, b) in enumerate(pairwise(self.chains[k])):
                    up, down = self.x[a] + self.out_off[a][k], self.x[b] + self.in_off[b][k]
                    channels[self.item_layer[a]].append(_Piece(k, step, (up,), (down,)))
                continue
            lane = lane_x[k] if k in lane_x else self.x[s] + self.width[s] + 1
            src, dst = self.x[s] + self.out_off[s][k], self.x[t] + self.in_off[t][k]
            channels[self.layer[s]].append(_Piece(k, 0, ups=(src, lane)))
            channels[self.layer[t] - 1].append(_Piece(k, 1, downs=(lane, dst)))
            for c in range(self.layer[t], self.layer[s]):  # the lane passes through
                channels[c].append(_Piece(k, 0, (lane,), (lane,)))
        tops, layer_y, y = {-1: 0}, [], 0
        for c in range(-1, self.depth):
            if c >= 0:
                layer_y.append(y)
                tops[c] = y = y + BOX_HEIGHT
            tracks = _assign_rows(channels[c])
            arrows = c < self.depth - 1 and (c >= 0 or bool(channels[c]))  # a row for the arrowheads
            y += tracks + int(arrows)
        corners: dict[int, list[tuple[int, int, Point, Point]]] = {k: [] for k in range(len(self.ends))}
        for c, pieces in channels.items():
            for p in pieces:
                if p.row >= 0:
                    ends = p.ups + p.downs
                    corners[p.edge].append(
                        (p.step, p.part, (ends[0], tops[c] + p.row), (ends[-1], tops[c] + p.row))
                    )
        routes = []
        for k, (s, t) in enumerate(self.ends):
            points = [(self.x[s] + self.out_off[s][k], layer_y[self.layer[s]] + BOX_HEIGHT - 1)]
            for *_, start, end in sorted(corners[k]):
                points += [start, end]
            points.append((self.x[t] + self.in_off[t][k], layer_y[self.layer[t]] - 1))
            routes.append(Route(self.nodes[s], self.nodes[t], self.kinds[k], tuple(points)))
        boxes = tuple(
            Box(n, self.x[i], layer_y[self.layer[i]], self.width[i]) for i, n in enumerate(self.nodes)
        )
        width = max([right, *(x + 1 for route in routes for x, _ in route.points)])
        return Layout(boxes, tuple(routes), width, y)


def _classify(count: int, ends: list[tuple[int, int]]) -> list[EdgeKind]:
    """Self-loops, and back edges found by a DFS from the nodes nothing enters (then the rest)."""
    succ: list[list[tuple[int, int]]] = [[] for _ in range(count)]
    for k, (s, t) in enumerate(ends):
        if s != t:
            succ[s].append((t, k))
    entered = {t for s, t in ends if s != t}
    roots = [n for n in range(count) if n not in entered] + list(range(count))
    kinds: list[EdgeKind] = ["self" if s == t else "forward" for s, t in ends]
    state = [0] * count  # 0 new, 1 on the DFS stack, 2 done
    for root in roots:
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            node, it = stack[-1]
            for t, k in it:
                if state[t] == 1:
                    kinds[k] = "back"
                elif state[t] == 0:
                    state[t] = 1
                    stack.append((t, iter(succ[t])))
                    break
            else:
                state[node] = 2
                stack.pop()
    return kinds


def _longest_path(count: int, ends: list[tuple[int, int]], kinds: list[EdgeKind]) -> list[int]:
    succ: list[list[int]] = [[] for _ in range(count)]
    indegree = [0] * count
    for (s, t), kind in zip(ends, kinds, strict=True):
        if kind == "forward":
            succ[s].append(t)
            indegree[t] += 1
    layer = [0] * count
    queue = deque(n for n in range(count) if indegree[n] == 0)
    while queue:
        node = queue.popleft()
        for t in succ[node]:
            layer[t] = max(layer[t], layer[node] + 1)
            indegree[t] -= 1
            if indegree[t] == 0:
                queue.append(t)
    return layer


def _mean(values: list[int], default: float) -> float:
    return sum(values) / len(values) if values else default


def _isotonic(wanted: list[float]) -> list[int]:
    """The non-decreasing integer sequence closest (least squares) to `wanted`."""
    blocks: list[tuple[float, int]] = []  # (sum, count) of runs pooled to one value
    for w in wanted:
        total, count = w, 1
        while blocks and blocks[-1][0] / blocks[-1][1] > total / count:
            total, count = total + blocks[-1][0], count + blocks.pop()[1]
        blocks.append((total, count))
    return [math.floor(total / count + 0.5) for total, count in blocks for _ in range(count)]


def _cost(above: _Piece, below: _Piece) -> int:
    """Crossings if `above`'s track is drawn above `below`'s; `_HARD` if two edges would overlap."""
    cost = 0
    for c in above.downs:
        cost += _hit(c, below)
    for c in below.ups:
        cost += _hit(c, above)
    return cost


def _hit(column: int, piece: _Piece) -> int:
    if column in (piece.lo, piece.hi):
        return _HARD
    return 1 if piece.lo < column < piece.hi else 0


def _assign_rows(pieces: list[_Piece]) -> int:
    """Give every piece that moves sideways a track row; returns how many rows the channel needs.

    A piece must stay above every piece that arrives where it leaves (else the two lines would be
    drawn as one) and should stay on the side that crosses fewer lines. Pieces whose "must" rules
    form a cycle are split in two through a free column. Then pieces are taken in that order, each
    on the first row below the pieces it must stay under where it touches no other track.
    """
    while True:
        moving = sorted((p for p in pieces if p.lo != p.hi), key=_piece_key)
        cycle = _hard_cycle(moving)
        if not cycle or not _split(pieces, cycle):
            break
    above: list[list[tuple[int, bool]]] = [[] for _ in moving]  # (piece to stay under, must?)
    for i, a in enumerate(moving):
        for j in range(i + 1, len(moving)):
            ab, ba = _order_costs(a, moving[j])
            if ab < ba:
                above[j].append((i, ba >= _HARD))
            elif ba < ab:
                above[i].append((j, ab >= _HARD))
    rows: list[list[tuple[int, int]]] = []
    todo = list(range(len(moving)))
    while todo:

        def free(i: int, hard_only: bool) -> bool:
            return all(moving[j].row >= 0 for j, hard in above[i] if hard or not hard_only)

        i = ([i for i in todo if free(i, False)] or [i for i in todo if free(i, True)] or todo)[0]
        todo.remove(i)
        piece = moving[i]
        row = max((moving[j].row + 1 for j, _ in above[i] if moving[j].row >= 0), default=0)
        while row < len(rows) and any(piece.lo <= hi + 1 and lo <= piece.hi + 1 for lo, hi in rows[row]):
            row += 1
        if row == len(rows):
            rows.append([])
        rows[row].append((piece.lo, piece.hi))
        piece.row = row
    return len(rows)


def _piece_key(p: _Piece) -> tuple[int, int, int, int, int]:
    return (p.lo, p.hi, p.edge, p.step, p.part)


def _order_costs(a: _Piece, b: _Piece) -> tuple[int, int]:
    """Crossings with `a` above `b` and with `b` above `a`; the halves of a split piece stay in order."""
    if (a.edge, a.step) == (b.edge, b.step):
        return (0, _HARD) if a.part < b.part else (_HARD, 0)
    return _cost(a, b), _cost(b, a)


def _hard_cycle(moving: list[_Piece]) -> list[_Piece]:
    """Pieces that must each be above the next, round in a cycle (empty if there is none)."""
    must: list[list[int]] = [[] for _ in moving]
    for i, a in enumerate(moving):
        for j, b in enumerate(moving):
            if i != j and _order_costs(b, a)[0] >= _HARD:  # b above a would draw over a line
                must[i].append(j)
    state = [0] * len(moving)
    for root in range(len(moving)):
        stack, path = [(root, iter(must[root]))], [root]
        if state[root]:
            continue
        state[root] = 1
        while stack:
            node, it = stack[-1]
            for nxt in it:
                if state[nxt] == 1:
                    return [moving[n] for n in path[path.index(nxt) :]]
                if state[nxt] == 0:
                    state[nxt] = 1
                    stack.append((nxt, iter(must[nxt])))
                    path.append(nxt)
                    break
            else:
                state[node] = 2
                stack.pop()
                path.pop()
    return []


def _split(pieces: list[_Piece], cycle: list[_Piece]) -> bool:
    """Route the first one-track piece of `cycle` through a column no other line uses.

    Only such pieces (an edge going from one layer to the next) can be on a cycle, so this is
    always possible; False says it was not, and the drawing then has to live with an overlap.
    """
    piece = next((p for p in cycle if len(p.ups) == len(p.downs) == 1 and p.part == 0), None)
    if piece is None:
        return False
    used = {c for p in pieces for c in p.ups + p.downs}
    mid = (piece.lo + piece.hi) // 2
    candidates = sorted(range(max(0, piece.lo - 8), piece.hi + 9), key=lambda c: (abs(c - mid), c))
    column = next((c for c in candidates if not used & {c - 1, c, c + 1}), None)
    if column is None:
        column = next(c for c in range(piece.hi + 1, piece.hi + 2 + len(used)) if c not in used)
    pieces.remove(piece)
    pieces.append(_Piece(piece.edge, piece.step, piece.ups, (column,)))
    pieces.append(_Piece(piece.edge, piece.step, (column,), piece.downs, part=1))
    return True
