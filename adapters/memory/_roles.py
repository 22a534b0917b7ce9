"""The in-memory `RoleScheduler`: exclusive roles handed over first come, first served."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from types import TracebackType

from wfkit._clock import Clock
from wfkit._errors import RoleLost
from wfkit._roles import RoleScope


class _Role:
    """One role: its holder's scope and the waiters queued for it, oldest first."""

    __slots__ = ("holder", "waiters")

    def __init__(self) -> None:
        self.holder: RoleScope | None = None
        self.waiters: deque[tuple[asyncio.Future[None], RoleScope]] = deque()


class RoleScheduler:
    """A `RoleScheduler` for one deployment: share one instance among all its simulated processes.

    Waiters get a role in the order they asked for it, and a released role passes straight to the
    next waiter. `revoke(role)` takes a role from its holder (as a lost lease would): the role
    passes on at once, the holder's body is cancelled, and its `async with` raises `RoleLost`.
    Holding a role again from inside its own block deadlocks, as with any lock.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        # Roles never expire in memory, so no time is read; `clock` keeps every adapter's signature alike.
        self._clock = clock
        self._roles: dict[str, _Role] = {}

    def hold(self, role: str) -> _Hold:
        """`async with scheduler.hold(role):` runs its body only while holding `role`."""
        return _Hold(self, role)

    def revoke(self, role: str) -> bool:
        """Take `role` from its holder, cancelling the holder's body; False if nobody holds it."""
        slot = self._roles.get(role)
        if slot is None or slot.holder is None:
            return False
        scope = slot.holder
        self._hand_over(role, slot)
        scope.lose()
        return True

    def held(self) -> list[str]:
        """The roles held right now, sorted."""
        return sorted(name for name, slot in self._roles.items() if slot.holder is not None)

    def waiting(self, role: str) -> int:
        """How many callers are queued for `role`."""
        slot = self._roles.get(role)
        return 0 if slot is None else sum(1 for fut, _ in slot.waiters if not fut.done())

    def _hand_over(self, role: str, slot: _Role) -> None:
        while slot.waiters:
            fut, scope = slot.waiters.popleft()
            if not fut.done():
                slot.holder = scope
                fut.set_result(None)
                return
        slot.holder = None
        del self._roles[role]

    def _release(self, role: str, scope: RoleScope) -> None:
        slot = self._roles.get(role)
        if slot is not None and slot.holder is scope:
            self._hand_over(role, slot)


class _Hold:
    """The async context manager `RoleScheduler.hold` returns."""

    __slots__ = ("_role", "_scheduler", "_scope")

    def __init__(self, scheduler: RoleScheduler, role: str) -> None:
        self._scheduler = scheduler
        self._role = role
        self._scope: RoleScope | None = None

    async def __aenter__(self) -> None:
        if self._scope is not None:
            raise RuntimeError(f"this hold of role {self._role!r} is already entered")
        scheduler, role = self._scheduler, self._role
        slot = scheduler._roles.get(role)
        if slot is None:
            slot = scheduler._roles[role] = _Role()
        scope = RoleScope(role)
        if slot.holder is None:  # a free role has no waiters: release hands it over directly
            slot.holder = scope
        else:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (fut, scope)
            slot.waiters.append(entry)
            try:
                await fut
            except asyncio.CancelledError:
                if not fut.done() or fut.cancelled():
                    with contextlib.suppress(ValueError):  # a hand-over may have skipped it
                        slot.waiters.remove(entry)
                else:  # granted, but cancelled before it could run: pass the role on
                    scheduler._release(role, scope)
                raise
        if scope.lost:  # revoked between the grant and this task running
            raise RoleLost(role)
        scope.enter()
        self._scope = scope

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        scope, self._scope = self._scope, None
        if scope is None:
            return
        self._scheduler._release(self._role, scope)
        scope.exit(exc_type, exc, tb)
