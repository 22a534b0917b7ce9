"""In-memory adapters for every port: the default for tests and the deterministic simulator.

They are complete, fast and deterministic (no threads, no polling, no set iteration), and share
state only through the instances you pass around: one instance of each is one deployment.
"""

from ._backend import backend
from ._connector import Connector, ConnectorConsumer
from ._roles import RoleScheduler
from ._store import RecordStore
from ._streamer import ClosedError, EventReceiver, EventSender, EventStreamer
from ._timeouts import TimeoutStore

__all__ = [
    "RecordStore",
    "EventStreamer",
    "EventSender",
    "EventReceiver",
    "TimeoutStore",
    "RoleScheduler",
    "Connector",
    "ConnectorConsumer",
    "ClosedError",
    "backend",
]
