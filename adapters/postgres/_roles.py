"""The PostgreSQL `RoleScheduler`: a lease row per role, with a holder token, an expiry and a fence.

`hold(role)` takes the lease in one `INSERT … ON CONFLICT DO UPDATE … WHERE` statement that only
overwrites a row that has expired (or is already this holder's), bumping the fencing token; otherwise
it polls. Expiry uses the server's clock, so every process on the database agrees on it. While held, a
background task renews the lease every third of its length with a compare on holder and fence; when
a renewal finds the lease taken, or renewals keep failing until it has expired, the holder's body is
cancelled through `RoleScope` and its `async with` raises `RoleLost`. Releasing expires the row
instead of deleting it, so fencing tokens keep increasing.
"""

from __future__ import annotations

from typing import Any

from wfkit.adapters._sqlroles import DEFAULT_LEASE, DEFAULT_POLL, LeaseRoles

from ._db import NOW_US, Database, OnDatabase, database


class RoleScheduler(OnDatabase, LeaseRoles):
    """Exclusive roles across every process using one PostgreSQL database; open with `async with`.

    `lease` and `poll` as in `LeaseRoles`.
    """

    def __init__(
        self,
        url_or_db: str | Database,
        *,
        lease: float = DEFAULT_LEASE,
        poll: float = DEFAULT_POLL,
        **options: Any,
    ) -> None:
        self._lease_times(lease, poll)
        self._db = database(url_or_db, **options)

    async def _try_acquire(self, role: str, token: str) -> int | None:
        fence: int | None = await self._db.pool.fetchval(
            "INSERT INTO wfkit_leases (role, holder, expires_us, fence) "
            f"VALUES ($1, $2, {NOW_US} + $3, 1) "
            "ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, "
            "expires_us = excluded.expires_us, fence = wfkit_leases.fence + 1 "
            f"WHERE wfkit_leases.expires_us <= {NOW_US} OR wfkit_leases.holder = excluded.holder "
            "RETURNING fence",
            role,
            token,
            int(self.lease * 1_000_000),
        )
        return fence

    async def _renew(self, role: str, token: str, fence: int) -> bool:
        status: str = await self._db.pool.execute(
            f"UPDATE wfkit_leases SET expires_us = {NOW_US} + $1 WHERE role = $2 AND holder = $3 "
            f"AND fence = $4 AND expires_us > {NOW_US}",
            int(self.lease * 1_000_000),
            role,
            token,
            fence,
        )
        return status == "UPDATE 1"

    async def _release(self, role: str, token: str) -> None:
        await self._db.pool.execute(
            "UPDATE wfkit_leases SET expires_us = 0 WHERE role = $1 AND holder = $2", role, token
        )
