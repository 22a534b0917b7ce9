"""What every SQL adapter object shares: its life on a `Database`, and opening a backend's adapters.

Each dialect's `OnDatabase` subclasses `DatabaseUser` with its own `Database` type and says how
to run a shared read (`_fetch`); `open_together` is how each dialect's `connect` opens and closes
its four adapters as one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar


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
