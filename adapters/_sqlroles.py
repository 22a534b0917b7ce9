"""What the SQL role schedulers share: holding a role on a lease row.

Each dialect's `RoleScheduler` says how to take (`_try_acquire`), extend (`_renew`) and give
back (`_release`) a lease row; holding, renewing and losing a role live here once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from types import TracebackType
from typing import Protocol

from wfkit._roles import RoleScope


class LeaseTable(Protocol):
    """What `LeaseHold` needs from a dialect's role scheduler."""

    lease: float
    poll: float

    async def _try_acquire(self, role: str, token: str) -> int | None: ...

    async def _renew(self, role: str, token: str, fence: int) -> bool: ...

    async def _release(self, role: str, token: str) -> None: ...


class LeaseHold:
    """The async context manager a lease-row `RoleScheduler.hold` returns: acquire the lease row
    (polling), renew it every third of the lease, and lose the role when renewal fails."""

    def __init__(self, scheduler: LeaseTable, role: str) -> None:
        self._scheduler = scheduler
        self._role = role
        self._token = ""
        self._scope: RoleScope | None = None
        self._renewer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        if self._scope is not None:
            raise RuntimeError(f"this hold of role {self._role!r} is already entered")
        scheduler, role = self._scheduler, self._role
        token = self._token = uuid.uuid4().hex
        try:
            while (fence := await scheduler._try_acquire(role, token)) is None:
                await asyncio.sleep(scheduler.poll)
        except BaseException:
            # Cancelled mid-acquire: the lease may have been committed for us; give it back.
            with contextlib.suppress(Exception):
                await asyncio.shield(scheduler._release(role, token))
            raise
        scope = self._scope = RoleScope(role)
        scope.enter()
        self._renewer = asyncio.ensure_future(self._keep(scope, token, fence))

    async def _keep(self, scope: RoleScope, token: str, fence: int) -> None:
        """Renew every third of the lease; lose the role once it is gone or has run out."""
        scheduler = self._scheduler
        expires = time.monotonic() + scheduler.lease
        while True:
            await asyncio.sleep(scheduler.lease / 3)
            try:
                renewed = await scheduler._renew(self._role, token, fence)
            except Exception:  # the database is busy or gone: keep trying while the lease lasts
                if time.monotonic() < expires:
                    continue
                renewed = False
            if not renewed:
                scope.lose()
                return
            expires = time.monotonic() + scheduler.lease

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        scope, self._scope = self._scope, None
        renewer, self._renewer = self._renewer, None
        if scope is None:
            return
        if renewer is not None:
            renewer.cancel()  # not awaited: an outside cancellation must reach this task's caller
        with contextlib.suppress(Exception):  # an unreleased lease simply expires
            await asyncio.shield(self._scheduler._release(self._role, self._token))
        scope.exit(exc_type, exc, tb)
