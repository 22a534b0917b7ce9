"""The pytest plugin (registered by entry point): a `wfkit_env` fixture per test."""

from __future__ import annotations

import pytest

from wfkit.testing._env import WorkflowEnv


@pytest.fixture
def wfkit_env() -> WorkflowEnv:
    """Fresh memory adapters on a `FakeClock`: `async with wfkit_env.run(builder) as wf: ...`."""
    return WorkflowEnv()
