"""The errors SQL adapters raise instead of their drivers' exceptions, each naming the fix.

Users never catch `sqlite3` or `asyncpg` types: a database that cannot be reached mid-run is
`StoreUnavailable` (the engine's consumers retry it with backoff, so nothing is lost once the
database returns), and a full disk is `DiskFull`, naming where to free space.
"""

from __future__ import annotations

from wfkit._errors import WfkitError


class StoreError(WfkitError):
    """A database behind a store failed an operation; the message says what to do."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now (stopped, restarting, network down).

    Workflow consumers retry with backoff and lose nothing; a caller such as `trigger` may retry
    once the database is back.
    """


class DiskFull(StoreError):
    """The database has no space left to write; nothing was written."""
