"""Adapters: infrastructure for workflows, and `connect(url)` to name a whole backend by one URL."""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from wfkit import (
    Builder,
    ConfigurationError,
    EventStreamer,
    ProcessOptions,
    RecordStore,
    RoleScheduler,
    TimeoutStore,
    Workflow,
)

T = TypeVar("T")
S = TypeVar("S", bound=enum.IntEnum)

__all__ = ["Backend", "connect", "mask_url"]


class Backend:
    """The adapters one URL provides, opened and closed together.

    Construct it directly for mixed set-ups; `connect(url)` builds one from a URL. `build(builder)`
    wires a workflow onto all of them.
    """

    def __init__(
        self,
        streamer: EventStreamer,
        store: RecordStore,
        roles: RoleScheduler,
        timeouts: TimeoutStore | None = None,
        *,
        url: str = "",
        opener: Callable[[], Awaitable[None]] | None = None,
        closer: Callable[[], Awaitable[None]] | None = None,
        build_options: dict[str, Any] | None = None,
    ) -> None:
        self.streamer = streamer
        self.store = store
        self.roles = roles
        self.timeouts = timeouts
        self.url = mask_url(url)
        self._opener = opener
        self._closer = closer
        self._build_options = dict(build_options or {})

    def build(self, builder: Builder[T, S], **build_options: Any) -> Workflow[T, S]:
        """`builder.build(...)` on this backend's adapters; keyword options pass through.

        A `defaults=` given here is laid over the backend's own (a SQL backend sets a step
        `concurrency`), so setting one option keeps the others.
        """
        options = {**self._build_options, **build_options}
        ours, theirs = self._build_options.get("defaults"), build_options.get("defaults")
        if isinstance(ours, ProcessOptions) and isinstance(theirs, ProcessOptions):
            options["defaults"] = theirs.merged_over(ours)
        options.setdefault("timeout_store", self.timeouts)
        return builder.build(self.streamer, self.store, self.roles, **options)

    async def __aenter__(self) -> Backend:
        if self._opener is not None:
            await self._opener()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._closer is not None:
            await self._closer()

    def __repr__(self) -> str:
        return f"Backend({self.url or 'custom'})"


_PASSWORD = re.compile(r"(?<=://)([^:/@]*):([^@]*)@")


def mask_url(url: str) -> str:
    """The URL with any password replaced by `***`."""
    return _PASSWORD.sub(lambda m: f"{m.group(1)}:***@", url)


def connect(url: str, **options: Any) -> Backend:
    """A `Backend` for `url` (nothing opens until `async with`).

    Supported now: `memory://`, `sqlite:///relative.db` / `sqlite:////absolute.db` and
    `postgresql://user:password@host:5432/database` (also `postgres://`) and
    `mysql://user:password@host:3306/database` (also `mariadb://`). Unknown schemes raise
    `ConfigurationError` naming what is supported.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "memory":
        from wfkit.adapters.memory import backend

        return backend(url=url, **options)
    if scheme == "sqlite":
        try:
            from wfkit.adapters import sqlite
        except ImportError as exc:
            raise ConfigurationError(
                f"{mask_url(url)!r} needs the SQLite extra: pip install 'wfkit[sqlite]' ({exc})"
            ) from exc
        return sqlite.connect(url, **options)
    if scheme in ("postgresql", "postgres"):
        try:
            from wfkit.adapters import postgres
        except ImportError as exc:
            raise ConfigurationError(
                f"{mask_url(url)!r} needs the PostgreSQL extra: pip install 'wfkit[postgres]' ({exc})"
            ) from exc
        return postgres.connect(url, **options)
    if scheme in ("mysql", "mariadb"):
        try:
            from wfkit.adapters import mysql
        except ImportError as exc:
            raise ConfigurationError(
                f"{mask_url(url)!r} needs the MySQL extra: pip install 'wfkit[mysql]' ({exc})"
            ) from exc
        return mysql.connect(url, **options)
    raise ConfigurationError(
        f"unsupported store URL {mask_url(url)!r}: use memory://, sqlite:///file.db or "
        "postgresql://user@host:5432/database or mysql://user@host:3306/database "
        "(other SQL and broker adapters arrive with their extras)"
    )
