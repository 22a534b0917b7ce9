"""Group commit for the SQL record stores: many concurrent `store()` calls, one transaction.

Writes queue while a batch is committing; the next batch takes the queued writes (up to
`max_batch`, one per run). A dialect says how to apply a batch (`apply`: the writes that got
through, each of the others failing alone) and why a write did not get through (`why_not`). A
batch that fails as a whole for a database reason (`spoiled`: say, a run re-activated onto a
foreign id another run holds) is retried one write per transaction (`one`), so each write gets its
own answer; `committed(writes)` runs after each commit, for the wake-ups.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wfkit._errors import WfkitError
from wfkit._record import OutboxEvent, Record


@dataclass(slots=True)
class Write:
    """One `store()` call waiting for its batch."""

    record: Record
    row: tuple[Any, ...]
    event: OutboxEvent
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def settle(self, error: Exception | None) -> None:
        if not self.done.done():
            if error is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(error)


class GroupCommit:
    """Commits queued writes in batches of at most one write per run, `max_batches` at a time."""

    def __init__(
        self,
        *,
        apply: Callable[[list[Write]], Awaitable[list[Write]]],
        why_not: Callable[[Write], Awaitable[Exception]],
        one: Callable[[Write], Awaitable[None]],
        committed: Callable[[Sequence[Write]], None],
        spoiled: tuple[type[Exception], ...],
        max_batch: int = 500,
        max_batches: int = 2,
    ) -> None:
        self._apply = apply
        self._why_not = why_not
        self._one = one
        self._committed = committed
        self._spoiled = spoiled
        self._max_batch = max_batch
        self._max_batches = max_batches
        self._queue: list[Write] = []
        self._running: dict[asyncio.Task[None], set[str]] = {}  # each batch and its runs
        self._busy: set[str] = set()  # the runs of the batches in flight

    async def store(self, write: Write) -> None:
        """Queue the write and wait for its batch's outcome."""
        self._queue.append(write)
        self._start()
        await write.done

    def _start(self) -> None:
        while self._queue and len(self._running) < self._max_batches:
            batch, runs = self._take()
            if not batch:
                return  # every queued write is of a run in flight: the next `_finished` starts them
            task = asyncio.ensure_future(self._commit(batch))
            self._running[task] = runs
            self._busy |= runs
            task.add_done_callback(self._finished)

    def _take(self) -> tuple[list[Write], set[str]]:
        """The next batch and its runs: queued writes in call order, at most one per run and none of
        a run in a batch in flight. A batch sees the runs as they were committed when it began, so a
        run's next write waits until its previous one has an outcome.
        """
        batch: list[Write] = []
        later: list[Write] = []
        runs: set[str] = set()
        busy = self._busy
        for write in self._queue:
            run_id = write.record.run_id
            if len(batch) < self._max_batch and run_id not in runs and run_id not in busy:
                runs.add(run_id)
                batch.append(write)
            else:
                later.append(write)
        self._queue = later
        return batch, runs

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._busy -= self._running.pop(task)
        self._start()

    async def _commit(self, batch: list[Write]) -> None:
        try:
            try:
                accepted = await self._apply(batch)
            except WfkitError as exc:  # the server is away or full: every write of the batch fails
                for write in batch:
                    write.settle(exc)
                return
            except self._spoiled:  # one write spoiled the batch: give each its own transaction
                await asyncio.gather(*(self._alone(write) for write in batch))
                return
            if accepted:
                self._committed(accepted)
            through = set(map(id, accepted))
            for write in batch:
                write.settle(None if id(write) in through else await self._why_not(write))
        except Exception as exc:  # a bug: each caller gets it (nobody awaits this task)
            for write in batch:
                write.settle(exc)
        except BaseException:  # cancelled at shutdown: never leave a caller waiting
            for write in batch:
                write.done.cancel()
            raise

    async def _alone(self, write: Write) -> None:
        try:
            await self._one(write)
        except Exception as exc:
            write.settle(exc)
        else:
            self._committed((write,))
            write.settle(None)
