"""Waiting on many runs at once by polling the store: what `wfkit bench` and bench/ scripts use to see
runs complete without one receiver (or hook) per run, which would cost the engine throughput."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from wfkit import RecordFilter, RecordStore, RunState, WfkitError

POLL = 0.005
"""Seconds between two reads of the store for completed runs."""
STALL = 60.0
"""Seconds without any run completing before the waiting runs fail instead of hanging."""


class Completions:
    """Futures for the runs being waited on, resolved by one batched store read every `poll` s.

    Fails every waiting run instead of hanging when no run completes for `stall` seconds, or when
    `check()` raises (bench/'s driver passes one that notices a dead worker process).
    """

    def __init__(
        self,
        store: RecordStore,
        workflow: str,
        *,
        poll: float = POLL,
        stall: float = STALL,
        check: Callable[[], None] = lambda: None,
    ) -> None:
        self._store, self._workflow = store, workflow
        self._poll, self._stall, self._check = poll, stall, check
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._task = asyncio.create_task(self._run(), name="wfkit-bench:completions")

    def watch(self, foreign_id: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[foreign_id] = future
        return future

    async def _run(self) -> None:
        progress = time.monotonic()
        try:
            while True:
                await asyncio.sleep(self._poll)
                self._check()
                if not self._waiting:
                    progress = time.monotonic()
                    continue
                if time.monotonic() - progress > self._stall:
                    raise WfkitError(f"no run completed for {self._stall:g} s ({len(self._waiting)} waiting)")
                ids = list(self._waiting)
                done = await self._store.list(
                    self._workflow,
                    limit=len(ids),
                    filters=RecordFilter(foreign_ids=ids, run_states=[RunState.COMPLETED]),
                )
                for record in done:
                    progress = time.monotonic()
                    future = self._waiting.pop(record.foreign_id, None)
                    if future is not None and not future.done():
                        future.set_result(None)
        except Exception as exc:  # a failing read fails every waiting run rather than hanging
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(exc)

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
