"""SQLite adapters: the embedded, durable default, safe for several processes on one file.

`connect("sqlite:///wfkit.db")` gives a `Backend` whose record store, timeout store, event streamer
(an event table with a cursor per receiver name) and role scheduler (lease rows) share one file.

Why aiosqlite: the standard library's `sqlite3` is blocking, and a commit with `synchronous=FULL`
waits for fsync; aiosqlite runs each connection's statements on its own thread, in order, so the
event loop never blocks on the disk, it adds no native code beyond `sqlite3`, and its ordered queue
lets a rollback issued during cancellation run before the next transaction begins.
"""

from wfkit.adapters._sqlstream import EventReceiver, EventSender

from ._backend import connect
from ._db import SCHEMA_VERSION
from ._roles import RoleScheduler
from ._store import RecordStore
from ._streamer import EventStreamer
from ._timeouts import TimeoutStore

__all__ = [
    "RecordStore",
    "EventStreamer",
    "EventSender",
    "EventReceiver",
    "TimeoutStore",
    "RoleScheduler",
    "SCHEMA_VERSION",
    "connect",
]
