"""Contract suites for adapters: subclass one per port and provide its factory fixture.

```python
class TestMyStore(RecordStoreContract):
    @pytest.fixture
    def record_store_factory(self) -> RecordStoreFactory:
        return my_factory  # () -> async context manager of a fresh, empty store
```

Each test is a plain function that runs its body with `asyncio.run`, so no async pytest plugin
is needed; the factory is entered inside that loop, so adapters for real servers can connect.
"""

from .connector import ConnectorContract, ConnectorFactory
from .event_streamer import EventStreamerContract, EventStreamerFactory
from .record_store import RecordStoreContract, RecordStoreFactory
from .role_scheduler import RoleSchedulerContract, RoleSchedulerFactory
from .timeout_store import TimeoutStoreContract, TimeoutStoreFactory

__all__ = [
    "RecordStoreContract",
    "EventStreamerContract",
    "TimeoutStoreContract",
    "RoleSchedulerContract",
    "ConnectorContract",
    "RecordStoreFactory",
    "EventStreamerFactory",
    "TimeoutStoreFactory",
    "RoleSchedulerFactory",
    "ConnectorFactory",
]
