"""PostgreSQL adapters: durable runs on a database teams already operate, for many processes and hosts.

`connect("postgresql://user@host:5432/db")` gives a `Backend` whose record store, timeout store,
event streamer (an event table with a cursor per receiver name, woken by LISTEN/NOTIFY) and role
scheduler (lease rows with fencing tokens) share one connection pool.

Why asyncpg (rather than psycopg 3): it speaks PostgreSQL's wire protocol natively on asyncio (no
libpq, no thread hops), uses the binary format with prepared statements cached per connection (and
binary COPY), supports LISTEN/NOTIFY with plain callbacks on a connection, and is the fastest Python
PostgreSQL driver in published benchmarks, which matters for the throughput targets of the bench.
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
