"""The error family of wfkit: every error a user can see derives from `WfkitError` and carries its data."""

from __future__ import annotations


class WfkitError(Exception):
    """Base of every wfkit error; `str()` is a one-line message that names the fix."""


class ConfigurationError(WfkitError):
    """The workflow, an option or a URL is set up wrongly; raised at build or connect time."""


class RecordNotFound(WfkitError):
    """No record exists for the run id, or no run for the foreign id."""

    def __init__(
        self, *, run_id: str | None = None, workflow_name: str | None = None, foreign_id: str | None = None
    ) -> None:
        self.run_id = run_id
        self.workflow_name = workflow_name
        self.foreign_id = foreign_id
        if run_id is not None:
            what = f"run_id={run_id!r}"
        else:
            what = f"workflow={workflow_name!r}, foreign_id={foreign_id!r}"
        super().__init__(f"record not found: {what}")


class WorkflowInProgress(WfkitError):
    """A run for this foreign id is still active; finish, cancel or resume it before triggering again."""

    def __init__(self, workflow_name: str, foreign_id: str, run_id: str | None = None) -> None:
        self.workflow_name = workflow_name
        self.foreign_id = foreign_id
        self.run_id = run_id
        super().__init__(
            f"workflow {workflow_name!r} already has an active run for foreign id {foreign_id!r}"
            + (f" (run {run_id})" if run_id else "")
            + ": wait for it to finish or cancel it before triggering again"
        )


class StatusNotConfigured(WfkitError):
    """The status is not a node of the workflow's graph."""

    def __init__(self, workflow_name: str, status: object) -> None:
        self.workflow_name = workflow_name
        self.status = status
        super().__init__(
            f"status {status!r} is not configured for workflow {workflow_name!r}: "
            "add a step, callback or timeout that uses it"
        )


class InvalidTransition(WfkitError):
    """A step, callback or timeout returned a status that is not one of its destinations."""

    def __init__(
        self, workflow_name: str, current: object, requested: object, allowed: tuple[object, ...] = ()
    ) -> None:
        self.workflow_name = workflow_name
        self.current = current
        self.requested = requested
        self.allowed = allowed
        names = ", ".join(str(a) for a in allowed) or "none"
        super().__init__(
            f"invalid transition in workflow {workflow_name!r}: {current} -> {requested} "
            f"(allowed from {current}: {names}); add the destination to the step or return another"
        )


class InvalidRunStateTransition(WfkitError):
    """A run-control action is not allowed from the run's current run state."""

    def __init__(self, run_id: str, current: object, requested: object) -> None:
        self.run_id = run_id
        self.current = current
        self.requested = requested
        super().__init__(f"run {run_id}: cannot move run state from {current} to {requested}")


class VersionConflict(WfkitError):
    """A write lost a race: the stored record's version is not the one the writer read."""

    def __init__(self, run_id: str, expected: int, actual: int | None) -> None:
        self.run_id = run_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"record was modified since it was loaded: run_id={run_id}, "
            f"expected_version={expected}, actual_version={actual}"
        )


class WorkflowNotRunning(WfkitError):
    """The workflow has not been started: call `await wf.run()` or use `async with wf`."""

    def __init__(self, workflow_name: str, action: str = "trigger") -> None:
        self.workflow_name = workflow_name
        self.action = action
        super().__init__(
            f"{action} failed: workflow {workflow_name!r} is not running; "
            "start it with `await wf.run()` or `async with wf:`"
        )


class CodecError(WfkitError):
    """An object could not be encoded, decoded, or does not survive a round trip."""

    def __init__(self, message: str, *, type_name: str | None = None) -> None:
        self.type_name = type_name
        super().__init__(message)


class AwaitTimeout(WfkitError, TimeoutError):
    """`await_status` or a testing helper gave up waiting."""

    def __init__(self, what: str, timeout: float) -> None:
        self.what = what
        self.timeout = timeout
        super().__init__(f"timed out after {timeout:g}s waiting for {what}")


class RoleLost(WfkitError):
    """The process lost its role while holding it; its work was cancelled and will be retried."""

    def __init__(self, role: str) -> None:
        self.role = role
        super().__init__(f"role {role!r} was lost")
