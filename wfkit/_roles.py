"""Helper for role schedulers: cancel the holder's work when its role is lost."""

from __future__ import annotations

import asyncio
from types import TracebackType

from wfkit._errors import RoleLost


class RoleScope:
    """The body of one role hold: `lose()` cancels the holding task, and exit raises `RoleLost`.

    Schedulers call `enter()` once the role is held, `lose()` from any callback when it is taken
    away, and `exit()` from their `__aexit__`. This mirrors how `asyncio.timeout` turns its own
    cancellation into `TimeoutError` without swallowing a cancellation from outside.
    """

    __slots__ = ("_lost", "_task", "role")

    def __init__(self, role: str) -> None:
        self.role = role
        self._task: asyncio.Task[object] | None = None
        self._lost = False

    @property
    def lost(self) -> bool:
        return self._lost

    def enter(self) -> None:
        self._task = asyncio.current_task()

    def lose(self) -> None:
        if self._lost:
            return
        self._lost = True
        if self._task is not None and not self._task.done():
            self._task.cancel(msg=f"role {self.role!r} lost")

    def exit(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None
        if not self._lost or task is None:
            return
        if exc_type is asyncio.CancelledError and task.uncancel() == 0:
            raise RoleLost(self.role) from exc
        if exc_type is None:
            task.uncancel()  # the body finished first; the cancellation must not hit the caller
            raise RoleLost(self.role)
