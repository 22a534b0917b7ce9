"""What every SQL adapter object shares: its life on a `Database`, and opening a backend's adapters.

Each dialect's `OnDatabase` subclasses `DatabaseUser` with its own `Database` type and says how
to run a shared read (`_fetch`); `open_together` is how each dialect's `connect` opens and closes
its four adapters as one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

from wfkit._errors import ConfigurationError


class SharedLife:
    """Open with the first user and close with the last: how one dialect `Database` serves the four
    adapters of a backend. Subclasses say how to `_connect` (and migrate) and `_disconnect`."""

    _users = 0
    _life: asyncio.Lock | None = None

    async def _connect(self) -> None:
        raise NotImplementedError

    async def _disconnect(self) -> None:
        raise NotImplementedError

    def _life_lock(self) -> asyncio.Lock:
        if self._life is None:
            self._life = asyncio.Lock()
        return self._life

    async def open(self) -> None:
        """Connect (and migrate) for the first user; count later ones."""
        async with self._life_lock():
            self._users += 1
            if self._users > 1:
                return
            try:
                await self._connect()
            except BaseException:
                self._users -= 1
                raise

    async def close(self) -> None:
        """Disconnect once the last user has closed."""
        async with self._life_lock():
            if not self._users:
                return
            self._users -= 1
            if not self._users:
                await self._disconnect()


def migrations_to_apply(current: int, latest: int, database: str, extra: str) -> range:
    """The migration numbers a database at schema version `current` lacks, or the error that names
    the fix when a newer wfkit migrated it (`extra` is the pip extra: `sqlite`, `postgres`, ...)."""
    if current > latest:
        raise ConfigurationError(
            f"{database} has schema version {current}, newer than this wfkit understands ({latest}): "
            f"upgrade wfkit (pip install -U 'wfkit[{extra}]')"
        )
    return range(current + 1, latest + 1)


class QuietOutbox:
    """When a store that appends events straight to its streamer reads its outbox table.

    Such a store writes no outbox rows, so its relay, woken by every commit, would read an empty
    table each time. Rows can still come from a store built without a streamer (or an older wfkit)
    on the same database: after an empty read the table is not read for `every` seconds (of the
    event loop's time), and a read skipped meanwhile calls `due(workflow_name)` when the spell ends
    (the store wakes its relay), so such rows are relayed at most that late, and never lost.
    """

    def __init__(self, due: Callable[[str], None], every: float = 1.0) -> None:
        self._due = due
        self._every = every
        self._quiet_until: dict[str, float] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def skip(self, workflow_name: str) -> bool:
        """Whether to answer "empty" without reading the table."""
        loop = asyncio.get_running_loop()
        until = self._quiet_until.get(workflow_name, 0.0)
        if loop.time() >= until:
            return False
        if workflow_name not in self._timers:
            self._timers[workflow_name] = loop.call_at(until, self._spell_over, workflow_name)
        return True

    def _spell_over(self, workflow_name: str) -> None:
        del self._timers[workflow_name]
        self._due(workflow_name)

    def read(self, workflow_name: str, found: int) -> None:
        """Note what a read found: nothing starts a quiet spell."""
        if found:
            self._quiet_until.pop(workflow_name, None)
        else:
            self._quiet_until[workflow_name] = asyncio.get_running_loop().time() + self._every

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


class Openable(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...


D = TypeVar("D", bound=Openable)


class DatabaseUser(Generic[D]):
    """`open()`, `close()` and `async with` for an adapter built on a (possibly shared) `self._db`.

    A shared database counts its users: it opens with the first and closes with the last.
    """

    _db: D

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """The rows of a read written with `?` markers (the dialect turns them into its own)."""
        raise NotImplementedError

    async def open(self) -> None:
        await self._db.open()

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def open_together(
    adapters: Sequence[Openable],
) -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
    """An opener that opens `adapters` in order (closing those opened if one fails) and a closer
    that closes what was opened, in reverse: `Backend(..., opener=..., closer=...)`."""
    opened: list[Openable] = []

    async def opener() -> None:
        try:
            for adapter in adapters:
                await adapter.open()
                opened.append(adapter)
        except BaseException:
            await closer()
            raise

    async def closer() -> None:
        while opened:
            await opened.pop().close()

    return opener, closer
