"""The simulator's oracle: it watches every commit, delivery, timeout and role grant, and checks
the guarantees as they happen (and, at the end, that nothing was lost and every run finished)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from wfkit import Header, Record, RunState, TimeoutRecord, WorkflowInfo
from wfkit._process import Wake
from wfkit.testing._trace import Trace

_ACTIVE = frozenset(state for state in RunState if state.active)
_DONE = frozenset(state for state in RunState if state.finished or state.stopped)
_H_VERSION, _H_TOPIC = Header.RECORD_VERSION.value, Header.TOPIC.value  # plain strs: faster lookups

Invariant = Callable[[Any], bool]
"""A user predicate over a run (`wfkit.Run`, decoded), checked after every write; False = violated."""


@dataclass(frozen=True)
class Violation:
    """A guarantee that did not hold: which, when (simulated seconds) and the facts."""

    invariant: str
    at: float
    detail: str

    def __str__(self) -> str:
        return f"[t={self.at:.3f}] {self.invariant}: {self.detail}"


class Oracle:
    """Independent bookkeeping of what the system did, and the checks over it."""

    def __init__(
        self,
        infos: Mapping[str, WorkflowInfo],
        trace: Trace,
        now: Callable[[], float],
        business_now: Callable[[], Any],
        to_run: Callable[[Record], Any],
        invariants: list[Invariant],
    ) -> None:
        self._infos = infos
        self._edges = {name: {(e.source, e.target) for e in info.edges} for name, info in infos.items()}
        self._trace = trace
        self._now = now
        self._business_now = business_now
        self._to_run = to_run
        self._invariants = invariants
        self.runs: dict[str, Record] = {}  # run id -> latest committed version, in creation order
        self._active: dict[tuple[str, str], str] = {}
        self.undelivered: dict[tuple[str, int], float] = {}
        self._open: dict[str, None] = {}  # runs neither finished nor stopped
        self.changed = Wake()
        self._holders: dict[str, tuple[int, int]] = {}  # role -> (node, grant number)
        self._grants = 0
        self.violations: list[Violation] = []
        self.commits = 0
        self.deliveries = 0
        self._tasks: list[asyncio.Task[None]] = []

    # -- facts ---------------------------------------------------------------------------------

    def committed(self, record: Record, node: int) -> None:
        """A store write succeeded: check the transition, then remember it."""
        self.commits += 1
        run_id, version, state = record.run_id, record.meta.version, record.run_state
        trace = self._trace
        trace.write(node, run_id, version, record.status, state)
        if trace.keep:
            trace.keep_object(run_id, version, record.object)
        runs = self.runs
        previous = runs.get(run_id)
        # The checks, each called only when its quick test fails (the next version, the same status).
        if previous is None or version != previous.meta.version + 1:
            self._check_version(previous, record)
        if previous is None or previous.status != record.status:
            self._check_edge(previous, record)
        if state not in _ACTIVE or self._active.get((record.workflow_name, record.foreign_id)) != run_id:
            self._check_active(record)  # else: still the active run of its foreign id, nothing to check
        runs[run_id] = record
        self.undelivered[(run_id, version)] = self._now()
        if state in _DONE:
            self._open.pop(run_id, None)
            if not self._open:
                self.changed.set()  # possibly done: worth a look by the simulation's main task
        else:
            self._open[run_id] = None
        for predicate in self._invariants:
            try:
                ok = predicate(self._to_run(record))
            except Exception as exc:  # a predicate that fails to evaluate is a violation too
                ok = False
                name = f"{getattr(predicate, '__name__', predicate)} (raised {exc!r})"
            else:
                name = getattr(predicate, "__name__", repr(predicate))
            if not ok:
                self._violate(f"user invariant {name}", f"run {run_id} version {version}")

    def delivered(self, key: str, headers: Mapping[str, str], node: int) -> None:
        version = int(headers.get(_H_VERSION, 0) or 0)
        self.deliveries += 1
        self._trace.send(node, key, version, headers.get(_H_TOPIC, ""))
        if self.undelivered.pop((key, version), None) is not None and not self.undelivered and not self._open:
            self.changed.set()  # possibly done

    def timeout_fired(self, row: TimeoutRecord, node: int) -> None:
        now = self._business_now()
        self._trace.timeout(node, row.run_id, row.status)
        if row.expire_at > now:
            self._violate(
                "timeouts fire no earlier than their expiry",
                f"timeout {row.id} of run {row.run_id} due at {row.expire_at} fired at {now}",
            )

    def granted(self, role: str, node: int) -> int:
        self._grants += 1
        holder = self._holders.get(role)
        if holder is not None:
            self._violate(
                "a role has at most one holder",
                f"role {role!r} granted to node {node} while node {holder[0]} holds it",
            )
        self._holders[role] = (node, self._grants)
        self._trace.add("grant", n=node, role=role)
        return self._grants

    def released(self, role: str, node: int, grant: int) -> None:
        holder = self._holders.get(role)
        if holder is not None and holder[1] == grant:
            del self._holders[role]
            self._trace.add("release", n=node, role=role)

    def revoked(self, role: str) -> None:
        """The scheduler took the role away: its grant ends now, whatever the holder still does."""
        holder = self._holders.pop(role, None)
        if holder is not None:
            self._trace.add("revoke", n=holder[0], role=role)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run simulation-owned background work (a delayed delivery)."""
        self._tasks.append(asyncio.get_running_loop().create_task(coro))

    # -- checks --------------------------------------------------------------------------------

    def _check_version(self, previous: Record | None, record: Record) -> None:
        version = record.meta.version
        expected = 1 if previous is None else previous.meta.version + 1
        if version == expected:
            return
        if previous is not None and version <= previous.meta.version:
            self._violate(
                "no transition is applied twice",
                f"run {record.run_id} version {version} written again (latest was {previous.meta.version})",
            )
        else:
            self._violate(
                "record versions increase by exactly one",
                f"run {record.run_id} went from version {expected - 1} to {version}",
            )

    def _check_edge(self, previous: Record | None, record: Record) -> None:
        info = self._infos.get(record.workflow_name)
        if info is None:
            return
        if previous is None:
            if record.status not in info.nodes:
                self._violate(
                    "transitions are on the graph", f"run {record.run_id} created at {record.status}"
                )
            return
        if previous.status == record.status:
            return
        if previous.run_state is RunState.PAUSED:
            self._violate(
                "paused runs are not processed",
                f"run {record.run_id} moved {info.name_of(previous.status)} -> "
                f"{info.name_of(record.status)} while paused",
            )
        if (previous.status, record.status) not in self._edges[record.workflow_name]:
            self._violate(
                "transitions are on the graph",
                f"run {record.run_id}: {info.name_of(previous.status)} -> {info.name_of(record.status)}",
            )

    def _check_active(self, record: Record) -> None:
        key = (record.workflow_name, record.foreign_id)
        holder = self._active.get(key)
        if record.run_state in _ACTIVE:
            if holder is not None and holder != record.run_id:
                self._violate(
                    "at most one active run per foreign id",
                    f"{record.foreign_id!r} has runs {holder} and {record.run_id} active",
                )
            self._active[key] = record.run_id
        elif holder == record.run_id:
            del self._active[key]

    def final_checks(self) -> None:
        """At the end: every committed event was published, every run finished or stopped."""
        for (run_id, version), since in sorted(self.undelivered.items(), key=lambda kv: kv[1])[:5]:
            self._violate(
                "no outbox event is lost",
                f"run {run_id} version {version} (committed at t={since:.3f}) was never published",
            )
        stuck = [r for r in self.runs.values() if not (r.run_state.finished or r.run_state.stopped)]
        for record in stuck[:5]:
            info = self._infos.get(record.workflow_name)
            status = info.name_of(record.status) if info else str(record.status)
            self._violate(
                "every triggered run reaches a terminal or stopped state",
                f"run {record.run_id} ({record.foreign_id!r}) is still {record.run_state.name} at {status}",
            )

    def unfinished(self) -> int:
        return len(self._open)

    def _violate(self, invariant: str, detail: str) -> None:
        violation = Violation(invariant, round(self._now(), 6), detail)
        self.violations.append(violation)
        self._trace.add("violation", invariant=invariant, detail=detail)

    async def drain(self) -> None:
        """Wait for simulation-owned background work (delayed deliveries) to finish."""
        while self._tasks:
            tasks, self._tasks = self._tasks, []
            await asyncio.gather(*tasks, return_exceptions=True)
