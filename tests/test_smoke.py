from __future__ import annotations

from _workflows import Doc, Status

import wfkit
from wfkit.testing import WorkflowEnv, require


async def test_three_status_chain_completes(wfkit_env: WorkflowEnv) -> None:
    async def start(run: wfkit.Run[Doc, Status]) -> Status:
        run.object.steps.append("start")
        return Status.MIDDLE

    async def middle(run: wfkit.Run[Doc, Status]) -> Status:
        run.object.steps.append("middle")
        return Status.END

    b = wfkit.Builder("chain", Doc, Status)
    b.add_step(Status.START, start, Status.MIDDLE)
    b.add_step(Status.MIDDLE, middle, Status.END)
    async with wfkit_env.run(b) as wf:
        run_id = await wf.trigger("doc-1", initial=Doc("hi"))
        run = await wf.await_status("doc-1", run_id, Status.END, timeout=5)
        assert run.object == Doc("hi", ["start", "middle"])
        assert run.run_state is wfkit.RunState.COMPLETED
        await require(wf, "doc-1", Status.MIDDLE, Doc("hi", ["start"]))
        history = await wf.store.history(run_id)
        assert [r.meta.version for r in history] == [1, 2, 3]
