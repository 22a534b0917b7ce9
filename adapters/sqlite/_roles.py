"""The SQLite `RoleScheduler`: a lease row per role, with a holder token, an expiry and a fence.

`hold(role)` takes the lease when its row is missing or expired (in one `BEGIN IMMEDIATE`
transaction, bumping the fencing token), and otherwise polls. While held, a background task renews
the lease every third of its length with a compare on holder and fence; when a renewal finds the
lease taken, or renewals keep failing until it has expired, the holder's body is cancelled through
`RoleScope` and its `async with` raises `RoleLost`. Expiry is wall-clock time, shared by every
process on the file; a killed process's roles move on within one lease (5 s by default).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from wfkit.adapters._sqlroles import DEFAULT_LEASE, DEFAULT_POLL, LeaseRoles

from ._db import Database, OnDatabase, database


def _now_us() -> int:
    return time.time_ns() // 1000


class RoleScheduler(OnDatabase, LeaseRoles):
    """Exclusive roles across every process using one SQLite file; open with `async with`.

    `lease` and `poll` as in `LeaseRoles`.
    """

    def __init__(
        self,
        path: str | Path | Database,
        *,
        lease: float = DEFAULT_LEASE,
        poll: float = DEFAULT_POLL,
        busy_timeout: float = 5.0,
        synchronous: str = "FULL",
    ) -> None:
        self._lease_times(lease, poll)
        self._db = database(path, busy_timeout=busy_timeout, synchronous=synchronous)

    async def _try_acquire(self, role: str, token: str) -> int | None:
        lease_us = int(self.lease * 1_000_000)

        def acquire(conn: sqlite3.Connection) -> int | None:
            now = _now_us()  # read inside the write lock, so expiry is judged at commit time
            row = conn.execute(
                "SELECT holder, expires_us, fence FROM wfkit_leases WHERE role = ?", (role,)
            ).fetchone()
            if row and row[1] > now and row[0] != token:
                return None
            fence = (int(row[2]) if row else 0) + 1
            conn.execute(
                "INSERT INTO wfkit_leases (role, holder, expires_us, fence) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, "
                "expires_us = excluded.expires_us, fence = excluded.fence",
                (role, token, now + lease_us, fence),
            )
            return fence

        return await self._db.write(acquire)

    async def _renew(self, role: str, token: str, fence: int) -> bool:
        changed = await self._db.execute(
            "UPDATE wfkit_leases SET expires_us = ? WHERE role = ? AND holder = ? AND fence = ? "
            "AND expires_us > ?",
            (_now_us() + int(self.lease * 1_000_000), role, token, fence, _now_us()),
        )
        return changed == 1

    async def _release(self, role: str, token: str) -> None:
        await self._db.execute("DELETE FROM wfkit_leases WHERE role = ? AND holder = ?", (role, token))
