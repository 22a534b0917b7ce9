"""Other connections' commits as change-feed wake-ups: `PRAGMA data_version`, polled while subscribed.

SQLite cannot notify across processes. `data_version` changes when another connection commits to
the file, so polling it (one pragma, no table read) lets a store's `ChangeFeed` cover writers in
other processes too: a run triggered by `wfkit trigger`, or resumed by `wfkit resume`, wakes a
worker's outbox relay within `every` seconds instead of at the engine's 30 s safety poll.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Callable

from wfkit._errors import WfkitError
from wfkit.adapters._feed import Subscribers

from ._db import Database

DEFAULT_EVERY = 0.1
"""Seconds between two looks at `data_version` while anyone is subscribed."""


class ForeignCommits:
    """Subscriptions of one store, notified on its own writes and on other connections' commits."""

    def __init__(self, db: Database, subscribers: Subscribers, every: float = DEFAULT_EVERY) -> None:
        self._db = db
        self._subscribers = subscribers
        self._every = every
        self._names: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, workflow_name: str, callback: Callable[[], None]) -> Callable[[], None]:
        unsubscribe = self._subscribers.subscribe(workflow_name, callback)
        self._names[workflow_name] += 1
        self._start()
        done = False

        def unsubscribe_and_stop() -> None:
            nonlocal done
            unsubscribe()
            if not done:
                done = True
                self._names[workflow_name] -= 1
                if self._names[workflow_name] <= 0:
                    del self._names[workflow_name]
                if not self._names:
                    self.stop()

        return unsubscribe_and_stop

    def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    def _start(self) -> None:
        if self._task is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # subscribed outside a loop: in-process wake-ups only
        self._task = loop.create_task(self._watch(), name=f"wfkit:sqlite-watch:{self._db.path.name}")

    async def _watch(self) -> None:
        # Compared first with the version at open, so a commit made between opening and the first
        # look (say, a run triggered while the worker starts) still wakes the subscribers.
        last = self._db.opened_data_version
        while True:
            await asyncio.sleep(self._every)
            try:
                version = await self._db.data_version()
            except (RuntimeError, sqlite3.Error, WfkitError):  # not open (yet) or busy: look again later
                continue
            if last is not None and version != last:
                for name in list(self._names):
                    self._subscribers.notify(name)
            last = version
