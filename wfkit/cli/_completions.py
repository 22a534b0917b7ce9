"""Waiting on many runs at once: what `wfkit bench` and bench/ scripts use to see runs complete
without one receiver (or hook) per run, which would cost the engine throughput."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable

from wfkit import EventReceiver, EventStreamer, RunState, WfkitError
from wfkit._record import Header, run_state_change_topic

POLL = 0.005
"""Seconds a receiver with nothing new waits before reading again (where no wake-up reaches it)."""
STALL = 60.0
"""Seconds without any run completing before the waiting runs fail instead of hanging."""
_COMPLETED = str(int(RunState.COMPLETED))
_H_FOREIGN_ID, _H_RUN_STATE = Header.FOREIGN_ID.value, Header.RUN_STATE.value


class Completions:
    """Futures for the runs being waited on, resolved as their completions are announced.

    One receiver follows the workflow's run-state-change topic from its head (where the engine
    announces completed runs), so a completion costs an event already written, not a read of the
    runs table. Fails every waiting run instead of hanging when no run completes for `stall`
    seconds, or when `check()` raises (bench/'s driver passes one that notices a dead worker).
    Open it with `await Completions.follow(...)` before the first trigger it should see.
    """

    def __init__(self, receiver: EventReceiver, *, stall: float, check: Callable[[], None]) -> None:
        self._receiver = receiver
        self._stall, self._check = stall, check
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._loop = asyncio.get_running_loop()
        self._progress = self._loop.time()
        self._task = asyncio.create_task(self._run(), name="wfkit-bench:completions")
        self._watchdog = asyncio.create_task(self._watch(), name="wfkit-bench:stall-watchdog")

    @classmethod
    async def follow(
        cls,
        streamer: EventStreamer,
        workflow: str,
        *,
        poll: float = POLL,
        stall: float = STALL,
        check: Callable[[], None] = lambda: None,
    ) -> Completions:
        name = f"wfkit-completions-{uuid.uuid4().hex}"
        topic = run_state_change_topic(workflow)
        if getattr(streamer, "ephemeral_receivers", False):
            receiver: EventReceiver = await streamer.receiver(  # type: ignore[call-arg]
                topic, name, poll_frequency=poll, from_latest=True, ephemeral=True
            )
        else:
            receiver = await streamer.receiver(topic, name, poll_frequency=poll, from_latest=True)
        return cls(receiver, stall=stall, check=check)

    def watch(self, foreign_id: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = self._loop.create_future()
        self._waiting[foreign_id] = future
        return future

    async def _run(self) -> None:
        try:
            while True:
                event = await self._receiver.recv()
                if event.headers.get(_H_RUN_STATE) != _COMPLETED:
                    continue
                future = self._waiting.pop(event.headers.get(_H_FOREIGN_ID, ""), None)
                if future is not None and not future.done():
                    self._progress = self._loop.time()
                    future.set_result(None)
        except Exception as exc:  # a failing read fails every waiting run rather than hanging
            self._fail(exc)

    async def _watch(self) -> None:
        try:
            while True:
                await asyncio.sleep(min(1.0, self._stall / 4))
                self._check()
                if not self._waiting:
                    self._progress = self._loop.time()
                elif self._loop.time() - self._progress > self._stall:
                    raise WfkitError(f"no run completed for {self._stall:g} s ({len(self._waiting)} waiting)")
        except Exception as exc:
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(exc)
        self._waiting.clear()

    async def close(self) -> None:
        for task in (self._task, self._watchdog):
            task.cancel()
        await asyncio.gather(self._task, self._watchdog, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._receiver.close()
