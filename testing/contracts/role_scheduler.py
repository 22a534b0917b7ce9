"""The `RoleScheduler` contract: one holder per role across instances, hand-over, cancellation.

Subclass `RoleSchedulerContract` and override the `role_scheduler_factory` fixture with a
callable `(instances) -> async context manager of [RoleScheduler, ...]`: several processes of one
fresh deployment competing for the same roles.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import ClassVar

import pytest

from wfkit._ports import RoleScheduler

from ._helpers import RoleSchedulerFactory, run, settle, within

__all__ = ["RoleSchedulerContract", "RoleSchedulerFactory"]

ROLE = "my_workflow-1-consumer-1-of-1"
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


class RoleSchedulerContract:
    """Every behaviour the engine relies on from a `RoleScheduler` (luno's adaptertest and more)."""

    wait_seconds: ClassVar[float] = 5.0
    """Bound on one hand-over of a role; raise it for lease-based schedulers with long polls."""

    @pytest.fixture
    def role_scheduler_factory(self) -> RoleSchedulerFactory:
        raise NotImplementedError("override the role_scheduler_factory fixture in your subclass")

    def _run(
        self,
        factory: RoleSchedulerFactory,
        instances: int,
        body: Callable[[list[RoleScheduler]], Awaitable[None]],
    ) -> None:
        async def main() -> None:
            async with factory(instances) as schedulers:
                assert len(schedulers) == instances
                await body(schedulers)

        run(main())

    def test_hold_runs_the_body_and_releases(self, role_scheduler_factory: RoleSchedulerFactory) -> None:
        async def body(schedulers: list[RoleScheduler]) -> None:
            (scheduler,) = schedulers
            ran = []
            for i in range(3):  # held and released again by the same process
                async with scheduler.hold(ROLE):
                    ran.append(i)
                await settle()
            assert ran == [0, 1, 2]

        self._run(role_scheduler_factory, 1, body)

    def test_the_body_sees_the_callers_context(self, role_scheduler_factory: RoleSchedulerFactory) -> None:
        async def body(schedulers: list[RoleScheduler]) -> None:
            token = _request_id.set("request-42")
            try:
                seen = await within(_hold_once(schedulers[0]), self.wait_seconds)
            finally:
                _request_id.reset(token)
            assert seen == "request-42"

        self._run(role_scheduler_factory, 1, body)

    def test_one_holder_at_a_time_across_instances(
        self, role_scheduler_factory: RoleSchedulerFactory
    ) -> None:
        async def body(schedulers: list[RoleScheduler]) -> None:
            log: list[tuple[str, int]] = []

            async def worker(i: int, scheduler: RoleScheduler) -> None:
                async with scheduler.hold(ROLE):
                    log.append(("enter", i))
                    await settle()  # hold long enough for a rival to barge in if it could
                    await asyncio.sleep(0.01)
                    log.append(("exit", i))

            workers = [worker(i, s) for i, s in enumerate(schedulers)]
            await within(asyncio.gather(*workers), self.wait_seconds * len(schedulers))
            # Strictly alternating enter/exit of the same worker: never two inside at once.
            assert [kind for kind, _ in log] == ["enter", "exit"] * len(schedulers)
            assert all(log[k][1] == log[k + 1][1] for k in range(0, len(log), 2))
            assert sorted(i for kind, i in log if kind == "enter") == list(range(len(schedulers)))

        self._run(role_scheduler_factory, 5, body)

    def test_releasing_hands_the_role_to_a_waiter(self, role_scheduler_factory: RoleSchedulerFactory) -> None:
        async def body(schedulers: list[RoleScheduler]) -> None:
            first, second = schedulers
            log: list[str] = []
            entered, release = asyncio.Event(), asyncio.Event()

            async def holder() -> None:
                async with first.hold(ROLE):
                    log.append("first in")
                    entered.set()
                    await release.wait()
                    log.append("first out")

            async def waiter() -> None:
                async with second.hold(ROLE):
                    log.append("second in")

            held = asyncio.ensure_future(holder())
            await within(entered.wait(), self.wait_seconds)
            waiting = asyncio.ensure_future(waiter())
            await settle()
            assert "second in" not in log  # the role is still held
            release.set()
            await within(asyncio.gather(held, waiting), self.wait_seconds)
            assert log == ["first in", "first out", "second in"]

        self._run(role_scheduler_factory, 2, body)

    def test_cancelling_a_waiter_leaves_the_role_obtainable(
        self, role_scheduler_factory: RoleSchedulerFactory
    ) -> None:
        async def body(schedulers: list[RoleScheduler]) -> None:
            first, second, third = schedulers
            log: list[str] = []
            entered, release = asyncio.Event(), asyncio.Event()

            async def holder() -> None:
                async with first.hold(ROLE):
                    entered.set()
                    await release.wait()

            async def waiter(name: str, scheduler: RoleScheduler) -> None:
                async with scheduler.hold(ROLE):
                    log.append(name)

            held = asyncio.ensure_future(holder())
            await within(entered.wait(), self.wait_seconds)
            cancelled = asyncio.ensure_future(waiter("second", second))
            await settle()
            later = asyncio.ensure_future(waiter("third", third))
            await settle()
            cancelled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await within(cancelled, self.wait_seconds)
            release.set()
            await within(asyncio.gather(held, later), self.wait_seconds)
            assert log == ["third"]
            # The cancelled instance can still take the role afterwards.
            await within(waiter("second again", second), self.wait_seconds)
            assert log == ["third", "second again"]

        self._run(role_scheduler_factory, 3, body)

    def test_distinct_roles_are_independent(self, role_scheduler_factory: RoleSchedulerFactory) -> None:
        async def body(schedulers: list[RoleScheduler]) -> None:
            first, second = schedulers
            async with first.hold("role-a"):
                # Another process takes another role while role-a is held.
                await within(_hold_once(second, "role-b"), self.wait_seconds)

        self._run(role_scheduler_factory, 2, body)

    def test_an_error_in_the_body_propagates_and_releases(
        self, role_scheduler_factory: RoleSchedulerFactory
    ) -> None:
        async def body(schedulers: list[RoleScheduler]) -> None:
            first, second = schedulers
            with pytest.raises(ZeroDivisionError):
                async with first.hold(ROLE):
                    1 / 0  # noqa: B018
            await within(_hold_once(second), self.wait_seconds)

        self._run(role_scheduler_factory, 2, body)


async def _hold_once(scheduler: RoleScheduler, role: str = ROLE) -> str:
    """Hold `role` once with an empty body; returns the request id the body saw."""
    async with scheduler.hold(role):
        return _request_id.get()
