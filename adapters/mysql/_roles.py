"""The MySQL `RoleScheduler`: a lease row per role, with a holder token, an expiry and a fence.

`hold(role)` takes the lease in one transaction: `SELECT … FOR UPDATE` of the role's row, then an
insert, or an update that bumps the fencing token when the row has expired (or is already this
holder's); otherwise it polls. Expiry uses the server's clock, so every process on the database
agrees on it. While held, a background task renews the lease every third of its length with a
compare on holder and fence; when a renewal finds the lease taken, or renewals keep failing until it
has expired, the holder's body is cancelled through `RoleScope` and its `async with` raises
`RoleLost`. Releasing expires the row
instead of deleting it, so fencing tokens keep increasing.
"""

from __future__ import annotations

from typing import Any

import aiomysql

from wfkit.adapters._sqlroles import DEFAULT_LEASE, DEFAULT_POLL, LeaseRoles

from ._db import NOW_US, Database, OnDatabase, database, duplicate_key, is_retryable


class RoleScheduler(OnDatabase, LeaseRoles):
    """Exclusive roles across every process using one MySQL/MariaDB database; open with `async with`.

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
        lease_us = int(self.lease * 1_000_000)
        try:
            async with self._db.transaction() as conn:
                row = await conn.fetchone(
                    f"SELECT holder, expires_us <= {NOW_US}, fence FROM wfkit_leases "
                    "WHERE role = %s FOR UPDATE",
                    (role,),
                )
                if row is None:
                    await conn.execute(
                        "INSERT INTO wfkit_leases (role, holder, expires_us, fence) "
                        f"VALUES (%s, %s, {NOW_US} + %s, 1)",
                        (role, token, lease_us),
                    )
                    return 1
                holder, expired, fence = row
                if not expired and holder != token:
                    return None
                await conn.execute(
                    f"UPDATE wfkit_leases SET holder = %s, expires_us = {NOW_US} + %s, fence = fence + 1 "
                    "WHERE role = %s",
                    (token, lease_us, role),
                )
                return int(fence) + 1
        except aiomysql.MySQLError as exc:
            if duplicate_key(exc) is not None or is_retryable(exc):
                return None  # another process created or is taking the row: look again at the next poll
            raise

    async def _renew(self, role: str, token: str, fence: int) -> bool:
        matched, _ = await self._db.execute(
            f"UPDATE wfkit_leases SET expires_us = {NOW_US} + %s WHERE role = %s AND holder = %s "
            f"AND fence = %s AND expires_us > {NOW_US}",
            (int(self.lease * 1_000_000), role, token, fence),
        )
        return matched == 1

    async def _release(self, role: str, token: str) -> None:
        await self._db.execute(
            "UPDATE wfkit_leases SET expires_us = 0 WHERE role = %s AND holder = %s", (role, token)
        )
