"""The pytest plugin (registered by entry point): `wfkit_env` and `wfkit_sim` fixtures per test."""

from __future__ import annotations

import pytest

from wfkit.testing._env import WorkflowEnv
from wfkit.testing._simenv import SimRunner


@pytest.fixture
def wfkit_env() -> WorkflowEnv:
    """Fresh memory adapters on a `FakeClock`: `async with wfkit_env.run(builder) as wf: ...`."""
    return WorkflowEnv()


@pytest.fixture
def wfkit_sim() -> SimRunner:
    """Time skipping for a sync test: `wfkit_sim.run(scenario)` runs `await scenario(env)` on a
    `SimLoop` (virtual time that jumps to the next timer when every task is idle) with a `SimEnv`
    (memory adapters on a `SimClock`), so a 30-day timeout passes in milliseconds of wall time::

        def test_expiry(wfkit_sim: SimRunner) -> None:
            async def scenario(env: SimEnv) -> None:
                async with env.run(builder) as wf:
                    run_id = await wf.trigger("order-1")
                    await env.advance(timedelta(days=30))
                    await require(wf, "order-1", Status.EXPIRED, Order())

            wfkit_sim.run(scenario)
    """
    return SimRunner()
