"""`sqlite.connect(url_or_path)`: the four SQLite adapters on one file, as a `Backend`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wfkit._clock import Clock
from wfkit._options import ProcessOptions
from wfkit.adapters import Backend
from wfkit.adapters._sqlbase import open_together
from wfkit.adapters._sqlroles import DEFAULT_LEASE

from ._db import Database, check_directory, path_from_url
from ._roles import RoleScheduler
from ._store import RecordStore
from ._streamer import DEFAULT_POLL_FREQUENCY, EventStreamer
from ._timeouts import TimeoutStore

DEFAULT_CONCURRENCY = 32
"""Events each step consumer handles at once: overlapping transitions share one commit."""


def connect(
    url_or_path: str | Path,
    *,
    clock: Clock | None = None,
    busy_timeout: float = 5.0,
    synchronous: str = "FULL",
    lease: float = DEFAULT_LEASE,
    poll_frequency: float = DEFAULT_POLL_FREQUENCY,
    concurrency: int = DEFAULT_CONCURRENCY,
    **build_options: Any,
) -> Backend:
    """A `Backend` on one SQLite file (nothing opens until `async with`).

    `url_or_path` is `sqlite:///relative.db` (to the working directory), `sqlite:////abs.db` or a
    plain path. The file's directory must exist (a `ConfigurationError` names it otherwise); the
    file and its schema are created on first open. `lease` is the role lease in seconds,
    `poll_frequency` how often receivers look for other processes' events, `concurrency` how many
    events each step consumer handles at once (their transitions share commits); other keyword
    options go to `Backend.build` (with `clock`, if given).
    """
    raw = str(url_or_path)
    path = path_from_url(raw) if isinstance(url_or_path, str) else Path(url_or_path)
    path = Path.cwd() / path if not path.is_absolute() else path
    check_directory(path)
    db = Database(path, busy_timeout=busy_timeout, synchronous=synchronous)  # one connection, one commit
    streamer = EventStreamer(db, clock=clock, poll_frequency=poll_frequency)
    store = RecordStore(db, streamer=streamer)
    roles = RoleScheduler(db, lease=lease)
    timeouts = TimeoutStore(db, clock=clock)
    adapters = (store, timeouts, streamer, roles)

    opener, closer = open_together(adapters)

    if clock is not None:
        build_options.setdefault("clock", clock)
    build_options.setdefault("defaults", ProcessOptions.of(concurrency=concurrency))
    url = raw if raw.startswith("sqlite://") else f"sqlite:///{path}"
    return Backend(
        streamer, store, roles, timeouts, url=url, opener=opener, closer=closer, build_options=build_options
    )
