"""What the SQL role schedulers share: holding a role on a lease row.

Each dialect's `RoleScheduler` says how to take (`_try_acquire`), extend (`_renew`) and give
back (`_release`) a lease row; holding, renewing and losing a role live here once.

A database that is busy or gone never ends a hold with the database's error: acquiring retries
with backoff until the database answers, renewing keeps trying (each try bounded by what is left
of the lease) until the lease has run out and the role is lost, and releasing gives up after one
lease (an unreleased row simply expires).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from types import TracebackType
from typing import Protocol

from wfkit._roles import RoleScope

DEFAULT_LEASE = 5.0
"""Seconds a holder that stops renewing keeps its roles (a killed process's roles move on after it)."""
DEFAULT_POLL = 0.05
"""Seconds between a waiter's looks at a taken role."""
RETRY_MAX = 2.0
"""The longest wait between attempts to acquire a role while the database fails."""
_log = logging.getLogger("wfkit")


class LeaseTable(Protocol):
    """What `LeaseHold` needs from a dialect's role scheduler."""

    lease: float
    poll: float

    async def _try_acquire(self, role: str, token: str) -> int | None: ...

    async def _renew(self, role: str, token: str, fence: int) -> bool: ...

    async def _release(self, role: str, token: str) -> None: ...


class LeaseRoles:
    """What every lease-row `RoleScheduler` is beyond its SQL: its lease and poll, and `hold`.

    `lease` is how long a holder that stops renewing keeps its roles; renewal runs every `lease / 3`
    seconds; a waiter re-checks a taken role every `poll` seconds. Subclasses say how to take, extend
    and give back a lease row (`LeaseTable`).
    """

    def _lease_times(self, lease: float, poll: float) -> None:
        if lease <= 0 or poll <= 0:
            raise ValueError("lease and poll must be positive")
        self.lease = lease
        self.poll = poll

    lease: float
    poll: float

    def hold(self, role: str) -> LeaseHold:
        """`async with scheduler.hold(role):` runs its body only while holding `role`."""
        return LeaseHold(self, role)

    async def _try_acquire(self, role: str, token: str) -> int | None:
        """Take the lease if it is free or expired; its new fencing token, or None if taken."""
        raise NotImplementedError

    async def _renew(self, role: str, token: str, fence: int) -> bool:
        """Extend the lease; False when it is no longer this holder's."""
        raise NotImplementedError

    async def _release(self, role: str, token: str) -> None:
        """Give the lease back (expire or delete its row)."""
        raise NotImplementedError


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
            fence = await self._acquire(token)
        except BaseException:
            # Cancelled mid-acquire: the lease may have been committed for us; give it back.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(scheduler.lease):
                    await asyncio.shield(scheduler._release(role, token))
            raise
        scope = self._scope = RoleScope(role)
        scope.enter()
        self._renewer = asyncio.ensure_future(self._keep(scope, token, fence))

    async def _acquire(self, token: str) -> int:
        """Poll until the lease is ours; a failing database is retried with backoff, not raised.

        The token stays the same across retries, so a take that committed although its answer
        was lost is simply found to be ours on the next try.
        """
        scheduler, role = self._scheduler, self._role
        failures = 0
        while True:
            try:
                fence = await scheduler._try_acquire(role, token)
            except Exception as exc:
                failures += 1
                delay = min(scheduler.poll * 2**failures, RETRY_MAX)
                if failures % 10 == 1:  # the first failure, then every tenth: a long outage stays readable
                    _log.warning("cannot take role %r (%s); retrying in %.2f s", role, exc, delay)
                await asyncio.sleep(delay)
                continue
            if fence is not None:
                return fence
            failures = 0
            await asyncio.sleep(scheduler.poll)

    async def _keep(self, scope: RoleScope, token: str, fence: int) -> None:
        """Renew every third of the lease; lose the role once it is gone or has run out."""
        scheduler = self._scheduler
        expires = time.monotonic() + scheduler.lease
        while True:
            await asyncio.sleep(scheduler.lease / 3)
            try:  # a renewal that answers after the lease ran out is worth nothing: bound it
                async with asyncio.timeout(max(expires - time.monotonic(), scheduler.poll)):
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
            async with asyncio.timeout(self._scheduler.lease):
                await asyncio.shield(self._scheduler._release(self._role, self._token))
        scope.exit(exc_type, exc, tb)
