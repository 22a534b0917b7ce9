"""The TUI's data layer: pages of runs, a run's history, counts, and actions, over `wfkit.Admin`.

Screens call only this, always from a worker, and get plain rows back. Filters are pushed down to
the store (`RecordFilter`), so is the sort (`SortKey`), and the runs table asks for one page at a
time, so a store with 100k runs costs the same as one with ten.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from wfkit import (
    Admin,
    Clock,
    JsonCodec,
    Order,
    Record,
    RecordFilter,
    RecordStore,
    RunState,
    SortKey,
    Workflow,
    WorkflowInfo,
)
from wfkit._errors import WfkitError

ACTIONS = ("pause", "resume", "retry", "cancel", "delete_data")
"""Run-control actions, by `Admin` method name."""


class FilterError(WfkitError):
    """A `/` filter the TUI cannot read; the message says what it accepts."""


@dataclass(frozen=True, slots=True)
class RunRow:
    """One run as the tables show it."""

    run_id: str
    workflow: str
    foreign_id: str
    status: int
    status_name: str
    run_state: RunState
    version: int
    created_at: datetime
    updated_at: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Query:
    """What the runs table shows: a workflow (None for all), filters, order, page number and sort."""

    workflow: str | None = None
    filters: RecordFilter = field(default_factory=RecordFilter)
    order: Order = Order.DESC
    page: int = 0
    text: str = ""
    """The filter as the user typed it."""
    sort: SortKey = SortKey.CREATED
    """The column the store sorts by (`order` is its direction)."""


@dataclass(frozen=True, slots=True)
class RunsPage:
    """A page of runs and how many match in all."""

    rows: list[RunRow]
    total: int
    offset: int


@dataclass(frozen=True, slots=True)
class WorkflowSummary:
    """The workflows overview's line for one workflow."""

    info: WorkflowInfo
    total: int
    by_status: dict[int, int]
    by_state: dict[RunState, int]
    recent: int
    """Runs created in the last hour."""
    stuck: int
    """Active runs not updated within `TuiConfig.stuck_after` (among the first `stuck_scan`)."""


@dataclass(frozen=True, slots=True)
class Detail:
    """A run and its every version, oldest first."""

    row: RunRow
    record: Record
    history: list[Record]


class Service:
    """Reads and controls runs in one store; `workflow` (optional) adds trigger and callback."""

    def __init__(self, store: RecordStore, clock: Clock, workflow: Workflow[Any, Any] | None = None) -> None:
        self.admin = Admin(store, clock)
        self.clock = clock
        self.workflow = workflow
        self.infos: dict[str, WorkflowInfo] = {}

    # -- reading ---------------------------------------------------------------------------------

    async def workflows(self) -> list[WorkflowInfo]:
        """The store's catalogue (plus the loaded workflow's graph), cached for naming statuses."""
        infos = {info.name: info for info in await self.admin.workflows()}
        if self.workflow is not None:
            infos.setdefault(self.workflow.name, self.workflow.info)
        self.infos = dict(sorted(infos.items()))
        return list(self.infos.values())

    def status_name(self, workflow: str, status: int) -> str:
        info = self.infos.get(workflow)
        return info.name_of(status) if info is not None else str(status)

    def row(self, record: Record) -> RunRow:
        return RunRow(
            record.run_id,
            record.workflow_name,
            record.foreign_id,
            record.status,
            self.status_name(record.workflow_name, record.status),
            record.run_state,
            record.version,
            record.created_at,
            record.updated_at,
            record.meta.run_state_reason,
        )

    async def page(self, query: Query, page_size: int) -> RunsPage:
        """One page of `query` and its total: two store calls, whatever the store holds."""
        if not self.infos:
            await self.workflows()
        admin, wf = self.admin, query.workflow
        offset = query.page * page_size
        records = await admin.list(
            wf, offset=offset, limit=page_size, order=query.order, filters=query.filters, sort=query.sort
        )
        total = await admin.count(wf, filters=query.filters)
        return RunsPage([self.row(r) for r in records], total, offset)

    async def state_counts(self, query: Query) -> dict[RunState, int]:
        """Runs per run state under `query`'s other filters: the chips above the table."""
        others = replace(query.filters, run_states=())
        counts = {}
        for state in RunState:
            if state.valid:
                only = replace(others, run_states=(state,))
                counts[state] = await self.admin.count(query.workflow, filters=only)
        return counts

    async def detail(self, run_id: str) -> Detail:
        if not self.infos:
            await self.workflows()
        history = await self.admin.history(run_id)
        record = history[-1] if history else await self.admin.lookup(run_id)
        return Detail(self.row(record), record, history)

    async def overview(self, stuck_after: timedelta, stuck_scan: int) -> list[WorkflowSummary]:
        """Counts by status and run state, recent throughput and stuck runs for every workflow."""
        admin, now = self.admin, self.clock.now()
        out = []
        for info in await self.workflows():
            name = info.name
            total = await admin.count(name)
            by_status = {}
            for status in info.statuses:
                by_status[status] = await admin.count(name, filters=RecordFilter(statuses=(status,)))
            by_state = {}
            for state in RunState:
                if state.valid:
                    by_state[state] = await admin.count(name, filters=RecordFilter(run_states=(state,)))
            recent = await admin.count(name, filters=RecordFilter(created_after=now - timedelta(hours=1)))
            active = RecordFilter(run_states=(RunState.INITIATED, RunState.RUNNING))
            scan = await admin.list(name, limit=stuck_scan, order=Order.ASC, filters=active)
            stuck = sum(1 for r in scan if now - r.updated_at > stuck_after)
            out.append(WorkflowSummary(info, total, by_status, by_state, recent, stuck))
        return out

    # -- acting ----------------------------------------------------------------------------------

    async def act(self, action: str, run_id: str, reason: str = "") -> Record:
        """Run one of `ACTIONS` on a run; raises the store's `WfkitError` when it is not allowed."""
        admin = self.admin
        if action == "pause":
            return await admin.pause(run_id, reason)
        if action == "resume":
            return await admin.resume(run_id)
        if action == "retry":
            return await admin.retry(run_id)
        if action == "cancel":
            return await admin.cancel(run_id, reason)
        if action == "delete_data":
            return await admin.delete_data(run_id, reason)
        raise WfkitError(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")

    def _loaded(self, what: str) -> Workflow[Any, Any]:
        if self.workflow is None:
            raise WfkitError(
                f"{what} needs the workflow's code: start with `wfkit tui --workflow module:attr`"
            )
        return self.workflow

    def parse_object(self, text: str) -> object:
        """The loaded workflow's object from JSON text; `WfkitError` naming the problem otherwise."""
        wf = self._loaded("trigger")
        if not text.strip():
            return None
        try:
            json.loads(text)
        except ValueError as exc:
            raise WfkitError(f"the object is not valid JSON: {exc}") from None
        return JsonCodec().decode(text.encode(), wf.object_type)

    async def trigger(self, foreign_id: str, object_text: str) -> str:
        """Start a run of the loaded workflow; returns its run id."""
        wf = self._loaded("trigger")
        obj = self.parse_object(object_text)
        return await wf.trigger(foreign_id.strip(), initial=obj)

    def callback_statuses(self, workflow: str) -> tuple[int, ...]:
        """Statuses of `workflow` that wait for a callback."""
        info = self.infos.get(workflow)
        if info is None:
            return ()
        return tuple(dict.fromkeys(e.source for e in info.edges if e.kind == "callback"))

    async def callback(self, row: RunRow, payload: str) -> None:
        """Deliver `payload` to the run's callback at its current status."""
        wf = self._loaded("callback")
        if row.workflow != wf.name:
            raise WfkitError(
                f"run {row.run_id[:8]} is a {row.workflow!r} run; the loaded workflow is {wf.name!r}"
            )
        if row.status not in self.callback_statuses(row.workflow):
            raise WfkitError(f"{row.status_name} takes no callback: pick a run waiting at a callback status")
        await wf.callback(row.foreign_id, wf.status_type(row.status), payload.encode())


FILTER_HINT = "status:PAID state:paused,cancelled id:order-7 wf:orders age:<1h"
"""What the `/` filter box shows before anything is typed: one example of every key."""

AGE_HINT = "age:<1h (newer than), age:>2d (older than) or age:1h..2d (between)"


def parse_filter(
    text: str, infos: Iterable[WorkflowInfo], *, now: datetime | None = None
) -> tuple[RecordFilter, str | None]:
    """A `/` filter: `status:PAID state:paused,cancelled id:order-7 wf:orders age:<1h`, or a bare foreign id.

    Returns the filter and the workflow it names (None when it names none). Values separated by
    commas match any of them; everything is pushed down to the store. `age:` bounds the creation
    time against `now` (the app's clock; required when the text has an `age:`): `age:<1h` created
    within the last hour, `age:>2d` more than two days ago, `age:1h..2d` between the two; several
    `age:` narrow each other.
    """
    infos = list(infos)
    foreign: list[str] = []
    statuses: list[int] = []
    states: list[RunState] = []
    workflow: str | None = None
    after: datetime | None = None
    before: datetime | None = None
    for token in text.split():
        key, sep, value = token.partition(":")
        if not sep:
            key, sep, value = token.partition("=")
        if not sep:
            foreign.append(token)
            continue
        key = key.lower()
        values = [v for v in value.split(",") if v]
        if key in ("id", "fid", "foreign", "foreign_id"):
            foreign += values
        elif key in ("state", "run_state", "rs"):
            states += [_state(v) for v in values]
        elif key in ("status", "st"):
            statuses += [s for v in values for s in _statuses(v, infos)]
        elif key in ("wf", "workflow"):
            workflow = value
        elif key in ("age", "created"):
            if now is None:
                raise ValueError("parse_filter needs now= (the app's clock) to read an age: filter")
            newer, older = parse_age(value)
            if newer is not None:
                bound = now - newer
                after = bound if after is None else max(after, bound)
            if older is not None:
                bound = now - older
                before = bound if before is None else min(before, bound)
        else:
            raise FilterError(
                f"unknown filter {key!r}: use status:, state:, id:, wf: or age: (or a bare foreign id)"
            )
    return RecordFilter(
        tuple(foreign),
        tuple(dict.fromkeys(statuses)),
        tuple(dict.fromkeys(states)),
        created_after=after,
        created_before=before,
    ), workflow


def has_age(text: str) -> bool:
    """Whether a `/` filter has an `age:`, whose bounds move with the clock (re-read on every refresh)."""
    for token in text.split():
        key, sep, _ = token.partition(":")
        if not sep:
            key, sep, _ = token.partition("=")
        if sep and key.lower() in ("age", "created"):
            return True
    return False


def parse_age(value: str) -> tuple[timedelta | None, timedelta | None]:
    """`<1h`, `>2d`, `1h..2d` (or `1h` for `<1h`) as (newer than, older than); `FilterError` otherwise.

    A range may be open (`2d..` is `>2d`, `..1h` is `<1h`) and its ends may come in either order.
    """
    text = value.strip()
    try:
        if ".." in text:
            low_text, _, high_text = text.partition("..")
            low = parse_duration(low_text) if low_text.strip() else None
            high = parse_duration(high_text) if high_text.strip() else None
            if low is None and high is None:
                raise FilterError("an age range needs at least one end")
            if low is not None and high is not None and low > high:
                low, high = high, low
            return high, low
        if text.startswith("<"):
            return parse_duration(text[1:].lstrip("=")), None
        if text.startswith(">"):
            return None, parse_duration(text[1:].lstrip("="))
        return parse_duration(text), None
    except FilterError as exc:
        raise FilterError(f"bad age {value!r}: {exc}; filter with {AGE_HINT}") from None


_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d|w)", re.IGNORECASE)


def parse_duration(text: str) -> timedelta:
    """`90s`, `5m`, `1h30m`, `2d`, `1w`, `0.25s`, `500ms` as a `timedelta`; `FilterError` naming the units."""
    compact = text.strip().replace(" ", "")
    parts = list(_DURATION_PART.finditer(compact))
    if not compact or "".join(p.group(0) for p in parts) != compact:
        if _NUMBER.fullmatch(compact):
            raise FilterError(
                f"{compact!r} has no unit: write {compact}s, {compact}m, {compact}h or {compact}d"
            )
        raise FilterError(f"{text.strip()!r} is not a duration: write it like 90s, 5m, 1h30m, 2d or 1w")
    return sum((float(p.group(1)) * _UNITS[p.group(2).lower()] for p in parts), timedelta(0))


def _state(value: str) -> RunState:
    wanted = value.lower().replace("_", " ").replace("-", " ")
    for state in RunState:
        if state.valid and (state.label.lower() == wanted or str(int(state)) == wanted):
            return state
    names = ", ".join(s.label.lower().replace(" ", "_") for s in RunState if s.valid)
    raise FilterError(f"unknown run state {value!r}: use one of {names}")


def _statuses(value: str, infos: list[WorkflowInfo]) -> list[int]:
    if value.isdigit():
        return [int(value)]
    found = [n for info in infos for n, name in info.statuses.items() if name.lower() == value.lower()]
    if not found:
        names = sorted({name for info in infos for name in info.statuses.values()})
        raise FilterError(
            f"unknown status {value!r}: use a number or one of {', '.join(names) or '(none yet)'}"
        )
    return found
