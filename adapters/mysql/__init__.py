"""MySQL / MariaDB adapters: durable runs on a database teams already operate, for many processes.

`connect("mysql://user@host:3306/db")` gives a `Backend` whose record store, timeout store, event
streamer (an event table with a cursor per receiver name, polled: MySQL has no NOTIFY) and role
scheduler (lease rows with fencing tokens) share one connection pool.

Why aiomysql (rather than asyncmy): it is pure Python on top of PyMySQL, so it installs everywhere
without a compiler or a platform wheel, it is maintained by aio-libs with PyMySQL's well-known error
classes (`aiomysql.MySQLError` with the server's error code, which maps duplicate keys and deadlocks
here), and a connection cancelled mid-query is closed rather than returned to the pool half-read.
asyncmy's Cython speed-up matters little next to the round trips each transaction makes.
"""

from wfkit.adapters._sqlstream import EventReceiver, EventSender

from ._backend import connect
from ._db import SCHEMA_VERSION, Database
from ._roles import RoleScheduler
from ._store import RecordStore
from ._streamer import EventStreamer
from ._timeouts import TimeoutStore

__all__ = [
    "Database",
    "RecordStore",
    "EventStreamer",
    "EventSender",
    "EventReceiver",
    "TimeoutStore",
    "RoleScheduler",
    "SCHEMA_VERSION",
    "connect",
]
