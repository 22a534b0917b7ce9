"""`mysql.connect(url)`: the four MySQL/MariaDB adapters on one pool, as a `Backend`."""

from __future__ import annotations

from typing import Any

from wfkit._clock import Clock
from wfkit._options import ProcessOptions
from wfkit.adapters import Backend
from wfkit.adapters._sqlbase import open_together
from wfkit.adapters._sqlroles import DEFAULT_LEASE

from ._db import Database
from ._roles import RoleScheduler
from ._store import RecordStore
from ._streamer import DEFAULT_POLL_FREQUENCY, EventStreamer
from ._timeouts import TimeoutStore

DEFAULT_CONCURRENCY = 32
"""Events each step consumer handles at once: their writes share group-commit batches."""


def connect(
    url: str,
    *,
    clock: Clock | None = None,
    connect_timeout: float = 10.0,
    pool_size: int = 10,
    lease: float = DEFAULT_LEASE,
    poll_frequency: float = DEFAULT_POLL_FREQUENCY,
    concurrency: int = DEFAULT_CONCURRENCY,
    **build_options: Any,
) -> Backend:
    """A `Backend` on one MySQL/MariaDB database (nothing opens until `async with`).

    `url` is `mysql://user:password@host:3306/database` (query options pass to aiomysql). Entering
    connects within `connect_timeout` seconds or raises a `WfkitError` naming host and port, then
    creates or migrates the schema. `lease` is the role lease in seconds, `poll_frequency` how often a
    caught-up receiver looks for other processes' events, `concurrency` how many events each step
    consumer handles at once (their writes share group-commit batches); other
    keyword options go to `Backend.build` (with `clock`, if given).
    """
    db = Database(url, connect_timeout=connect_timeout, max_size=pool_size)
    streamer = EventStreamer(db, clock=clock, poll_frequency=poll_frequency)
    store = RecordStore(db, streamer=streamer)
    timeouts = TimeoutStore(db, clock=clock)
    roles = RoleScheduler(db, lease=lease)
    adapters = (store, timeouts, streamer, roles)
    opener, closer = open_together(adapters)

    if clock is not None:
        build_options.setdefault("clock", clock)
    build_options.setdefault("defaults", ProcessOptions.of(concurrency=concurrency))
    return Backend(
        streamer, store, roles, timeouts, url=url, opener=opener, closer=closer, build_options=build_options
    )
